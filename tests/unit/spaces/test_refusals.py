"""ZeroGPU's wordings, current and old, read without a socket (the contract tests raise the current ones
through the ``spaces`` package's own code on real Gradio)."""

from __future__ import annotations

import pytest
from support.helpers import SPACES_LINK

from g4f_magic.errors import GenerationError, GPUBusy, QuotaExceeded, TokenExpired
from g4f_magic.gradio.messages import QueueDecoder
from g4f_magic.spaces.refusals import heard, parse_timedelta, refined, refusal, toast


@pytest.mark.parametrize(("text", "seconds"), [
    ("0:12:34", 754.0), ("1 day, 2:03:04", 93784.0), ("3 days, 0:00:00", 259200.0),
    ("0:00:05.500000", 5.5), ("12:00:00", 43200.0), ("no time here", None),
])
def test_str_of_a_timedelta_is_read_back(text: str, seconds: float | None) -> None:
    assert parse_timedelta(text) == seconds


@pytest.mark.parametrize(("text", "reason", "tier", "retry"), [
    # spaces 0.51.x, for an API caller (the advice and its bare link are cut)
    ("You have exceeded your ZeroGPU quota (90s requested vs. 41s left). Try again in 0:12:34. "
     f"Authenticate with a Hugging Face token for more quota - {SPACES_LINK['tokens']}",
     "quota", "anonymous", 754.0),
    ("You have exceeded your free ZeroGPU quota (90s requested vs. 12s left). Try again in 1 day, 2:03:04. ",
     "quota", "free", 93784.0),
    ("You have exceeded your Pro ZeroGPU quota (90s requested vs. 3s left). Try again in 0:00:05.500000. ",
     "quota", "pro", 5.5),
    ("You have exceeded your ZeroGPU runs limit. ", "runs", None, None),
    ("Space app has reached its GPU limit. Try re-running outside of examples if it happened after clicking one",
     "space", None, None),
    ("You have too many ZeroGPU credits allocated to running tasks. Try again once some of those tasks have "
     "completed.", "pending", None, 30.0),
    # spaces 0.26 and 0.28, and the 2024 wording
    ("You have exceeded your GPU quota (41s left vs. 60s requested). Please retry in 0:09:48", "quota", None, 588.0),
    ("You have exceeded your GPU quota (41s left vs. 60s requested). Sign-up on Hugging Face to get more quota "
     "or retry in 0:01:00", "quota", None, 60.0),
    ("You have exceeded your GPU quota (60s requested vs. 56s left).", "quota", None, None),
])
def test_quota_refusals_carry_reason_tier_and_time(text: str, reason: str, tier: str | None,
                                                   retry: float | None) -> None:
    error = refusal(text, "ZeroGPU quota exceeded")
    assert isinstance(error, QuotaExceeded)
    assert (error.reason, error.tier, error.retry_after) == (reason, tier, retry)
    assert "https://" not in str(error) and str(error) == str(error).strip()


@pytest.mark.parametrize("text", [
    "No GPU was available", "No GPU was available after 60s. Try re-running outside of examples",
    f"No GPU was available after 60s [Create a free account]({SPACES_LINK['join']}) to get a higher "
    "priority in ZeroGPU queues.",
    "No GPU is currently available", "No GPU is currently available for you after 60s",
])
def test_no_free_gpu_is_busy_not_quota(text: str) -> None:
    error = refusal(text)
    assert type(error) is GPUBusy and error.retry_after == 10.0
    assert "](" not in str(error) and "https://" not in str(error)


