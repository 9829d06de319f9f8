"""ZeroGPU's refusals and toasts, worded and raised by the ``spaces`` package's own code in a real Gradio app.

Each prompt ``zerogpu:<scenario>`` makes the app call ``spaces.zero.client.schedule()`` against the device
API stand-in (``zerogpu_device.py``), which answers as Hugging Face's does; ``spaces`` then raises its
``gr.Error`` (with its title) or sends its toasts exactly as on a ZeroGPU Space. The provider must give each
its meaning: the class, the reason, the tier and the time to wait.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kernels import run_notebook
from servers import Server, urls

from g4f_magic import G4F, ImageResponse, Reasoning
from g4f_magic.errors import GenerationError, GPUBusy, QuotaExceeded, TokenExpired
from g4f_magic.notebook.panel import Panel

# scenario → (class, reason, tier, retry_after, the start of the line the user sees)
REFUSALS: dict[str, tuple[type, str | None, str | None, float | None, str]] = {
    "quota-anonymous": (QuotaExceeded, "quota", "anonymous", 754.0,
                        "You have exceeded your ZeroGPU quota (60s requested vs. 41s left). Try again in 0:12:34."),
    "quota-free": (QuotaExceeded, "quota", "free", 93784.0,
                   "You have exceeded your free ZeroGPU quota (60s requested vs. 12s left). "
                   "Try again in 1 day, 2:03:04."),
    "quota-pro": (QuotaExceeded, "quota", "pro", 5.5,
                  "You have exceeded your Pro ZeroGPU quota (60s requested vs. 3s left). Try again in 0:00:05.500000."),
    "runs": (QuotaExceeded, "runs", None, None, "You have exceeded your ZeroGPU runs limit."),
    "space-limit": (QuotaExceeded, "space", None, None, "Space app has reached its GPU limit."),
    "pending": (QuotaExceeded, "pending", None, 30.0, "You have too many ZeroGPU credits allocated to running tasks."),
    "illegal-duration": (GenerationError, None, None, None,
                         "The requested GPU duration (60s) is larger than the maximum allowed"),
    "queue-timeout": (GPUBusy, None, None, 10.0, "No GPU was available after 60s"),
    "queue-timeout-anonymous": (GPUBusy, None, None, 10.0, "No GPU was available after 60s"),
    "no-gpu": (GPUBusy, None, None, 10.0, "No GPU was available"),
    "expired": (TokenExpired, None, None, None, "Expired ZeroGPU proxy token"),
}
ROUTES = {"queue": ("flux_dev", "flux", "flux_dev"), "predict": ("predict", "flux-schnell", "predict")}


def _route() -> tuple[str, str, str]:
    from servers import gradio_version

    return ROUTES["queue" if gradio_version() >= (5,) else "predict"]


async def run(gradio: dict[str, Server], prompt: str) -> list[Any]:
    server, model, route = _route()
    steps = {"num_inference_steps": 2} if route == "flux_dev" else {}
    gen = G4F.create_async_generator(model, prompt, seed=99999, width=256, height=256, **steps,
                                     **urls(gradio[server], route))
    return [ev async for ev in gen]


@pytest.mark.parametrize("scenario", sorted(REFUSALS))
async def test_each_refusal_has_its_meaning(gradio: dict[str, Server], scenario: str) -> None:
    cls, reason, tier, retry, line = REFUSALS[scenario]
    with pytest.raises(GenerationError) as info:
        await run(gradio, f"a cat zerogpu:{scenario}")
    error = info.value
    assert type(error) is cls, (type(error), str(error))
    assert str(error).startswith(line), str(error)
    assert "\n" not in str(error) and "<a" not in str(error) and "https://" not in str(error)
    if cls is QuotaExceeded:
        assert (error.reason, error.tier, error.retry_after) == (reason, tier, retry)
    if cls is GPUBusy:
        assert error.retry_after == retry


@pytest.mark.gradio("queue")  # /run/predict (Gradio 4) has no stream to carry toasts
@pytest.mark.parametrize(("scenario", "expected"), [
    ("queued", ["Waiting for a free GPU (ZeroGPU queue)", "Got a GPU",
                "The GPU task is running past its requested duration and may be aborted"]),
    ("slot", ["Waiting for a GPU slot on this Space (its other runs hold them)", "Got a GPU"]),
    ("ip-fallback", ["ZeroGPU did not accept the account's token (Invalid credentials in Authorization header): "
                     "this run uses the IP address's quota"]),
])
async def test_toasts_are_live_status(gradio: dict[str, Server], scenario: str, expected: list[str]) -> None:
    events = await run(gradio, f"a cat zerogpu:{scenario}")
    gpu = [str(e) for e in events if isinstance(e, Reasoning) and e.kind == "gpu"]
    assert gpu == expected
    assert isinstance(events[-1], ImageResponse)


def _magic_settings(gradio: dict[str, Server]) -> str:
    server, _, route = _route()
    key, suffix = ("flux_dev_url", "") if route == "flux_dev" else ("url_flux", "/run/predict")
    return f"%config G4FMagics.{key} = {gradio[server].url + suffix!r}"


@pytest.mark.timeout(180)
def test_the_magic_waits_falls_back_and_explains(gradio: dict[str, Server], own_server_env: None,
                                                 tmp_path: Any) -> None:
    """``--wait`` sits out Pro's 5.5 s; ``--fallback`` answers a busy GPU from another model; without either
    the one line says what would help."""
    server, model, _ = _route()
    other = "janus-pro-7b-image"
    janus = f"%config G4FMagics.api_url = {gradio['janus'].url!r}" if "janus" in gradio else ""
    sources = [
        "%load_ext g4f_magic",
        _magic_settings(gradio) + "\n" + janus,
        f"%%g4f -m {model} -s 100000 -W 256 -H 256 --wait\na cat zerogpu:quota-pro/1",
        f"%%g4f -m {model} -s 100000 -W 256 -H 256\na cat zerogpu:no-gpu",
        f"%%g4f -m {model} -s 100000 -W 256 -H 256\na cat zerogpu:quota-free",
    ]
    if janus:
        sources.append(f"%%g4f -m {model} -s 100000 -W 256 -H 256 --fallback {other}\na cat zerogpu:queue-timeout@{server}")
    nb = run_notebook(sources, tmp_path / "zerogpu.ipynb", allow_errors=True, timeout=150)

    def text(i: int) -> str:
        return " ".join(str(o.get("data", {}).get("text/html", "")) + str(o.get("text", "")) +
                        str(o.get("ename", "")) + ": " + str(o.get("evalue", "")) for o in nb.cells[i].outputs)

    waited = text(2)
    assert "waited 0:06 for the quota" in waited and "done" in waited, waited
    busy = text(3)
    assert "GPUBusy" in busy and "No GPU was available (--wait tries again, --fallback asks another model)" in busy
    free = text(4)
    assert "QuotaExceeded" in free and "(--wait resumes by itself in 26:03:04)" in free, free
    if janus:
        assert f"{other} · done" in text(5) and f"{model} had no free GPU" in text(5), text(5)


@pytest.mark.timeout(180)
def test_a_batch_waits_out_the_quota_and_stops_past_it(gradio: dict[str, Server], own_server_env: None,
                                                       tmp_path: Any) -> None:
    """A batch against ZeroGPU's own refusals (the ``spaces`` package's, raised by a real Gradio app): with
    --wait each item sits out Pro's 5.5 s and is made; against a free account's day-long wait the batch stops
    sending items, and says so with the Space's words."""
    from g4f_magic.engine.run import BATCH_WORKERS

    _, model, _ = _route()
    sources = [
        "%load_ext g4f_magic",
        _magic_settings(gradio),
        "four, thirty = [f'cat {i}' for i in range(4)], [f'dog {i}' for i in range(30)]",
        f"%%g4f -m {model} -W 256 -H 256 --each four --wait -o waited\n{{item}} zerogpu:quota-pro/1",
        "print(waited.counts, sum('waited 0:06 for the quota' in r.note for r in waited))",
        f"%%g4f -m {model} -W 256 -H 256 --each thirty -o stopped\n{{item}} zerogpu:quota-free",
        "print(stopped.counts, type(stopped.halted).__name__)",
        "print(sorted(set(stopped.errors.values())))",
    ]
    nb = run_notebook(sources, tmp_path / "batch-quota.ipynb", allow_errors=True, timeout=150)

    def text(i: int) -> str:
        return " ".join(str(o.get("data", {}).get("text/html", "")) + str(o.get("text", "")) for o in nb.cells[i].outputs)

    assert "{'done': 4, 'failed': 0, 'not run': 0} 4" in text(4), text(4)
    assert "stopped at the GPU quota" in text(5) and "(--wait resumes by itself in 26:03:04)" in text(5), text(5)
    import ast

    counts = ast.literal_eval(text(6).split("}")[0] + "}")
    assert counts["done"] == 0 and counts["not run"] >= 30 - BATCH_WORKERS, (counts, text(7))
    assert text(6).rstrip().endswith("QuotaExceeded"), text(6) + text(7)


