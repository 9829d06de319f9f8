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
    ("-n 20000", "-n must be from 1 to 16; got 20000"),
    ("--save /etc/passwd/x.png", "--save /etc/passwd/x.png: cannot save to /etc/passwd/x.png: /etc/passwd is a file, "
                                 "not a folder"),
    ("--save out.txt", "--save out.txt: cannot save as .txt; use .png (or the format the Space serves)"),
    ("-o 1bad", "-o 1bad: not a Python variable name"),
    ("-o class", "-o class: not a Python variable name"),
    ("-o print", "-o print would hide the built-in print(); choose another name"),
    ("-m flux-schnell -n 3 -s 4294967294",
     "-s 4294967294 and -n 3 needs seeds up to 4294967296: flux-schnell takes seeds from 0 to 4294967295"),
    ("-s -5", "-s -5: flux takes seeds from 0 to 2147483647"),
    ("-a 0:1", "aspect ratio must be W:H"),
    ("-n 0", "-n must be from 1 to 16; got 0"),  # not one image
    ("-m janus-pro-7b-image -a 16:9",
     "janus-pro-7b-image takes no size or aspect ratio (it chooses its own); those are for the flux models"),
    ("-m janus-pro-7b -W 512", "janus-pro-7b takes no size or aspect ratio"),
])
def test_bad_options_are_found_before_any_request(ip: Any, thread_space: LocalSpace, options: str,
                                                   message: str) -> None:
    with capture_output() as cap, pytest.raises(UsageError) as info:
        ip.run_cell_magic("g4f", options, "a cat")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert joins(thread_space) == [] and thread_space.requests() == []
    assert cap.outputs == []  # no view was made


def test_a_side_rounded_to_what_the_space_takes_is_said_in_the_status_line(ip: Any, thread_space: LocalSpace) -> None:
    with capture_output() as cap:
        result = ip.run_cell_magic("g4f", "-m flux -s 3 -W 1001 -H 1001", "a cat")
    assert (result.width, result.height) == (1000, 1000)
    [done] = [x for x in cap.stdout.splitlines() if x.startswith("flux ·") and "done" in x]
    assert done.endswith("· 1001x1001 rounded to 1000x1000 (sides are multiples of 8)"), done
    with capture_output() as cap:
        ip.run_cell_magic("g4f", "-m flux -s 4 -W 1000 -H 1000", "a cat")
    assert "rounded" not in cap.stdout


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


def completed(ip: Any, text: str) -> list[tuple[str, str]]:
    """Everything IPython offers at the end of ``text`` (every matcher, Jedi included), as (the word it
    makes, its type), in IPython's order: what a kernel's complete_reply lists."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        found = list(ip.Completer.completions(text, len(text)))
    return [(_word(text, c), c.type) for c in found]


def _word(text: str, c: Any) -> str:
    """The whole word a completion leaves at the cursor (IPython may replace only the part after a ":")."""
    start = len(text) - len(text.split()[-1]) if not text[-1:].isspace() else len(text)
    return text[start:c.start] + c.text


def complete(ip: Any, text: str) -> list[str]:
    return [word for word, _ in completed(ip, text)]


def test_tab_completion_through_the_shell_completer(ip: Any) -> None:
    from g4f_magic import G4F

    # only the magic's own words, typed: no Python keyword, no name typed <unknown>
    assert completed(ip, "%%g4f -m ") == [(m, "model") for m in G4F.models]
    assert completed(ip, "%g4f -m ") == [(m, "model") for m in G4F.models]
    assert completed(ip, "%%g4f -a 16")[0] == ("16:9", "ratio") and {t for _, t in completed(ip, "%%g4f -a ")} == {"ratio"}
    assert completed(ip, "%%g4f -a 16:") == [("16:9", "ratio")]  # past the ":" IPython's own word stops
    assert completed(ip, "%%g4f -m flux --st") == [("--steps", "option")]  # not --staticmethod
    assert complete(ip, "%g4f --asp") == ["--aspect-ratio"]
    assert set(complete(ip, "%g4f -m flux")) == {"flux", "flux-dev", "flux-schnell"}
    assert complete(ip, "%%g4f -m janus-pro-7b-i") == ["janus-pro-7b-image"]
    assert complete(ip, "%%g4f -m flux --fallback flux-s") == ["flux-schnell"]
    assert complete(ip, "%%g4f --ref") == ["--refresh"] and completed(ip, "%g4f cache c") == [("clear", "subcommand")]
    assert {"models", "history", "help"} <= set(complete(ip, "%g4f "))
    assert {t for _, t in completed(ip, "%g4f ")} == {"subcommand", "option"}
    assert complete(ip, "%g4f hist") == ["history"]
    # inside a prompt or a value: the word as typed (a completion that changes nothing), nothing else
    assert completed(ip, "%g4f a red bicycle hist") == [("hist", "text")]
    assert complete(ip, "%g4f -- mod") == ["mod"] and complete(ip, "%%g4f -s 12") == ["12"]
    assert completed(ip, "%%g4f -m flux\na lighthouse in a st") == [("st", "text")]  # the cell's prompt
    assert "%g4f" in complete(ip, "%g4")  # the magic's own name is IPython's to complete
    assert "print" in complete(ip, "pri")  # and Python lines are left alone
    ip.run_line_magic("unload_ext", "g4f_magic")
    try:
        assert "--aspect-ratio" not in complete(ip, "%g4f --asp")  # unloading takes the completer away
    finally:
        ip.run_line_magic("load_ext", "g4f_magic")
