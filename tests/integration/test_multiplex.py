"""Concurrent runs on one Space share one queue/data stream; stopping one leaves the others streaming."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from leakscan import TOKEN
from support.helpers import FLUX_DEV, JANUS, collect

from g4f_magic import ImageResponse, JsonConversation
from g4f_magic.localspace import LocalSpace


def streams(space: LocalSpace, host: str = FLUX_DEV) -> list[Any]:
    return space.requests(host, "/gradio_api/queue/data")


async def until(check: Any, what: str, timeout: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < end, what
        await asyncio.sleep(0.01)


async def started(space: LocalSpace, n: int) -> None:
    """Until the Space has ``n`` joins."""
    await until(lambda: len(space.requests(FLUX_DEV, "/gradio_api/queue/join")) >= n, "the joins did not arrive")


async def listening(n: int) -> None:
    """Until the client's shared stream has ``n`` runs listening."""
    from g4f_magic.gradio.calls import servers_of
    from g4f_magic.http.session import get_session

    session = await get_session()
    await until(lambda: sum(len(s.listeners) for s in servers_of(session).streams.values()) >= n,
                "the runs did not start listening")


def queued(space: LocalSpace, prompt: str = "") -> list[str]:
    """Event ids the Space holds and has not run yet (of the prompts that start with ``prompt``)."""
    return [job.event_id for jobs in space._jobs.values() for job in jobs if str(job.data[0]).startswith(prompt)]


async def test_concurrent_runs_share_one_stream(space: LocalSpace, endpoint: str) -> None:
    runs = await asyncio.gather(*(collect("flux", f"a fox {i}", seed=i, api_key=TOKEN) for i in range(5)))
    seeds = [next(e for e in events if isinstance(e, ImageResponse)).seed for events in runs]
    assert seeds == [0, 1, 2, 3, 4]  # each run got its own event's result
    joins = space.requests(FLUX_DEV, "/gradio_api/queue/join")
    assert len(joins) == 5 and len({j.body["session_hash"] for j in joins}) == 1
    assert len(streams(space)) == 1  # one stream for the five, not five
    await collect("janus-pro-7b-image", "a fox", api_key=TOKEN)  # another Space: a stream of its own
    assert len(streams(space, JANUS)) == 1


