"""The shared stream's bookkeeping, driven by scripted messages: streams reopened, early messages
kept, a stopped run cancelled once it runs alone. The tests that prove an absence (no /cancel yet) run on
an injected clock: their waits take no time, and whatever was due within them has run."""

from __future__ import annotations

import asyncio
from typing import Any

from support.clock import on_virtual_clock


class ScriptedSession:
    """An HttpSession stand-in: each stream it opens plays the next script of SSE data lines."""

    def __init__(self, *scripts: list[dict[str, Any]]) -> None:
        self.scripts = list(scripts)
        self.posts: list[dict[str, Any]] = []

    async def sse(self, url: str, answered: Any = None, **_: Any) -> Any:
        import json

        from g4f_magic.http.sse import SSEEvent

        if answered is not None:
            answered()  # the Space has the request: its status line and headers came
        for msg in self.scripts.pop(0) if self.scripts else []:
            await asyncio.sleep(0)
            yield SSEEvent(json.dumps(msg))

    async def json(self, method: str, url: str, **kw: Any) -> Any:
        self.posts.append(kw["json_body"])
        return {"success": True}


def msg(kind: str, eid: str | None, **kw: Any) -> dict[str, Any]:
    return {"msg": kind, "event_id": eid, **kw}


async def drain(queue: asyncio.Queue[Any]) -> list[Any]:
    out = []
    while True:
        item = await asyncio.wait_for(queue.get(), 5)
        out.append(item if isinstance(item, BaseException) else item["msg"])
        if isinstance(item, BaseException) or item["msg"] == "process_completed":
            return out


async def test_a_join_that_raced_close_stream_gets_a_new_stream() -> None:
    from g4f_magic.gradio.stream import SharedStream

    session = ScriptedSession(
        # the Space closes after a: it had not taken b's join yet, and never spoke of b on this stream
        [msg("estimation", "a"), msg("process_completed", "a", success=True), msg("close_stream", None)],
        [msg("estimation", "b"), msg("process_completed", "b", success=True), msg("close_stream", None)],
    )
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    a, b = stream.listen("a", 2), stream.listen("b", 2)
    assert await drain(a) == ["estimation", "process_completed"]
    stream.leave("a", True)
    assert await drain(b) == ["estimation", "process_completed"]
    stream.leave("b", True)
    assert stream.opened == 2


async def test_an_event_the_stream_spoke_of_and_lost_fails_and_early_messages_wait() -> None:
    from g4f_magic.errors import StreamError
    from g4f_magic.gradio.stream import SharedStream

    session = ScriptedSession(
        [msg("estimation", "late"), msg("estimation", "a"), msg("process_starts", "a"), msg("close_stream", None)])
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    a = stream.listen("a", 2)
    got = await drain(a)
    assert got[:2] == ["estimation", "process_starts"] and isinstance(got[2], StreamError)
    assert str(got[2]) == "stream ended before the result"
    assert stream.early == {"late": [msg("estimation", "late")]}  # kept for the join reply still on its way
    late = stream.listen("late", 2)
    assert (await late.get())["msg"] == "estimation"
    stream.leave("a", True)
    stream.leave("late", True)
    await stream.aclose()


NOT_FOUND = {"msg": "unexpected_error", "message": "404: Not Found", "session_not_found": True}


async def test_a_stream_tried_before_the_first_join_got_there_is_opened_again_not_failed() -> None:
    """A burst on a server still being learned tries the stream beside a new session's first join. When the
    Space hears the stream first it says "session not found", even if the join's reply is read before that:
    not the run's error; the stream is opened again and brings the result."""
    from g4f_magic.gradio.stream import SharedStream

    session = ScriptedSession(
        [NOT_FOUND], [msg("process_starts", "a"), msg("process_completed", "a", success=True), msg("close_stream", None)])
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    stream.joining(probing=lambda: True)
    await asyncio.sleep(0)  # a turn of the loop after the join: the stream is tried
    assert stream.early_opens == 1 and stream._pump is not None
    a = stream.listen("a", 2, joined=True)  # the join's reply, read before the stream's refusal
    assert await drain(a) == ["process_starts", "process_completed"]
    stream.leave("a", True)
    assert stream.opened == 2 and stream.known


