"""Where a run's events are shown: widgets in a notebook, plain lines elsewhere.

Both are thin: text becomes HTML only through :mod:`.html`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

from ..engine.batch import Batch, BatchSet
from ..engine.result import Result
from ..engine.sweep import Sweep, SweepCell, SweepSet
from ..errors import printable
from ..events import Reasoning
from .html import (
    THUMB_SIDE,
    Display,
    batch_bundle,
    batch_line,
    batch_meter,
    batch_progress,
    done_line,
    label_html,
    line_html,
    log_html,
    markdown_html,
    run_bundle,
    status_html,
    status_line,
    sweep_bundle,
    sweep_line,
)
from .timeline import Timeline

__all__ = ["PlainView", "WidgetView", "SweepView", "BatchView", "BatchLines", "UPDATE_INTERVAL", "THUMBS",
           "close_tree"]

UPDATE_INTERVAL = 0.3  # seconds between flushes of a run's widgets: 2-3 properties each, under 10 messages/s
THUMBS = 12  # a live batch shows its latest images in this many widgets, whatever its size


class PlainView:
    """Status lines on a text stream. On a terminal one line is rewritten in place; elsewhere a line is
    printed when the stage changes (queue, start, progress…), not at every step (with -v: every status)."""

    can_run_in_background = False  # nothing would show the lines after the cell returned

    def __init__(self, model: str, count: int = 1, verbose: bool = False, out: TextIO | None = None,
                 labels: list[str] | None = None, models: list[str] | None = None) -> None:
        self.model = model
        self.count = count
        self.labels = labels  # a sweep's cells, named by their values
        self.models = models  # and the model of each
        self.verbose = verbose
        self.out = out or sys.stdout
        self.started = time.monotonic()
        self.in_place = bool(getattr(self.out, "isatty", lambda: False)())
        self.state, self.line = "running", ""
        self._last: dict[int, str] = {}
        self._open: str | None = None  # what the unfinished last line holds: "status" (in place) or "text"

    def _close_line(self) -> None:
        if self._open == "status" and self.in_place:
            self.out.write("\r\x1b[K")  # the status line goes; what replaces it is written over it
        elif self._open:
            self.out.write("\n")
        self._open = None

    def _print(self, line: str, final: bool = True) -> None:
        line = printable(line)  # a terminal obeys control sequences: none from the network reaches it
        self._close_line()
        if final or not self.in_place:
            print(line, file=self.out, flush=True)
        else:
            self.out.write(line)
            self.out.flush()
            self._open = "status"

    def status(self, index: int, event: Reasoning) -> None:
        if event.kind in ("heartbeat", "log", "finished", "replayed") and not self.verbose:
            return  # heartbeats and the Space's log are for -v; the last line says it finished or replayed
        key = event.status if (self.verbose or self.in_place) else event.kind
        if self._last.get(index) == key:
            return
        self._last[index] = key
        self._print(self._prefix(index) + status_line(self._model(index), event.status, event.elapsed), final=False)

    def _model(self, index: int) -> str:
        return self.models[index] if self.models else self.model

    def _prefix(self, index: int) -> str:
        if self.labels:
            return f"[{self.labels[index]}] "
        return f"[{index + 1}/{self.count}] " if self.count > 1 else ""

    def cell(self, index: int, result: Result | None, error: str | None) -> None:
        """One image of several is in (or failed): its own line, so a long grid shows its progress."""
        if result is not None:
            line = done_line(self._model(index), [result], result.elapsed)
        else:
            line = status_line(self._model(index), error or "failed", None)
        self._last[index] = "cell"
        self._print(self._prefix(index) + line)

    def preview(self, index: int, data: bytes, mime: str) -> None:
        return None  # a terminal has nowhere to draw it

    def text(self, chunk: str) -> None:
        if self._open == "status":
            self._close_line()
        self.out.write(printable(chunk))
        self.out.flush()
        self._open = "text"

    def finish(self, results: list[Result] | SweepSet) -> None:
        elapsed = time.monotonic() - self.started
        line = sweep_line(results, elapsed) if isinstance(results, SweepSet) else done_line(self.model, results, elapsed)
        self.state, self.line = "done", line

    def fail(self, message: str) -> None:
        self.state, self.line = "error", status_line(self.model, message, time.monotonic() - self.started)

    def cancelled(self) -> None:
        self.state, self.line = "cancelled", status_line(self.model, "cancelled", time.monotonic() - self.started)

    def show(self) -> None:
        return None  # lines appear as they come

    def settle(self, with_status: bool = True) -> None:
        if with_status and self.line:
            self._print(self.line)
        else:
            self._close_line()
            self.out.flush()

    async def ticker(self) -> None:
        return None


def close_tree(widget: Any) -> None:
    """Close a widget, its children and its own layout and style: until closed, the kernel keeps
    every widget it ever made (ipywidgets' registry), shown or not."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    import ipywidgets as w

    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if isinstance(part, w.Widget):
            part.close()
    widget.close()


def _brief(event: Reasoning) -> str:
    """A status as a narrow live row says it: a queue position as ``In queue 4/4, ETA 2.8s``."""
    if event.kind == "queue" and event.rank is not None:
        where = f"{event.rank}/{event.queue_size}" if event.queue_size else str(event.rank)
        return f"In queue {where}" + (f", ETA {event.eta:.1f}s" if event.eta is not None else "")
    return event.status


class WidgetView:
    """One status line updated in place, a collapsible log, previews replaced in place, streamed
    Markdown, and an Output widget for results of background runs. Updates are coalesced."""

    can_run_in_background = True  # its Output widget keeps updating after the cell returns
    brief = False  # in a narrow column (the panel's): status lines in their short form, on one line there

    def __init__(self, model: str, count: int = 1, verbose: bool = False,
                 min_interval: float = UPDATE_INTERVAL, display: Display = Display()) -> None:
        import ipywidgets as w

        self.display = display  # how the images are shown when the run settles
        self.model = model
        self.count = count
        self.verbose = verbose
        self.min_interval = min_interval
        self.started = time.monotonic()
        self.state = "running"
        self.line = ""  # the final status line, once the run is over
        self.results: list[Result] = []
        self._status: dict[int, str] = {}
        self._logs: list[str] = []
        self.timeline = Timeline([str(i + 1) for i in range(count)])  # what streamed, for the settled output
        self._text = ""
        self._dirty = False
        self._last_flush = 0.0
        # in a narrow row (the panel's) the bar goes under the line rather than squeeze it; a line longer than
        # the row wraps inside it, its time at the end of its first line
        self.status_w = w.HTML(status_html(model, "Starting", 0.0), layout=w.Layout(flex="1 1 auto", min_width="0"))
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(display="none", width="240px"))
        self._fraction: float | None = None
        self.log_w = w.HTML("")
        self.text_w = w.HTML("")
        self.previews = [w.Image(layout=w.Layout(display="none", max_width="200px")) for _ in range(count)]
        shrinks = {"flex": "1 1 auto", "min_width": "0"}  # in a narrow row (the panel's) it wraps, never overflows
        self.widget = w.VBox([w.HBox([self.status_w, self.progress], layout=w.Layout(flex_flow="row wrap", **shrinks)),
                              self.log_w, self._body(), self.text_w],
                             layout=w.Layout(**shrinks))
        self.widget.add_class("g4f-run")
        self._handle: Any = None

    def _body(self) -> Any:
        """What shows the run's images while it runs, under its line and log: a row of previews (a sweep's
        grid, a batch's strip)."""
        import ipywidgets as w

        return w.HBox(self.previews, layout=w.Layout(flex_flow="row wrap"))

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (not self._dirty or now - self._last_flush < self.min_interval):
            return
        self._last_flush = now
        self._dirty = False
        self._refresh()
        if self.line:
            new = line_html(self.line, self.state)
        else:
            new = status_html(self.model, self._line_text(), self._elapsed(), self.state)
        if new != self.status_w.value:
            self.status_w.value = new
        if self._fraction is not None and self._fraction != self.progress.value:
            self.progress.value = self._fraction
            if self.progress.layout.display == "none":
                self.progress.layout.display = ""
        logs = log_html(self._logs, open_=self.verbose)
        if logs != self.log_w.value:
            self.log_w.value = logs
        if self._text:
            rendered = markdown_html(self._text)
            if rendered != self.text_w.value:
                self.text_w.value = rendered

    def _refresh(self) -> None:
        """What a flush updates before the status line (a sweep's cells)."""

    def _line_text(self) -> str:
        if self.count > 1:
            return " | ".join(f"{i + 1}: {self._status.get(i, 'waiting')}" for i in range(self.count))
        return self._status.get(0, "Starting")

    def status(self, index: int, event: Reasoning) -> None:
        self.timeline.add(self._elapsed(), event.status, event.kind, index)
        if event.kind == "log":
            self._logs.append(event.status)
        elif event.kind != "heartbeat" or index not in self._status:
            self._status[index] = _brief(event) if self.brief else event.status
        if event.kind == "progress" and event.progress_index is not None and event.progress_length:
            self._fraction = max(0.0, min(1.0, event.progress_index / event.progress_length))
        self._dirty = True
        self._flush()

    def preview(self, index: int, data: bytes, mime: str) -> None:
        self.timeline.add(self._elapsed(), "preview", "preview", index)
        self._picture(index, data, mime)

    def _picture(self, index: int, data: bytes, mime: str) -> None:
        image = self.previews[index]
        image.format = mime.split("/")[-1]
        image.value = data
        image.layout.display = ""

    def text(self, chunk: str) -> None:
        self._text += chunk
        self._dirty = True
        self._flush()

    def _end(self, state: str, line: str) -> None:
        self.state, self.line = state, line
        self.timeline.end(self._elapsed(), line)
        for image in self.previews:  # the result replaces the preview: each image is kept once
            image.layout.display = "none"
            image.value = b""
        if state == "done":  # likewise the streamed answer: the result shows it
            self._text = ""
            self.text_w.value = ""
            if self._fraction is not None:
                self._fraction = 1.0
        else:
            self.progress.layout.display = "none"  # a full or half bar would read as success or progress
        self._flush(force=True)

    def cell(self, index: int, result: Result | None, error: str | None) -> None:
        """One of several images is in: it takes its preview's place at once, before the others end."""
        self.timeline.add(self._elapsed(), (result.recipe() or "done") if result is not None else error or "failed",
                          "cell", index)
        if result is not None and result.image is not None:
            self._picture(index, result.image.data, result.image.mime)

    def finish(self, results: list[Result]) -> None:
        self.results = list(results)
        self._end("done", done_line(self.model, self.results, self._elapsed()))

    def fail(self, message: str) -> None:
        self._end("error", status_line(self.model, message, self._elapsed()))

    def cancelled(self) -> None:
        self._end("cancelled", status_line(self.model, "cancelled", self._elapsed()))

    def show(self) -> None:
        """Display the live view in the cell's output, keeping the handle ``settle`` replaces."""
        from IPython.display import display

        self._handle = display(self.widget, display_id=True)

    def bundle(self, with_status: bool = True) -> dict[str, str]:
        """The run as the plain output it leaves (see :mod:`g4f_magic.notebook.html`)."""
        return run_bundle(self.line if with_status else "", self.state, self.results, self.display, self._streamed())

    def _streamed(self) -> str:
        """What streamed, collapsed under the result (open with -v, as the live log was)."""
        logs = f" · log ({len(self._logs)})" if self._logs else ""
        return log_html(self.timeline.lines(), open_=self.verbose,
                        title=f"what streamed ({self.timeline.summary()}){logs}")

    def settle(self, with_status: bool = True) -> None:
        """Swap the shown view for its plain output and close its widgets. The notebook then keeps
        the images and the line without a kernel or widget state, and the kernel does not keep ~20
        widgets per finished cell (ipywidgets' registry holds each until it is closed)."""
        from IPython.display import update_display

        handle, self._handle = self._handle, None
        if handle is not None:
            update_display(self.bundle(with_status), display_id=handle.display_id, raw=True)
        close_tree(self.widget)

    async def ticker(self) -> None:
        """Keep the elapsed time moving while the Space is quiet (queue waits)."""
        while True:
            await asyncio.sleep(0.5)
            self._dirty = True
            self._flush()


