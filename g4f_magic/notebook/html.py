"""Every HTML string the notebook shows, built here and escaped by construction: network and user text
goes through :func:`escape` (or the Markdown renderer, raw HTML off) and nowhere else.

What a finished run leaves in the notebook is one plain output that needs no kernel and no widget state:
``text/html`` (the status line, the image or a grid of images, the answer, the log) and ``text/plain``
(the status line). Images are ``<img>`` tags holding the bytes the Space served (WebP for FLUX): base64
costs 4/3 of the served size, where a PNG of the same pixels costs 10-17×. A tag in HTML is shown by
JupyterLab, Notebook 7, VS Code and nbconvert's HTML alike; an ``image/webp`` output is not (nbconvert's
templates drop it). ``embed_format = "png"`` re-encodes for viewers that cannot decode WebP. The grid is
a ``<table>``: JupyterLab's sanitizer (untrusted notebooks) strips ``display`` styles, a table needs none.
How images are shown (:class:`Display`) is passed in by the caller, from its settings.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from ..engine.batch import BatchSet
from ..engine.replay import replay_note
from ..engine.result import Result, ResultSet
from ..engine.sweep import SweepSet
from ..media import EXTENSIONS, thumbnail

__all__ = ["Display", "run_bundle", "batch_bundle", "batch_line", "batch_meter", "batch_progress", "EMBEDDED", "THUMB_SIDE", "done_line", "image_tag", "sweep_bundle", "sweep_html", "sweep_line",
           "result_bundle", "result_line", "DISPLAY_WIDTH", "TILE_WIDTH", "GRID_COLUMNS", "EMBED_FORMATS", "escape",
           "markdown_html", "status_html", "line_html", "log_html", "error_html", "status_line", "COLOURS",
           "chat_html", "caption_html", "download_html", "saved_html", "label_html", "copy_html",
           "hide_copy_html"]

# readable on JupyterLab's light and dark themes alike
COLOURS = {"running": "#777", "done": "#2a7", "error": "#d33", "cancelled": "#c80"}


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # html=False: raw HTML in an answer is shown as text; markdown-it also refuses javascript: links.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown_html(text: str) -> str:
    return _markdown().render(text)


def status_line(model: str, status: str, elapsed: float | None) -> str:
    tail = f" · {elapsed:.1f}s" if elapsed is not None else ""
    return f"{model} · {status}{tail}"


def status_html(model: str, status: str, elapsed: float | None, state: str = "running") -> str:
    """A live status line: the time keeps its place at the end of the first line while the text beside it
    changes and, in a narrow column (the panel's), wraps."""
    if elapsed is None:
        return line_html(status_line(model, status, None), state)
    colour = COLOURS.get(state, COLOURS["running"])
    return (f'<div class="g4f-status" data-state="{escape(state)}" style="font-family:monospace;color:{colour};'
            f'display:flex;align-items:baseline;gap:0.5ch"><span style="flex:0 1 auto;min-width:0;'
            f'overflow-wrap:anywhere">{escape(f"{model} · {status}")}</span>'
            f'<span class="g4f-time" style="flex:none">· {elapsed:.1f}s</span></div>')


def line_html(line: str, state: str = "running") -> str:
    """A run's one status line; its colour says how the run ended."""
    colour = COLOURS.get(state, COLOURS["running"])
    return (f'<div class="g4f-status" data-state="{escape(state)}" style="font-family:monospace;color:{colour};'
            f'overflow-wrap:anywhere">{escape(line)}</div>')


def log_html(lines: Iterable[str], open_: bool = False, title: str = "") -> str:
    """A collapsed list of lines: the Space's log while a run streams, what streamed once it settled."""
    items = list(lines)
    if not items:
        return ""
    body = "\n".join(escape(line) for line in items)
    return (f'<details{" open" if open_ else ""}><summary>{escape(title or f"log ({len(items)})")}</summary>'
            f'<pre style="white-space:pre-wrap;margin:0">{body}</pre></details>')


def error_html(message: str) -> str:
    return f'<div class="g4f-error" style="color:{COLOURS["error"]};font-family:monospace">{escape(message)}</div>'


DISPLAY_WIDTH = 512  # px: a 1024² image at full size is taller than a laptop's notebook area
TILE_WIDTH = 200  # px: four tiles fit the ~830 px of a JupyterLab cell at 1280×800
GRID_COLUMNS = 4
EMBED_FORMATS = ("served", "png")


@dataclass(frozen=True)
class Display:
    """How images are shown: at most ``width`` px wide (0: their own size, up to the cell's width), and
    embedded as served or as PNG. The magic and the panel pass theirs in, from their settings."""

    width: int = DISPLAY_WIDTH
    embed: str = "served"

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Display:
        return cls(settings.get("display_width", DISPLAY_WIDTH), settings.get("embed_format", "served"))


TITLE_CHARS = 300  # of a prompt, in an image's alt and title: the caption and the file carry it whole


def _short(text: str) -> str:
    return text if len(text) <= TITLE_CHARS else text[:TITLE_CHARS - 1] + "…"


def image_tag(result: Result, width: int, embed: str = "served") -> str:
    """An ``<img>`` of the result at ``width`` px at most (0: its own size), never wider than the cell."""
    assert result.image is not None
    mime, data = result.image.embedded(embed)
    src = f"data:{escape(mime)};base64,{base64.b64encode(data).decode('ascii')}"  # escaped though from a fixed list
    shown = min(width, result.width or width)  # 0: no width, the image's own size
    size = f' width="{shown}"' if shown else ""
    prompt = escape(_short(result.prompt))
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
    models = list(dict.fromkeys(r.model for r in grid)) or ["sweep"]
    failed = sum(c.error is not None for c in grid.cells)
    replayed = [r.replayed for r in grid if r.replayed is not None]
    what = f"{len(grid.cells)} cells" + (f" ({failed} failed)" if failed else "")
    if replayed:
        what += " · " + (f"{len(replayed)} {replay_note(min(replayed))}" if len(replayed) < len(grid.cells)
                         else replay_note(min(replayed)))
    if elapsed is None:  # the sweep's own time: what its run's line and the panel's history say too
        elapsed = grid.elapsed if grid.elapsed is not None else max((r.elapsed for r in grid), default=None)
    return status_line(", ".join(models), f"done · {what}", elapsed)


def sweep_bundle(line: str, state: str, grid: SweepSet, display: Display = Display(),
                 details: str = "") -> dict[str, str]:
    """A finished sweep as one output, like ``run_bundle``."""
    parts = [line_html(line, state)] if line else []
    parts += [sweep_html(grid, display.width, display.embed), details]
    return {"text/html": "".join(parts), "text/plain": line}


EMBEDDED = 24  # thumbnails a batch's output embeds (a few KB each); the rest are in its folder, linked
THUMB_SIDE = 96  # px
_PER_ROW = 8


def batch_progress(done: int, failed: int, total: int, elapsed: float) -> str:
    """``18 done · 1 failed · 31 left · 19/50 [00:41<01:06, 0.46 img/s]``: tqdm's meter for the rate and ETA."""
    from tqdm import tqdm

    meter = tqdm.format_meter(done + failed, total, elapsed, unit=" img",
                              bar_format="{n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]")
    meter = " ".join(meter.split())  # tqdm pads the rate to a fixed width
    left = total - done - failed
    return " · ".join([f"{done} done", *([f"{failed} failed"] if failed else []), f"{left} left", meter])


def batch_meter(done: int, failed: int, total: int, elapsed: float) -> str:
    """``19/50 done · 1 failed · ETA 01:06``: a widget's live line, which fits a narrow column (the panel beside
    the file browser) on one line; its bar shows the fraction and the line's end the time spent."""
    from tqdm import tqdm

    eta = tqdm.format_meter(done + failed, total, elapsed, bar_format="{remaining}")  # as batch_progress's
    return " · ".join([f"{done}/{total} done", *([f"{failed} failed"] if failed else []), f"ETA {eta}"])


def batch_line(batch: BatchSet, elapsed: float | None = None) -> str:
    """``flux · batch of 50 · 48 done · 2 failed · 20 replayed · 61.2s``."""
    counts = batch.counts
    models = list(dict.fromkeys(r.model for r in batch)) or ["batch"]
    replayed = sum(r.replayed is not None for r in batch)
    parts = [f"batch of {len(batch.items)}", f"{counts['done']} done"]
    parts += [f"{counts['failed']} failed"] if counts["failed"] else []
    parts += [f"{counts['not run']} not run"] if counts["not run"] else []
    parts += [f"{replayed} replayed"] if replayed else []
    parts += ["stopped at the GPU quota"] if batch.halted is not None else []
    if elapsed is None:
        elapsed = batch.elapsed
    return status_line(", ".join(models), " · ".join(parts), elapsed)


def batch_bundle(line: str, state: str, batch: BatchSet, folder: str | None = None, details: str = "") -> dict[str, str]:
    """A batch as one light output whatever its size: its line, the first EMBEDDED images as small
    thumbnails (numbered by item), a link to the folder holding all of them with their manifest, and the
    failed items with their errors."""
    from urllib.parse import quote

    parts = [line_html(line, state)] if line else []
    if batch.halted is not None:  # why the rest was not sent, and how to finish it
        left = batch.counts["not run"]
        parts.append(f'<div class="g4f-halted" style="{_CAPTION};color:{COLOURS["error"]}">'
                     f'{escape(f"{type(batch.halted).__name__}: {batch.halted}")} · {left} not sent: '
                     f'<code>.failed</code> runs them once the quota is back (what finished replays)</div>')
    shown = [e for e in batch.items if e.result is not None and e.result.image is not None][:EMBEDDED]
    cells = []
    for e in shown:
        assert e.result is not None and e.result.image is not None
        data = base64.b64encode(thumbnail(e.result.image.data, THUMB_SIDE, "WEBP")).decode("ascii")
        title = escape(f"#{e.index} · {_short(e.prompt)} · {e.result.recipe()}")
        cells.append(f'<td style="{_TD}"><img class="g4f-thumb" src="data:image/webp;base64,{data}" '
                     f'width="{THUMB_SIDE}" height="{THUMB_SIDE}" alt="{title}" title="{title}">'
                     f'<div style="{_CAPTION}">#{e.index}</div></td>')
    if cells:
        rows = ["<tr>" + "".join(cells[i:i + _PER_ROW]) + "</tr>" for i in range(0, len(cells), _PER_ROW)]
        parts.append(f'<table class="g4f-batch" style="border-collapse:collapse;margin:0">{"".join(rows)}</table>')
    asked = [e for e in batch.items if e.source][:EMBEDDED]  # one question over many images: image | answer
    if asked:
        rows = []
        for e in asked:
            name = escape(f"#{e.index} {e.source}")
            thumb = (f'<img class="g4f-thumb" src="data:image/webp;base64,{base64.b64encode(e.thumb).decode("ascii")}" '
                     f'width="{THUMB_SIDE}" height="{THUMB_SIDE}" alt="{name}" title="{name}">' if e.thumb else "")
            answer = (f'<div class="g4f-answer">{markdown_html(e.result.text)}</div>' if e.result is not None else
                      f'<div class="g4f-cell-error" style="color:{COLOURS["error"]};font-family:monospace">'
                      f'{escape(f"{type(e.error).__name__}: {e.error}" if e.error else "not run")}</div>')
            rows.append(f'<tr><td style="{_TD}">{thumb}<div style="{_CAPTION}">{name}</div></td>'
                        f'<td style="{_TD};text-align:left">{answer}</td></tr>')
        parts.append(f'<table class="g4f-batch g4f-answers" style="border-collapse:collapse;margin:0">{"".join(rows)}</table>')
        if len(batch.items) > len(asked):
            parts.append(f'<div style="{_CAPTION}">{len(batch.items) - len(asked)} more answers in the result set'
                         + (" and manifest.jsonl" if folder else "") + '</div>')
    images = sum(e.result is not None and e.result.image is not None for e in batch.items)
    if folder:
        # the link is the manifest's: JupyterLab opens a file from an output's link, and a folder as an error
        more = f"{images - len(shown)} more and " if images > len(shown) else ""
        link = f'<a href="{escape(quote(f"{folder}/manifest.jsonl"))}" target="_blank">manifest.jsonl</a>'
        what = f"{more}all {images} with {link}" if images else f"every answer in {link}"
        parts.append(f'<div style="{_CAPTION}">{what} in <code>{escape(folder)}</code></div>')
    elif images > len(shown):
        parts.append(f'<div style="{_CAPTION}">{images - len(shown)} more in the result set</div>')
    if asked:  # the answers' table names every failure in its row
        parts.append(details)
        return {"text/html": "".join(parts), "text/plain": line}
    errors = [f"#{i} {message}" for i, message in batch.errors.items()]
    if errors:
        parts.append(log_html(errors[:50] + ([f"… {len(errors) - 50} more in .errors"] if len(errors) > 50 else []),
                              title=f"{len(errors)} failed (.failed runs them again)"))
    parts.append(details)
    return {"text/html": "".join(parts), "text/plain": line}


def done_line(model: str, results: Sequence[Result], elapsed: float | None) -> str:
    """``flux · done · seed 42 · 1344x768 · 3.2s``; for several images, their count and shared size.

    The model named is the one that answered (a fallback's); a replay says so and from when; notes
    (a fallback's reason, a wait, a wake-up) come last."""
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


def run_bundle(line: str, state: str, results: Iterable[Result] = (), display: Display = Display(),
               details: str = "") -> dict[str, str]:
    """The finished run as one output; ``line`` empty when the caller reports the outcome itself
    (an error raised in the cell is its own one line). ``details``: what streamed (``log_html``), under the rest."""
    results = list(results)
    width, embed = display.width, display.embed
    parts = [line_html(line, state)] if line else []
    images = [r for r in results if r.image is not None]
    if len(images) == 1:
        parts.append(f"<div>{image_tag(images[0], width, embed)}</div>")
    elif images:
        parts.append(_grid(images, width, embed))
    for r in results:
        if r.image is None and r.text:
            if r.asked_about:  # the image the question was about, above its answer
                data = base64.b64encode(r.asked_about).decode("ascii")
                parts.append(f'<div><img class="g4f-asked" src="data:image/webp;base64,{data}" '
                             f'alt="the image asked about" title="the image asked about"></div>')
            parts.append(f'<div class="g4f-answer">{markdown_html(r.text)}</div>')
    parts.append(details)
    return {"text/html": "".join(parts), "text/plain": line}


def result_line(obj: Result | ResultSet) -> str:
    """A result's, several results' or a sweep's status line, as their run ended."""
    if isinstance(obj, SweepSet):
        return sweep_line(obj)
    results = list(obj) if isinstance(obj, ResultSet) else [obj]
    if not results:
        return "no results"
    return done_line(results[0].model, results, max(r.elapsed for r in results))


def result_bundle(obj: Result | ResultSet, display: Display = Display()) -> dict[str, str]:
    """A result, several, or a sweep, shown as the output its run left (the formatter of the extension)."""
    line = result_line(obj)
    if isinstance(obj, SweepSet):
        return sweep_bundle(line, "done", obj, display=display)
    return run_bundle(line, "done", obj if isinstance(obj, ResultSet) else [obj], display=display)


def chat_html(messages: Sequence[Mapping[str, str]], images: Mapping[int, bytes] | None = None) -> str:
    """A chat's transcript: each turn's speaker, and its text as Markdown; under a question, the image it
    asked about (``images``: the question's index → a PNG thumbnail)."""
    parts = []
    for i, m in enumerate(messages):
        who = "You" if m["role"] == "user" else "Janus"
        shown = (images or {}).get(i)
        picture = (f'<img class="g4f-asked" alt="the image asked about" style="max-width:96px;display:block" '
                   f'src="data:image/png;base64,{base64.b64encode(shown).decode("ascii")}">') if shown else ""
        parts.append(f'<div class="g4f-turn" style="margin:4px 0"><b>{who}</b>{markdown_html(m["content"])}'
                     f'{picture}</div>')
    return "".join(parts)


def caption_html(result: Result) -> str:
    return (f'<div class="g4f-caption" style="overflow-wrap:anywhere"><b>{escape(result.prompt)}</b><br>'
            f'<span style="color:#888;font-family:monospace">{escape(result.summary())}</span></div>')


def download_html(result: Result) -> str:
    """A link that saves the image as served, named after its model and seed."""
    assert result.image is not None
    mime, data = result.image.embedded("served")
    name = f"{result.model}-{result.seed}.{EXTENSIONS[mime]}"
    return (f'<a class="g4f-download" download="{escape(name)}" style="margin:0 8px" '
            f'href="data:{escape(mime)};base64,{base64.b64encode(data).decode()}">⬇ Download</a>')


def saved_html(path: Any) -> str:
    return f'<div class="g4f-saved">saved {escape(path)}</div>'


def label_html(text: str, *, faint: bool = False) -> str:
    """A grid's column or row label (bold), or its corner (faint)."""
    return f'<span style="color:#888">{escape(text)}</span>' if faint else f"<b>{escape(text)}</b>"


def copy_html(copy_id: str, inner: str) -> str:
    """The plain copy of a panel's results, kept by the saved notebook. Reopened without a kernel, the
    panel's own output can only say "Error displaying widget" (nothing is saved for a widget unless the user
    turns widget state saving on). JupyterLab marks that output node .jupyter-widgets only then (a rendered
    panel is a child of it), so the dead output just above this copy is hidden, and only it."""
    hide_dead = (f".jp-OutputArea-child:has(+ .jp-OutputArea-child .g4f-copy-{copy_id})"
                 ":has(> .jp-OutputArea-output.jupyter-widgets){display:none}")
    return f'<style>{hide_dead}</style><div class="g4f-copy-{copy_id}">{inner}</div>'


def hide_copy_html(copy_id: str) -> str:
    """While the live panel is on the page, its plain copy is hidden."""
    return (f"<style>.g4f-copy-{copy_id}, .jp-OutputArea-child:has(.g4f-copy-{copy_id})"
            "{display:none !important}</style>")
