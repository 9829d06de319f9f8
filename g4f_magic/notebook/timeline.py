"""What streamed during a run, kept for the output it leaves.

The live view replaces its status line in place; once the run settles, only the last line would remain, and
a saved notebook (or its HTML) would not show that the run queued, sampled and sent previews. The timeline
keeps each change of stage with its time. A run of progress steps, previews or heartbeats keeps its first
and latest entries, so 400 steps cost two lines; past ``LIMIT`` lines only the latest is updated.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Timeline", "LIMIT"]

LIMIT = 60  # lines kept: enough for a queue, a ZeroGPU wait and a sweep's cells; a saved notebook stays light
REPEATING = {"progress", "generating", "heartbeat", "preview"}  # one line per run, not per message


@dataclass
class Entry:
    at: float  # seconds since the run began
    text: str
    kind: str
    index: int
    between: int = 0  # entries of the same run replaced by this one


class Timeline:
    def __init__(self, labels: list[str] | None = None) -> None:
        self.labels = labels  # names of the run's images or cells ("seed 42", "flux · 16:9"); None for one
        self.entries: list[Entry] = []
        self.updates = 0  # the changes added, shown or folded
        self._runs: dict[tuple[int, str], list[Entry]] = {}  # (index, kind) → a run's first and latest lines
        self._previews: dict[int, int] = {}

    def add(self, at: float, text: str, kind: str, index: int = 0) -> None:
        """One update as it streamed; ``kind`` is the event's (``queue``, ``progress``…) or ``preview``."""
        self._put(at, text, kind, index)

    def end(self, at: float, line: str) -> None:
        """How the run ended: the last line, not counted as an update."""
        self._put(at, line, "end", -1)

    def _put(self, at: float, text: str, kind: str, index: int) -> None:
        if kind == "preview":
            self._previews[index] = self._previews.get(index, 0) + 1
            text = f"preview {self._previews[index]}"
        if any(e.index == index and e.text == text for e in self.entries[-1:]):
            return  # the same line again (Gradio repeats an estimation; heartbeats say "Generating…")
        self.updates += kind != "end"
        entry = Entry(at, text, kind, index)
        if kind not in REPEATING:
            for key in [k for k in self._runs if k[0] == index]:  # a new stage ends this image's runs
                del self._runs[key]
        run = self._runs.setdefault((index, kind), []) if kind in REPEATING else []
        if len(run) == 2:  # the run goes on: its latest line moves down, counting the ones it replaced
            entry.between = run[1].between + 1
            self.entries = [e for e in self.entries if e is not run[1]]
            run[1] = entry
        elif len(self.entries) >= LIMIT:  # full: the latest replaces the last line and counts it
            entry.between = self.entries.pop().between + 1
            self._runs.clear()
        else:
            run.append(entry)
        self.entries.append(entry)

    def lines(self) -> list[str]:
        many = self.labels is not None and len(self.labels) > 1
        out = []
        for e in self.entries:
            who = f"[{self.labels[e.index]}] " if many and self.labels and 0 <= e.index < len(self.labels) else ""
            folded = f"  ({e.between} more before)" if e.between else ""
            out.append(f"{e.at:6.1f}s  {who}{e.text}{folded}")
        return out

    def summary(self) -> str:
        """``34 updates, 28 previews``: what the folded lines stand for."""
        previews = sum(self._previews.values())
        def n(count: int, what: str) -> str:
            return f"{count} {what}" + ("" if count == 1 else "s")

        return n(self.updates, "update") + (f", {n(previews, 'preview')}" if previews else "")