def test_the_rest_never_retry_or_renew_the_token() -> None:
    duration = refusal("The requested GPU duration (90s) is larger than the maximum allowedSubscribe to Hugging "
                       f"Face PRO to allow GPU tasks up to 40 min - {SPACES_LINK['pro']}")
    assert type(duration) is GenerationError
    assert str(duration) == ("The requested GPU duration (90s) is larger than the maximum allowed. Subscribe to "
                             "Hugging Face PRO to allow GPU tasks up to 40 min")
    assert type(refusal("'Expired ZeroGPU proxy token'")) is TokenExpired  # Gradio 4 quotes a gr.Error
    quoted = refusal("'Space app has reached its GPU limit. Try re-running outside of examples if it happened "
                     "after clicking one'")  # the browser's advice goes, the quotes with it
    assert str(quoted) == "Space app has reached its GPU limit."
    assert str(refusal("'Expired ZeroGPU proxy token'")) == "Expired ZeroGPU proxy token"
    worker = refusal("GPU task aborted", "ZeroGPU worker error")
    assert type(worker) is GenerationError and str(worker) == "ZeroGPU worker error: GPU task aborted"
    assert refusal("CUDA out of memory", "Error") is None and refusal("quota of pizza") is None


@pytest.mark.parametrize(("text", "status", "level"), [
    ("Waiting for a GPU to become available", "Waiting for a free GPU (ZeroGPU queue)", "info"),
    ("Waiting for a GPU slot on this Space", "Waiting for a GPU slot on this Space (its other runs hold them)",
     "info"),
    ("Successfully acquired a GPU", "Got a GPU", "info"),
    ("GPU task is exceeding its requested duration and might be aborted",
     "The GPU task is running past its requested duration and may be aborted", "warning"),
    ("Falling back to IP-based quotas (Expired token)",
     "ZeroGPU did not accept the account's token (Expired token): this run uses the IP address's quota", "warning"),
    (f"Unlogged user is runnning out of daily ZeroGPU quotas. Signup for free on {SPACES_LINK['join']}",
     "Your daily ZeroGPU quota is running out", "warning"),
])
def test_toasts_say_where_the_run_is(text: str, status: str, level: str) -> None:
    found = toast(text)
    assert found is not None and (found.status, found.level) == (status, level)
    [event] = QueueDecoder("e1").handle({"msg": "log", "event_id": "e1", "log": text, "level": "info",
                                         "title": "ZeroGPU queue"})
    assert (event.kind, event.status) == ("log", text)  # the Gradio layer passes the Space's words on
    gpu = heard(event)  # the Spaces layer reads them as ZeroGPU meant them
    assert (gpu.kind, gpu.status, gpu.level, gpu.elapsed) == ("gpu", status, level, event.elapsed)


def test_the_spaces_own_log_lines_stay_log_lines() -> None:
    assert toast("model loaded in 3.2s") is None
    [event] = QueueDecoder("e1").handle({"msg": "log", "event_id": "e1", "log": "model loaded", "level": "info"})
    assert heard(event) is event and (event.kind, event.status) == ("log", "model loaded")


def test_a_completion_with_a_refusal_raises_its_meaning() -> None:
    decoder = QueueDecoder("e1")
    with pytest.raises(GenerationError) as raw:
        decoder.handle({"msg": "process_completed", "event_id": "e1", "success": False, "title": "ZeroGPU quota exceeded",
                        "output": {"error": "You have exceeded your ZeroGPU runs limit. ", "title": "ZeroGPU quota exceeded"}})
    assert type(raw.value) is GenerationError and raw.value.title == "ZeroGPU quota exceeded"
    refused = refined(raw.value)  # what the Spaces layer raises
    assert isinstance(refused, QuotaExceeded)
    assert refused.reason == "runs" and str(refused) == "You have exceeded your ZeroGPU runs limit."


def test_a_long_run_of_digits_is_read_in_linear_time() -> None:
    """Found by the fuzz tier: 107 kB of digits took over a minute (the digits before ':' backtracked at every
    start; the test's timeout says so). Bounded as timedelta prints them, a timedelta beside digits is still read."""
    assert parse_timedelta("9" * 107_000) is None
    assert parse_timedelta(("9" * 30 + " days, ") * 3_000) is None
    assert parse_timedelta("Try again in 2 days, 0:00:01 (9999)") == 2 * 86400 + 1