async def test_a_new_sessions_stream_waits_for_the_join_unless_runs_wait_to_learn_the_server() -> None:
    from g4f_magic.gradio.stream import SharedStream

    for probing, opened in ((None, 0), (lambda: False, 0), (lambda: True, 1)):
        session = ScriptedSession([NOT_FOUND])
        stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
        stream.joining(probing)
        stream.joining(probing)  # a second join of the same burst: one stream is tried, at most
        for _ in range(3):
            await asyncio.sleep(0)
        assert stream.early_opens == opened and stream.opened == opened, probing
        await stream.aclose()


async def test_a_space_that_keeps_saying_session_not_found_fails_its_runs_in_three_tries() -> None:
    from g4f_magic.errors import StreamError
    from g4f_magic.gradio.stream import MAX_IDLE_REOPENS, SharedStream

    session = ScriptedSession(*[[NOT_FOUND]] * 10)  # a replica that never saw the join (no sticky sessions)
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    got = await drain(stream.listen("a", 2))
    assert isinstance(got[0], StreamError) and "without the result" in str(got[0])
    assert stream.opened == MAX_IDLE_REOPENS


class SlowToAnswerSession(ScriptedSession):
    """A stream whose request takes until ``answer`` is set to reach the Space (then answered at once, its
    messages later); it records how it ended."""

    def __init__(self, *scripts: list[dict[str, Any]]) -> None:
        super().__init__(*scripts)
        self.answer = asyncio.Event()
        self.ended: list[str] = []

    async def sse(self, url: str, answered: Any = None, **kw: Any) -> Any:
        try:
            await self.answer.wait()
        except asyncio.CancelledError:
            self.ended.append("cancelled before the Space saw it")
            raise
        try:
            answered()
            await asyncio.sleep(0.1)  # its first message takes a while
            async for event in super().sse(url, **kw):
                yield event
            await asyncio.Event().wait()
        finally:
            self.ended.append("closed after the Space answered")


async def test_a_stream_stopped_before_the_space_answered_it_is_ended_once_it_does() -> None:
    """Gradio drops a session's events when its stream goes, and runs them all the same when no stream ever came
    (seen on 6.31). A Stop while the stream's request is on its way must not cancel that request, or the stopped
    runs go on at the Space (on ZeroGPU, on the user's quota): it is ended as soon as the Space answers."""
    from g4f_magic.gradio.stream import SharedStream

    session = SlowToAnswerSession([msg("estimation", "a"), msg("estimation", "b")])
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    stream.listen("a", 2), stream.listen("b", 2)
    await asyncio.sleep(0)
    stream.leave("a", False)
    stream.leave("b", False)  # every run stopped: the stream is closed, with no answer yet
    await asyncio.sleep(0)
    assert stream.retired and session.ended == []  # still on its way, not cancelled
    session.answer.set()
    await asyncio.wait({stream._pump}, timeout=5)  # type: ignore[arg-type]
    assert session.ended == ["closed after the Space answered"] and stream.opened == 1
    assert session.scripts == [[msg("estimation", "a"), msg("estimation", "b")]]  # ended before any message
    await stream.aclose()


async def test_a_stream_closed_after_the_space_answered_is_ended_at_once() -> None:
    from g4f_magic.gradio.stream import SharedStream

    session = SlowToAnswerSession([msg("estimation", "a")])
    session.answer.set()
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    queue = stream.listen("a", 2)
    assert (await asyncio.wait_for(queue.get(), 5))["msg"] == "estimation"
    stream.leave("a", False)
    await asyncio.wait({stream._pump}, timeout=5)  # type: ignore[arg-type]
    assert stream._pump.cancelled() and session.ended == ["closed after the Space answered"]  # type: ignore[union-attr]
    await stream.aclose()


class EndlessSession(ScriptedSession):
    """A stream that brings its script, then stays open."""

    async def sse(self, url: str, **kw: Any) -> Any:
        async for event in super().sse(url, **kw):
            yield event
        await asyncio.Event().wait()


