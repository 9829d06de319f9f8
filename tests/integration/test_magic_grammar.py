"""Where IPython users have firm habits: help, no double expansion, a line grammar without
ambiguity, and every option checked before any request (issue #12's defects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from leakscan import TOKEN

from g4f_magic.engine.result import Result
from g4f_magic.localspace import LocalSpace


def line(ip: Any, text: str) -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_line_magic("g4f", text)
    return value, cap


def joins(space: LocalSpace) -> list[Any]:
    return space.requests(path="/gradio_api/queue/join") + space.requests(path="/run/predict")


def test_prompts_that_start_like_subcommands_generate(ip: Any, thread_space: LocalSpace) -> None:
    result, _ = line(ip, "-m flux -s 3 history of rome")
    assert isinstance(result, Result) and result.prompt == "history of rome"
    result, _ = line(ip, "-m flux -s 4 -- models")
    assert result.prompt == "models"
    _, cap = line(ip, "models")
    assert "janus-pro-7b-image" in cap.stdout and len(joins(thread_space)) == 2


def test_the_line_is_expanded_once_by_the_magic(ip: Any, thread_space: LocalSpace,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ip.user_ns["style"] = "{x}"  # braces in a value: filled once, never again
    result, _ = line(ip, "-m flux -s 1 a cat in {style}")
    assert result.prompt == "a cat in {x}"
    result, _ = line(ip, "--no-interpolate -m flux -s 2 a cat in {style}")
    assert result.prompt == "a cat in {style}"
    ip.user_ns["HF"] = "a python variable"
    monkeypatch.setenv("HF", TOKEN)
    line(ip, "--api-key $HF -m flux -s 3 a cat")
    assert joins(thread_space)[-1].headers["authorization"] == f"Bearer {TOKEN}"  # the environment, as documented
    with pytest.raises(UsageError) as info:  # the line itself is never expanded by IPython
        ip.run_cell_magic("g4f", "-m flux -s 5 -o {style}", "x")
    assert str(info.value) == "-o {style}: not a Python variable name"


@pytest.mark.parametrize(("options", "message"), [
    ("-n 20000", "count must be from 1 to 16; got 20000"),
    ("--save /etc/passwd/x.png", "--save /etc/passwd/x.png: cannot save to /etc/passwd/x.png: /etc/passwd is a file, "
                                 "not a folder"),
    ("--save out.txt", "--save out.txt: cannot save as .txt; use .png (or the format the Space serves)"),
    ("-o 1bad", "-o 1bad: not a Python variable name"),
    ("-o class", "-o class: not a Python variable name"),
    ("-o print", "-o print would hide the built-in print(); choose another name"),
    ("-m flux-schnell -n 3 -s 4294967294",
     "seed 4294967294 and -n 3 needs seeds up to 4294967296: flux-schnell takes seeds from 0 to 4294967295"),
    ("-s -5", "seed -5: flux takes seeds from 0 to 2147483647"),
    ("-a 0:1", "aspect ratio must be W:H"),
])
def test_bad_options_are_found_before_any_request(ip: Any, thread_space: LocalSpace, options: str,
                                                   message: str) -> None:
    with capture_output() as cap, pytest.raises(UsageError) as info:
        ip.run_cell_magic("g4f", options, "a cat")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert joins(thread_space) == [] and thread_space.requests() == []
    assert cap.outputs == []  # no view was made


def test_a_save_that_fails_after_the_image_arrived_still_shows_it(ip: Any, thread_space: LocalSpace,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    def disk_full(self: Result, path: Any, index: int = 0) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Result, "save", disk_full)
    with capture_output() as cap:
        result = ip.run_cell_magic("g4f", f"-m flux -s 9 --save {tmp_path / 'a.png'}", "a cat")
    assert isinstance(result, Result) and result.image is not None and result.seed == 9
    assert f"g4f: could not save to {tmp_path / 'a.png'}: No space left on device" in cap.stderr


def complete(ip: Any, text: str) -> list[str]:
    """The completions that replace the whole word at the cursor (Jedi adds Python names for the part
    after a "-", which no custom completer can suppress)."""
    from IPython.core.completer import provisionalcompleter

    word = "" if text[-1:].isspace() else text.split()[-1]
    with provisionalcompleter():
        return [c.text for c in ip.Completer.completions(text, len(text)) if c.start == len(text) - len(word)]


def test_tab_completion_through_the_shell_completer(ip: Any) -> None:
    assert complete(ip, "%g4f --asp") == ["--aspect-ratio"]
    assert set(complete(ip, "%g4f -m flux")) == {"flux", "flux-dev", "flux-schnell"}
    assert complete(ip, "%%g4f -m janus-pro-7b-i") == ["janus-pro-7b-image"]
    assert complete(ip, "%%g4f -m flux --fallback flux-s") == ["flux-schnell"]
    assert complete(ip, "%%g4f --ref") == ["--refresh"] and complete(ip, "%g4f cache c") == ["clear"]
    assert "16:9" in complete(ip, "%%g4f -a 1")
    assert {"models", "history", "help"} <= set(complete(ip, "%g4f "))
    assert complete(ip, "%g4f hist") == ["history"]
    assert "history" not in complete(ip, "%g4f a red bicycle hist")  # inside a prompt: no subcommands
    assert "models" not in complete(ip, "%g4f -- mod")
    ip.run_line_magic("unload_ext", "g4f_magic")
    try:
        assert "--aspect-ratio" not in complete(ip, "%g4f --asp")  # unloading takes the completer away
    finally:
        ip.run_line_magic("load_ext", "g4f_magic")