async def test_stopping_a_queued_run_cancels_it_when_it_starts_and_spares_the_running_one(
        space: LocalSpace, endpoint: str) -> None:
    space.slow_delay = 0.003  # 400 steps: the first run is still running when the second is stopped
    first = asyncio.ensure_future(collect("flux", "first [fault:slow]", seed=1, api_key=TOKEN))
    await started(space, 1)
    # three in flight on the Space at once (two by default): the third must be queued there too
    # slow too: a stopped event is cancelled once found alone for CANCEL_QUIET, so it must run longer
    second = asyncio.ensure_future(collect("flux", "second [fault:slow]", seed=2, api_key=TOKEN, space_concurrency=3))
    third = asyncio.ensure_future(collect("flux", "third", seed=3, api_key=TOKEN, space_concurrency=3))
    await listening(3)
    second.cancel()
    results = await asyncio.gather(first, second, third, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    for events in (results[0], results[2]):  # the others ran to their result: the stop did not hit them
        assert not isinstance(events, BaseException), repr(events)
        assert any(isinstance(e, ImageResponse) for e in events), events
    await until(lambda: space.cancels, "the stopped run was never cancelled")  # the /cancel may still be on its way
    assert len(space.cancels) == 1 and not space.disconnects  # /cancel for the second alone; the stream stayed
    assert len(streams(space)) == 1


async def test_stopping_the_running_run_cancels_it_at_once(space: LocalSpace, endpoint: str) -> None:
    space.slow_delay = 0.01
    first = asyncio.ensure_future(collect("flux", "first [fault:slow]", seed=1, api_key=TOKEN))
    await started(space, 1)
    second = asyncio.ensure_future(collect("flux", "second", seed=2, api_key=TOKEN))
    await listening(2)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    events = await asyncio.wait_for(second, 10)  # far sooner than the first's 4 s of steps
    assert any(isinstance(e, ImageResponse) for e in events)
    assert len(space.cancels) == 1 and not space.disconnects


async def test_stopping_every_run_closes_the_stream(space: LocalSpace, endpoint: str) -> None:
    space.slow_delay = 0.01
    tasks = [asyncio.ensure_future(collect("flux", f"run {i} [fault:slow]", seed=i, api_key=TOKEN,
                                           space_concurrency=3)) for i in range(3)]
    await listening(2)  # one running, one queued: the third waits for a slot here
    [stream] = await flux_streams()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert await space.wait_disconnect(), state(stream)  # the Space drops the session's events with the stream
    assert not space.cancels


async def test_a_timeout_stops_one_run_only(space: LocalSpace, endpoint: str) -> None:
    from g4f_magic import G4FTimeout

    space.slow_delay = 0.01
    slow = asyncio.ensure_future(collect("flux", "slow [fault:slow]", seed=1, api_key=TOKEN, timeout=0.5))
    await started(space, 1)
    quick = asyncio.ensure_future(collect("flux", "quick", seed=2, api_key=TOKEN))
    with pytest.raises(G4FTimeout):
        await slow
    events = await asyncio.wait_for(quick, 10)
    assert any(isinstance(e, ImageResponse) for e in events)
    assert len(space.cancels) == 1


async def test_a_run_stopped_while_joining_leaves_no_event_behind(space: LocalSpace, endpoint: str) -> None:
    run = asyncio.ensure_future(collect("flux", "late id [fault:join_slow_reply] [fault:slow]", seed=1, api_key=TOKEN))
    await until(lambda: queued(space), "the join did not arrive")
    [orphan] = queued(space)  # the Space has the event; the client has not read its id yet
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await until(lambda: space.cancels, "the event was never cancelled")  # once the late reply names it
    assert space.cancels == [orphan] and orphan not in queued(space)
    events = await collect("flux", "next", seed=2, api_key=TOKEN)  # the next run is not queued behind it
    assert next(e for e in events if isinstance(e, ImageResponse)).seed == 2


async def test_a_run_stopped_while_joining_beside_a_running_one_is_cancelled_when_it_starts(
        space: LocalSpace, endpoint: str) -> None:
    space.slow_delay = 0.01  # 4 s: the first is still running when the second's join reply comes (0.5 s)
    first = asyncio.ensure_future(collect("flux", "first [fault:slow]", seed=1, api_key=TOKEN))
    await listening(1)
    second = asyncio.ensure_future(collect("flux", "second [fault:join_slow_reply] [fault:slow]", seed=2,
                                           api_key=TOKEN))
    await until(lambda: queued(space, "second"), "the second join did not arrive")  # not the first's, still queued
    [orphan] = queued(space, "second")
    second.cancel()
    events = await asyncio.wait_for(first, 20)
    assert any(isinstance(e, ImageResponse) for e in events)  # the running one was not hit
    await until(lambda: space.cancels, "the stopped run's event was never cancelled")
    assert space.cancels == [orphan] and not space.disconnects


async def flux_streams() -> list[Any]:
    from g4f_magic.gradio.calls import servers_of
    from g4f_magic.http.session import get_session

    return [s for (base, _), s in servers_of(await get_session()).streams.items() if base.endswith(FLUX_DEV)]


def state(stream: Any) -> str:
    """What a stream holds, for a failing test's message."""
    return (f"retired={stream.retired} listeners={len(stream.listeners)} expecting={stream.expecting} "
            f"stopping={len(stream.stopping)} abandoned={len(stream.abandoned)} deferred={len(stream.deferred)} "
            f"opened={stream.opened} answered={stream._answered} pump={stream._pump!r:.60}")


async def flux_stream() -> Any:
    [stream] = await flux_streams()
    return stream


async def test_a_known_session_opens_its_stream_beside_the_join(space: LocalSpace, endpoint: str) -> None:
    first = await collect("flux", "first", seed=1, api_key=TOKEN)
    stream = await flux_stream()
    assert stream.early_opens == 0 and space.waited_streams == 0  # a new session: join first, then the stream
    second = await collect("flux", "second [fault:join_slow]", seed=2, api_key=TOKEN)
    assert space.waited_streams == 1  # the stream was there before the join: the result came on it
    assert stream.early_opens == 1 and stream.opened == 2 and await flux_stream() is stream
    for events, seed in ((first, 1), (second, 2)):
        assert next(e for e in events if isinstance(e, ImageResponse)).seed == seed


async def test_a_session_the_space_forgot_is_streamed_after_the_join(space: LocalSpace, endpoint: str) -> None:
    await collect("flux", "first", seed=1, api_key=TOKEN)
    space.known.clear()  # Gradio keeps the last 2,000 sessions: this one is gone
    events = await collect("flux", "second [fault:join_slow]", seed=2, api_key=TOKEN)
    assert next(e for e in events if isinstance(e, ImageResponse)).seed == 2
    stream = await flux_stream()
    assert stream.early_opens == 1 and stream.opened == 3  # first; early, "session not found"; after the join
    assert space.waited_streams == 0


async def test_a_failed_join_closes_the_stream_opened_beside_it(space: LocalSpace, endpoint: str) -> None:
    from g4f_magic import SpaceUnavailable

    await collect("flux", "first", seed=1, api_key=TOKEN)
    stream = await flux_stream()
    with pytest.raises(SpaceUnavailable):
        await collect("flux", "full [fault:join_503_queue_full]", seed=2, api_key=TOKEN)
    await until(lambda: stream.idle, "the stream opened beside the failed join was left open")
    assert stream.retired and stream.expecting == 0
    events = await collect("flux", "third", seed=3, api_key=TOKEN)  # a new session, the stream after the join
    assert next(e for e in events if isinstance(e, ImageResponse)).seed == 3
    hashes = [j.body["session_hash"] for j in space.requests(FLUX_DEV, "/gradio_api/queue/join")]
    assert hashes[0] == hashes[1] != hashes[2]


async def test_runs_in_flight_on_one_space_stay_within_its_slots(space: LocalSpace, endpoint: str) -> None:
    """-n, sweeps and the panel all go through the Space's run slots: never more in flight than the limit,
    counted at the Space (joined and not ended)."""
    space.slow_delay = 0.0005
    # the local Space runs a session's events one at a time: two in flight (one running, one queued), whatever
    # the ceiling above that; a ceiling of one holds it to one
    for limit, peak in ((None, 2), (3, 2), (1, 1)):
        space.reset()
        extra = {} if limit is None else {"space_concurrency": limit}
        runs = await asyncio.gather(*(collect("flux", f"fox {i} [fault:slow]", seed=i, api_key=TOKEN, **extra)
                                      for i in range(6)))
        assert [next(e for e in r if isinstance(e, ImageResponse)).seed for r in runs] == list(range(6))
        assert space.peak[FLUX_DEV] == peak, limit


async def test_a_burst_on_ones_own_server_tries_the_stream_beside_the_first_join(space: LocalSpace,
                                                                                  endpoint: str) -> None:
    """Runs waiting to learn what one's own server runs at once: its stream is tried beside a new session's
    first join (the starts it brings are the signal). Heard before the join, the Space answers "session not
    found" and the stream is opened again after the join's reply; either way, every run gets its own result,
    and a server that runs one at a time still has one running and one queued, no more."""
    space.slow_delay = 0.0005
    own = f"{endpoint}/{FLUX_DEV}"
    runs = await asyncio.gather(*(collect("flux", f"fox {i} [fault:slow]", seed=i, flux_dev_url=own)
                                  for i in range(6)))
    assert [next(e for e in r if isinstance(e, ImageResponse)).seed for r in runs] == list(range(6))
    stream = await flux_stream()
    assert stream.early_opens == 1 and space.peak[FLUX_DEV] == 2
    joins = space.requests(FLUX_DEV, "/gradio_api/queue/join")
    assert len(joins) == 6 and len({j.body["session_hash"] for j in joins}) == 1
    assert len(streams(space)) == stream.opened <= 2  # tried early; again after the join if it came first
    single = await collect("flux", "alone", seed=9, flux_dev_url=own)  # a later run alone on the same session
    assert next(e for e in single if isinstance(e, ImageResponse)).seed == 9


async def test_a_run_stopped_while_waiting_for_a_slot_sends_nothing(space: LocalSpace, endpoint: str) -> None:
    space.slow_delay = 0.01
    running = [asyncio.ensure_future(collect("flux", f"run {i} [fault:slow]", seed=i, api_key=TOKEN)) for i in range(2)]
    await listening(2)
    waiting = asyncio.ensure_future(collect("flux", "waits", seed=9, api_key=TOKEN))
    await asyncio.sleep(0.1)
    assert len(space.requests(FLUX_DEV, "/gradio_api/queue/join")) == 2  # the third waits for a slot
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    for t in running:
        t.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    assert len(space.requests(FLUX_DEV, "/gradio_api/queue/join")) == 2 and not space.cancels


async def test_a_run_after_stopping_them_all_gets_a_new_session(space: LocalSpace, endpoint: str) -> None:
    """The Space drops every event of a session when its stream closes, possibly after a new join."""
    space.slow_delay = 0.01
    tasks = [asyncio.ensure_future(collect("flux", f"run {i} [fault:slow]", seed=i, api_key=TOKEN)) for i in range(2)]
    await listening(2)  # both join replies read: stopped as runs on the stream, not mid-join
    [stream] = await flux_streams()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert stream.retired, state(stream)
    events = await collect("flux", "after the stop", seed=9, api_key=TOKEN)  # at once, not after the close
    assert any(isinstance(e, ImageResponse) for e in events)
    hashes = [j.body["session_hash"] for j in space.requests(FLUX_DEV, "/gradio_api/queue/join")]
    assert hashes[0] == hashes[1] != hashes[2]


async def test_chats_share_the_spaces_stream_with_image_runs(space: LocalSpace, endpoint: str) -> None:
    """The Janus chat function keeps nothing per session: chats join the Space's shared stream too."""
    runs = await asyncio.gather(*(collect("janus-pro-7b", f"question {i}?", seed=1000 + i, api_key=TOKEN)
                                  for i in range(3)),
                                collect("janus-pro-7b-image", "a fox", seed=1003, api_key=TOKEN))
    for i, events in enumerate(runs[:3]):  # each chat got its own answer, not a neighbour's
        text = "".join(e for e in events if isinstance(e, str))
        assert text == f"Local stand-in reply (not a model). You asked: question {i}?"
        assert next(e for e in events if isinstance(e, JsonConversation)).session_hash == \
            space.requests(JANUS, "/gradio_api/queue/join")[0].body["session_hash"]
    assert next(e for e in runs[3] if isinstance(e, ImageResponse)).seed == 1003
    joins = space.requests(JANUS, "/gradio_api/queue/join")
    assert len(joins) == 4 and len({j.body["session_hash"] for j in joins}) == 1
    assert len(streams(space, JANUS)) == 1


async def test_a_chats_next_turn_opens_its_stream_beside_the_join(space: LocalSpace, endpoint: str) -> None:
    first = await collect("janus-pro-7b", "hello", api_key=TOKEN)
    conv = next(e for e in first if isinstance(e, JsonConversation))
    assert space.waited_streams == 0  # a new session: join first, then the stream
    second = await collect("janus-pro-7b", "again [fault:join_slow]", api_key=TOKEN, conversation=conv)
    assert space.waited_streams == 1  # the stream was there before the join: the answer came on it
    assert "".join(e for e in second if isinstance(e, str)).endswith("You asked: again [fault:join_slow]")
    assert next(e for e in second if isinstance(e, JsonConversation)).session_hash == conv.session_hash
    assert len(streams(space, JANUS)) == 2


async def test_stopping_a_chat_leaves_the_other_chat_streaming(space: LocalSpace, endpoint: str) -> None:
    space.slow_delay = 0.01
    first = asyncio.ensure_future(collect("janus-pro-7b", "first [fault:slow]", api_key=TOKEN))
    second = asyncio.ensure_future(collect("janus-pro-7b", "second [fault:slow]", api_key=TOKEN))
    await listening(2)
    second.cancel()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert "".join(e for e in results[0] if isinstance(e, str)).endswith("You asked: first [fault:slow]")
    assert not space.disconnects and len(streams(space, JANUS)) == 1  # the stream stayed for the first


async def test_twenty_concurrent_runs_reuse_a_few_kept_alive_connections(space: LocalSpace, endpoint: str) -> None:
    """Joins go through aiohttp's keep-alive pool (nothing pipelined): twenty runs, from a cold pool and a
    warm one, take no more connections than the Space's run slots and its stream."""
    from g4f_magic.spaces.endpoints import SPACE_CONCURRENCY

    for burst in ("cold", "warm"):
        space.reset()
        runs = await asyncio.gather(*(collect("janus-pro-7b-image", f"{burst} fox {i}", seed=1000 + i, api_key=TOKEN)
                                      for i in range(20)))
        seeds = [next(e for e in events if isinstance(e, ImageResponse)).seed for events in runs]
        assert seeds == [1000 + i for i in range(20)], burst  # each run got its own event's result
        assert len(space.requests(JANUS, "/gradio_api/queue/join")) == 20
        ports = {r.peer_port for r in space.received}  # over TLS, the proxy's connection per client connection
        assert 2 <= len(ports) <= SPACE_CONCURRENCY + 1, (burst, len(ports))
