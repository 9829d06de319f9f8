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

from .render import COLOURS, escape, line_html, log_html, markdown_html, status_line

if TYPE_CHECKING:
    from ..engine.result import Result
    from ..engine.sweep import SweepSet

__all__ = ["run_bundle", "done_line", "image_tag", "sweep_bundle", "sweep_html", "sweep_line", "DISPLAY_WIDTH", "TILE_WIDTH", "GRID_COLUMNS", "EMBED_FORMATS"]

DISPLAY_WIDTH = 512  # px: a 1024² image at full size is taller than a laptop's notebook area
TILE_WIDTH = 200  # px: four tiles fit the ~830 px of a JupyterLab cell at 1280×800
GRID_COLUMNS = 4
EMBED_FORMATS = ("served", "png")


def _shown(width: int | None, embed: str | None) -> tuple[int, str]:
    """The display width and embed format: as given, else the settings'."""
    if width is None or embed is None:
        from .settings import values

        found = values()
        width = found.get("display_width", DISPLAY_WIDTH) if width is None else width
        embed = found.get("embed_format", "served") if embed is None else embed
    return width, embed  # type: ignore[return-value]


def image_tag(result: Result, width: int, embed: str = "served") -> str:
    """An ``<img>`` of the result at ``width`` px at most (0: its own size), never wider than the cell."""
    assert result.image is not None
    mime, data = result.image.embedded(embed)
    src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    shown = min(width, result.width or width)  # 0: no width, the image's own size
    size = f' width="{shown}"' if shown else ""
    prompt = escape(result.prompt)
    return f'<img class="g4f-image" src="{src}"{size} alt="{prompt}" title="{prompt}" style="max-width:100%">'


_TD = "padding:2px 4px;text-align:center;vertical-align:top;border:none"
_TH = "padding:2px 6px;font-family:monospace;font-size:small;font-weight:bold;border:none;vertical-align:middle"
_CAPTION = "font-family:monospace;font-size:small;color:#888"


def _tile(result: Result | None, error: str | None, width: int, embed: str) -> str:
    """One grid cell: the image captioned with its recipe, or the error that took its place."""
    tile = min(TILE_WIDTH, width) if width else TILE_WIDTH
    if result is not None and result.image is not None:
        body = f'{image_tag(result, tile, embed)}<div style="{_CAPTION}">{escape(result.recipe())}</div>'
    else:
        body = (f'<div class="g4f-cell-error" style="width:{tile}px;font-family:monospace;font-size:small;'
                f'color:{COLOURS["error"]};overflow-wrap:anywhere">{escape(error or "no image")}</div>')
    return f'<td style="{_TD}">{body}</td>'


def _grid(results: Sequence[Result], width: int, embed: str) -> str:
    rows = []
    for start in range(0, len(results), GRID_COLUMNS):
        cells = "".join(_tile(r, None, width, embed) for r in results[start:start + GRID_COLUMNS])
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="g4f-grid" style="border-collapse:collapse;margin:0">{"".join(rows)}</table>'


def sweep_html(grid: SweepSet, width: int, embed: str) -> str:
    """The sweep's table: the swept values label the columns (top) and the rows (left)."""
    cols = len(grid.column_labels)
    labelled = any(grid.row_labels)
    head = "".join(f'<th class="g4f-col" style="{_TH};text-align:center">{escape(c)}</th>' for c in grid.column_labels)
    corner = f'<th class="g4f-corner" style="{_TH};color:#888">{escape(grid.corner)}</th>' if labelled else ""
    rows = [f"<tr>{corner}{head}</tr>"]
    for r, row_label in enumerate(grid.row_labels):
        th = f'<th class="g4f-row" style="{_TH};text-align:right">{escape(row_label)}</th>' if labelled else ""
        cells = "".join(_tile(c.result, _error_text(c.error), width, embed) for c in grid.cells[r * cols:(r + 1) * cols])
        rows.append(f"<tr>{th}{cells}</tr>")
    caption = "" if labelled else f'<caption style="{_CAPTION};text-align:left">{escape(grid.corner)}</caption>'
    return f'<table class="g4f-grid g4f-sweep" style="border-collapse:collapse;margin:0">{caption}{"".join(rows)}</table>'


def _error_text(error: Any) -> str | None:
    if error is None or isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}"


def sweep_line(grid: SweepSet, elapsed: float | None = None) -> str:
    """``flux, flux-schnell · done · 6 cells (1 failed) · 12.3s``."""
    from ..engine.replay import replay_note

    models = list(dict.fromkeys(r.model for r in grid)) or ["sweep"]
    failed = sum(c.error is not None for c in grid.cells)
    replayed = [r.replayed for r in grid if r.replayed is not None]
    extra = [f"{failed} failed"] if failed else []
    if replayed:
        extra.append(f"{len(replayed)} {replay_note(min(replayed))}" if len(replayed) < len(grid.cells)
                     else replay_note(min(replayed)))
    what = f"{len(grid.cells)} cells" + (f" ({', '.join(extra)})" if extra else "")
    if elapsed is None:
        elapsed = max((r.elapsed for r in grid), default=None)
    return status_line(", ".join(models), f"done · {what}", elapsed)


def sweep_bundle(line: str, state: str, grid: SweepSet, log: Sequence[str] = ()) -> dict[str, str]:
    """A finished sweep as one output, like ``run_bundle``."""
    parts = [line_html(line, state)] if line else []
    parts += [sweep_html(grid, *_shown(None, None)), log_html(log)]
    return {"text/html": "".join(parts), "text/plain": line}


def done_line(model: str, results: Sequence[Result], elapsed: float | None) -> str:
    """``flux · done · seed 42 · 1344x768 · 3.2s``; for several images, their count and shared size.

    The model named is the one that answered (a fallback's); a replay says so and from when; notes
    (a fallback's reason, a wait, a wake-up) come last."""
    from ..engine.replay import replay_note

    models = {r.model for r in results}
    if len(models) == 1:
        model = models.pop()
    if len(results) == 1:
        recipe = results[0].recipe()
    else:
        sizes = {r.size for r in results}
        recipe = " · ".join(p for p in (f"{len(results)} images", sizes.pop() if len(sizes) == 1 else "") if p)
    replayed = [r.replayed for r in results if r.replayed is not None]
    if replayed and len(replayed) == len(results):
        state = replay_note(min(replayed))
    elif replayed:
        state = f"done ({len(replayed)} replayed)"
    else:
        state = "done"
    notes = list(dict.fromkeys(r.note for r in results if r.note))
    line = status_line(model, state + (f" · {recipe}" if recipe else ""), elapsed)
    return " · ".join([line, *notes])


def run_bundle(line: str, state: str, results: Iterable[Result] = (), log: Sequence[str] = (), *,
               width: int | None = None, embed: str | None = None) -> dict[str, str]:
    """The finished run as one output; ``line`` empty when the caller reports the outcome itself
    (an error raised in the cell is its own one line)."""
    results = list(results)
    width, embed = _shown(width, embed)
    parts = [line_html(line, state)] if line else []
    images = [r for r in results if r.image is not None]
    if len(images) == 1:
        parts.append(f"<div>{image_tag(images[0], width, embed)}</div>")
    elif images:
        parts.append(_grid(images, width, embed))
    parts += [f'<div class="g4f-answer">{markdown_html(r.text)}</div>' for r in results if r.image is None and r.text]
    parts.append(log_html(log))
    return {"text/html": "".join(parts), "text/plain": line}
