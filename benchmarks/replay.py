"""Run All of a 10-image notebook: the first run generates, the second replays from the store (issue #14).

A real kernel runs the notebook through nbclient, twice, each time in a fresh kernel (as Run All after
a restart), against the local Space serving photograph-like WebP (``notebook_bytes.PhotoSpace``). The
Space's sampling is given a delay per step so that a generation takes time, as on a real Space; the
figures say how much. Requests are counted at the Space.

    python -m benchmarks.replay          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from benchmarks.notebook_bytes import PhotoSpace
from benchmarks.sections import cli
from g4f_magic.localspace import Pace, in_thread

HERE = Path(__file__).resolve().parent
SECTION = "## 8. Run All of a 10-image notebook: first run, then replayed"


def run_all(count: int) -> tuple[float, list[str]]:
    """Seconds for the whole notebook (kernel start included), and each cell's final status line."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext g4f_magic")]
    nb.cells += [nbformat.v4.new_code_cell(f"%%g4f -m flux -s {i}\na photograph, seed {i}") for i in range(count)]
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    took = time.perf_counter() - started
    lines = [o.get("data", {}).get("text/plain", "") for c in nb.cells[1:] for o in c.outputs]
    return took, [line for line in lines if line]


def figures(count: int, step_delay: float) -> list[str]:
    space = PhotoSpace(pace=Pace.fast(step_delay))
    with tempfile.TemporaryDirectory() as store, in_thread(space) as url:
        os.environ["G4F_MAGIC_ENDPOINT"] = url
        os.environ["G4F_MAGIC_CACHE"] = store
        runs = []
        for _ in range(2):
            before = sum(r.path.endswith("/queue/join") for r in space.received)
            took, lines = run_all(count)
            sent = sum(r.path.endswith("/queue/join") for r in space.received) - before
            replayed = sum("replayed (generated" in line for line in lines)
            runs.append((took, sent, replayed))
            if not replayed:
                per_image = [float(t) for line in lines for t in re.findall(r" · (\d+\.\d)s$", line)]
    (first, sent1, _), (again, sent2, replayed) = runs
    return [
        f"{count} `%%g4f -m flux -s N` cells, each run as Run All in a fresh kernel (kernel start included). The "
        f"local Space's stand-in sampling takes {sum(per_image) / len(per_image):.1f} s per image (its progress "
        f"messages {step_delay * 1000:.0f} ms apart; cells run one after another) and it serves photograph-like WebP.",
        "",
        "| run | wall time | requests (queue joins) at the Space | cells replayed |", "|---|---|---|---|",
        f"| first Run All (generates) | {first:.1f} s | {sent1} | 0 |",
        f"| second Run All (replays) | {again:.1f} s | {sent2} | {replayed} |",
        "",
        f"Replayed, the notebook took {again / first:.0%} of the first run's time and used no GPU quota. On the "
        "real Spaces a FLUX.1-dev image takes 10–30 s of GPU time and queueing, so the first run's figure is the "
        "low end there; the replayed figure does not depend on the Space.",
    ]


def main(argv: list[str] | None = None) -> int:
    return cli("replay", __doc__, SECTION, figures, [("count", 10, "images in the notebook"),
               ("step_delay", 0.6, "seconds between the Space's progress messages")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
