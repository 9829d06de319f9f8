"""What a real network does that loopback hides: bodies in pieces, redirects, large bodies.

Each test runs directly and through the chunking TLS proxy (the ``endpoint`` fixture).
"""

from __future__ import annotations

import asyncio
import io
import os
from typing import Any

import pytest
from leakscan import TOKEN, secret
from PIL import Image
from support.helpers import FLUX_DEV, HUB, collect

from g4f_magic import ImageResponse, fetch_image
from g4f_magic.errors import InvalidOption, ResponseStatusError
from g4f_magic.localspace import LocalSpace


class Recorder:
    """A TCP server on another loopback address that counts what anyone sends it."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = b""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            self.received += await asyncio.wait_for(reader.read(65536), 1.0)
        except asyncio.TimeoutError:
            pass
        writer.close()

    async def __aenter__(self) -> "Recorder":
        self.server = await asyncio.start_server(self._handle, "127.0.0.2", 0)
        self.url = f"http://127.0.0.2:{self.server.sockets[0].getsockname()[1]}/collect"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.server.close()
        await self.server.wait_closed()


def image_urls(events: list[Any]) -> tuple[str, ...]:
    [result] = [e for e in events if isinstance(e, ImageResponse)]
    return result.urls


async def test_a_10_mb_image_arrives_whole(space: LocalSpace, endpoint: str) -> None:
    events = await collect("flux", "[fault:file_big] a storm")
    data, mime = await fetch_image(image_urls(events)[0])
    assert mime == "image/png" and len(data) > 9_900_000
    with Image.open(io.BytesIO(data)) as img:
        img.load()  # raises "image file is truncated" on a short read
        assert img.size == (1824, 1824)


async def test_a_3_mb_json_reply_is_read_whole(space: LocalSpace, endpoint: str) -> None:
    events = await collect("flux-schnell", "[fault:predict_big_json] a storm", seed=5)
    assert image_urls(events) and str(events[-2]).startswith("Finished")


async def test_the_token_near_the_end_of_a_340_kb_page_is_found(space: LocalSpace, endpoint: str) -> None:
    space.arm("page_big")
    await collect("flux", "a storm")
    [join] = space.requests(path="/gradio_api/queue/join")
    assert join.headers["x-zerogpu-token"] == space.tokens_issued[-1]


@pytest.mark.parametrize(("fault", "model"), [
    ("join_redirect", "flux"), ("data_redirect", "janus-pro-7b"), ("predict_redirect", "flux-schnell"),
    ("file_redirect", "flux"),
])
async def test_a_redirect_off_the_space_is_refused_and_gets_no_token(
    space: LocalSpace, endpoint: str, fault: str, model: str
) -> None:
    async with Recorder() as target:
        space.redirect_target = target.url
        space.arm(fault)
        with pytest.raises(ResponseStatusError) as info:
            events = await collect(model, "a storm", api_key=TOKEN)
            await fetch_image(image_urls(events)[0])
        await asyncio.sleep(0.05)
    assert str(info.value).startswith("Response 302: ")
    assert str(info.value).endswith("redirected to 127.0.0.2; redirects off the Space are refused")
    assert "\n" not in str(info.value)
    assert (target.connections, target.received) == (0, b"")  # not a byte, so not the token


async def test_a_same_host_redirect_of_a_download_is_followed(space: LocalSpace, endpoint: str) -> None:
    events = await collect("flux", "[fault:file_redirect_same] a storm", seed=3)
    data, mime = await fetch_image(image_urls(events)[0])
    assert mime == "image/webp" and data
    files = [r for r in space.received if "file=" in r.path]
    assert [r.query.get("moved") for r in files] == [None, "1"]


def noise_png(width: int, height: int) -> bytes:
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


async def test_large_upload_and_prompt_go_out_as_streams(space: LocalSpace, endpoint: str) -> None:
    """aiohttp warns (an error here) for a bytes body over 1 MiB; uploads and big JSON go as streams."""
    png = noise_png(900, 800)
    assert len(png) > 2_000_000
    events = await collect("janus-pro-7b", "what is this?", media=(png, "noise.png"))
    assert "I see a 900x800 PNG image named noise.png" in "".join(e for e in events if isinstance(e, str))
    long_question = "what does this say? " + "a lighthouse " * 120_000  # 1.5 MB: a document quoted to Janus
    events = await collect("janus-pro-7b", long_question, seed=1000)
    assert "".join(e for e in events if isinstance(e, str))
    [join] = space.requests(path="/gradio_api/queue/join")[-1:]
    assert long_question.strip() in join.body["data"][1]


async def test_media_over_the_limit_is_refused_before_it_is_read(space: LocalSpace, tmp_path: Any) -> None:
    path = tmp_path / "huge.png"
    with open(path, "wb") as fh:  # 200 MB, sparse: nothing to read if the size is checked first
        fh.truncate(200 * 1024 * 1024)
    with pytest.raises(InvalidOption) as info:
        await collect("janus-pro-7b", "what is this?", media=str(path))
    assert str(info.value) == "huge.png is 200.0 MiB; an image sent to a Space may be at most 20 MiB"
    with pytest.raises(InvalidOption, match="may be at most 20 MiB"):
        await collect("janus-pro-7b", "what is this?", media=b"\x89PNG\r\n\x1a\n" + bytes(21 * 1024 * 1024))
    assert space.received == []


async def test_gradio_auth_401_is_one_clear_line(space: LocalSpace, endpoint: str) -> None:
    space.arm("join_401_auth")
    with pytest.raises(ResponseStatusError) as info:
        await collect("flux", "a storm")
    assert str(info.value) == "Response 401: Not authenticated"


async def test_a_space_url_set_by_hand_gets_no_hub_token(space: LocalSpace, endpoint: str) -> None:
    """The hub's token belongs to the original Space, not to a duplicate or one's own server."""
    own = f"{endpoint}/{FLUX_DEV}"
    assert image_urls(await collect("flux", "a storm", flux_dev_url=own, seed=1))
    assert space.requests(HUB) == []
    [join] = space.requests(path="/gradio_api/queue/join")
    assert "x-zerogpu-token" not in join.headers
    # with its own hub named too, the user vouches for the pair: the token is fetched and sent
    assert image_urls(await collect("flux", "a storm", flux_dev_url=own, hub_url=f"{endpoint}/{HUB}", seed=2))
    assert space.requests(path="/gradio_api/queue/join")[-1].headers["x-zerogpu-token"] == space.tokens_issued[-1]


# -- one's own server behind basic auth (issue #23, item 6) ---------------------------------------
BASIC_PASSWORD = secret("basic_pw") + ":@/"  # a password with the characters a URL must encode; scanned for leaks


def _with_login(url: str, user: str, password: str) -> str:
    from urllib.parse import quote

    scheme, _, rest = url.partition("://")
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{rest}"


async def test_ones_own_server_behind_basic_auth_gets_its_login_and_nothing_shows_it(
        space: LocalSpace, endpoint: str) -> None:
    import base64

    space.basic = f"alice:{BASIC_PASSWORD}"
    own = _with_login(f"{endpoint}/{FLUX_DEV}", "alice", BASIC_PASSWORD)
    events = await collect("flux", "a storm", flux_dev_url=own, seed=1, api_key=TOKEN)
    [url] = image_urls(events)  # its own image, built by the server without the login: not "another host"
    assert "alice" not in url and url.startswith(f"{endpoint}/{FLUX_DEV}/")
    assert not [e for e in events if "alice" in repr(e) or "***" in repr(e)]
    data, mime = await fetch_image(url)  # the download goes with the login too
    assert mime.startswith("image/") and data
    login = "Basic " + base64.b64encode(f"alice:{BASIC_PASSWORD}".encode()).decode()
    assert space.received and all(r.headers.get("authorization") == login for r in space.received)
    assert {r.host for r in space.received} == {FLUX_DEV}  # the hub is not asked for one's own server
    # the same server without the login (a session that never had it): the proxy's refusal, in one line
    with pytest.raises(ResponseStatusError) as info:
        bare = f"{endpoint}/{FLUX_DEV}"
        await asyncio.to_thread(asyncio.run, collect("flux", "a storm", flux_dev_url=bare, seed=2))
    assert info.value.status == 401 and str(info.value) == (
        "the server, or a proxy in front of it, wants a login (401 Unauthorized): put user:password in its URL, "
        "https://user:password@host")


async def test_a_login_goes_to_its_server_only(space: LocalSpace, endpoint: str) -> None:
    """Its server's images, yes; the hub and the official Space the run falls back to, never (the local
    Space serves them all on one origin, so this holds the login to its server's own URL prefix)."""
    own = _with_login(f"{endpoint}/{FLUX_DEV}", "alice", BASIC_PASSWORD)
    space.down[FLUX_DEV] = "gone"
    events = await collect("flux-dev", "a storm", mirrors={"flux-dev": [own]}, seed=3)
    [handover] = [e.status for e in events if getattr(e, "kind", "") == "mirror"]
    assert "alice" not in handover and BASIC_PASSWORD not in handover
    others = [r for r in space.received if r.host != FLUX_DEV]
    assert others and not [r for r in others if r.headers.get("authorization", "").startswith("Basic")]
