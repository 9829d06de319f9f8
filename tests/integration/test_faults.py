"""Every fault of SPEC §8 against the local Space: the exact error class and one-line message,
or the exact event sequence."""

from __future__ import annotations

from typing import Any

import pytest
from leakscan import COOKIE, TOKEN
from support.helpers import OFFICIAL_SCHNELL, collect

from g4f_magic import (
    ConnectionFailed,
    G4FTimeout,
    GenerationError,
    ImageResponse,
    QuotaExceeded,
    Reasoning,
    ResponseStatusError,
    ResultShapeError,
    SpaceUnavailable,
    StreamError,
)
from g4f_magic.localspace import LocalSpace, Pace

SECRETS = (TOKEN, COOKIE)


def assert_clean(message: str) -> None:
    assert "\n" not in message and "<" not in message and ">" not in message
    for s in SECRETS:
        assert s not in message


async def fails(model: str, **kw: Any) -> BaseException:
    """Both kinds of credential planted (a ZeroGPU token as api_key, the account's HF token): the failure's
    traceback keeps the call alive, so the secrets scan reads their reprs too."""
    with pytest.raises(Exception) as info:
        await collect(model, "a cat", api_key=TOKEN[3:], hf_token=TOKEN, **kw)
    assert_clean(str(info.value))
    return info.value


HANDED_OVER = {"join_502", "join_503_queue_full", "join_503_sleeping", "data_404"}


@pytest.mark.parametrize(
    ("fault", "cls", "message"),
    [
        ("join_400", ResponseStatusError, "Response 400: Bad request: data has the wrong length"),
        ("join_422", ResponseStatusError, "Response 422: field required"),
        ("join_429", ResponseStatusError, "Response 429: Too Many Requests"),
        ("join_500_text", ResponseStatusError, "Response 500: Internal Server Error: worker crashed"),
        ("join_500_traceback", ResponseStatusError, "Response 500: KeyError: 9 (the server's traceback)"),
        ("join_502", SpaceUnavailable, "Space unavailable (502): HTML content"),
        ("join_503_queue_full", SpaceUnavailable, "Space unavailable (503): Queue is full! Please try again."),
        ("join_503_sleeping", SpaceUnavailable, "Space unavailable (503): the Space is sleeping (HTML page)"),
        ("join_no_event_id", StreamError, "the Space accepted the job without an event_id"),
        ("data_404", ResponseStatusError, "Response 404: Not Found"),
        ("data_500", ResponseStatusError, "Response 500: Internal Server Error"),
        ("error_string", GenerationError, "CUDA out of memory"),
        ("error_link", GenerationError, "Something went wrong"),
        ("error_null", GenerationError, "the Space reported an error without details"),
        ("zerogpu_worker", GenerationError, "ZeroGPU worker error: GPU task aborted"),
        ("quota_old", QuotaExceeded, "You have exceeded your GPU quota (150s left). Please retry in 0:04:12."),
        ("quota_new", QuotaExceeded, "You have exceeded your GPU quota (60s requested vs. 56s left)."),
        ("unexpected_error", GenerationError, "Connection to the GPU worker was lost"),
        ("cut_before_completion", StreamError, "stream ended before the result"),
        ("close_early", StreamError, "stream ended before the result"),
        ("malformed_json", StreamError, "the Space sent malformed JSON: '{\"msg\": \"progress\", \"event_id\"'"),
    ],
)
async def test_flux_dev_faults(space: LocalSpace, endpoint: str, fault: str, cls: type, message: str) -> None:
    # a Space that is unavailable or gone hands the run to the official FLUX.1-dev Space, which fails too here
    space.arm(fault, times=2 if fault in HANDED_OVER else 1)
    exc = await fails("flux")
    assert type(exc) is cls
    assert str(exc) == message


async def test_quota_retry_after(space: LocalSpace, endpoint: str) -> None:
    space.arm("quota_old")
    exc = await fails("flux")
    assert isinstance(exc, QuotaExceeded) and exc.retry_after == 252.0


async def test_faults_by_prompt_marker(space: LocalSpace, endpoint: str) -> None:
    with pytest.raises(SpaceUnavailable, match="Queue is full"):
        await collect("janus-pro-7b-image", "a cat [fault:join_503_queue_full]")


@pytest.mark.parametrize(
    ("fault", "cls", "message"),
    [
        ("predict_404", ResponseStatusError, "Response 404: Not Found"),
        ("predict_500", ResponseStatusError, "Response 500: Pipeline crashed"),
        ("predict_no_url", ResultShapeError, "the result has no image URL"),
    ],
)
async def test_run_predict_faults(space: LocalSpace, endpoint: str, fault: str, cls: type, message: str) -> None:
    if fault == "predict_404":  # gone: the official FLUX.1-schnell Space answers instead, unless it is gone too
        space.down[OFFICIAL_SCHNELL] = "gone"
    space.arm(fault)
    exc = await fails("flux-schnell")
    assert type(exc) is cls and str(exc) == message


