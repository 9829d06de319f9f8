"""Where a run's events are shown: widgets in a notebook, plain lines elsewhere.

Both are thin: text becomes HTML only through :mod:`g4f_magic.render`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from .events import Reasoning
from .outputs import done_line, run_bundle
from .render import line_html, log_html, markdown_html, status_html, status_line

if TYPE_CHECKING:
    from .result import Result

__all__ = ["PlainView", "WidgetView", "UPDATE_INTERVAL", "close_tree"]

UPDATE_INTERVAL = 0.3  # seconds between flushes of a run's widgets: 2-3 properties each, under 10 messages/s


class PlainView:
    """Status lines on a text stream. On a terminal one line is rewritten in place; elsewhere a line is
    printed when the stage changes (queue, start, progress…), not at every step (with -v: every status)."""

    can_run_in_background = False  # nothing would show the lines after the cell returned

    def __init__(self, model: str, count: int = 1, verbose: bool = False, out: TextIO | None = None) -> None:
        self.model = model
        self.count = count
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
        self._close_line()
        if final or not self.in_place:
            print(line, file=self.out, flush=True)
        else:
            self.out.write(line)
            self.out.flush()
            self._open = "status"

    def status(self, index: int, event: Reasoning) -> None:
        if event.kind in ("heartbeat", "log", "finished") and not self.verbose:
            return  # heartbeats and the Space's log are for -v; the last line says it finished
        key = event.status if (self.verbose or self.in_place) else event.kind
        if self._last.get(index) == key:
            return
        self._last[index] = key
        prefix = f"[{index + 1}/{self.count}] " if self.count > 1 else ""
        self._print(prefix + status_line(self.model, event.status, event.elapsed), final=False)

    def preview(self, index: int, data: bytes, mime: str) -> None:
        return None  # a terminal has nowhere to draw it

    def text(self, chunk: str) -> None:
        if self._open == "status":
            self._close_line()
        self.out.write(chunk)
        self.out.flush()
        self._open = "text"

    def finish(self, results: list[Result]) -> None:
        self.state, self.line = "done", done_line(self.model, results, time.monotonic() - self.started)

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
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if part is not None and hasattr(part, "close"):
            part.close()
    widget.close()


class WidgetView:
    """One status line updated in place, a collapsible log, previews replaced in place, streamed
    Markdown, and an Output widget for results of background runs. Updates are coalesced."""

    can_run_in_background = True  # its Output widget keeps updating after the cell returns

    def __init__(self, model: str, count: int = 1, verbose: bool = False,
                 min_interval: float = UPDATE_INTERVAL) -> None:
        import ipywidgets as w

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
        self._text = ""
        self._dirty = False
        self._last_flush = 0.0
        self.status_w = w.HTML(status_html(model, "Starting", 0.0))
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(display="none", width="240px"))
        self._fraction: float | None = None
        self.log_w = w.HTML("")
        self.text_w = w.HTML("")
        self.previews = [w.Image(layout=w.Layout(display="none", max_width="200px")) for _ in range(count)]
        self.widget = w.VBox([w.HBox([self.status_w, self.progress]), self.log_w,
                              w.HBox(self.previews, layout=w.Layout(flex_flow="row wrap")), self.text_w])
        self.widget.add_class("g4f-run")
        self._handle: Any = None

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (not self._dirty or now - self._last_flush < self.min_interval):
            return
        self._last_flush = now
        self._dirty = False
        if self.line:
            new = line_html(self.line, self.state)
        else:
            if self.count > 1:
                text = " | ".join(f"{i + 1}: {self._status.get(i, 'waiting')}" for i in range(self.count))
            else:
                text = self._status.get(0, "Starting")
            new = status_html(self.model, text, self._elapsed(), self.state)
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

    def status(self, index: int, event: Reasoning) -> None:
        if event.kind == "log":
            self._logs.append(event.status)
        elif event.kind != "heartbeat" or index not in self._status:
            self._status[index] = event.status
        if event.kind == "progress" and event.progress_index is not None and event.progress_length:
            self._fraction = max(0.0, min(1.0, event.progress_index / event.progress_length))
        self._dirty = True
        self._flush()

    def preview(self, index: int, data: bytes, mime: str) -> None:
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
        """The run as the plain output it leaves (see :mod:`g4f_magic.outputs`)."""
        return run_bundle(self.line if with_status else "", self.state, self.results, self._logs)

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
