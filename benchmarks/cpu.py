"""Client CPU per call, against the floor (issue #15): the CPU time of this process, while the local
Space runs in another process (in a thread here it would share the GIL and blur the figure), for the
queue route and /run/predict. Also the SSE decoder on one 16 MiB line.

    python -m benchmarks.cpu          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from benchmarks.clients import ROUTES, Floor, ours
from benchmarks.sections import cli
from g4f_magic import aclose
from g4f_magic.http.sse import SSEDecoder

HERE = Path(__file__).resolve().parent
SECTION = "## 9. Client CPU per call, and the SSE decoder on a long line"


async def cpu_per_call(calls: dict[str, object], rounds: int, batch: int = 20) -> dict[str, float]:
    """CPU seconds of this process per call, for each client: batches taken in turn (so that the
    machine's drift falls on every client alike), the median of the batches' means."""
    for call in calls.values():
        for _ in range(3):
            await call()  # type: ignore[operator]  # warm: connections, token cache, imports
    means: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            t = time.process_time()
            for _ in range(batch):
                await call()  # type: ignore[operator]
            means[name].append((time.process_time() - t) / batch)
    return {name: statistics.median(m) for name, m in means.items()}


@contextlib.contextmanager
def space_process() -> Iterator[str]:
    """The local Space in its own process, on a free port, no step delay."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "g4f_magic.localspace", "--port", str(port), "--fast", "--step-delay-ms", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError as exc:
                if getattr(exc, "code", None):  # an HTTP status: it is up
                    break
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def calls(url: str, n: int) -> list[str]:
    rows = ["| route | floor (raw aiohttp) | g4f_magic | ours / floor | goal |", "|---|---|---|---|---|"]
    floor = Floor(url)
    try:
        for label, model in ROUTES.items():
            cpu = await cpu_per_call({"floor": floor.call(model), "ours": ours(url, model)}, n)
            f, o = cpu["floor"], cpu["ours"]
            rows.append(f"| {label} | {f * 1000:.2f} ms | {o * 1000:.2f} ms | {o / f:.2f}× | ≤ 1.15× |")
    finally:
        await floor.close()
        await aclose()
    return rows


def long_line(mib: int = 16, read: int = 65536) -> float:
    line = b"data: " + b"x" * (mib * 2**20) + b"\n\n"
    decoder = SSEDecoder()
    started = time.perf_counter()
    for i in range(0, len(line), read):
        decoder.feed(line[i:i + read])
    return time.perf_counter() - started


def figures(n: int) -> list[str]:
    with space_process() as url:
        rows = asyncio.run(calls(url, n))
    line = statistics.median(long_line() for _ in range(3))
    return [f"CPU time of the client's process (`time.process_time`) per warm call: the median of {n} batches "
            "of 20 calls, the clients' batches in turn; the local Space in another process, step delay 0.", "",
            *rows, "",
            f"SSE decoder, one 16 MiB `data:` line in 64 KiB reads: {line:.3f} s (median of 3)."]


def main(argv: list[str] | None = None) -> int:
    return cli("cpu", __doc__, SECTION, figures, [("n", 30, "batches of 20 calls per client and route")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