async def test_a_finished_run_does_not_wait_for_a_stream_that_goes_on_for_others() -> None:
    """The last listener out waits briefly for the stream's end only when nothing else keeps it open:
    not while another run's join is in flight, nor while a stopped run's event waits to be cancelled."""
    from g4f_magic.gradio.stream import SharedStream

    for keep_open in ("expecting", "abandoned"):
        session = EndlessSession([msg("process_starts", "a"), msg("process_completed", "a", output={})])
        stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
        stream.joining()
        stream.joining()
        a = stream.listen("a", 2, joined=True)
        assert await drain(a) == ["process_starts", "process_completed"]
        if keep_open == "abandoned":
            stream.joined()
            stream.abandoned["b"] = 2
        stream.leave("a", True)
        await stream.drained(3600)  # returns at once; waiting for the stream's end would hang the test
        assert not stream.idle  # the stream does go on
        await stream.aclose()


@on_virtual_clock
async def test_a_stopped_run_beside_a_running_sibling_of_its_function_is_cancelled_once_alone() -> None:
    """A server that runs several events at once (concurrency_limit > 1): Gradio's /cancel stops every
    running task of the function in the session, so the stopped run's /cancel waits for its siblings."""
    from g4f_magic.gradio.stream import SharedStream

    session = EndlessSession([msg("process_starts", "a"), msg("process_starts", "b"), msg("process_starts", "c")])
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    a, b, c = stream.listen("a", 2), stream.listen("b", 2), stream.listen("c", 7)
    for queue in (a, b, c):
        assert (await asyncio.wait_for(queue.get(), 5))["msg"] == "process_starts"
    stream.leave("a", False)  # stopped while b (same function) runs; c is another function's
    await asyncio.sleep(0.05)
    assert session.posts == [] and stream.deferred == {"a": 2}
    stream.leave("c", True)
    await asyncio.sleep(0.05)
    assert session.posts == []  # c was not a sibling: a still waits for b
    stream.leave("b", True)  # a now runs alone: cancelled
    for _ in range(100):
        if session.posts:
            break
        await asyncio.sleep(0.01)
    assert session.posts == [{"session_hash": "hash", "fn_index": 2, "event_id": "a"}] and not stream.deferred
    await stream.aclose()


@on_virtual_clock
async def test_on_a_space_seen_running_several_a_queued_sibling_keeps_the_cancel_waiting() -> None:
    """The race the proxy matrix found: a, b, c run at once, d is queued; a is stopped. When b and c end,
    the Space starts d at once, before its process_starts is read here: a /cancel then would stop d too.
    So on a Space seen running several, a stopped run waits for every sibling, queued ones included."""
    from g4f_magic.gradio.stream import SharedStream

    session = EndlessSession([msg("process_starts", e) for e in "abc"] + [msg("estimation", "d", rank=0)])
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    queues = {e: stream.listen(e, 2) for e in "abcd"}
    for e in "abcd":
        await asyncio.wait_for(queues[e].get(), 5)
    assert stream.concurrent == {2}
    stream.leave("a", False)
    stream.leave("b", True)
    stream.leave("c", True)  # nothing of a's function has started here now, but d is queued behind them
    await asyncio.sleep(0.05)
    assert session.posts == [] and stream.deferred == {"a": 2}
    stream.leave("d", True)
    for _ in range(100):
        if session.posts:
            break
        await asyncio.sleep(0.01)
    assert session.posts == [{"session_hash": "hash", "fn_index": 2, "event_id": "a"}]
    await stream.aclose()


@on_virtual_clock
async def test_a_stopped_queued_run_that_starts_first_waits_for_siblings_heard_within_the_quiet_time() -> None:
    """The other order, also seen through nginx: the stopped run's process_starts is read before its
    siblings', so nothing here has seen two at once yet. Its /cancel waits CANCEL_QUIET; the siblings'
    starts heard meanwhile show a Space that runs several, and it waits for them all."""
    from g4f_magic.gradio.stream import CANCEL_QUIET, SharedStream

    session = EndlessSession([msg("estimation", "c", rank=2)])
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    queues = {e: stream.listen(e, 2) for e in "abc"}
    await asyncio.wait_for(queues["c"].get(), 5)
    stream.leave("c", False)  # stopped while queued
    await asyncio.sleep(0.05)
    assert stream.abandoned == {"c": 2}
    stream._dispatch('{"msg": "process_starts", "event_id": "c"}')  # it starts first, found alone
    await asyncio.sleep(CANCEL_QUIET / 3)
    stream._dispatch('{"msg": "process_starts", "event_id": "a"}')  # a and b started at the same moment
    stream._dispatch('{"msg": "process_starts", "event_id": "b"}')
    await asyncio.sleep(CANCEL_QUIET * 2)
    assert session.posts == [] and stream.deferred == {"c": 2} and stream.concurrent == {2}
    await stream.aclose()


