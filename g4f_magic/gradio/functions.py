"""Which Gradio function a route calls, and finding it again when a Space moved it.

The Spaces' function indexes are the fast path (no extra round trip). A Space whose author added an
event listener above them shifts every index: Gradio then answers 500 (index out of range), runs
another function (a result of the wrong shape), or reports an error without details (wrong number
of inputs; observed on Gradio 4.44, 5.50 and 6.31). Then the route reads the Space's ``/config``
once, finds the function by the name the Space's source gives it (its ``api_name``), remembers the
mapping for the session and retries once. A function whose inputs changed is one clear error naming
what the Space now expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from ..errors import G4FError, GenerationError, ResponseStatusError, ResultShapeError, SpaceUnavailable, one_line
from ..untrusted_json import is_int

__all__ = ["Fn", "JANUS_CHAT", "JANUS_IMAGE", "FLUX_INFER", "PREDICT_INFER", "SCHNELL_INFER", "may_have_moved",
           "from_config"]


@dataclass(frozen=True)
class Fn:
    name: str  # the function's name in the Space's source: its api_name in /config
    index: int  # fn_index
    trigger: int | None  # trigger_id: the component whose event runs it
    arity: int  # how many inputs it takes


JANUS_CHAT = Fn("multimodal_understanding", 2, 10, 5)
JANUS_IMAGE = Fn("generate_image", 3, 20, 4)
FLUX_INFER = Fn("infer", 2, 4, 7)
PREDICT_INFER = Fn("infer", 3, 10, 6)
# the official FLUX.1-schnell Space on the queue API: its index is not pinned (-1), found by name first
SCHNELL_INFER = Fn("infer", -1, None, 6)


def may_have_moved(exc: G4FError) -> bool:
    """Errors that a moved or changed function produces (and a few others, which a lookup rules out)."""
    if isinstance(exc, ResultShapeError):
        return True
    if isinstance(exc, ResponseStatusError) and not isinstance(exc, SpaceUnavailable):
        return exc.status == 500
    if type(exc) is GenerationError:
        text = str(exc)
        return "without details" in text or "input values" in text
    return False


def from_config(config: Any, wanted: Fn) -> tuple[Fn, list[str]] | None:
    """The function named like ``wanted`` in a Gradio ``/config``, with its inputs' labels."""
    if not isinstance(config, dict) or not isinstance(config.get("dependencies"), list):
        return None
    listed = config.get("components")
    components = {c["id"]: c for c in listed if isinstance(c, dict) and is_int(c.get("id"))} \
        if isinstance(listed, list) else {}
    for position, dep in enumerate(config["dependencies"]):
        if not isinstance(dep, dict) or dep.get("api_name") != wanted.name:
            continue
        index = dep.get("id") if is_int(dep.get("id")) else position
        targets = dep.get("targets")
        first = targets[0] if isinstance(targets, list) and targets else None
        trigger = first[0] if isinstance(first, list) and first else first
        inputs = [i for i in dep["inputs"] if is_int(i)] if isinstance(dep.get("inputs"), list) else []
        labels = []
        for n, ident in enumerate(inputs, 1):
            props = components.get(ident, {}).get("props")
            label = props.get("label") if isinstance(props, dict) else None
            labels.append(one_line(label, 80) if isinstance(label, str) and label else f"input {n}")
        return Fn(wanted.name, cast(int, index), cast(int, trigger) if is_int(trigger) else None, len(inputs)), labels
    return None
