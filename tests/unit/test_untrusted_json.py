"""JSON from outside within the depth budget: one place, every reader (issue #23)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from g4f_magic.errors import StreamError
from g4f_magic.untrusted_json import MAX_DEPTH, is_int, read_json, too_deep


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_the_budget_is_exact_and_what_passes_can_be_walked() -> None:
    value: Any = read_json(nested(MAX_DEPTH))
    copy.deepcopy(value)
    with pytest.raises(StreamError, match=f"^the reply is nested more than {MAX_DEPTH} deep; refused$"):
        read_json(nested(MAX_DEPTH + 1))
    with pytest.raises(StreamError, match="^the reply is nested too deeply to read$"):  # RecursionError inside
        read_json(nested(200_000))
    with pytest.raises(StreamError, match="^its header is malformed JSON$") as bad:
        read_json("{", "its header")
    assert isinstance(bad.value.__cause__, ValueError)
    assert not too_deep({"a": [{"b": [1]}]}, 4) and too_deep({"a": [{"b": [1]}]}, 3)


def test_a_whole_number_is_not_a_bool() -> None:
    assert is_int(3) and is_int(-1) and not is_int(True) and not is_int(3.0) and not is_int("3")


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", ""])
def test_an_error_body_nested_deep_is_one_line_of_its_status(ctype: str) -> None:
    """A proxy's or a Space's error body is read for its message; one too deep to trust is just text."""
    from g4f_magic.http.status import status_error

    exc = status_error(502, "Bad Gateway", ctype, ('{"error": ' + nested(5000) + "}").encode())
    assert "\n" not in str(exc) and "502" in str(exc)


def test_a_reply_nested_deep_is_one_line() -> None:
    from g4f_magic.http.session import _loads

    with pytest.raises(StreamError, match="^the reply is nested too deeply to read$"):
        _loads(nested(MAX_DEPTH + 1).encode())
    with pytest.raises(StreamError, match="^expected JSON, got an HTML page$"):
        _loads(b"<html>")