@on_virtual_clock
async def test_on_a_space_that_runs_one_at_a_time_the_running_run_is_cancelled_at_once() -> None:
    """A ZeroGPU Space runs one event at a time: the queued sibling starts only after the stopped one ended."""
    from g4f_magic.gradio.stream import SharedStream

    session = EndlessSession([msg("process_starts", "a"), msg("estimation", "b", rank=0)])
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    a, b = stream.listen("a", 2), stream.listen("b", 2)
    for queue in (a, b):
        await asyncio.wait_for(queue.get(), 5)
    stream.leave("a", False)
    for _ in range(100):
        if session.posts:
            break
        await asyncio.sleep(0.01)
    assert session.posts == [{"session_hash": "hash", "fn_index": 2, "event_id": "a"}] and not stream.concurrent
    stream.leave("b", True)
    await stream.aclose()


@on_virtual_clock
async def test_a_deferred_run_that_completes_first_is_dropped_unread() -> None:
    from g4f_magic.gradio.stream import SharedStream

    session = EndlessSession([msg("process_starts", "a"), msg("process_starts", "b")])
    stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
    a, b = stream.listen("a", 2), stream.listen("b", 2)
    for queue in (a, b):
        await asyncio.wait_for(queue.get(), 5)
    stream.leave("a", False)
    await asyncio.sleep(0.05)
    assert stream.deferred == {"a": 2}
    stream._dispatch('{"msg": "process_completed", "event_id": "a", "output": {}}')
    assert stream.deferred == {} and "a" not in stream.early and b.empty()
    stream.leave("b", True)
    await asyncio.sleep(0.05)
    assert session.posts == []  # nothing left to cancel
    await stream.aclose()


class RawSession(ScriptedSession):
    """A stream of raw SSE data lines, then a failure of any kind."""

    def __init__(self, lines: list[str], error: BaseException | None = None) -> None:
        super().__init__()
        self.lines, self.error = lines, error

    async def sse(self, url: str, **_: Any) -> Any:
        from g4f_magic.http.sse import SSEEvent

        for line in self.lines:
            await asyncio.sleep(0)
            yield SSEEvent(line)
        if self.error is not None:
            raise self.error
        await asyncio.Event().wait()


async def test_whatever_the_reader_meets_every_listener_ends_at_once_with_one_line() -> None:
    from g4f_magic.errors import StreamError
    from g4f_magic.gradio.stream import SharedStream

    deep = '{"msg": "estimation", "event_id": "a", "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
    for session, line in ((RawSession([deep]), "the Space sent a message nested too deeply to read"),
                          (RawSession([], RuntimeError("boom")), "the stream could not be read (RuntimeError)")):
        stream = SharedStream(session, "http://space", "hash", {}, None)  # type: ignore[arg-type]
        a, b = stream.listen("a", 2), stream.listen("b", 7)  # b is another run, of another function
        for queue in (a, b):
            got = await asyncio.wait_for(queue.get(), 5)  # at once, not at a timeout
            assert isinstance(got, StreamError) and str(got) == line
        stream.leave("a", True)
        stream.leave("b", True)
        await stream.aclose()


async def test_messages_for_events_nobody_joined_are_bounded() -> None:
    from g4f_magic.gradio.stream import MAX_EARLY, SharedStream

    stream = SharedStream(ScriptedSession(), "http://space", "hash", {}, None)  # type: ignore[arg-type]
    for i in range(30_000):  # a Space that makes up event ids
        stream._dispatch('{"msg": "estimation", "event_id": "e%d", "rank": 0}' % i)
    assert sum(len(v) for v in stream.early.values()) == MAX_EARLY
    assert "e29999" in stream.early and "e0" not in stream.early  # the newest are kept, for a join in flight
    queue = stream.listen("e29999", 2)  # its join reply arrives: its early message is delivered
    assert (await asyncio.wait_for(queue.get(), 5))["event_id"] == "e29999"
    assert sum(len(v) for v in stream.early.values()) == MAX_EARLY - 1
    stream.leave("e29999", True)
    await stream.aclose()
