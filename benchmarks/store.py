"""The replay store's write at 20,000 entries (issue #25): what a batch pays per saved result.

A folder is filled with ``count`` small entries (the cost being measured is per entry, not per byte), then
results are written one after another through the process's shared store, as a batch's runs write them.
Each write is timed (fsync included); the full scan it used to do every time is timed beside it.

    python -m benchmarks.store           # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import statistics
import tempfile
import time

from benchmarks.sections import cli
from g4f_magic.engine.replay import LOW_WATER, RESCAN_EVERY, ReplayStore

SECTION = "## 15. Replay store: a write at 20,000 entries"
PART = b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(range(256)) * 8  # 2 KB: the store checks the magic number


def figures(count: int, writes: int) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        filler = ReplayStore(folder, max_bytes=1 << 40)
        for i in range(count):
            filler.put(f"fill{i}", {"i": i}, [("image/webp", PART)])
        started = time.perf_counter()
        store = ReplayStore.shared(folder, max_bytes=1 << 40)
        assert store.get("absent") is None  # the first use: the folder checked and scanned once
        opened = time.perf_counter() - started
        assert store.stats()[0] == count
        started = time.perf_counter()
        store.evict()
        scan = time.perf_counter() - started
        times = []
        for i in range(writes):
            started = time.perf_counter()
            store.put(f"new{i}", {"i": i}, [("image/webp", PART)])
            times.append(time.perf_counter() - started)
        times.sort()
    ms = [t * 1000 for t in times]
    mean = statistics.fmean(ms)
    return [
        f"{count:,} entries of {len(PART) // 1024} KB in the folder, then {writes} writes through the kernel's shared "
        f"store (each fsync'd). Goal: a write ≤ 5 ms at 20,000 entries.",
        "",
        "| measure | time |", "|---|---|",
        f"| a write, median | {statistics.median(ms):.2f} ms |",
        f"| a write, mean (its share of the rescans included) | {mean:.2f} ms |",
        f"| a write, slowest (one that rescans) | {ms[-1]:.1f} ms |",
        f"| the full scan every write used to do | {scan * 1000:.1f} ms |",
        f"| the store's first use in a kernel (one scan) | {opened * 1000:.1f} ms |",
        "",
        f"A write adds its bytes to the size the store knows; it rescans every {RESCAN_EVERY} writes (what other "
        f"kernels wrote) or when the bound is passed, and an eviction goes down to {LOW_WATER:.0%} of the bound.",
    ]


def main(argv: list[str] | None = None) -> int:
    return cli("store", __doc__, SECTION, figures, [("count", 20000, "entries in the folder"),
               ("writes", 600, "results written and timed")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