async def _panel_run(panel: Panel, prompt: str) -> str:
    panel.prompt.value = prompt
    panel.random_seed.value = False
    panel.seed.value = 1234
    panel.generate_button.click()
    await asyncio.gather(*list(panel.tasks), return_exceptions=True)
    return panel.error.value + panel.history.value


@pytest.mark.gradio("queue")
async def test_the_panel_waits_and_falls_back(gradio: dict[str, Server], own_server_env: None) -> None:
    panel = Panel(flux_dev_url=gradio["flux_dev"].url, api_url=gradio["janus"].url, image_dir="imgs", wait=True,
                  fallback="janus-pro-7b-image")
    panel.model.value = "flux"
    shown = await _panel_run(panel, "a panel's cat zerogpu:no-gpu@flux_dev")  # busy: the fallback answers
    assert len(panel.results) == 5 and "flux had no free GPU" in shown, shown
    panel = Panel(flux_dev_url=gradio["flux_dev"].url, image_dir="imgs", wait=True)
    panel.model.value = "flux"
    shown = await _panel_run(panel, "a panel's cat zerogpu:quota-pro/1")  # Pro's 5.5 s are waited out
    assert len(panel.results) == 1 and "waited 0:06 for the quota" in shown, shown
    shown = await _panel_run(panel, "a panel's cat zerogpu:runs")  # no time to wait for: one line says so
    assert len(panel.results) == 1 and "You have exceeded your ZeroGPU runs limit." in shown, shown