@pytest.mark.parametrize(
    ("fault", "cls", "message"),
    [("upload_400", ResponseStatusError, "Response 400: Invalid file upload"),
     ("upload_413", ResponseStatusError,
      "the request is larger than the server, or a proxy in front of it, accepts (413 Payload Too Large)")],
)
async def test_upload_faults(space: LocalSpace, endpoint: str, fault: str, cls: type, message: str) -> None:
    space.arm(fault)
    exc = await fails("janus-pro-7b", media=b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    assert type(exc) is cls and str(exc) == message
    assert space.requests(path="/gradio_api/queue/join") == []  # nothing joined after a failed upload


def summary(events: list[Any]) -> list[str]:
    """The stream's shape: kinds of status lines and result types, heartbeats folded."""
    out: list[str] = []
    for e in events:
        name = e.kind if isinstance(e, Reasoning) else type(e).__name__
        if not out or out[-1] != name:
            out.append(name)
    return out


# previews between progress steps, as FLUX.1-dev yields them (the fast pace: two, after steps 9 and 19 of 28)
HAPPY = ["token", "queue", "start", "progress", "ImagePreview", "progress", "ImagePreview", "progress", "log",
         "heartbeat", "finished", "ImageResponse"]


async def test_happy_stream_sequence(space: LocalSpace, endpoint: str) -> None:
    assert summary(await collect("flux", "x")) == HAPPY


@pytest.mark.parametrize(
    "fault",
    ["comments", "crlf", "split_writes", "batched_writes", "data_null", "foreign_event", "cut_after_completion"],
)
async def test_stream_variants_give_the_happy_sequence(space: LocalSpace, endpoint: str, fault: str) -> None:
    baseline = await collect("flux", "x", seed=7)
    space.arm(fault)
    events = await collect("flux", "x", seed=7)
    assert summary(events) == HAPPY[1:]  # the token is cached by now
    assert [str(e) for e in events if not isinstance(e, Reasoning)] == [
        str(e) for e in baseline if not isinstance(e, Reasoning)
    ]
    texts = [e.status for e in events if isinstance(e, Reasoning) and e.kind in ("queue", "progress", "log")]
    assert texts == [e.status for e in baseline if isinstance(e, Reasoning) and e.kind in ("queue", "progress", "log")]


async def test_huge_log_line_arrives_whole(space: LocalSpace, endpoint: str) -> None:
    space.arm("huge_line")
    events = await collect("flux", "x")
    logs = [e for e in events if isinstance(e, Reasoning) and e.kind == "log"]
    assert len(logs) == 2 and logs[1].status.startswith("xxxx") and len(logs[1].status) <= 2000
    assert isinstance(events[-1], ImageResponse)


async def test_chat_gallery_and_cut_variants_for_janus(space: LocalSpace, endpoint: str) -> None:
    space.arm("split_writes")
    events = await collect("janus-pro-7b", "hello there")
    assert "".join(e for e in events if isinstance(e, str)).endswith("You asked: hello there")
    space.arm("cut_before_completion")
    with pytest.raises(StreamError, match="stream ended before the result"):
        await collect("janus-pro-7b", "hello")


async def test_heartbeats_only_until_the_timeout(space: LocalSpace, endpoint: str) -> None:
    space.arm("heartbeats_only")
    with pytest.raises(G4FTimeout) as info:
        await collect("flux", "x", timeout=0.6)
    assert str(info.value) == "no result within 0.6 s (timeout=0.6)"
    assert isinstance(info.value, TimeoutError)
    assert await space.wait_disconnect()


async def test_unreachable_space_is_connection_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionFailed) as info:
        await collect("flux", "x", api_key=TOKEN)
    assert str(info.value) == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert_clean(str(info.value))


async def test_the_installed_local_space_carries_no_faults() -> None:
    """The package's local Space plays it straight: a fault marker is just text in the prompt, and the
    catalogue, the hostile payloads and arm() live in tests/support/faultyspace.py."""
    from pathlib import Path

    import g4f_magic
    from g4f_magic.localspace import serve

    plain = LocalSpace(pace=Pace.fast(0.001))
    assert not hasattr(plain, "arm")
    server = serve(plain)
    url = await server.__anext__()
    try:
        events = await collect("flux", "[fault:error_string] [fault:file_lies] a cat", seed=1, endpoint=url)
    finally:
        await g4f_magic.aclose()
        await server.aclose()
    assert isinstance(events[-1], ImageResponse)
    package = Path(g4f_magic.__file__).parent
    sources = "".join(p.read_text() for p in package.rglob("*.py"))
    assert "[fault:" not in sources and "HOSTILE" not in sources and "FAULTS" not in sources
