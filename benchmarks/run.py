"""``python -m benchmarks.run``: every figure of issue #6 that is measured so far, side by side.

Prints a Markdown report and writes it to benchmarks/RESULTS.md with the machine, versions and
command. Everything talks to the bundled local Space on 127.0.0.1 (through a latency proxy).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import metadata
from pathlib import Path
from typing import Any

from g4f_magic.localspace import Pace, in_thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the faulty Space lives with the tests (support/)
from support.faultyspace import FaultySpace  # noqa: E402

from .clients import ROUTES, Floor, aclose, gradio_client_call, ours, upstream, upstream_provider
from .netem import latency_proxy

HERE = Path(__file__).resolve().parent


async def timed(call: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await call()
        out.append(time.perf_counter() - t)
    return out


async def gradio_client_median(base: str, model: str, n: int) -> float:
    """gradio_client's median call (it is synchronous: each call on a worker thread), after 2 warm-ups."""
    predict = await asyncio.to_thread(gradio_client_call, base, model)

    async def call() -> None:
        await asyncio.to_thread(predict)

    await timed(call, 2)
    return statistics.median(await timed(call, n))


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


async def warm_and_cold(space_port: int, n: int, rtts: list[float]) -> tuple[list[str], list[str]]:
    warm = ["| route | RTT | floor (raw aiohttp) | g4f_magic | upstream g4f 0.5.4.5 | ours / floor | upstream / ours |",
            "|---|---|---|---|---|---|---|"]
    cold = ["| RTT | g4f_magic first call (token fetched) | g4f_magic next call (token cached) "
            "| upstream, token fetched every call |", "|---|---|---|---|"]
    for rtt in rtts:
        async with latency_proxy(space_port, rtt) as gw:
            up = upstream_provider(gw)
            floor = Floor(gw)
            try:
                for label, model in ROUTES.items():
                    med = {}
                    for name, call in (("floor", floor.call(model)), ("ours", ours(gw, model)),
                                       ("upstream", upstream(up, model))):
                        await timed(call, 2)  # warm-up: connections, token cache, imports
                        med[name] = statistics.median(await timed(call, n))
                    warm.append(f"| {label} | {rtt * 1000:.0f} ms | {ms(med['floor'])} ms | {ms(med['ours'])} ms | "
                                f"{ms(med['upstream'])} ms | {med['ours'] / med['floor']:.2f}× | "
                                f"{med['upstream'] / med['ours']:.2f}× |")
                await aclose()  # a new session and an empty token cache: the first call is cold
                model = "janus-pro-7b-image"
                first = (await timed(ours(gw, model, token=None), 1))[0]
                cached = statistics.median(await timed(ours(gw, model, token=None), n))
                up_fetch = statistics.median(await timed(upstream(up, model, token=None), n))
                cold.append(f"| {rtt * 1000:.0f} ms | {ms(first)} ms | {ms(cached)} ms | {ms(up_fetch)} ms |")
            finally:
                await floor.close()
                await aclose()
    return warm, cold


