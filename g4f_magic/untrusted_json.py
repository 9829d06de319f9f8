"""JSON from outside (a Space, a proxy, the hub, a replay entry on disk), read within a depth budget.

``json.loads`` reads a message nested 200,000 deep by raising ``RecursionError``, and one nested 900
deep reads fine and then breaks whatever walks it recursively (``copy.deepcopy``, ``repr``, a diff). No
Gradio value comes near ``MAX_DEPTH`` (a gallery of FileData is 4 deep, a chat history 5), so past it
the text is refused as one line, in one place, before anything walks it.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import StreamError

__all__ = ["read_json", "too_deep", "is_int", "MAX_DEPTH"]

MAX_DEPTH = 100


def is_int(value: Any) -> bool:
    """A whole JSON number: ``true`` is not 1 (Python's bool is an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` deep (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def read_json(raw: str | bytes, what: str = "the reply") -> Any:
    """The value ``raw`` holds; ``StreamError`` (one line naming ``what``) for malformed JSON or a value
    nested past ``MAX_DEPTH``. ``StreamError.__cause__`` is the ``ValueError`` when it was malformed."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise StreamError(f"{what} is malformed JSON") from exc
    except RecursionError:
        raise StreamError(f"{what} is nested too deeply to read") from None
    if isinstance(value, (dict, list)) and too_deep(value):
        raise StreamError(f"{what} is nested more than {MAX_DEPTH} deep; refused")
    return value
