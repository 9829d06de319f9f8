"""Image download guards, and the offline demo command end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import collect

from g4f_magic import ImageResponse, StreamError, fetch_image
from g4f_magic.localspace import LocalSpace


async def test_fetch_image_by_magic_bytes(space: LocalSpace, endpoint: str) -> None:
    img = (await collect("flux", "x", seed=1))[-1]
    assert isinstance(img, ImageResponse)
    data, mime = await fetch_image(img.urls[0])
    assert mime == "image/webp" and data[:4] == b"RIFF"
    from PIL import Image
    import io

    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (1024, 1024)


async def test_fetch_image_refuses_oversize_and_non_images(space: LocalSpace, endpoint: str) -> None:
    img = (await collect("flux", "x", seed=1))[-1]
    with pytest.raises(StreamError, match="larger than the 1000-byte limit"):
        await fetch_image(img.urls[0], max_bytes=1000)
    with pytest.raises(StreamError, match=r"not an image \(content type text/html\)"):
        await fetch_image(f"{endpoint}/")


def test_demo_runs_offline_and_saves_every_image(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "g4f_magic.demo", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files[:1] == ["flux-42-0.webp"] and len(files) == 7
    assert "flux-schnell-12345-0.png" in files
    assert "You asked: Describe a lighthouse in one sentence." in out.stdout
    assert "In queue: position 2 of 2" in out.stdout
