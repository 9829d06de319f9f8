"""Aspect ratios and image sizes: the one place they are computed."""

from __future__ import annotations

import math
import re

from ..errors import InvalidOption

__all__ = ["parse_ratio", "image_size", "rounding", "TARGET_AREA", "MIN_SIDE", "MAX_SIDE", "COMMON_RATIOS"]

TARGET_AREA = 1024 * 1024
MIN_SIDE = 32
MAX_SIDE = 4096
COMMON_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")
_RATIO = re.compile(r"^\s*(\d{1,6})\s*[:x/]\s*(\d{1,6})\s*$")


def parse_ratio(ratio: str) -> tuple[int, int]:
    """``"16:9"`` → ``(16, 9)``; anything else is an ``InvalidOption`` naming the form."""
    m = _RATIO.match(ratio) if isinstance(ratio, str) else None
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise InvalidOption(
            f"aspect ratio must be W:H with positive whole numbers, e.g. 16:9; got {ratio!r}"
        )
    return int(m.group(1)), int(m.group(2))


def _floor8(x: float) -> int:
    return max(MIN_SIDE, int(x) // 8 * 8)


def _round8(x: float) -> int:
    return max(MIN_SIDE, int(round(x / 8)) * 8)


def _side(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOption(f"{name} must be a whole number of pixels; got {value!r}")
    if not MIN_SIDE <= value <= MAX_SIDE:
        raise InvalidOption(f"{name} must be between {MIN_SIDE} and {MAX_SIDE}; got {value}")
    return _floor8(value)


def image_size(
    aspect_ratio: str = "1:1", width: int | None = None, height: int | None = None
) -> tuple[int, int]:
    """The size to request: explicit sides win (rounded down to multiples of 8); a missing side
    follows the ratio; with neither, the largest size of about one megapixel (1:1 → 1024×1024)."""
    rw, rh = parse_ratio(aspect_ratio)
    if width is not None and height is not None:
        return _side("width", width), _side("height", height)
    if width is not None:
        w = _side("width", width)
        return w, _round8(w * rh / rw)
    if height is not None:
        h = _side("height", height)
        return _round8(h * rw / rh), h
    long_side = min(MAX_SIDE, _floor8(math.sqrt(TARGET_AREA * max(rw, rh) / min(rw, rh))))
    short_side = _floor8(long_side * min(rw, rh) / max(rw, rh))
    return (long_side, short_side) if rw >= rh else (short_side, long_side)


def rounding(width: object, height: object, sent: tuple[int, int]) -> str:
    """What the status line says when a side the user gave was rounded to what the Space takes: the
    ``sent`` size differs from the ``width``/``height`` asked for. Empty when nothing given was changed."""
    asked = [(name, value, got) for name, value, got in (("width", width, sent[0]), ("height", height, sent[1]))
             if isinstance(value, int) and value != got]
    if not asked:
        return ""
    if width is not None and height is not None:
        return f"{width}x{height} rounded to {sent[0]}x{sent[1]} (sides are multiples of 8)"
    name, value, got = asked[0]
    return f"{name} {value} rounded to {got} (sides are multiples of 8)"
