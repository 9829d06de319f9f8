"""Issue #35, item 3: a batch's input read as untrusted as the network's words."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from g4f_magic.localspace import LocalSpace


def cell(ip: Any, line: str, body: str) -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_cell_magic("g4f", line, body)
    return value, cap


def test_a_prompt_larger_than_a_space_reads_is_refused_by_its_item(ip: Any, thread_space: LocalSpace,
                                                                    tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a fox\n" + "x" * 50_000 + "\n")  # (a 20 MB line was sent, and kept twice)
    with pytest.raises(UsageError, match=r"^--each: item 2: the prompt is 50,008 characters; at most 4,000 are "
                                         r"sent \(FLUX reads about the first 2,000\)$"):
        cell(ip, f"-m flux -s 1 --each {tmp_path / 'p.txt'} --no-widgets", "{item} at dawn")
    assert not thread_space.received


def test_a_json_line_nested_deep_is_one_line(ip: Any, thread_space: LocalSpace, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"item": "a fox"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(UsageError) as info:
        cell(ip, f"-m flux -s 1 --each {path} --no-widgets", "{item}")
    assert str(info.value) in (f"--each {path}: line 2 is nested too deeply to read",
                               f"--each {path}: line 2 is nested more than 100 deep; refused")
    assert not thread_space.received


def test_bad_bytes_and_control_characters_are_cleaned_not_blamed_on_other_options(
        ip: Any, thread_space: LocalSpace, tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(b"a fox\na \xff\xfe owl\na \x1b[31mred\x1b[0m hare\n")
    ip.user_ns["odd"] = ["a wren \ud800 at dusk"]  # a lone surrogate: no kernel message can carry it
    res, cap = cell(ip, f"-m flux -s 1 --each {path} --save out --no-widgets", "{item}")
    assert res.counts["done"] == 3
    prompts = [e.prompt for e in res.items]
    assert prompts == ["a fox", "a \ufffd\ufffd owl", "a red hare"]
    manifest = next(Path("out").rglob("manifest.jsonl")).read_text()
    assert "\x1b" not in manifest and "\\u001b" not in manifest and "\x1b" not in res.to_pandas().to_string()
    odd, _ = cell(ip, "-m flux -s 1 --each odd --no-widgets", "{item}")
    assert odd.counts["done"] == 1 and "\ud800" not in odd.items[0].prompt
    (odd.items[0].prompt).encode("utf-8")  # valid Unicode, as a kernel message needs


def test_items_are_counted_as_they_are_read(ip: Any, thread_space: LocalSpace, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"item": f"fox {i}"}) + "\n" for i in range(10_001)) + "not json\n")
    with pytest.raises(UsageError, match=r"^--each: more than 10,000 items; at most 10,000 in one batch \(split it\)$"):
        cell(ip, f"-m flux -s 1 --each {path} --no-widgets", "{item}")  # stopped at the count: the bad line unread


def test_an_image_folder_link_that_leaves_the_folder_is_refused(ip: Any, thread_space: LocalSpace,
                                                                  tmp_path: Path) -> None:
    from support.helpers import ROOT  # noqa: F401  # the tests' own images are plain files

    from g4f_magic.localspace.images import placeholder

    folder, private = tmp_path / "dataset", tmp_path / "private"
    folder.mkdir()
    private.mkdir()
    (folder / "a.png").write_bytes(placeholder("a", 1, 64, 64))
    (private / "me.png").write_bytes(placeholder("me", 2, 64, 64))
    os.symlink(private / "me.png", folder / "b.png")
    for ref in (str(folder), f"{folder}/*.png"):
        with pytest.raises(UsageError, match=r"b\.png links out of its folder \(to .*private/me\.png\); not sent"):
            cell(ip, f"-m janus-pro-7b --image {ref} --no-widgets", "what is this?")
    assert not [r for r in thread_space.received if r.path.endswith("/upload")]
    os.remove(folder / "b.png")
    os.symlink(folder / "a.png", folder / "c.png")  # a link inside the folder is the folder's own
    res, _ = cell(ip, f"-m janus-pro-7b --image {folder} --no-widgets", "what is this?")
    assert res.counts["done"] == 2


def test_a_long_prompt_is_cut_in_the_images_alt_and_title() -> None:
    from g4f_magic.engine.result import GeneratedImage, Result
    from g4f_magic.localspace.images import placeholder
    from g4f_magic.notebook.html import image_tag

    result = Result("a fox " * 600, "flux", 1, 64, 64, GeneratedImage(placeholder("x", 1, 64, 64), "image/png", ""))
    tag = image_tag(result, 64)
    title = tag.split('title="', 1)[1].split('"', 1)[0]
    assert len(title) == 300 and title.endswith("…")
