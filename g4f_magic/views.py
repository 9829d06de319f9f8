"""Where a run's events are shown: widgets in a notebook, plain lines elsewhere.

Both are thin: text becomes HTML only through :mod:`g4f_magic.render`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

from .events import Reasoning
from .render import error_html, log_html, markdown_html, status_html, status_line

__all__ = ["PlainView", "WidgetView", "UPDATE_INTERVAL", "close_tree"]

UPDATE_INTERVAL = 0.3  # seconds between flushes of a run's widgets: 2-3 properties each, under 10 messages/s


class PlainView:
    """Status lines on a text stream; a line only when the status changes (heartbeats with -v)."""

    can_run_in_background = False  # nothing would show the lines after the cell returned

    def __init__(self, model: str, count: int = 1, verbose: bool = False, out: TextIO | None = None) -> None:
        self.model = model
        self.count = count
        self.verbose = verbose
        self.out = out or sys.stdout
        self._last: dict[int, str] = {}
        self._in_text = False

    def _print(self, line: str) -> None:
        if self._in_text:
            self.out.write("\n")
            self._in_text = False
        print(line, file=self.out, flush=True)

    def status(self, index: int, event: Reasoning) -> None:
        if event.kind in ("heartbeat", "generating") and not self.verbose:
            return
        prefix = f"[{index + 1}/{self.count}] " if self.count > 1 else ""
        line = prefix + status_line(self.model, event.status, event.elapsed)
        if self._last.get(index) != event.status:
            self._last[index] = event.status
            self._print(line)

    def preview(self, index: int, data: bytes, mime: str) -> None:
        return None  # a terminal has nowhere to draw it

    def text(self, chunk: str) -> None:
        self.out.write(chunk)
        self.out.flush()
        self._in_text = True

    def finish(self, recipe: str) -> None:
        self._print(status_line(self.model, "done" + (f" · {recipe}" if recipe else ""), None))

    def fail(self, message: str) -> None:
        self._print(f"{self.model} · error · {message}")

    def cancelled(self) -> None:
        self._print(f"{self.model} · cancelled")

    def show(self) -> None:
        return None  # lines appear as they come

    def settle(self) -> None:
        return None  # the lines are already final

    def trace(self) -> str | None:
        return None  # the lines are the trace

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
        self._status: dict[int, str] = {}
        self._trace: list[tuple[str, str]] = []  # (kind, text): what streamed, for static copies
        self._logs: list[str] = []
        self._text = ""
        self._dirty = False
        self._last_flush = 0.0
        self.status_w = w.HTML(status_html(model, "Starting", 0.0))
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(display="none", width="240px"))
        self._fraction: float | None = None
        self.log_w = w.HTML("")
        self.text_w = w.HTML("")
        self.previews = [w.Image(layout=w.Layout(display="none", max_width="256px")) for _ in range(count)]
        self.output = w.Output()
        self.widget = w.VBox([w.HBox([self.status_w, self.progress]), self.log_w, w.HBox(self.previews),
                              self.text_w, self.output])
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
        if index == 0 and event.kind in ("queue", "start", "progress", "generating"):
            if self._trace and self._trace[-1][0] == event.kind:
                self._trace[-1] = (event.kind, event.status)
            else:
                self._trace.append((event.kind, event.status))
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
        self.state = state
        for image in self.previews:  # the result replaces the preview: each image is kept once
            image.layout.display = "none"
            image.value = b""
        if state == "done":  # likewise the streamed answer: the result shows it
            self._text = ""
            self.text_w.value = ""
        self._status = {0: line}
        self.count = 1
        if state == "done" and self._fraction is not None:
            self._fraction = 1.0
        self._flush(force=True)

    def finish(self, recipe: str) -> None:
        self._end("done", "done" + (f" · {recipe}" if recipe else ""))

    def show(self) -> None:
        """Display the live view in the cell's output, keeping the handle ``settle`` replaces."""
        from IPython.display import display

        self._handle = display(self.widget, display_id=True)

    def settle(self) -> None:
        """Swap the shown view for its final HTML and close its widgets. A kernel keeps every
        widget until it is closed, so a finished cell would otherwise hold ~20 for the session;
        the saved notebook then shows the same lines without needing widget state."""
        from IPython.display import HTML

        handle, self._handle = self._handle, None
        if handle is not None:
            handle.update(HTML(self.status_w.value + self.log_w.value + self.text_w.value))
        close_tree(self.widget)

    def trace(self) -> str:
        """One line of what streamed (each kind's last word), for viewers that do not run widgets."""
        steps = [text for _, text in self._trace] + [self._status.get(0, "")]
        return status_line(self.model, " → ".join(s for s in steps if s), self._elapsed())

    def fail(self, message: str) -> None:
        self._end("error", "error")
        self.status_w.value = error_html(f"{self.model} · {message}")

    def cancelled(self) -> None:
        self._end("cancelled", "cancelled")

    async def ticker(self) -> None:
        """Keep the elapsed time moving while the Space is quiet (queue waits)."""
        while True:
            await asyncio.sleep(0.5)
            self._dirty = True
            self._flush()
