"""What ZeroGPU says, and what it means for a run: its refusals as typed errors, its toasts as status.

ZeroGPU's messages are built by the ``spaces`` package (PyPI) inside the Space: ``spaces/zero/client.py``
writes them, ``spaces/zero/gradio.py``'s ``error(title, message)`` raises them as a ``gr.Error`` with a
title, and ``info(title, message, level)`` sends them as toasts (``log`` messages on the queue stream).
The wordings below are those of ``spaces`` 0.51.3 and of its history back to 0.19 (older Spaces pin old
versions); ``tests/contract`` raises each one through ``spaces``' own code from a real Gradio app.

=====================================================  ============================================
the Space says                                         the run gets
=====================================================  ============================================
You have exceeded your [free |Pro ]ZeroGPU quota       ``QuotaExceeded("quota")``, ``retry_after``
(90s requested vs. 41s left). Try again in 0:12:34.    from the ``str(timedelta)`` (``1 day, 2:03:04``,
(older: "GPU quota", "Please retry in", "retry in")    ``0:00:05.500000``); ``tier`` from the wording
You have exceeded your ZeroGPU runs limit.             ``QuotaExceeded("runs")``, no time
Space app has reached its GPU limit.                   ``QuotaExceeded("space")``: no identity reached
                                                       the Space; logging in is the way out
You have too many ZeroGPU credits allocated to         ``QuotaExceeded("pending")``: retry once the
running tasks.                                         running tasks end (``PENDING_RETRY`` s)
No GPU was available [after 60s]                       ``GPUBusy``: retry or fall back
(older: No GPU is currently available [for you …])
The requested GPU duration (90s) is larger than the    ``GenerationError``: never retried
maximum allowed
Expired ZeroGPU proxy token                            ``TokenExpired``: a fresh token once, retried
=====================================================  ============================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from ..errors import G4FError, GenerationError, GPUBusy, QuotaExceeded, TokenExpired, one_line
from ..events import Reasoning

__all__ = ["refusal", "refined", "parse_timedelta", "Toast", "toast", "heard", "PENDING_RETRY", "BUSY_RETRY",
           "ANONYMOUS_ADVICE"]

E = TypeVar("E")

ANONYMOUS_ADVICE = "Authenticate with a Hugging Face token for more quota"  # spaces' words to an anonymous caller
PENDING_RETRY = 30.0  # "try again once some of those tasks have completed": no time is given
BUSY_RETRY = 10.0  # "No GPU was available": the node had none; the next try queues again

# str(timedelta): "0:12:34", "1 day, 2:03:04", "3 days, 0:00:00", "0:00:05.500000"
# (digits bounded as timedelta prints them, so that a long run of digits is read in linear time)
_TIMEDELTA = re.compile(r"(?<!\d)(?:(\d{1,9}) days?, )?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d{1,6})?)(?!\d)")
_RETRY_AT = re.compile(r"(?:retry|try again) in (?=\d)", re.I)
_RETRY_SECONDS = re.compile(r"(?:retry|try again) in (\d+(?:\.\d+)?)\s*s\b", re.I)
_QUOTA = re.compile(r"exceeded your (?:(free|pro) )?(?:zero)?gpu quota|gpu quota exceeded", re.I)
# the advice spaces appends for API callers ends in a bare link: " - https://huggingface.co/…"
_LINK_TAIL = re.compile(r"(?:\s+-\s+https?://\S+)+\s*$")
_SEAM = re.compile(r"(?<=allowed)(?=Subscribe)")
# advice for someone clicking the Space's examples in a browser: not for a notebook
_UI_ONLY = re.compile(r"\s*Try re-running outside of examples[^.]*\.?")
_MD_LINK = re.compile(r"\[([^\]]*)\]\(https?://[^)\s]*\)")  # the toast's text form: "[Create a free account](…)"


def parse_timedelta(text: str) -> float | None:
    """Seconds of the first ``str(timedelta)`` in ``text`` (what ``spaces`` prints after "Try again in")."""
    m = _TIMEDELTA.search(text)
    if m is None:
        return None
    days, hours, minutes, seconds = m.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _retry_after(text: str) -> float | None:
    m = _RETRY_AT.search(text)
    if m is not None:
        found = parse_timedelta(text[m.end():m.end() + 40])
        if found is not None:
            return found
    m2 = _RETRY_SECONDS.search(text)
    return float(m2.group(1)) if m2 else None


def _clean(text: str) -> str:
    """One line, without the trailing bare link spaces adds for API callers (the hint says what to do),
    without the quotes Gradio 4 puts around a ``gr.Error`` (its ``str()`` is the message's ``repr``), and
    with a Markdown link's text only, without advice about the Space's examples (a browser's), and with the
    sentence break spaces 0.51 leaves out ("…the maximum allowedSubscribe to…")."""
    raw = text.strip()
    if len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "'\"":
        raw = raw[1:-1]
    return _LINK_TAIL.sub("", one_line(_UI_ONLY.sub("", _MD_LINK.sub(r"\1", _SEAM.sub(". ", raw)))))


def refusal(text: str, title: str | None = None) -> G4FError | None:
    """The typed error for a ZeroGPU refusal, or ``None`` when ``text`` is not one.

    Goes by the message, not the title: ``spaces`` titles a queue timeout "ZeroGPU quota exceeded" when
    the caller had no token, and older versions raise with no title at all."""
    low = " ".join(text.lower().split())
    quota = _QUOTA.search(low)
    if quota is not None:
        # "your ZeroGPU quota" with no tier is a caller the edge knew only by IP (spaces >= 0.30);
        # the older "your GPU quota" does not say
        tier = quota.group(1) or ("anonymous" if "zerogpu quota" in low else None)
        return QuotaExceeded(_clean(text), retry_after=_retry_after(text), reason="quota", tier=tier)
    if "exceeded your zerogpu runs limit" in low:
        return QuotaExceeded(_clean(text), reason="runs")
    if "space app has reached its gpu limit" in low:
        return QuotaExceeded(_clean(text), reason="space")
    if "zerogpu credits allocated to running tasks" in low:
        return QuotaExceeded(_clean(text), retry_after=PENDING_RETRY, reason="pending")
    if "no gpu was available" in low or "no gpu is currently available" in low:
        return GPUBusy(_clean(text), retry_after=BUSY_RETRY)
    if "requested gpu duration" in low and "larger than the maximum" in low:
        return GenerationError(_clean(text))
    if "expired zerogpu proxy token" in low:
        return TokenExpired(_clean(text))
    if title and "zerogpu" in title.lower():
        return GenerationError(one_line(f"{title}: {text}"))
    return None


@dataclass(frozen=True)
class Toast:
    """A ZeroGPU toast as a status line: what it says in words a notebook user reads."""

    status: str
    level: str  # "info", "warning"


_TOASTS = (
    ("waiting for a gpu to become available", "Waiting for a free GPU (ZeroGPU queue)", "info"),
    ("waiting for a gpu slot on this space", "Waiting for a GPU slot on this Space (its other runs hold them)",
     "info"),
    ("successfully acquired a gpu", "Got a GPU", "info"),
    ("gpu task is exceeding its requested duration", "The GPU task is running past its requested duration "
     "and may be aborted", "warning"),
    ("runnning out of daily zerogpu quota", "Your daily ZeroGPU quota is running out", "warning"),
    ("gpu device not used", "The Space reserved a GPU and did not use it", "warning"),
)
_IP_FALLBACK = re.compile(r"falling back to ip-based quotas \((.*)\)", re.I)


def toast(text: str) -> Toast | None:
    """A ZeroGPU toast's meaning, or ``None`` for the Space's own log lines."""
    low = " ".join(text.lower().split())
    for needle, status, level in _TOASTS:
        if needle in low:
            return Toast(status, level)
    m = _IP_FALLBACK.search(" ".join(text.split()))
    if m is not None:
        why = one_line(m.group(1), 120)
        return Toast(f"ZeroGPU did not accept the account's token ({why}): this run uses the IP address's "
                     "quota", "warning")
    return None


def refined(exc: G4FError) -> G4FError:
    """``exc`` as ZeroGPU meant it: the typed refusal when the server's own words (``said``) are one."""
    if exc.said is None:
        return exc
    return refusal(exc.said, exc.title) or exc


def heard(event: E) -> E | Reasoning:
    """A Space's log line as ZeroGPU meant it: a toast becomes a ``gpu`` status line; the rest pass."""
    if isinstance(event, Reasoning) and event.kind == "log":
        gpu = toast(event.status)
        if gpu is not None:  # ZeroGPU's toasts say where the run is: status, not the Space's log
            return Reasoning(gpu.status, "gpu", level=gpu.level, elapsed=event.elapsed)
    return event
