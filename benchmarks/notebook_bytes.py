"""Notebook bytes per image, with photograph-like images (issue #13).

The local Space's stand-ins are flat gradients that compress to almost nothing, so they would flatter
any format. Here the Space serves photograph-like pictures instead: 1/f² noise in each colour (the
power spectrum of natural images), a horizon, soft light and fine grain, as WebP at Gradio's default
quality, as FLUX Spaces serve them. A real kernel runs ``%%g4f`` cells through nbclient; the saved
notebook is measured against the bytes the Space served, and against what PNG embedding would cost.

    python -m benchmarks.notebook_bytes          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import base64
import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.sections import cli
from g4f_magic.engine.result import to_png
from g4f_magic.localspace import LocalSpace, Pace, in_thread

HERE = Path(__file__).resolve().parent
SECTION = "## 7. Notebook bytes per image, photograph-like images"
SIDE = 1024


def photo_like(seed: int, side: int = SIDE) -> Image.Image:
    """A picture with natural-image statistics: 1/f² spectrum, a horizon, a light falloff, grain."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(side), np.fft.fftfreq(side), indexing="ij")
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / side) ** 2
    channels = []
    for _ in range(3):
        spectrum = falloff * np.exp(2j * np.pi * rng.random((side, side)))
        field = np.real(np.fft.ifft2(spectrum))
        channels.append((field - field.mean()) / (field.std() + 1e-9))
    img = np.stack(channels, axis=-1) * 0.35 + 0.5
    rows = np.linspace(0.0, 1.0, side)[:, None, None]
    horizon = rng.uniform(0.3, 0.7)
    sky = np.array(rng.uniform(0.4, 0.9, 3))
    img = np.where(rows < horizon, img * 0.4 + sky * 0.6, img)  # a sky above, texture below
    yy, xx = np.mgrid[0:side, 0:side] / side
    light = 1.0 - 0.5 * np.hypot(xx - rng.random(), yy - rng.random())[..., None]
    img = img * light + rng.normal(0, 0.02, img.shape)  # sensor grain
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), "RGB")


class PhotoSpace(LocalSpace):
    """The local Space, serving photograph-like WebP (previews and results) instead of its flat stand-ins."""

    def _file_hook(self, data: bytes, ext: str, path: str, prompt: str, label: str) -> tuple[bytes, str, str, bool]:
        found = re.search(r"seed (\d+)", prompt)
        out = io.BytesIO()
        photo_like(int(found.group(1)) if found else 0).save(out, "WEBP", quality=80)  # Gradio's WebP default
        return out.getvalue(), "webp", path.rsplit(".", 1)[0] + ".webp", False


def notebook_bytes(url: str, count: int, widget_state: bool) -> tuple[int, list[bytes]]:
    """The saved notebook's size, and the images it holds (decoded from their data: URLs)."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["G4F_MAGIC_ENDPOINT"] = url
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext g4f_magic")]
    nb.cells += [nbformat.v4.new_code_cell(f"%%g4f -m flux -s {i}\na photograph, seed {i}") for i in range(count)]
    NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=widget_state).execute()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "n.ipynb"
        nbformat.write(nb, path)
        text = path.read_text()
    images = [base64.b64decode(d) for d in re.findall(r"data:image/webp;base64,([A-Za-z0-9+/=]+)", text)]
    return len(text.encode()), images


def figures(count: int) -> list[str]:
    space = PhotoSpace(pace=Pace.fast(0.0))
    per_image = {}
    with in_thread(space) as url:
        for state in (False, True):
            empty, _ = notebook_bytes(url, 0, state)
            full, images = notebook_bytes(url, count, state)
            assert len(images) == count, f"{len(images)} images in the notebook, {count} generated"
            per_image[state] = (full - empty) / count
            sizes = (empty, full)
    served = sum(map(len, images)) / count  # the notebook holds the served bytes themselves, unchanged
    png = sum(len(to_png(i)) for i in images) / count
    return [
        f"{count} images of {SIDE}×{SIDE}, served as WebP (quality 80), each by its own `%%g4f` cell in a real kernel.",
        "",
        "| measure | value |", "|---|---|",
        f"| bytes the Space served, per image (mean) | {served:,.0f} |",
        f"| notebook bytes added per image, saved as JupyterLab saves (no widget state) | {per_image[False]:,.0f} "
        f"= **{per_image[False] / served:.2f}× served** (limit 1.5×) |",
        f"| the same, saved by nbclient with widget state (it keeps closed widgets' last state) | "
        f"{per_image[True]:,.0f} = {per_image[True] / served:.2f}× served |",
        f"| the same pixels as PNG, per image (the former embedding) | {png:,.0f} = {png / served:.1f}× served |",
        f"| notebook of {count} images with widget state, PNG then, served bytes now | "
        f"about {(sizes[0] + count * png * 4 / 3) / 1e6:.1f} MB → {sizes[1] / 1e6:.2f} MB |",
    ]


def main(argv: list[str] | None = None) -> int:
    return cli("notebook_bytes", __doc__, SECTION, lambda n: figures(n), [("n", 10, "images in the notebook")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
