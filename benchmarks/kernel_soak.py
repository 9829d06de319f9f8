"""The soak's kernel part: ``%%g4f --bg`` cells and panel runs in a real kernel, one after another and
many at once, with random faults; then what the kernel leaked.

The kernel records each run's outcome by wrapping ``run_in_view`` (what the magic and the panel both
call), so a run that failed counts as expected only when its error class is the fault's.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

from .tally import Tally, verdict

# Sent once: outcome recording, warning and loop-error capture, resource counters.
PROBE = r'''
import asyncio, gc, json, os, warnings
from pathlib import Path
import g4f_magic.engine.run
from g4f_magic import Panel

_soak = {"outcomes": {}, "reports": [], "warnings": []}
_inner = g4f_magic.engine.run.run_in_view

async def _recording(job, view, chat=None, image=None):
    try:
        result = await _inner(job, view, chat, image)
    except BaseException as exc:
        _soak["outcomes"][job.prompt] = type(exc).__name__
        raise
    _soak["outcomes"][job.prompt] = "ok"
    return result

# the magic and the panel both import it from the engine when a run starts (notebook/runs.py)
g4f_magic.engine.run.run_in_view = _recording
asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: _soak["reports"].append(str(ctx.get("message"))))
warnings.simplefilter("always")
warnings.showwarning = lambda message, *a, **k: _soak["warnings"].append(str(message))

def _sockets():
    n = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            n += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return n

def _rss():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(line.split()[1]) / 1024

async def _stats(close_shown=True):
    """Resources, measured the way a user would leave things: the panel cleared and (unless
    ``close_shown`` is False) the --bg runs' outputs closed, as clearing the notebook would."""
    from ipywidgets.widgets.widget import _instances
    from g4f_magic.notebook.views import close_tree
    _panel.clear()
    shown = sum("g4f-run" in getattr(w, "_dom_classes", ()) for w in list(_instances.values()))
    widgets = len(_instances)
    if close_shown:
        for w in [w for w in list(_instances.values()) if "g4f-run" in getattr(w, "_dom_classes", ())]:
            close_tree(w)
    await g4f_magic.aclose()
    await asyncio.sleep(0.2)
    gc.collect()
    return json.dumps({"sockets": _sockets(), "tasks": len(asyncio.all_tasks()), "rss": _rss(),
                       "shown runs": shown, "widgets shown": widgets, "widgets": len(_instances),
                       "objects": len(gc.get_objects()),
                       "reports": len(_soak["reports"]),
                       "unclosed": sum("Unclosed" in w or "ResourceWarning" in w for w in _soak["warnings"])})

async def _wait(prompts, limit):
    end = asyncio.get_running_loop().time() + limit
    while not all(p in _soak["outcomes"] for p in prompts) and asyncio.get_running_loop().time() < end:
        await asyncio.sleep(0.02)
    print(json.dumps({p: _soak["outcomes"].get(p) for p in prompts}))

_panel = Panel()
_panel_runs = 0

def _panel_run(model, prompt):
    global _panel_runs
    _panel_runs += 1
    if _panel_runs % 10 == 0:  # as a user would: clear the gallery now and then
        _panel.clear()
    if model == "janus-pro-7b":
        _panel.new_chat()
    _panel.model.value = model
    _panel.prompt.value = prompt
    _panel.generate()
'''


class KernelDriver:
    """Execute code in a kernel and return what it printed."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env)

    def out(self, code: str, timeout: float = 120) -> str:
        printed: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                printed.append(msg["content"]["text"])

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, store_history=False)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code[:60]!r} failed in the kernel: {reply['content'].get('evalue')}")
        return "".join(printed)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


Spec = tuple[str, str, str, str | None]  # (cell or panel call, prompt, model, fault)
MODELS = ["flux", "flux-dev", "janus-pro-7b-image", "janus-pro-7b"]


def _spec(rng: random.Random, kind: str, faults: list[str], model: str | None = None) -> Spec:
    fault = rng.choice(faults) if rng.random() < 0.5 and model is None else None
    model = model or rng.choice(MODELS)
    prompt = f"kernel soak {rng.randrange(10**9)}" + (f" [fault:{fault}]" if fault else "")
    sized = " -W 256 -H 256" if model.startswith("flux") else ""
    if kind == "bg":
        new = " --new" if model == "janus-pro-7b" else ""
        return f"%%g4f --bg -m {model}{sized}{new}\n{prompt}", prompt, model, fault
    return f"_panel_run({model!r}, {prompt!r})", prompt, model, fault


def kernel_soak(url: str, rng: random.Random, sequential: int, concurrent: int, hang_limit: float,
                faults: list[str], expected_error: Any) -> tuple[list[str], list[str], dict[str, Any]]:
    """Table rows, odd outcomes and the kernel's resources before/after: --bg and panel runs
    alternating one at a time, then ``concurrent`` at once."""
    # Two glibc arenas: images are converted in worker threads, and with the default (up to 8 per core)
    # each thread's arena keeps freed memory, which would show as RSS growth that is not held by Python.
    env = {**os.environ, "G4F_MAGIC_ENDPOINT": url, "G4F_MAGIC_TOKEN": "soak-token", "MALLOC_ARENA_MAX": "2"}
    k = KernelDriver(env)
    rows: list[str] = []
    tallies: list[Tally] = []
    try:
        k.out("%load_ext g4f_magic")
        k.out("%config G4FMagics.timeout = 3.0")  # heartbeats_only ends in G4FTimeout, not a hang
        k.out(PROBE)

        def batch(specs: list[Spec], tally: Tally) -> None:
            for code, *_ in specs:
                k.out(code)
            outcomes = json.loads(k.out(f"await _wait({[s[1] for s in specs]!r}, {hang_limit})",
                                        timeout=hang_limit + 30))
            for code, prompt, model, fault in specs:
                got = outcomes.get(prompt)
                label = f"kernel {code.splitlines()[0]} {prompt}"
                if got is None:
                    tally.hang(f"{label} (no outcome within {hang_limit:g} s)")
                else:
                    tally.outcome(label, expected_error(model, fault), got)

        # warm-up: every model both ways without faults (so every import and cache is in place), 10 random
        warm = [_spec(rng, kind, faults, model) for kind in ("bg", "panel") for model in MODELS]
        batch(warm + [_spec(rng, kind, faults) for kind in ("bg", "panel") * 5], Tally())
        base = json.loads(k.out("print(await _stats())"))
        checkpoints = [base]
        phases = (("kernel: --bg and panel, one at a time", sequential, 1),
                  ("kernel: --bg and panel, all at once", concurrent, concurrent))
        for phase, total, width in phases:
            tally = Tally()
            tallies.append(tally)
            t = time.perf_counter()
            kinds = ["bg", "panel"] * total
            for start in range(0, total, width):
                n = min(width, total - start)
                batch([_spec(rng, kinds[start + i], faults) for i in range(n)], tally)
            rows.append(tally.row(phase, time.perf_counter() - t))
            checkpoints.append(json.loads(k.out("print(await _stats(close_shown=False))")))
        after = json.loads(k.out("print(await _stats())"))
    finally:
        k.close()
    odd = [o for t in tallies for o in t.odd]
    res = {"base": base, "after": after, "checkpoints": checkpoints,
           "verdict": verdict(tallies, base, after, ["sockets", "tasks", "widgets", "reports", "unclosed"])}
    return rows, odd, res
