"""Every queue route on a real Gradio server (issue #15): Janus text-to-image, Janus chat and the
FLUX.1-dev generator (a preview, then the image), for the floor, g4f_magic, upstream g4f 0.5.4.5 and
gradio_client, at 0 and 50 ms of round trip. The legacy /run/predict route needs Gradio 4 and is
measured on the local Space (section 1).

    python -m benchmarks.real_routes          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.clients import PROMPT, Floor, ours, upstream_provider
from benchmarks.netem import latency_proxy
from benchmarks.run import free_port, gradio_client_median, ms, timed, versions
from benchmarks.sections import cli
from g4f_magic import aclose

HERE = Path(__file__).resolve().parent
SECTION = "## 13. Every queue route on a real Gradio server"
SMALL = {"width": 256, "height": 256, "num_inference_steps": 4}  # the floor's FLUX request


def upstream_call(provider: Any, model: str) -> Any:
    extra = SMALL if model == "flux" else {"width": 1024, "height": 1024}

    async def call() -> None:
        async for _ in provider.create_async_generator(model, [{"role": "user", "content": PROMPT}],
                                                       api_key="bench-token", seed=7, **extra):
            pass
    return call


def start(app: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.gradio_app", str(port), *app], cwd=HERE.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the Gradio app did not start") from None
            time.sleep(0.5)


async def route_rows(port: int, model: str, label: str, n: int, rtts: list[float]) -> list[str]:
    rows = []
    for rtt in rtts:
        async with latency_proxy(port, rtt) as base:
            floor = Floor(base, janus_base=base, flux_base=base)
            urls = {"flux_dev_url": base, **SMALL} if model == "flux" else {"api_url": base}
            up = upstream_provider(base, janus_base=base, flux_base=base)
            med: dict[str, float | str] = {}
            try:
                clients = [("floor", floor.call(model)), ("ours", ours(base, model, **urls)),
                           ("upstream", upstream_call(up, model))]
                for name, call in clients:
                    try:
                        await timed(call, 2)
                        med[name] = statistics.median(await timed(call, n))
                    except Exception as exc:  # noqa: BLE001 - a client that fails on this route is a finding
                        med[name] = f"fails ({type(exc).__name__})"
                med["gradio_client"] = await gradio_client_median(base, model, n)
            finally:
                await floor.close()
                await aclose()

        def cell(name: str) -> str:
            v = med.get(name, "—")
            return f"{ms(v)} ms" if isinstance(v, float) else str(v)

        def ratio(a: str, b: str) -> str:
            x, y = med.get(a), med.get(b)
            return f"{x / y:.2f}×" if isinstance(x, float) and isinstance(y, float) else "—"

        rows.append(f"| {label} | {rtt * 1000:.0f} ms | {cell('floor')} | {cell('ours')} | {cell('upstream')} | "
                    f"{cell('gradio_client')} | {ratio('ours', 'floor')} | {ratio('gradio_client', 'ours')} |")
    return rows


def figures(n: int, rtts: list[float]) -> list[str]:
    rows = ["| route | RTT | floor (raw aiohttp) | g4f_magic | upstream g4f 0.5.4.5 | gradio_client | ours / floor "
            "(goal ≤ 1.05×) | gradio_client / ours (goal ≥ 3× at 50 ms) |", "|---|---|---|---|---|---|---|---|"]
    for app, routes in (([], (("janus-pro-7b-image", "Janus text-to-image (gallery)"),
                              ("janus-pro-7b", "Janus chat (text)"))),
                        (["flux"], (("flux", "FLUX.1-dev generator (preview, then image)"),))):
        proc, port = start(app)
        try:
            for model, label in routes:
                rows += asyncio.run(route_rows(port, model, label, n, rtts))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return [f"Median of {n} sequential warm calls on Gradio's own server ({versions()}), through the latency "
            "proxy; FLUX at 256×256 and 4 steps for every client; outputs not downloaded; the chat is text only (a "
            "new conversation each call).", "", *rows]


def main(argv: list[str] | None = None) -> int:
    return cli("real_routes", __doc__, SECTION, lambda n: figures(n, [0.0, 0.05]),
               [("n", 15, "timed calls per client and route (after 2 warm-ups)")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
