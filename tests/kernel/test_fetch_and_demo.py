"""Image download guards, and the offline demo command end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import ROOT, collect

from g4f_magic import ImageResponse, StreamError, fetch_image
from g4f_magic.localspace import LocalSpace


async def test_fetch_image_by_magic_bytes(space: LocalSpace, endpoint: str) -> None:
    img = (await collect("flux", "x", seed=1))[-1]
    assert isinstance(img, ImageResponse)
    data, mime = await fetch_image(img.urls[0])
    assert mime == "image/webp" and data[:4] == b"RIFF"
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (1024, 1024)


async def test_fetch_image_refuses_oversize_and_non_images(space: LocalSpace, endpoint: str) -> None:
    img = (await collect("flux", "x", seed=1))[-1]
    with pytest.raises(StreamError, match="larger than the 1000-byte limit"):
        await fetch_image(img.urls[0], max_bytes=1000)
    with pytest.raises(StreamError, match=r"not an image \(content type text/html\)"):
        await fetch_image(f"{endpoint}/")


def installed_wheel(tmp_path: Path) -> dict[str, str]:
    """The package built as a wheel and installed on its own: the environment that imports it from there."""
    root = ROOT
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    def pip(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "pip", "-q", *args], capture_output=True, text=True, timeout=170)
        assert done.returncode == 0, done.stderr[-2000:]

    pip("wheel", "--no-deps", "-w", str(wheels), str(root))
    pip("install", "--no-deps", "--target", str(site), *map(str, wheels.glob("*.whl")))
    env = {**__import__("os").environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import g4f_magic.demo as d; print(d.NOTEBOOK)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert where.stdout.strip() == str(site / "g4f_magic" / "notebooks" / "quickstart.ipynb"), where.stderr
    [licence] = site.glob("g4f_magic-*.dist-info/licenses/LICENSE")  # the MIT licence ships with the wheel
    assert licence.read_text().startswith("MIT License")
    return env


@pytest.mark.timeout(400)  # a wheel built and installed (pip's own 170 s bound), then the demo at a real pace (its 170 s)
@pytest.mark.parametrize("install", ["checkout", "wheel"])
def test_demo_executes_the_quickstart_and_writes_html(tmp_path: Path, install: str) -> None:
    import base64
    import re

    env = installed_wheel(tmp_path) if install == "wheel" else None
    out = subprocess.run([sys.executable, "-m", "g4f_magic.demo", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=170, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "without encryption" not in out.stderr, out.stderr  # the kernel runs on local sockets
    html_path = tmp_path / "quickstart.html"
    assert f"HTML with the images inline: {html_path}" in out.stdout
    html = html_path.read_text()
    from g4f_magic.media import image_mime

    images = re.findall(r'src="data:(image/\w+);base64,([A-Za-z0-9+/=]+)"', html)
    # one lighthouse, four foxes, a 2×3 sweep, a batch's four thumbnails, the lighthouse replayed, and the lighthouse
    # again, small, above Janus's answer about it (issue #36, item 6)
    assert len(images) == 1 + 4 + 6 + 4 + 1 + 1
    assert 'class="g4f-asked"' in html and images[-1][0] == "image/webp"
    assert all(image_mime(base64.b64decode(data)) == mime for mime, data in images)
    assert images[0][0] == "image/webp"
    assert re.search(r"flux · done · seed 42 · 1360x760 · \d+\.\ds</div>", html)
    # one run as it streamed from a Space at a real Space's pace (issue #24, item 3): the record under its image
    first = re.search(r"<details open(?:=\"\")?><summary>what streamed \((\d+) updates, (\d+) previews\) · log \(1\)</summary>"
                      r"<pre[^>]*>(.*?)</pre>", html, re.S)
    assert first and int(first.group(2)) >= 10, first
    record = first.group(3)
    steps = ("In queue: position 4 of 4", "In queue: position 1 of 1", "Started", "Sampling 0/28", "preview 1",
             "Sampling 28/28", "flux · done · seed 42")
    assert all(x in record for x in steps), record
    assert [record.index(x) for x in steps] == sorted(record.index(x) for x in steps), record
    assert re.search(r"flux · replayed \(generated [0-9-]+ [0-9:]+\) · seed 42 · 1360x760", html)
    assert images[-2] == images[0]  # the same bytes, from the replay store
    assert re.findall(r'<th class="g4f-col"[^>]*>([^<]*)</th>', html) == ["seed 10001", "seed 10002", "seed 10003"]
    assert "You asked: Say it in one word. (this conversation has 2 user turns)" in html
    assert re.search(r"flux-schnell · batch of 4 · 4 done · \d+\.\ds", html)
    assert html.count('class="g4f-thumb"') == 4 and "{'done': 4, 'failed': 0, 'not run': 0}" in html
    assert (tmp_path / "quickstart.ipynb").exists()


def test_demo_with_an_unreachable_endpoint_fails_clearly(tmp_path: Path) -> None:
    env = {**__import__("os").environ, "G4F_MAGIC_ENDPOINT": "http://127.0.0.1:9"}
    out = subprocess.run([sys.executable, "-m", "g4f_magic.demo", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=170, env=env)
    assert out.returncode == 1
    assert "demo failed" in out.stderr and "cannot connect to 127.0.0.1:9" in out.stderr


def test_the_demo_without_its_extra_says_which_to_install(tmp_path: Path) -> None:
    """A wheel installed without ``[demo]`` (issue #24, item 7): one line naming the extra, no traceback."""
    code = ("import sys; sys.modules['nbformat'] = None; import runpy; "
            "runpy.run_module('g4f_magic.demo', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code, "--out", str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("the demo runs a notebook, which needs the demo extra: "
                                 "pip install 'g4f_magic[demo]' (nbformat") and out.stderr.count("\n") == 1, out.stderr