class SweepView(WidgetView):
    """A sweep's grid while it runs: the labels around it, and in each cell its own status line, then its
    image or its error as soon as that cell ends. It settles into the plain labelled table."""

    def __init__(self, sweep: Sweep, verbose: bool = False, min_interval: float = UPDATE_INTERVAL,
                 display: Display = Display()) -> None:

        self.sweep = sweep
        super().__init__(sweep.model, sweep.count, verbose, min_interval, display)
        self.timeline.labels = sweep.labels()
        self.outcomes: list[tuple[Result | None, str | None]] = [(None, None)] * sweep.count
        self.grid: SweepSet | None = None
        self._summary = f"{sweep.count} cells"

    def _body(self) -> Any:
        """The grid: the labels around it, each cell its status line over its preview."""
        import ipywidgets as w

        sweep = self.sweep
        cols = len(sweep.column_labels())
        labelled = sweep.row_axis is not None
        self.cell_status = [w.HTML(line_html("waiting")) for _ in range(sweep.count)]
        header = [w.HTML(label_html(c)) for c in sweep.column_labels()]
        items: list[Any] = ([w.HTML(label_html(sweep.corner(), faint=True))] if labelled else [])
        items += header
        for r, row_label in enumerate(sweep.row_labels()):
            if labelled:
                items.append(w.HTML(label_html(row_label)))
            for i in range(r * cols, (r + 1) * cols):
                items.append(w.VBox([self.cell_status[i], self.previews[i]], layout=w.Layout(width="200px")))
        columns = (["max-content"] if labelled else []) + ["200px"] * cols
        self.table = w.GridBox(items, layout=w.Layout(grid_template_columns=" ".join(columns), grid_gap="4px 8px"))
        return self.table

    def _refresh(self) -> None:
        for i, html in enumerate(self.cell_status):
            result, error = self.outcomes[i]
            if result is not None:
                new = line_html(result.recipe() or "done", "done")
            elif error is not None:
                new = line_html(error, "error")
            else:
                new = line_html(self._status.get(i, "waiting"))
            if new != html.value:
                html.value = new
        done = sum(r is not None for r, _ in self.outcomes)
        failed = sum(e is not None for _, e in self.outcomes)
        self._summary = f"{self.count} cells · {done} done" + (f" · {failed} failed" if failed else "")

    def _line_text(self) -> str:
        return self._summary

    def cell(self, index: int, result: Result | None, error: str | None) -> None:
        self.outcomes[index] = (result, error)
        super().cell(index, result, error)
        self._dirty = True
        self._flush(force=True)

    def finish(self, results: list[Result] | SweepSet) -> None:
        assert isinstance(results, SweepSet)
        self.grid = results
        self.results = list(results)
        self._end("done", sweep_line(results, self._elapsed()))

    def bundle(self, with_status: bool = True) -> dict[str, str]:
        grid = self.grid or self._partial()
        return sweep_bundle(self.line if with_status else "", self.state, grid, self.display, self._streamed())

    def _partial(self) -> SweepSet:
        """A failed or stopped sweep keeps the cells that had ended (a cell's error as its line)."""
        cells = [SweepCell(v, r, e) for v, (r, e) in zip(self.sweep.cells, self.outcomes)]  # type: ignore[arg-type]
        return SweepSet.of(self.sweep, cells)


