"""Issue #35, item 2: a reply that belongs to no request. HTTP/1.1 replies carry no request id: whatever comes next
on a kept-alive connection is read as the answer to the next request sent on it. A Space (or a proxy) that sends
one reply more than it was asked for must not hand one run another run's image; a run accepts only what is
provably its own, or fails in one line."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from g4f_magic import StreamError
from g4f_magic.engine.job import Job
from g4f_magic.engine.result import Result, ResultSet
from g4f_magic.engine.run import run_job
from g4f_magic.notebook.views import PlainView
from g4f_magic.spaces.client import SpacesClient, Target


async def image(model: str, prompt: str, seed: int, count: int = 1) -> Any:
    job = Job(model, prompt, seed=seed, count=count, client=SpacesClient(Target(timeout=5)))
    return await run_job(job, PlainView(model, out=io.StringIO()))


async def until(check: Any) -> None:
    async with asyncio.timeout(5):
        while not check():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("model, fault", [("flux-schnell", "predict_extra_reply"), ("flux-dev", "join_extra_reply")])
async def test_a_reply_nobody_asked_for_is_never_read_as_the_next_runs(space: Any, endpoint: str, model: str,
                                                                      fault: str) -> None:
    """The Space sends the first run's reply once more, after the client put the connection back in its pool;
    the second run's request then goes on a connection: never that one. Without the check, /run/predict's second
    run got the first run's image (its URL, its bytes), and a join got the first run's finished event id and
    waited for a result that had already come."""
    space.arm(fault)
    first = await image(model, "a fox", 1)
    await until(lambda: space.extra_replies == 1)
    await asyncio.sleep(0.05)  # the extra reply is read into the pooled connection (same loop: a turn or two)
    second = await image(model, "an owl", 2)
    assert isinstance(first, Result) and isinstance(second, Result)
    assert second.url != first.url and second.image is not None and first.image is not None
    assert second.image.data != first.image.data
    asked = [r for r in space.received if r.path.endswith(("/run/predict", "/queue/join"))]
    assert len(asked) == 2  # each run asked once: the second was answered by its own request


async def test_two_joins_answered_with_one_event_id_fail_both_in_one_line(space: Any, endpoint: str) -> None:
    """The second of two concurrent joins is answered with the first one's event id: which run that event
    belongs to, nothing tells, so neither takes its image (before, one run got the other's image under its
    own seed, and the other waited out its timeout)."""
    space.arm("join_same_event_id", times=2)
    with pytest.raises(StreamError) as info:
        await image("flux-dev", "twins", 1, count=2)
    assert str(info.value).startswith("the Space answered two requests with one event id (")
    assert str(info.value).endswith("); neither result can be told apart, so both are refused")
    again = await image("flux-dev", "twins", 1, count=2)  # the next run is unharmed
    assert isinstance(again, ResultSet) and [r.seed for r in again] == [1, 2]