async def real_gradio(n: int, rtts: list[float]) -> list[str]:
    """The queue route (Janus text-to-image, fn 3) on Gradio's own server, gradio_client included."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.gradio_app", str(port)], cwd=HERE.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = ["| RTT | floor (raw aiohttp) | g4f_magic | upstream g4f 0.5.4.5 | gradio_client | ours / floor "
            "| upstream / ours | gradio_client / ours |", "|---|---|---|---|---|---|---|---|"]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the Gradio app did not start") from None
                await asyncio.sleep(0.5)
        for rtt in rtts:
            async with latency_proxy(port, rtt) as base:
                floor = Floor(base, janus_base=base)
                up = upstream_provider(base, janus_base=base)
                model = "janus-pro-7b-image"
                med = {}
                try:
                    for name, call in (("floor", floor.call(model)), ("ours", ours(base, model, api_url=base)),
                                       ("upstream", upstream(up, model))):
                        await timed(call, 2)
                        med[name] = statistics.median(await timed(call, n))
                    med["gradio_client"] = await gradio_client_median(base, model, n)
                finally:
                    await floor.close()
                    await aclose()
                rows.append(f"| {rtt * 1000:.0f} ms | {ms(med['floor'])} ms | {ms(med['ours'])} ms | "
                            f"{ms(med['upstream'])} ms | {ms(med['gradio_client'])} ms | "
                            f"{med['ours'] / med['floor']:.2f}× | {med['upstream'] / med['ours']:.2f}× | "
                            f"{med['gradio_client'] / med['ours']:.2f}× |")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return rows


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_ext_cost(repeats: int) -> list[str]:
    code = ("import time; from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance();"
            "t = time.perf_counter(); ip.run_line_magic('load_ext', 'g4f_magic'); print(time.perf_counter() - t)")
    base = "from IPython.core.interactiveshell import InteractiveShell; InteractiveShell.instance()"
    inside, with_ext, without = [], [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        inside.append(float(out.stdout.strip()))
        for target, src in ((with_ext, base + "; InteractiveShell.instance().run_line_magic('load_ext', 'g4f_magic')"),
                            (without, base)):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", src], check=True)
            target.append(time.perf_counter() - t)
    added = statistics.median(with_ext) - statistics.median(without)
    return ["| measure | median |", "|---|---|",
            f"| `%load_ext g4f_magic` inside a started shell | {ms(statistics.median(inside))} ms |",
            f"| IPython shell start-up, without the extension | {ms(statistics.median(without))} ms |",
            f"| IPython shell start-up, with `%load_ext g4f_magic` | {ms(statistics.median(with_ext))} ms |",
            f"| added to start-up | {ms(added)} ms |"]


def kernel_figures(space: FaultySpace, url: str) -> list[str]:
    """Trivial-cell latency while a --bg run and a panel run stream; front-end messages per second."""
    from jupyter_client.manager import start_new_kernel

    os.environ["G4F_MAGIC_ENDPOINT"] = url
    km, kc = start_new_kernel(kernel_name="python3")
    seen: list[dict[str, Any]] = []

    def run(code: str) -> float:
        t = time.perf_counter()
        msg_id = kc.execute(code)
        while True:
            reply = kc.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                return time.perf_counter() - t

    def drain() -> None:
        while True:
            try:
                seen.append(kc.get_iopub_msg(timeout=0.01))
            except queue.Empty:
                return

    try:
        run("1")
        run("import IPython")
        load = run("%load_ext g4f_magic")
        idle = [run("1") for _ in range(20)]
        space.slow_delay = 0.01  # 400 progress steps: about 4 s of streaming, heartbeats throttled
        rows = []
        for label, code in (("`%%g4f --bg`", "%%g4f --bg -m flux -s 1\nbusy [fault:slow]"),
                            ("panel", "from g4f_magic import Panel\np = Panel()\np.prompt.value = 'busy [fault:slow]'\n"
                                      "p.generate()")):
            drain()
            seen.clear()
            start = time.perf_counter()
            started = run(code)  # returns at once: the run goes on as a task on the kernel's loop
            busy = []
            while time.perf_counter() - start < 3.0:
                busy.append(run("1"))
                time.sleep(0.05)
            time.sleep(2.5)
            drain()
            duration = time.perf_counter() - start
            comm = [m for m in seen if m["msg_type"] == "comm_msg"]
            rows.append(f"| {label} (cell returned in {ms(started)} ms) | {ms(statistics.median(busy))} ms | "
                        f"{ms(max(busy))} ms | {len(busy)} | {len(comm)} in {duration:.1f} s = "
                        f"{len(comm) / duration:.1f}/s |")
    finally:
        space.slow_delay = 0.05
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return [f"`%load_ext g4f_magic` in this real kernel: {ms(load - statistics.median(idle))} ms "
            "(the cell's round trip minus a trivial cell's; one sample).", "",
            "| while streaming | trivial cell, median | max | cells | widget messages (all runs' widgets) |",
            "|---|---|---|---|---|",
            f"| nothing (baseline) | {ms(statistics.median(idle))} ms | {ms(max(idle))} ms | {len(idle)} | – |", *rows]


def notebook_figures(url: str) -> list[str]:
    """Bytes each image adds to the saved notebook, copies of it, and the kernel's peak RSS."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["G4F_MAGIC_ENDPOINT"] = url
    sizes, copies, rss = {}, {}, {}
    for n in (0, 1, 3):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("%load_ext g4f_magic")]
        nb.cells += [nbformat.v4.new_code_cell(f"%%g4f -m flux -s {i}\na lighthouse") for i in range(n)]
        nb.cells += [nbformat.v4.new_code_cell(
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")]
        client = NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True)
        client.execute()
        with tempfile.NamedTemporaryFile(suffix=".ipynb", delete=False) as fh:
            path = Path(fh.name)
        nbformat.write(nb, path)
        text = path.read_text()
        sizes[n] = len(text.encode())
        copies[n] = text.count(";base64,")  # images embedded as data: URLs
        rss[n] = int(nb.cells[-1].outputs[0]["text"].strip()) / 1024
        path.unlink()
    per_image = (sizes[3] - sizes[1]) / 2
    return ["| measure | value |", "|---|---|",
            f"| saved notebook, 0 / 1 / 3 images (1024×1024) | {sizes[0]:,} / {sizes[1]:,} / {sizes[3]:,} bytes |",
            f"| bytes added per image | {per_image:,.0f} |",
            f"| image copies in the notebook for 1 / 3 images | {copies[1]} / {copies[3]} |",
            f"| kernel peak RSS, 0 / 1 / 3 images shown | {rss[0]:.0f} / {rss[1]:.0f} / {rss[3]:.0f} MiB |"]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def versions() -> str:
    names = ["g4f_magic", "aiohttp", "ipython", "ipykernel", "ipywidgets", "g4f", "gradio", "gradio_client"]
    return ", ".join(f"{name} {_version(name)}" for name in names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("-n", type=int, default=15, help="timed calls per client and route (after 2 warm-ups)")
    parser.add_argument("--rtt", type=float, nargs="*", default=[0.0, 0.05], help="round trips, seconds")
    parser.add_argument("--repeats", type=int, default=7, help="fresh processes for the start-up figure")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)

    space = FaultySpace(pace=Pace.fast(0.0))  # the kernel figures use its "slow" fault
    sections: list[str] = []
    with in_thread(space) as url:
        port = int(url.rsplit(":", 1)[1])
        warm, cold = asyncio.run(warm_and_cold(port, args.n, args.rtt))
        gradio_rows = asyncio.run(real_gradio(args.n, args.rtt))
        sections += [f"## 1. Warm-call latency (median of {args.n} sequential calls, local Space)", *warm, "",
                     f"## 1b. The queue route on a real Gradio server (gradio {_version('gradio')}), "
                     f"median of {args.n}", *gradio_rows, "",
                     "## 2. Cold call: the ZeroGPU token fetched from the hub page", *cold, ""]
        sections += [f"## 3. `%load_ext g4f_magic` cost (median of {args.repeats} fresh processes)",
                     *load_ext_cost(args.repeats), ""]
        sections += ["## 4–5. Kernel responsiveness and front-end traffic while a generation streams",
                     *kernel_figures(space, url), ""]
        sections += ["## 6. Notebook size and memory", *notebook_figures(url), ""]
    header = [
        "# Benchmark results", "",
        "- command: `" + " ".join(["python -m benchmarks.run", *(argv if argv is not None else sys.argv[1:])]) + "`",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- versions: {versions()}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "- server: the bundled local Space (no model work; step delay 0), behind a loopback latency proxy "
        "(connection set-up one RTT, each direction half an RTT).", "",
    ]
    report = "\n".join(header + sections)
    print(report)
    args.out.write_text(report + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
