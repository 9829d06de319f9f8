"""20 chats at once on one's own Gradio server, with no setting (issue #36, item 1): a real Gradio app whose chat
takes 300 ms and runs 4 at once (``concurrency_limit=4``), and one that runs 1 at a time (Gradio's default, as a
ZeroGPU Space), at 0 and 50 ms of round trip. The floor is raw aiohttp sending all 20 at once; g4f_magic learns
what the server runs at once from its ``process_starts`` and keeps as many queued behind them; "held to 2" is the fixed
two-in-flight limit this replaced (``space_concurrency = 2``). "First burst" starts each burst from a fresh client
state; "learned" runs it after an earlier burst in the same loop, as a notebook's next cell does.

    python -m benchmarks.capacity          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from benchmarks.clients import PROMPT, Floor
from benchmarks.netem import latency_proxy
from benchmarks.real_routes import start
from benchmarks.sections import cli
from g4f_magic import G4F, aclose

SECTION = "## 19. One's own server's capacity, learned"
WORK = 0.3  # s of work per chat, in Gradio's worker thread


def ours(base: str, **extra: Any) -> Any:
    async def call() -> None:
        async for _ in G4F.create_async_generator("janus-pro-7b", PROMPT, api_url=base, api_key="bench-token",
                                                  seed=7, **extra):
            pass
    return call


async def burst(call: Any, n: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(call() for _ in range(n)))
    return time.perf_counter() - started


async def rows_for(port: int, capacity: int, n: int, repeats: int, rtt: float) -> list[str]:
    async with latency_proxy(port, rtt) as base:
        floor = Floor(base, janus_base=base)
        walls: dict[str, float] = {}
        try:
            for name, call, fresh in (("floor (raw aiohttp)", floor.call("janus-pro-7b"), True),
                                      ("g4f_magic", ours(base), True), ("g4f_magic, learned", ours(base), False),
                                      ("held to 2", ours(base, space_concurrency=2), True)):
                await (call() if fresh else burst(call, n))  # warm: imports, the config (and what it runs at once)
                runs = []
                for _ in range(repeats):
                    if fresh:
                        await aclose()  # a fresh loop's state each burst: nothing learned carries over
                    runs.append(await burst(call, n))
                walls[name] = statistics.median(runs)
        finally:
            await floor.close()
            await aclose()
    f = walls["floor (raw aiohttp)"]
    cells = " | ".join(f"{walls[k] * 1000:.0f} ms ({walls[k] / f:.2f}×)"
                       for k in ("g4f_magic", "g4f_magic, learned", "held to 2"))
    return [f"| {capacity} | {rtt * 1000:.0f} ms | {f * 1000:.0f} ms | {cells} |"]


def figures(n: int, repeats: int) -> list[str]:
    rows = ["| runs at once | RTT | floor | g4f_magic, first burst | g4f_magic, learned | held to 2 |",
            "|---|---|---|---|---|---|"]
    for capacity in (4, 1):
        proc, port = start(["capacity", str(capacity), str(WORK)])
        try:
            for rtt in (0.0, 0.05):
                rows += asyncio.run(rows_for(port, capacity, n, repeats, rtt))
        finally:
            proc.terminate()
            proc.wait(10)
    return [f"{n} Janus chats started at once on a real Gradio server whose chat takes {WORK * 1000:.0f} ms, median "
            f"of {repeats} bursts: each from a fresh client state (first burst), or after an earlier burst in the same "
            "loop, as a notebook's next cell (learned). Goal: ≤ 1.05× the floor on both servers, with "
            "no setting.", "", *rows]


def main(argv: list[str] | None = None) -> int:
    return cli("capacity", __doc__, SECTION, figures, [("n", 20, "chats at once"), ("repeats", 5, "bursts per row")],
               argv)


if __name__ == "__main__":
    raise SystemExit(main())
