"""Quota and availability, handled for the user: wait out a stated quota time (``--wait``), wait for a
sleeping Space to wake, and answer from the next model (``--fallback``) when one cannot.

Pure async: it sees only the error classes and hands status lines to the view.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, TypeVar

from ..errors import GPUBusy, QuotaExceeded, SpaceUnavailable
from ..events import Reasoning
from ..spaces.identity import login_hint
from ..spaces.refusals import ANONYMOUS_ADVICE
from .job import Job, View
from .words import said

__all__ = ["answered", "countdown", "clock", "WAKE_POLL", "WAKE_LIMIT", "TICK"]

T = TypeVar("T")
WAKE_POLL = 5.0  # seconds between tries while a Space starts: it answers 503 until it runs
WAKE_LIMIT = 600.0  # a Space that has not woken in 10 minutes is failing, not starting
TICK = 1.0  # the countdown's step


def clock(seconds: float) -> str:
    """``4:12``, ``1:02:03``: how a person reads a wait."""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


async def countdown(view: View, index: int, why: str, seconds: float) -> None:
    """Sleep ``seconds``, saying each second how long is left; a cancel (Stop, interrupt) ends it."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        view.status(index, Reasoning(f"{why} · resuming in {clock(left)}", "waiting", eta=left))
        await asyncio.sleep(min(TICK, left))


_QUOTA_WHY = {
    "quota": "{model} is over its GPU quota",
    "runs": "{model} is over its ZeroGPU runs limit",
    "space": "{model} has reached the Space's GPU limit",
    "pending": "{model} waits for your running GPU tasks to end",
}


async def answered(job: Job, index: int, view: View, attempt: Callable[[Job, str], Awaitable[T]]) -> tuple[T, str]:
    """``attempt(job, model)`` for the job's model, then each fallback, until one answers.

    A quota error with a stated time is waited out when the job says ``wait`` (on the last model: a
    fallback answers sooner than a wait), and so is ZeroGPU finding no free GPU (tried again every
    ``retry_after`` seconds until ``max_wait`` is spent); a sleeping or starting Space is waited for (up to
    ``WAKE_LIMIT``); a Space over quota, paused, full or unavailable hands over to the next model. Past the
    last model's quota, a run the user let go elsewhere (``policy.handover``) goes there instead of waiting.
    Returns the answer and a note on what happened on the way, for the run's status line."""
    models = job.models
    notes: list[str] = []
    if (handed := await _handed_over(job, job.model, index, view, attempt, None)) is not None:
        return handed  # an earlier item of the run was: this one goes straight there
    for i, model in enumerate(models):
        following = models[i + 1] if i + 1 < len(models) else None
        woke_from: float | None = None
        busy_waited = 0.0  # a busy GPU is tried again (--wait) until max_wait is spent
        while True:
            try:
                value = await attempt(job, model)
            except QuotaExceeded as exc:
                why = _QUOTA_WHY.get(exc.reason, _QUOTA_WHY["quota"]).format(model=model)
                if following is not None:
                    notes.append(f"{model} over GPU quota")
                    view.status(index, Reasoning(f"{why}; trying {following}", "fallback"))
                    break
                if (handed := await _handed_over(job, model, index, view, attempt, why)) is not None:
                    return handed
                exc = await _with_reset(exc, job, model)  # the hub's word on when the quota is back
                if job.policy.wait and exc.retry_after is not None and exc.retry_after <= job.policy.max_wait:
                    await countdown(view, index, why, exc.retry_after)
                    notes.append(f"waited {clock(exc.retry_after)} for the quota")
                    continue
                raise _quota_hint(exc, job, model) from None
            except GPUBusy as exc:
                if following is not None:
                    notes.append(f"{model} had no free GPU")
                    view.status(index, Reasoning(f"{model} found no free GPU; trying {following}", "fallback"))
                    break
                pause = exc.retry_after or 0.0
                if job.policy.wait and busy_waited + pause <= job.policy.max_wait:
                    await countdown(view, index, f"{model} found no free GPU", pause)
                    busy_waited += pause
                    continue
                raise _busy_hint(exc, job, busy_waited) from None
            except SpaceUnavailable as exc:
                waited = 0.0 if woke_from is None else time.monotonic() - woke_from
                if exc.waking and waited < WAKE_LIMIT:
                    woke_from = woke_from or time.monotonic()
                    view.status(index, Reasoning(f"The Space is waking up ({exc.state}) · waited {waited:.0f}s",
                                                 "waking", elapsed=waited))
                    await asyncio.sleep(WAKE_POLL)
                    continue
                if following is not None:
                    notes.append(f"{model} {exc.state}")
                    view.status(index, Reasoning(f"{model} is {exc.state}; trying {following}", "fallback"))
                    break
                raise
            if woke_from is not None:
                notes.append(f"the Space woke up in {time.monotonic() - woke_from:.0f}s")
            return value, "; ".join(notes)
    raise AssertionError("unreachable: the last model either answers or raises")


