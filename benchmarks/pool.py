"""Throughput of a batch over a pool of Spaces (issue #25): K servers, each taking 1 s per image and one run
at a time (``space_concurrency = 1``), share one batch. The work is waiting on GPUs, so one client machine
drives the pool; more servers, not more clients, is what scales.

    python -m benchmarks.pool          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import tempfile
import time

from benchmarks.sections import cli
from g4f_magic import aclose
from g4f_magic.engine.plan import build_batch
from g4f_magic.engine.run import run_batch
from g4f_magic.localspace import LocalSpace, Pace, in_thread
from g4f_magic.localspace.app import OWN_DUPLICATE
from g4f_magic.notebook.views import BatchLines

SECTION = "## 17. A batch over a pool of K servers, 1 s an image each"


def batch_seconds(settings: dict[str, object], items: int) -> float:
    """Wall time of a FLUX batch of ``items`` made with ``settings``, as the magic runs one (plain lines)."""
    batch = build_batch(settings, template="a harbour, {item}", rows=[{"item": i} for i in range(items)], seed=1)

    async def go() -> float:
        started = time.perf_counter()
        try:
            done = await run_batch(batch, BatchLines(batch, out=io.StringIO()))
        finally:
            await aclose()
        assert done.counts["done"] == items, done.counts
        return time.perf_counter() - started

    return asyncio.run(go())


def per_second(urls: list[str], items: int) -> float:
    """Images a second for a batch of ``items`` over the servers at ``urls`` (the first is the model's own)."""
    settings = {"default_model": "flux", "flux_dev_url": f"{urls[0]}/{OWN_DUPLICATE}", "space_concurrency": 1,
                "mirrors": {"flux": [f"{u}/{OWN_DUPLICATE}" for u in urls[1:]]}, "replay": False}
    return items / batch_seconds(settings, items)


def figures(ks: str, per_server: int) -> list[str]:
    rows = ["| servers K | images | images/s | × K = 1 | goal |", "|---|---|---|---|---|"]
    base = None
    with tempfile.TemporaryDirectory() as store, contextlib.ExitStack() as stack:
        os.environ["G4F_MAGIC_CACHE"] = store
        os.environ.pop("G4F_MAGIC_ENDPOINT", None)
        counts = [int(k) for k in ks.split(",")]
        # 5 progress messages 0.2 s apart: a second of "GPU" per image, on every server
        urls = [stack.enter_context(in_thread(LocalSpace(pace=Pace(step=0.2, queue=0.0, stride=7, previews=2))))
                for _ in range(max(counts))]
        for k in counts:
            rate = per_second(urls[:k], per_server * k)
            base = base or rate
            goal = f"≥ {0.9 * k:.1f}×" if k > 1 else "—"
            rows.append(f"| {k} | {per_server * k} | {rate:.2f} | **{rate / base:.2f}×** | {goal} |")
    return [f"Each server a local Space taking 1 s an image (five progress messages 0.2 s apart), one run at a time "
            f"(`space_concurrency = 1`); {per_server} images per server, one client process driving the pool.",
            "", *rows]


def main(argv: list[str] | None = None) -> int:
    return cli("pool", __doc__, SECTION, figures, [("ks", "1,2,4,8", "pool sizes, comma-separated"),
               ("per_server", 8, "images per server in each batch")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
