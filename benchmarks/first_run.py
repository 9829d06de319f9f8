"""The first generation in a fresh kernel, against a warm one (issue #15), and what the background
warm-up after ``%load_ext`` costs: ``%load_ext`` itself, and a CPU-bound cell run right after it.

Each figure comes from fresh kernels (jupyter_client), against the local Space with no step delay, so
the difference between the first and a warm ``%%g4f`` cell is the client's own start-up (imports, the
HTTP session, TLS context), not server time. The user is given 1 s between ``%load_ext`` and the first
cell (reading, typing); with Run All there is none, and the warm-up only overlaps what it can.

    python -m benchmarks.first_run          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from benchmarks.kernels import kernel, run
from benchmarks.sections import cli
from g4f_magic.localspace import LocalSpace, Pace, in_thread

HERE = Path(__file__).resolve().parent
SECTION = "## 10. The first generation in a fresh kernel, and the warm-up's cost"
CPU_CELL = "import time as _t; _s = _t.perf_counter(); sum(i * i for i in range(2_000_000)); print(_t.perf_counter() - _s)"
LOAD = "import time as _t; _s = _t.perf_counter(); get_ipython().run_line_magic('load_ext', 'g4f_magic'); print(_t.perf_counter() - _s)"


def one_kernel(warmup: bool, seed: int) -> dict[str, float]:
    os.environ["G4F_MAGIC_WARMUP"] = "1" if warmup else "0"
    with kernel() as kc:
        figures = {"load_ext": float(run(kc, LOAD)[1])}
        figures["cpu_cell"] = float(run(kc, CPU_CELL)[1])  # right after %load_ext: what the warm-up slows
        time.sleep(1.0)
        figures["first"] = run(kc, f"%%g4f -m flux -s {seed}\na lighthouse")[0]
        figures["warm"] = statistics.median(run(kc, f"%%g4f -m flux -s {seed + i}\na lighthouse")[0] for i in (1, 2, 3))
        figures["cpu_alone"] = float(run(kc, CPU_CELL)[1])  # the same cell with nothing in the background
        return figures


def figures(repeats: int) -> list[str]:
    space = LocalSpace(pace=Pace.fast(0.0))
    rows = ["| warm-up | `%load_ext` | first `%%g4f` cell | warm `%%g4f` cell | first − warm | CPU cell right after "
            "`%load_ext` | the same cell later |", "|---|---|---|---|---|---|---|"]
    results = {}
    with in_thread(space) as url:
        os.environ["G4F_MAGIC_ENDPOINT"] = url
        os.environ["G4F_MAGIC_CACHE"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"g4f-bench-{os.getpid()}")
        os.environ["G4F_MAGIC_TOKEN"] = "bench-token"
        for warmup in (False, True):
            runs = [one_kernel(warmup, 1000 * (i + 1) + 10 * warmup) for i in range(repeats)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            results[warmup] = med
            rows.append(f"| {'on' if warmup else 'off'} | {med['load_ext'] * 1000:.1f} ms | {med['first'] * 1000:.0f} ms "
                        f"| {med['warm'] * 1000:.0f} ms | **{(med['first'] - med['warm']) * 1000:.0f} ms** "
                        f"| {med['cpu_cell'] * 1000:.0f} ms | {med['cpu_alone'] * 1000:.0f} ms |")
    return [f"Medians over {repeats} fresh kernels per row; local Space, no step delay, replay store empty (every "
            "cell a new seed). Goals: first within 100 ms of warm; `%load_ext` ≤ 50 ms.", "", *rows]


def main(argv: list[str] | None = None) -> int:
    return cli("first_run", __doc__, SECTION, figures, [("repeats", 5, "fresh kernels per row")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