async def _handed_over(job: Job, model: str, index: int, view: View, attempt: Callable[[Job, str], Awaitable[T]],
                       why: str | None) -> tuple[T, str] | None:
    """``model``'s run on the policy's handover, when the user set one that serves it: after ZeroGPU's quota
    refusal (``why``), or at once when an earlier job of the run was handed over (``why`` None). None otherwise."""
    handover, elsewhere = job.policy.handover, job.handed_over(model)
    if handover is None or elsewhere is None or (why is None and not handover.taken):
        return None
    if why is not None:
        handover.taken = True
        view.status(index, Reasoning(f"{why}; handing it to {handover.name}, as the quota_handover setting says",
                                     "fallback"))
    return await attempt(elsewhere, model), f"on {handover.name} (the ZeroGPU quota is used up)"


async def _with_reset(exc: QuotaExceeded, job: Job, model: str) -> QuotaExceeded:
    """A refusal that says no time ("60s requested vs. 41s left"), with the time until the account's quota
    resets as the hub gives it (``resets_at``), when it does and the job would wait for it."""
    if not job.policy.wait or exc.retry_after is not None or exc.reason != "quota":
        return exc
    quota = await job.client.quota(model)
    left = quota.resets_in() if quota is not None else None
    if left is None:
        return exc
    return QuotaExceeded(f"{exc} (the hub says the quota resets in {clock(left)})", retry_after=left,
                         reason=exc.reason, tier=exc.tier)


def _quota_hint(exc: QuotaExceeded, job: Job, model: str) -> QuotaExceeded:
    """The Space's message, plus what the user can do about it here: wait (when it says how long), and
    log in when ZeroGPU knew the caller only by IP address or not at all; when a token went with the call
    and ZeroGPU still charged the IP, that the token did not count."""
    hints = []
    if exc.retry_after is not None:
        hints.append(f"{said(job.policy.words, 'wait')} resumes by itself in {clock(exc.retry_after)}"
                     if not job.policy.wait
                     else f"that is longer than max_wait ({clock(job.policy.max_wait)})")
    text = str(exc)
    if exc.tier == "anonymous" or exc.reason == "space":
        sent = job.client.sends_hf_token(model)
        if exc.tier == "anonymous" and sent is not None:
            hints.append(f"a Hugging Face token went with the call (from {sent.source}) but ZeroGPU charged this "
                         "machine's IP address, as for anonymous calls: %g4f whoami checks the token")
        else:
            hints.append(login_hint())  # says what the Space's own advice says, and how, here
        text = " ".join(text.replace(ANONYMOUS_ADVICE, "").split())
    if not hints:
        return exc
    return QuotaExceeded(f"{text} ({'; '.join(hints)})", retry_after=exc.retry_after, reason=exc.reason,
                         tier=exc.tier)


def _busy_hint(exc: GPUBusy, job: Any, waited: float) -> GPUBusy:
    if not job.policy.wait:
        words = job.policy.words
        hint = f"{said(words, 'wait')} tries again, {said(words, 'fallback')} asks another model"
    else:
        hint = f"still none after {clock(waited)} of trying again (max_wait {clock(job.policy.max_wait)})"
    return GPUBusy(f"{exc} ({hint})", retry_after=exc.retry_after)
