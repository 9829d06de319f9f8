"""Deterministic placeholder images that say plainly they come from a local stand-in."""

from __future__ import annotations

import functools
import hashlib
import io
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

__all__ = ["placeholder"]

BANNER = "LOCAL STAND-IN - not a model"


@functools.lru_cache(maxsize=64)
def placeholder(prompt: str, seed: int, width: int, height: int, fmt: str = "PNG", label: str = "",
                by: str = "") -> bytes:
    """Same prompt, seed, size and maker → same bytes. ``fmt`` is PNG, WEBP or JPEG; ``by``: the Space (or
    provider) that draws it, so that two models' pictures of one prompt differ, as they would."""
    digest = hashlib.sha256(f"{by}\0{prompt}\0{seed}".encode()).digest()
    rng = random.Random(digest)
    top = tuple(digest[:3])
    bottom = tuple(digest[3:6])
    img = Image.linear_gradient("L").resize((width, height))
    img = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), img)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(max(8, min(width, height) // 10), max(16, min(width, height) // 3))
        draw.ellipse((x - r, y - r, x + r, y + r), outline=tuple(rng.randrange(256) for _ in range(3)), width=3)
    size = max(10, min(width, height) // 24)
    font = ImageFont.load_default(size=size)
    lines = [BANNER, *textwrap.wrap(prompt, width=max(10, width // (size // 2 + 1)))[:6],
             f"seed {seed} · {width}x{height}", by, label]
    y = size
    for line in filter(None, lines):
        draw.text((size + 2, y + 2), line, fill=(0, 0, 0), font=font)
        draw.text((size, y), line, fill=(255, 255, 255), font=font)
        y += int(size * 1.4)
    out = io.BytesIO()
    if fmt == "WEBP":
        img.save(out, fmt, quality=70, method=0)
    else:
        img.save(out, fmt)
    return out.getvalue()