async def test_a_token_that_did_not_count_is_said(gradio: dict[str, Server], own_server_env: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``spaces`` charged the IP address ("your ZeroGPU quota", no tier): when the account's token went with the
    call (one's own server named in send_hf_token_to), the line says it did not count; when it did not go, the
    line says how to send one."""
    import io

    from leakscan import TOKEN

    from g4f_magic.engine.job import Job
    from g4f_magic.engine.run import run_job
    from g4f_magic.notebook.views import PlainView
    from g4f_magic.spaces.client import SpacesClient, Target

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    server, model, route = _route()
    where = {"flux_dev_url": gradio[server].url} if route == "flux_dev" else {"url_flux": gradio[server].url + "/run/predict"}
    steps = 2 if route == "flux_dev" else None
    for named, said in ((True, "a Hugging Face token went with the call (from $HF_TOKEN) but ZeroGPU charged this "
                               "machine's IP address"),
                        (False, "set HF_TOKEN or run %g4f login to use your account's quota")):
        client = SpacesClient(Target(**where, send_hf_token_to=(gradio[server].url,) if named else ()))
        job = Job(model, "a cat zerogpu:quota-anonymous", seed=99999, width=256, height=256, steps=steps,
                  client=client)
        with pytest.raises(QuotaExceeded) as info:
            await run_job(job, PlainView(model, out=io.StringIO()))
        assert said in str(info.value), str(info.value)
