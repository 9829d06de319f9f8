"""Quota and availability: --wait counts down and resumes, --fallback answers from the next model,
a sleeping Space's wake-up is waited for and said."""

from __future__ import annotations

import asyncio
import io
import re
import time
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from g4f_magic.engine import availability
from g4f_magic.engine.job import Job, Policy
from g4f_magic.engine.run import run_job
from g4f_magic.errors import GPUBusy, QuotaExceeded, TokenExpired
from g4f_magic.localspace import LocalSpace
from g4f_magic.notebook.views import PlainView
from g4f_magic.spaces.client import SpacesClient, Target


def cell(ip: Any, line: str, body: str = "a lighthouse") -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_cell_magic("g4f", line, body)
    return value, cap


def joins(space: LocalSpace) -> list[Any]:
    return [r for r in space.received if r.path.endswith(("/queue/join", "/run/predict"))]


def test_wait_counts_down_the_stated_time_and_resumes(ip: Any, thread_space: LocalSpace) -> None:
    thread_space.arm("quota_soon")  # "… Try again in 0:00:01"
    started = time.monotonic()
    result, cap = cell(ip, "-m flux -s 5 --wait")
    took = time.monotonic() - started
    assert result.image is not None and result.seed == 5
    assert took >= 1.0  # the stated second was waited out, then the job went again
    assert len(joins(thread_space)) == 2
    assert "flux is over its GPU quota · resuming in 0:01" in cap.stdout
    [done] = [x for x in cap.stdout.splitlines() if x.startswith("flux · done")]
    assert done.endswith("waited 0:01 for the quota")


def test_without_wait_the_quota_error_says_how_long_and_what_to_do(ip: Any, thread_space: LocalSpace) -> None:
    thread_space.arm("quota_soon")
    with pytest.raises(QuotaExceeded) as info:
        cell(ip, "-m flux -s 5")
    assert str(info.value).endswith("(--wait resumes by itself in 0:01)")
    assert info.value.retry_after == 1.0 and len(joins(thread_space)) == 1
    # a wait longer than max_wait fails at once, and says why
    ip.run_line_magic("config", "G4FMagics.max_wait = 0.5")
    thread_space.arm("quota_soon")
    with pytest.raises(QuotaExceeded, match=r"longer than max_wait \(0:00\)"):
        cell(ip, "-m flux -s 6 --wait")


async def test_stop_cancels_the_wait(space: LocalSpace, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    space.arm("quota_old")  # "… Please retry in 0:04:12"
    out = io.StringIO()
    job = Job("flux", "a lighthouse", seed=5, policy=Policy(wait=True),
              client=SpacesClient(Target(api_key="hf_test_token_for_waiting")))
    task = asyncio.ensure_future(run_job(job, PlainView("flux", out=out)))
    deadline = time.monotonic() + 10
    while "resuming in 4:1" not in out.getvalue():
        assert time.monotonic() < deadline, out.getvalue()
        await asyncio.sleep(0.02)
    stopped = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - stopped < 1.0  # not 4 minutes
    await asyncio.sleep(0.1)
    assert len(joins(space)) == 1  # nothing went again


def test_fallback_answers_from_the_next_model_and_says_why(ip: Any, thread_space: LocalSpace) -> None:
    thread_space.arm("quota_new")  # no time stated: a wait could not help, the next model can
    result, cap = cell(ip, "-m flux -s 10005 --fallback flux-schnell")
    assert result.model == "flux-schnell" and result.seed == 10005
    sent = joins(thread_space)
    assert [r.host.split(".")[0] for r in sent] == ["roxky-flux-1-dev", "roxky-g4f-flux"]
    assert "flux is over its GPU quota; trying flux-schnell" in cap.stdout
    [done] = [x for x in cap.stdout.splitlines() if " · done" in x]
    assert re.fullmatch(r"flux-schnell · done · seed 10005 · 1024x1024 · \d+\.\ds · flux over GPU quota", done)


def test_fallback_from_a_full_queue_and_the_setting(ip: Any, thread_space: LocalSpace) -> None:
    ip.run_line_magic("config", "G4FMagics.fallback = 'flux-schnell, janus-pro-7b-image'")
    thread_space.arm("join_503_queue_full", times=2)  # the seed's FLUX.1-dev and the official one
    result, _ = cell(ip, "-m flux -s 10006")
    assert result.model == "flux-schnell" and result.note == "flux full"
    # every candidate out: the last one's error is the run's
    ip.run_line_magic("config", "G4FMagics.fallback = 'janus-pro-7b-image'")
    thread_space.arm("join_503_queue_full", times=2)  # flux's joins
    thread_space.arm("quota_new")  # then the Janus stream (a refusal the other Janus Space would share)
    with pytest.raises(QuotaExceeded, match="exceeded your GPU quota"):
        cell(ip, "-m flux -s 10007")
    assert [r.host.split(".")[0] for r in joins(thread_space)][-3:] == [
        "roxky-flux-1-dev", "black-forest-labs-flux-1-dev", "roxky-janus-pro-7b"]


def test_fallback_to_another_kind_is_refused_before_any_request(ip: Any, thread_space: LocalSpace) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="flux makes images and janus-pro-7b answers questions"):
        cell(ip, "-m flux --fallback janus-pro-7b")
    with pytest.raises(UsageError, match="-s 5000000: janus-pro-7b-image takes seeds from 0 to 999999"):
        cell(ip, "-m flux -s 5000000 --fallback janus-pro-7b-image")
    assert not thread_space.received


