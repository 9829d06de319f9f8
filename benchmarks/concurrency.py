"""20 concurrent generations to one Space (issue #15): wall time, TCP connections and queue/data
streams, for g4f_magic (one shared stream per Space) and the floor (raw aiohttp, each call its own
session hash and stream, as every client did before), at 0 and 50 ms of round trip.

The local Space runs in this process's thread with no step delay, behind the latency proxy; it counts
the connections it sees (distinct client ports) and the stream requests.

    python -m benchmarks.concurrency          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from benchmarks.clients import Floor, ours
from benchmarks.netem import latency_proxy
from benchmarks.sections import cli
from g4f_magic import aclose
from g4f_magic.localspace import LocalSpace, Pace, in_thread

HERE = Path(__file__).resolve().parent
SECTION = "## 11. 20 concurrent generations to one Space"
MODEL = "janus-pro-7b-image"  # the queue route the floor speaks too


async def burst(space: LocalSpace, call: object, n: int) -> tuple[float, int, int]:
    """(wall seconds, connections, streams) of ``n`` calls at once."""
    space.reset()
    started = time.perf_counter()
    await asyncio.gather(*(call() for _ in range(n)))  # type: ignore[operator]
    wall = time.perf_counter() - started
    ports = {r.peer_port for r in space.received}
    return wall, len(ports), sum(r.path.endswith("/queue/data") for r in space.received)


async def figures_at(space: LocalSpace, port: int, rtt: float, n: int, repeats: int) -> list[str]:
    rows = []
    async with latency_proxy(port, rtt) as gw:
        floor = Floor(gw)
        try:
            for name, call in (("floor (raw aiohttp, a stream per call)", floor.call(MODEL)),
                               ("g4f_magic (one shared stream)", ours(gw, MODEL))):
                await call()  # warm: token cache, imports
                runs = []
                for _ in range(repeats):
                    await aclose()  # each burst from a cold pool, as a notebook's Run All starts
                    await floor.session.close()
                    floor.session = __import__("aiohttp").ClientSession()
                    runs.append(await burst(space, call, n))
                wall = statistics.median(r[0] for r in runs)
                conns = statistics.median(r[1] for r in runs)
                streams = statistics.median(r[2] for r in runs)
                rows.append(f"| {rtt * 1000:.0f} ms | {name} | {wall * 1000:.0f} ms | {conns:.0f} | {streams:.0f} |")
        finally:
            await floor.close()
            await aclose()
    return rows


def figures(n: int, repeats: int) -> list[str]:
    space = LocalSpace(pace=Pace.fast(0.0))
    rows = ["| RTT | client | wall, median | TCP connections | queue/data streams |", "|---|---|---|---|---|"]
    with in_thread(space) as url:
        port = int(url.rsplit(":", 1)[1])
        for rtt in (0.0, 0.05):
            rows += asyncio.run(figures_at(space, port, rtt, n, repeats))
    return [f"{n} `{MODEL}` generations started at once from a cold connection pool, median of {repeats} bursts; "
            "local Space in a thread, no step delay. Goal: ≤ 2 connections, wall ≤ 1.05× the floor's.", "", *rows]


def main(argv: list[str] | None = None) -> int:
    return cli("concurrency", __doc__, SECTION, figures, [("n", 20, "generations at once"),
               ("repeats", 7, "bursts per row")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