class BatchLines(PlainView):
    """A batch on a text stream: one line per item as it ends, with the batch's progress (done, failed, left,
    rate, ETA); the items' own stages only with -v, so a thousand items are a thousand lines, not five thousand."""

    def __init__(self, batch: Batch, verbose: bool = False, out: TextIO | None = None) -> None:
        super().__init__(batch.model, batch.count, verbose, out)
        self.done = self.failed = 0

    def status(self, index: int, event: Reasoning) -> None:
        if self.verbose or event.kind == "quota":  # said once, before the items: always shown
            super().status(index, event)

    def text(self, chunk: str) -> None:
        return None  # answers streaming side by side would interleave: each is printed with its item

    def cell(self, index: int, result: Result | None, error: str | None) -> None:
        if result is not None:
            self.done += 1
            line = done_line(result.model, [result], result.elapsed)
            if result.image is None:  # a question about one of many images: its answer, on one line
                line += " · " + " ".join(result.text.split())[:120]
        else:
            self.failed += 1
            line = status_line(self.model, error or "failed", None)
        progress = batch_progress(self.done, self.failed, self.count, time.monotonic() - self.started)
        self._print(f"[#{index}] {line} · {progress}")

    def finish(self, results: list[Result] | BatchSet) -> None:
        assert isinstance(results, BatchSet)
        self.state, self.line = "done", batch_line(results, time.monotonic() - self.started)

    def cancelled(self) -> None:
        self.state = "cancelled"
        self.line = status_line(self.model, _stopped(self.done, self.failed, self.count),
                                time.monotonic() - self.started)