def test_a_sleeping_space_is_waited_for_and_its_wake_up_said(ip: Any, thread_space: LocalSpace,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(availability, "WAKE_POLL", 0.05)
    thread_space.arm("join_503_sleeping", times=3)
    result, cap = cell(ip, "-m flux -s 8")
    assert result.image is not None and len(joins(thread_space)) == 4
    assert "The Space is waking up (sleeping) · waited 0s" in cap.stdout
    [done] = [x for x in cap.stdout.splitlines() if x.startswith("flux · done")]
    assert re.search(r"[·;] the Space woke up in \d+s$", done)
    assert "Error" not in cap.stdout and "unavailable" not in cap.stdout.lower()


def test_the_fallback_setting_is_checked_and_stands_in_only_where_it_can(ip: Any, thread_space: LocalSpace,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    ip.run_line_magic("config", "G4FMagics.fallback = 'flux-schnel'")  # %config logs what is wrong
    magics = ip.find_cell_magic("g4f").__self__
    assert magics.fallback == "" and "unknown model 'flux-schnel'; did you mean 'flux-schnell'?" in caplog.text
    ip.run_line_magic("config", "G4FMagics.fallback = 'flux-schnell'")
    answer, _ = cell(ip, "-m janus-pro-7b --new", "what is a lighthouse?")  # a chat has no image stand-in
    assert answer.text and answer.model == "janus-pro-7b"
    thread_space.arm("quota_new")
    result, _ = cell(ip, "-m janus-pro-7b-image -s 2000")
    assert result.model == "flux-schnell" and result.seed == 2000 and result.note == "janus-pro-7b-image over GPU quota"


def test_a_busy_gpu_is_tried_again_with_wait_and_said_without(ip: Any, thread_space: LocalSpace,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from g4f_magic.spaces import refusals

    monkeypatch.setattr(refusals, "BUSY_RETRY", 0.3)  # ZeroGPU's "No GPU was available" names no time
    thread_space.arm("zerogpu_busy", times=2)
    result, cap = cell(ip, "-m flux -s 5 --wait")
    assert result.image is not None and len(joins(thread_space)) == 3  # refused twice, then a GPU
    assert "flux found no free GPU · resuming in 0:00" in cap.stdout
    thread_space.arm("zerogpu_busy")
    with pytest.raises(GPUBusy) as info:
        cell(ip, "-m flux -s 6")
    assert str(info.value) == "No GPU was available (--wait tries again, --fallback asks another model)"
    ip.run_line_magic("config", "G4FMagics.max_wait = 0.5")  # a wait is bounded: 0.3 s fits once, not twice
    thread_space.arm("zerogpu_busy", times=3)
    with pytest.raises(GPUBusy, match=r"still none after 0:00 of trying again \(max_wait 0:00\)"):
        cell(ip, "-m flux -s 7 --wait")


def test_a_busy_gpu_hands_over_to_the_fallback(ip: Any, thread_space: LocalSpace) -> None:
    thread_space.arm("zerogpu_busy")
    result, cap = cell(ip, "-m flux -s 10005 --fallback flux-schnell")
    assert result.model == "flux-schnell" and result.note == "flux had no free GPU"
    assert "flux found no free GPU; trying flux-schnell" in cap.stdout


async def test_an_expired_token_is_fetched_anew_once(space: LocalSpace, endpoint: str) -> None:
    from g4f_magic import G4F, ImageResponse, Reasoning

    space.arm("zerogpu_expired")
    events = [e async for e in G4F.create_async_generator("flux", "a lighthouse", seed=3)]
    pages = space.requests(path="/spaces/roxky/FLUX.1-dev")
    assert len(pages) == 2 and len(joins(space)) == 2  # the token asked for again, the job sent again
    assert "ZeroGPU's token had expired; retrying with a fresh one" in [str(e) for e in events
                                                                        if isinstance(e, Reasoning)]
    assert isinstance(events[-1], ImageResponse)
    space.arm("zerogpu_expired", times=2)  # once only: a second expiry is the user's to see
    with pytest.raises(TokenExpired, match="^Expired ZeroGPU proxy token$"):
        [e async for e in G4F.create_async_generator("flux", "a lighthouse", seed=4)]
