"""What a finished run leaves in the notebook: one plain output that needs no kernel and no widget state.

The bundle is ``text/html`` (the status line, the image or a grid of images, the answer, the log) and
``text/plain`` (the status line). Images are ``<img>`` tags holding the bytes the Space served (WebP
for FLUX): base64 costs 4/3 of the served size, where a PNG of the same pixels costs 10-17×. A tag in
HTML is shown by JupyterLab, Notebook 7, VS Code and nbconvert's HTML alike; an ``image/webp`` output
is not (nbconvert's templates drop it). ``embed_format = "png"`` re-encodes for viewers that cannot
decode WebP. The grid is a ``<table>``: JupyterLab's sanitizer (untrusted notebooks) strips
``display`` styles, a table needs none.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .render import escape, line_html, log_html, markdown_html, status_line

if TYPE_CHECKING:
    from .result import Result

__all__ = ["run_bundle", "done_line", "image_tag", "DISPLAY_WIDTH", "TILE_WIDTH", "GRID_COLUMNS", "EMBED_FORMATS"]

DISPLAY_WIDTH = 512  # px: a 1024² image at full size is taller than a laptop's notebook area
TILE_WIDTH = 200  # px: four tiles fit the ~830 px of a JupyterLab cell at 1280×800
GRID_COLUMNS = 4
EMBED_FORMATS = ("served", "png")


def _settings() -> dict[str, Any]:
    from .settings import values

    return values()


def image_tag(result: Result, width: int, embed: str = "served") -> str:
    """An ``<img>`` of the result at ``width`` px at most (0: its own size), never wider than the cell."""
    assert result.image is not None
    mime, data = result.image.embedded(embed)
    src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    shown = min(width, result.width or width)  # 0: no width, the image's own size
    size = f' width="{shown}"' if shown else ""
    prompt = escape(result.prompt)
    return f'<img class="g4f-image" src="{src}"{size} alt="{prompt}" title="{prompt}" style="max-width:100%">'


def _grid(results: Sequence[Result], width: int, embed: str) -> str:
    tile = min(TILE_WIDTH, width) if width else TILE_WIDTH
    rows = []
    for start in range(0, len(results), GRID_COLUMNS):
        cells = "".join(
            f'<td style="padding:2px 4px;text-align:center;vertical-align:top;border:none">{image_tag(r, tile, embed)}'
            f'<div style="font-family:monospace;font-size:small;color:#888">{escape(r.recipe())}</div></td>'
            for r in results[start:start + GRID_COLUMNS])
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="g4f-grid" style="border-collapse:collapse;margin:0">{"".join(rows)}</table>'


def done_line(model: str, results: Sequence[Result], elapsed: float | None) -> str:
    """``flux · done · seed 42 · 1344x768 · 3.2s``; for several images, their count and shared size."""
    if len(results) == 1:
        recipe = results[0].recipe()
    else:
        sizes = {r.size for r in results}
        recipe = " · ".join(p for p in (f"{len(results)} images", sizes.pop() if len(sizes) == 1 else "") if p)
    return status_line(model, "done" + (f" · {recipe}" if recipe else ""), elapsed)


def run_bundle(line: str, state: str, results: Iterable[Result] = (), log: Sequence[str] = (), *,
               width: int | None = None, embed: str | None = None) -> dict[str, str]:
    """The finished run as one output; ``line`` empty when the caller reports the outcome itself
    (an error raised in the cell is its own one line)."""
    results = list(results)
    if width is None or embed is None:
        found = _settings()
        width = found.get("display_width", DISPLAY_WIDTH) if width is None else width
        embed = found.get("embed_format", "served") if embed is None else embed
    parts = [line_html(line, state)] if line else []
    images = [r for r in results if r.image is not None]
    if len(images) == 1:
        parts.append(f"<div>{image_tag(images[0], width, embed)}</div>")
    elif images:
        parts.append(_grid(images, width, embed))
    parts += [f'<div class="g4f-answer">{markdown_html(r.text)}</div>' for r in results if r.image is None and r.text]
    parts.append(log_html(log))
    return {"text/html": "".join(parts), "text/plain": line}
