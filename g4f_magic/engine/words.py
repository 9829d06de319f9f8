"""The front ends' words for the options that the engine's messages name.

The magic says ``--each`` and ``-n``, the panel "each" and "count"; the engine writes
``said(words, "each")`` and never a flag of its own, so neither front end has to undo the other's words.
"""

from __future__ import annotations

from typing import Mapping

__all__ = ["Words", "PLAIN", "said"]

Words = Mapping[str, str]

# the options as plain words: what a caller of the engine that names none of its own sees
PLAIN: Words = {"each": "each", "count": "count", "wait": "wait", "fallback": "fallback", "image": "image",
                "steps": "steps", "guidance": "guidance", "seed": "seed", "model": "model",
                "aspect_ratio": "aspect ratio"}


def said(words: Words, option: str) -> str:
    """``option`` as the front end calls it."""
    return words.get(option) or PLAIN.get(option, option)