def _stopped(done: int, failed: int, total: int) -> str:
    """A stopped batch's line says how far it got: ``cancelled · 4 of 40 done · 1 failed``."""
    return f"cancelled · {done} of {total} done" + (f" · {failed} failed" if failed else "")


class BatchView(WidgetView):
    """A batch's live view, as light for a thousand items as for ten: one line (done, failed, left, rate,
    ETA), its bar, and the latest THUMBS images in a fixed set of widgets. It settles into the line, the first
    EMBEDDED images as thumbnails and a link to the folder holding them all (``folder``, with its manifest)."""

    def __init__(self, batch: Batch, verbose: bool = False, min_interval: float = UPDATE_INTERVAL,
                 display: Display = Display(), folder: str | None = None) -> None:

        super().__init__(batch.model, 0, verbose, min_interval, display)  # no preview: the strip shows results
        self.batch = batch
        self.total = batch.count
        self.folder = folder
        self.done = self.failed = 0
        self.grid: BatchSet | None = None
        self.timeline.labels = None
        self._turn = 0
        self._fraction = 0.0

    def _body(self) -> Any:
        """The strip of the latest THUMBS results, in a fixed set of widgets."""
        import ipywidgets as w

        square = f"{THUMB_SIDE}px"
        self.thumbs = [w.Image(layout=w.Layout(display="none", width=square, height=square, object_fit="cover",
                                               margin="2px"))
                       for _ in range(THUMBS)]
        strip = w.HBox(self.thumbs, layout=w.Layout(flex_flow="row wrap"))
        strip.add_class("g4f-strip")
        return strip

    def status(self, index: int, event: Reasoning) -> None:
        if event.kind in ("log", "quota"):
            self._logs.append(f"#{index} {event.status}")
        self._dirty = True
        self._flush()

    def preview(self, index: int, data: bytes, mime: str) -> None:
        return None  # a thousand previews would be a thousand images: the strip shows results

    def text(self, chunk: str) -> None:
        return None  # many answers at once would interleave in one box: the settled table shows each

    def _line_text(self) -> str:
        return batch_meter(self.done, self.failed, self.total, self._elapsed())

    def cell(self, index: int, result: Result | None, error: str | None) -> None:
        if result is None:
            self.failed += 1
            self.timeline.add(self._elapsed(), f"#{index} {error or 'failed'}", "cell", 0)
        else:
            self.done += 1
            replayed = " · replayed" if result.replayed is not None else ""
            self.timeline.add(self._elapsed(), f"#{index} {result.recipe()}{replayed}", "cell", 0)
            asked = self.batch.items[index].thumb  # a question's image, when the batch asks about many
            shown = (result.image.mime, result.image.data) if result.image is not None else \
                ("image/webp", asked) if asked else None
            if shown is not None:
                image = self.thumbs[self._turn % THUMBS]  # the oldest shown gives way
                self._turn += 1
                image.format = shown[0].split("/")[-1]
                image.value = shown[1]
                image.layout.display = ""
        self._fraction = (self.done + self.failed) / self.total
        self._dirty = True
        self._flush()

    def finish(self, results: list[Result] | BatchSet) -> None:
        assert isinstance(results, BatchSet)
        self.grid = results
        self.results = list(results)
        self._end("done", batch_line(results, self._elapsed()))

    def cancelled(self) -> None:
        self._end("cancelled", status_line(self.model, _stopped(self.done, self.failed, self.total), self._elapsed()))

    def _end(self, state: str, line: str) -> None:
        for image in self.thumbs:
            image.value = b""
            image.layout.display = "none"
        super()._end(state, line)

    def bundle(self, with_status: bool = True) -> dict[str, str]:
        grid = self.grid or self.batch.partial or BatchSet(self.batch.items, self.batch.template)
        return batch_bundle(self.line if with_status else "", self.state, grid, self.folder, self._streamed())
