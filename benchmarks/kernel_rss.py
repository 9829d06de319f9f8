"""Kernel memory per generated image (issue #15): a real kernel runs ``%%g4f`` cells against the local
Space serving photograph-like 1024² WebP (``notebook_bytes.PhotoSpace``), and its resident set size is
read before and after. Twice: keeping the outputs (only ``_g4f`` holds the last result), and clearing
them every ten cells (``%reset -f out``, ``_g4f = None``).

    python -m benchmarks.kernel_rss          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.kernels import kernel, run
from benchmarks.notebook_bytes import PhotoSpace
from benchmarks.sections import cli
from g4f_magic.localspace import Pace, in_thread

HERE = Path(__file__).resolve().parent
SECTION = "## 12. Kernel memory per 1024² photograph"
RSS = "print(int(open('/proc/self/statm').read().split()[1]) * __import__('os').sysconf('SC_PAGE_SIZE'))"


def rss_per_image(count: int, clear: bool, warm: int = 10) -> tuple[float, float, float]:
    """(MiB before, MiB after, MiB per image) over ``count`` images after ``warm`` ones."""
    with kernel() as kc:
        run(kc, "%load_ext g4f_magic")
        seed = 0

        def cells(n: int) -> None:
            nonlocal seed
            for _ in range(n):
                seed += 1
                run(kc, f"%%g4f -m flux -s {seed}\na photograph, seed {seed}")
                if clear and seed % 10 == 0:
                    run(kc, "%reset -f out\n_g4f = None")

        cells(warm)
        time.sleep(0.5)
        before = int(run(kc, RSS)[1])
        cells(count)
        time.sleep(0.5)
        after = int(run(kc, RSS)[1])
    mib = 2 ** 20
    return before / mib, after / mib, (after - before) / mib / count


def figures(count: int) -> list[str]:
    rows = ["| outputs | kernel RSS after 10 warm-up images | after {n} more | growth per image | goal |".format(n=count),
            "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as store, in_thread(PhotoSpace(pace=Pace.fast(0.0))) as url:
        os.environ["G4F_MAGIC_ENDPOINT"] = url
        os.environ["G4F_MAGIC_CACHE"] = store
        for clear in (False, True):
            before, after, per = rss_per_image(count, clear)
            rows.append(f"| {'cleared every 10 cells' if clear else 'kept'} | {before:.1f} MiB | {after:.1f} MiB "
                        f"| **{per:.2f} MiB** | ≤ 0.5 MiB |")
    return [f"A real kernel (jupyter_client, no front end) runs {count} `%%g4f -m flux -s N` cells after 10 warm-up "
            "ones; each image a photograph-like 1024² WebP of about 50 KB. RSS from /proc.", "", *rows]


def main(argv: list[str] | None = None) -> int:
    return cli("kernel_rss", __doc__, SECTION, figures, [("count", 100, "images measured")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
