"""Hostile payloads against the local Space and in real kernels: refused or neutralised with a clear
message (each test fails without its guard)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from kernels import html_outputs, run_notebook
from support.helpers import collect

from g4f_magic import G4FTimeout, StreamError, fetch_image
from g4f_magic.engine.job import Job
from g4f_magic.engine.result import Result
from g4f_magic.engine.run import run_job
from g4f_magic.localspace import LocalSpace
from g4f_magic.notebook.views import PlainView
from g4f_magic.spaces.client import SpacesClient, Target


async def image_job(prompt: str, **where: Any) -> Any:
    job = Job("flux", prompt, seed=1, width=where.pop("width", None), height=where.pop("height", None),
              client=SpacesClient(Target(**where)))
    return await run_job(job, PlainView("flux", out=io.StringIO()))


async def test_one_deadline_covers_the_final_image_download(space: LocalSpace, endpoint: str) -> None:
    """--timeout bounds the whole generation: the image download gets what is left of it, not a fresh
    timeout of its own (the Space takes 1.6 s to answer, its image 2 s more: past the 2.5 s asked for)."""
    space.slow_delay = 0.004  # 400 steps
    space.file_delay = 2.0
    with pytest.raises(G4FTimeout) as info:
        await image_job("a slow answer, a slower image [fault:slow] [fault:file_slow]", timeout=2.5)
    assert str(info.value) == "no result within 2.5 s (timeout=2.5)"


async def test_an_image_far_larger_than_asked_is_refused_before_anything_decodes_it(
        space: LocalSpace, endpoint: str) -> None:
    """Under the 64-megapixel cap, but 16 megapixels for a 256x256 request: what --save would decode is
    bounded by what the Space was asked for."""
    space.arm("file_oversize")
    with pytest.raises(StreamError) as info:
        await image_job("a small image", width=256, height=256)
    assert str(info.value) == "the image declares 4096x4096 pixels for a 256x256 request; refused"
    assert isinstance(await image_job("the next one is fine", width=256, height=256), Result)


async def test_a_bomb_never_becomes_a_result(space: LocalSpace, endpoint: str) -> None:
    # results carry the served bytes to the front end unchanged, so the header is checked on arrival
    space.arm("file_bomb")
    with pytest.raises(StreamError, match="declares 9000x9000 pixels"):
        await image_job("a bomb")


async def test_a_content_type_that_lies_is_refused(space: LocalSpace, endpoint: str) -> None:
    space.arm("file_lies")
    with pytest.raises(StreamError) as info:
        await image_job("a page posing as an image")
    assert str(info.value) == "the Space served something that is not an image (content type image/webp)"
    assert isinstance(await image_job("the next one is fine"), Result)


async def test_an_image_over_the_size_limit_is_refused(space: LocalSpace, endpoint: str) -> None:
    with pytest.raises(StreamError, match=r"^the image is larger than the 2000-byte limit$"):
        await image_job("too big", max_image_bytes=2000)
    assert isinstance(await image_job("a normal one", max_image_bytes=2000 * 1000), Result)


async def test_an_image_without_a_content_length_is_cut_at_the_limit(space: LocalSpace, endpoint: str) -> None:
    import aiohttp

    space.arm("file_unsized")
    [url] = (await collect("flux", "sent chunked"))[-1].urls
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.content_length is None and resp.headers["transfer-encoding"] == "chunked"
        assert len(await resp.read()) > 2000
    with pytest.raises(StreamError, match=r"^the image is larger than the 2000-byte limit$"):
        await fetch_image(url, max_bytes=2000)


async def test_a_bomb_served_by_the_space_is_refused(space: LocalSpace, endpoint: str) -> None:
    space.arm("file_bomb")
    with pytest.raises(StreamError, match=r"^the image declares 9000x9000 pixels, more than this package decodes$"):
        await image_job("a bomb")


async def test_a_non_http_image_url_is_refused(space: LocalSpace, endpoint: str) -> None:
    space.arm("scheme_url")
    with pytest.raises(StreamError, match=r"^the Space returned an image URL that is not http\(s\)$"):
        await collect("flux", "x")


async def test_image_url_off_the_space_host_is_refused(space: LocalSpace, endpoint: str) -> None:
    space.arm("offhost_url")
    with pytest.raises(StreamError) as info:
        await collect("flux", "x")
    assert str(info.value) == "the Space pointed an image at another host (169.254.169.254); refused"
    assert not any(r.host == "169.254.169.254" for r in space.received)


async def test_a_chat_answer_arrives_without_terminal_control(space: LocalSpace, endpoint: str) -> None:
    """A Space's answer with a clipboard write, a window title, a clear screen and a lone surrogate: the
    text chunks hold what it says, and nothing a terminal would obey or a kernel message could not carry."""
    events = await collect("janus-pro-7b", "tell me [fault:answer_escape]", seed=1000)
    text = "".join(e for e in events if isinstance(e, str))
    assert text == "Sure, here it is?.\nDone."
    assert text.encode("utf-8").decode("utf-8") == text  # valid Unicode: it can go into a kernel message


async def test_control_characters_never_reach_the_space(space: LocalSpace, endpoint: str) -> None:
    await collect("flux", "a boat\x1b]0;pwned\x07 at sea")
    join = space.requests(path="/gradio_api/queue/join")[0]
    assert join.body["data"][0] == "a boat]0;pwned at sea"


# Each cell: a payload, and the one line the notebook shows (None: the cell succeeds, neutralised).
KERNEL_CASES = [
    ("%config G4FMagics.max_image_bytes = 2000", None),
    ("%%g4f -m flux -s 1\nan image too large", "StreamError: the image is larger than the 2000-byte limit"),
    ("%config G4FMagics.max_image_bytes = 33554432", None),
    ("%%g4f -m flux -s 1\na bomb [fault:file_bomb]",
     "StreamError: the image declares 9000x9000 pixels, more than this package decodes"),
    ("%%g4f -m flux -s 1\na page posing as an image [fault:file_lies]",
     "StreamError: the Space served something that is not an image (content type image/webp)"),
    ("%%g4f -m flux -s 1\nelsewhere [fault:offhost_url]",
     "StreamError: the Space pointed an image at another host (169.254.169.254); refused"),
    ("%%g4f -m flux -s 1\na file URL [fault:scheme_url]", "StreamError: the Space returned an image URL that is not http(s)"),
    ("%%g4f -m flux -s 5\na hostile log line [fault:log_html]", None),
    ("%%g4f -m flux -s 1\na hostile error [fault:error_html]", "GenerationError: GPU exploded"),
    ("%%g4f -m janus-pro-7b --new\na hostile answer [fault:answer_html]", None),
    ("%%g4f -m flux -s 9 -o boat\na boat\x1b]0;pwned\x07 at sea", None),
    ("print(repr(boat.prompt))", None),
]


@pytest.mark.timeout(180)
def test_each_hostile_payload_in_a_real_kernel(kernel_env: LocalSpace, tmp_path: Path) -> None:
    nb = run_notebook(["%load_ext g4f_magic"] + [src for src, _ in KERNEL_CASES], tmp_path / "hostile.ipynb",
                      allow_errors=True)
    for (src, expected), cell in zip(KERNEL_CASES, nb.cells[1:]):
        errors = [o.traceback for o in cell.outputs if o.output_type == "error"]  # one line each, no traceback
        assert errors == ([[expected]] if expected else []), src
        assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], src
    assert nb.cells[-1].outputs[0].text == "'a boat]0;pwned at sea'\n"
    assert kernel_env.requests(path="/gradio_api/queue/join")[-1].body["data"][0] == "a boat]0;pwned at sea"

    # Nothing the Space sent is markup: not in any HTML output, not in any widget (text/plain may quote it).
    rendered = html_outputs(nb)
    for raw in ("<script", "<img src=x", "<b>exploded", 'href="javascript'):
        assert raw not in rendered
    answer_html = [o.data["text/html"] for o in nb.cells[10].outputs if o.output_type == "display_data"]
    assert answer_html and "&lt;script&gt;alert('answer')&lt;/script&gt;" in answer_html[0]
    assert "[click me](javascript:alert('answer'))" in answer_html[0]  # shown, not a link
    assert "alert(&#x27;log&#x27;) model loaded" in rendered  # the log line, its tags dropped
    assert "GPU exploded" in rendered  # the live view's error line
