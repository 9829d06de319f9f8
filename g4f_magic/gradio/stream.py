"""One ``queue/data`` stream per Space for every concurrent event, dispatched by ``event_id``.

Gradio streams every event of one session hash on one ``queue/data`` connection, a join made while the
stream is open included, and ends it with ``close_stream`` when the session has no event left (seen on
Gradio 5.50 and 6.31). So concurrent runs on one Space (images and chats) join under one session hash
and share one stream, instead of a connection each.

Stopping one run must not stop the others, and Gradio offers two blunt tools (seen on both versions):
closing the stream cancels every event of the session, and ``POST /gradio_api/cancel`` cancels the
*running* task of the session's function whichever event it is (then leaves the stream waiting for a
completion that never comes). So a stopped run is cancelled:

- when it is the stream's last listener: by closing the stream (nothing else is lost); a stream whose request
  the Space has not answered yet is let through and ended once it does, since events whose stream never
  came run all the same (seen on 6.31);
- when it has started (its ``process_starts`` came): by ``/cancel`` now, as the running one it is;
- when it is still queued: by ``/cancel`` at the moment it starts, so the run before it is not hit;
- when it was stopped before its join's reply came: as above, once that reply names the event;
- when another event of the same function runs beside it (a server with ``concurrency_limit > 1``):
  once it runs alone, since ``/cancel`` would stop them all; its result, if it comes first, is dropped.

A stream that ends while listeners remain (a join that raced ``close_stream``, a server that closes
after each event) is opened again. Pure: the network is the ``HttpSession``'s.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Callable

from ..errors import G4FError, StreamError, one_line
from ..http.deadline import Deadline
from ..http.session import DRAIN_GRACE, HttpSession
from .messages import queue_message

__all__ = ["SharedStream", "MAX_EARLY", "MAX_IDLE_REOPENS"]

log = logging.getLogger(__name__)

# messages kept for events whose join reply has not been read yet, all such events together: a join in flight
# hears a few (its estimations) before its reply; a Space that names events nobody joined gets no more room
MAX_EARLY = 2000
# seconds a stopped event must be found alone before its /cancel goes: long enough to hear siblings the
# Space started at the same moment, short beside any generation
CANCEL_QUIET = 0.3
MAX_IDLE_REOPENS = 3  # streams in a row that brought nothing: the Space is not serving this session
END_WITHIN = 10.0  # seconds a stream closed before the Space answered its request may take to be answered


async def _to_end(events: AsyncIterator[Any], grace: float) -> None:
    """Read a stream's last bytes after ``close_stream`` (Gradio ends the body right after it), so that
    its connection goes back to the pool: left unread, the connection is closed, and the next stream
    pays a new connection (a TLS handshake) whenever the end came in a packet of its own."""

    async def rest() -> None:
        async for _ in events:
            pass

    try:
        await asyncio.wait_for(rest(), grace)
    except (asyncio.TimeoutError, G4FError):
        pass  # not ended in time, or broken: the connection is closed instead


class SharedStream:
    """The stream of one Space (base URL, proxy): one session hash, many listeners."""

    def __init__(self, session: HttpSession, base: str, session_hash: str, headers: dict[str, str],
                 proxy: str | None) -> None:
        self.session, self.base, self.session_hash = session, base, session_hash
        self.headers, self.proxy = headers, proxy
        self.url = f"{base}/gradio_api/queue/data?session_hash={session_hash}"
        self.listeners: dict[str, asyncio.Queue[Any]] = {}
        self.fns: dict[str, int] = {}
        self.started: set[str] = set()
        self.heard: set[str] = set()  # events the Space has spoken of on the stream
        self.claimed: set[str] = set()  # every event id a join of this session was answered with
        self.abandoned: dict[str, int] = {}  # stopped before they started: event id → fn index
        self.stopping: dict[str, tuple[int, bool]] = {}  # stopped in this turn of the loop: (fn, started)
        self.early: dict[str, list[dict[str, Any]]] = {}
        self._early_count = 0  # messages in early, all events together
        self.expecting = 0  # joins in flight that will listen here
        self.joins = 0  # joins sent under this session hash
        self.known = False  # the Space knows this session hash (an event of it completed)
        # stopped while another event of its function ran beside it: cancelled once it runs alone
        self.deferred: dict[str, int] = {}
        self.concurrent: set[int] = set()  # functions seen running several events of this session at once
        self._alone_since: dict[str, float] = {}  # deferred events found alone: since when (loop time)
        self.opened = 0  # streams opened, for tests and benchmarks
        self.early_opens = 0  # of which opened alongside a join, before its reply
        self.retired = False  # closed on purpose: new runs go to a new stream
        self._closed = False  # the session is closing: nothing new is sent
        self._pump: asyncio.Task[None] | None = None
        self._answered = False  # the Space answered the pump's current stream request (it has it)
        self._end_when_answered = False  # closed before that: ended as soon as the Space answers it
        self._cancels: set[asyncio.Task[Any]] = set()  # /cancel requests, joins of stopped runs

    @property
    def unstarted(self) -> int:
        """Events the Space accepted (their join replies read) whose start has not been heard."""
        return len(self.listeners) - len(self.started)

    # -- listeners -----------------------------------------------------------------------------
    def joining(self, probing: Callable[[], bool] | None = None) -> None:
        """A join is about to be sent. If the Space knows this session, the stream is opened now, beside
        the join: Gradio keeps a known session's stream waiting and puts the new event on it (seen on
        5.50 and 6.31), so the result comes one round trip sooner. A session it does not know yet gets
        "session not found", so a first join is sent alone and the stream opened after it, unless
        ``probing`` says that runs wait to learn what the server runs at once (its first
        ``process_starts`` are the signal): then the stream is tried beside the first join all the same, a
        turn of the loop after it. Heard before the join, it is refused and opened again after the join's
        reply (one more request); heard after, the starts come one round trip sooner."""
        self.expecting += 1
        self.joins += 1
        if self.known:
            self._open_early()
        elif probing is not None and self.joins == 1:
            asyncio.get_running_loop().call_soon(self._probe, probing)

    def _probe(self, probing: Callable[[], bool]) -> None:
        if probing():
            self._open_early()

    def _open_early(self) -> None:
        if self._closed or self.retired or (self._pump is not None and not self._pump.done()):
            return
        self.early_opens += 1
        self._pump = asyncio.get_running_loop().create_task(self._run())

    def joined(self) -> None:
        """A join sent after :meth:`joining` failed, or its run was stopped: nobody will listen for it."""
        self.expecting -= 1
        if self.deferred:
            self._run_alone()
        if not self.listeners and not self.abandoned and not self.expecting and self._pump is not None \
                and not self._pump.done():
            self.close_stream()  # opened early for a join that failed: nothing else would end it

    def listen(self, event_id: str, fn_index: int, joined: bool = False) -> asyncio.Queue[Any]:
        """The queue that receives ``event_id``'s messages (dicts), or an exception for all of them;
        ``joined``: its join was announced by :meth:`joining`."""
        if joined:
            self.expecting -= 1
        if event_id in self.claimed:  # not this request's own: which of the two it is, nothing tells
            self._refuse(event_id)
        self.claimed.add(event_id)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.listeners[event_id] = queue
        self.fns[event_id] = fn_index
        early = self._take_early(event_id)
        for msg in early:
            self._deliver(event_id, msg)
        complete = any(m.get("msg") == "process_completed" for m in early)  # its result came before it listened
        if not complete and (self._pump is None or self._pump.done()):
            self._pump = asyncio.get_running_loop().create_task(self._run())
        return queue

    def _refuse(self, event_id: str) -> None:
        """A join answered with an event id another join of this session already had (a reply read from the
        wrong request, or a Space that lies): neither run may take that event's result as its own. The one
        listening is failed too, what it had not read yet dropped."""
        exc = StreamError(f"the Space answered two requests with one event id ({one_line(event_id, 40)}); "
                          "neither result can be told apart, so both are refused")
        queue = self.listeners.get(event_id)
        if queue is not None:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(exc)
        raise exc

    def leave(self, event_id: str, finished: bool) -> None:
        """The listener is done: its result came (``finished``), or its run was stopped."""
        if self.listeners.pop(event_id, None) is None:
            return
        fn = self.fns.pop(event_id, 0)
        started = event_id in self.started
        self.started.discard(event_id)
        self.heard.discard(event_id)
        if self.deferred:
            self._run_alone()
        if not finished:
            if not self.stopping:  # Stop stops every run at once: decide when all of them have left
                asyncio.get_running_loop().call_soon(self._settle)
            self.stopping[event_id] = (fn, started)
        if not self.listeners:
            self._settle()  # the last one out: decided now, before any new run picks this stream

    def _settle(self) -> None:
        stopping, self.stopping = self.stopping, {}
        if not stopping:
            return
        if not self.listeners and not self.expecting:
            self.close_stream()  # Gradio cancels what the session still has: only stopped runs
            return
        for event_id, (fn, started) in stopping.items():
            if started:
                self._cancel_alone(event_id, fn)
            else:
                self.abandoned[event_id] = fn

    def stopped_joining(self, join: asyncio.Task[str | None], fn_index: int) -> None:
        """A run was stopped while its join was in flight: the Space may hold the event all the same.
        Once the join's reply names it, it is cancelled as any stopped run is (queued: when it starts,
        if other runs share the stream; at once otherwise)."""
        self._cancels.add(join)  # closed with the session, as a /cancel is

        def done(task: asyncio.Task[str | None]) -> None:
            self._cancels.discard(task)
            if not task.cancelled() and task.exception() is None and task.result():
                self._orphan(task.result(), fn_index)  # type: ignore[arg-type]  # a str: checked
            self.joined()

        join.add_done_callback(done)

    def _orphan(self, event_id: str, fn_index: int) -> None:
        kinds = {m.get("msg") for m in self._take_early(event_id)}
        if "process_completed" in kinds:
            return
        if "process_starts" in kinds:
            self._cancel_alone(event_id, fn_index)
            return
        # Queued: /cancel now would hit the session's running run (and Gradio 5 leaves a queued event in
        # its queue), so listen for the moment it starts, on a stream of its own if no run is left.
        self.abandoned[event_id] = fn_index
        if not self._closed and (self._pump is None or self._pump.done()):
            self._pump = asyncio.get_running_loop().create_task(self._run())

    async def drained(self, grace: float) -> None:
        """With no listener left, wait (briefly) for the Space to end the stream: its connection then
        goes back to the pool for the next call instead of a new one being opened."""
        pump = self._pump
        if self.listeners or self.expecting or self.abandoned or self.deferred:
            return  # the stream goes on for them: nothing to wait for
        if pump is not None and not pump.done():
            await asyncio.wait({pump}, timeout=grace)

    def close_stream(self) -> None:
        """End the stream; the Space then drops every event of this session hash. The stream is retired:
        a run that joins afterwards gets a new stream with a new hash, since the Space may notice the
        disconnect only after that join, and would drop it too."""
        self.retired = True
        pump = self._pump
        if pump is not None and not pump.done():
            if self._answered or self._closed:
                pump.cancel()
            else:  # its request may not have reached the Space: cancelled now, the Space would never see the stream
                # go, and would run the session's events all the same (seen on Gradio 6.31): ended once it answers
                self._end_when_answered = True
                asyncio.get_running_loop().call_later(END_WITHIN, pump.cancel)
        self.abandoned.clear()
        self.deferred.clear()
        self._alone_since.clear()
        self.early.clear()
        self._early_count = 0

    def _on_answer(self) -> None:
        self._answered = True
        if self._end_when_answered:  # closed while its request was on its way: the Space sees it go now
            self._end_when_answered = False
            if self._pump is not None:
                self._pump.cancel()

    @property
    def idle(self) -> bool:
        """Nothing left running: a retired stream in this state can be forgotten."""
        return (self._pump is None or self._pump.done()) and not self._cancels

    async def aclose(self) -> None:
        """Stop the stream and any pending ``/cancel`` (the session is closing)."""
        self._closed = True
        self.close_stream()
        tasks = [t for t in (self._pump, *self._cancels) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the stream ------------------------------------------------------------------------------
    async def _run(self) -> None:
        idle = 0
        while self.listeners or self.abandoned or self.expecting or self.deferred:
            self.opened += 1
            got, end = False, None
            self._answered = False
            events = self.session.sse(self.url, deadline=Deadline(None), headers=self.headers, proxy=self.proxy,
                                      answered=self._on_answer)
            try:
                async for sse in events:
                    got = True
                    end = self._dispatch(sse.data)
                    if end:
                        break
                if end in ("closed", "forgotten"):  # Gradio ends the body after either
                    await _to_end(events, DRAIN_GRACE)
            except G4FError as exc:
                self._fail_all(exc)
                return
            except Exception as exc:  # noqa: BLE001 - whatever the reader meets, every listener hears it at once
                self._fail_all(StreamError(f"the stream could not be read ({type(exc).__name__})"))
                return
            finally:
                await events.aclose()
            # The Space is done with every event it told us about. Those without their result are lost;
            # those it has not spoken of yet joined after it decided to close: a new stream brings them.
            if end == "closed":  # the Space ends a stream only when the session has no event left
                self.abandoned.clear()
                self.deferred.clear()
            lost = StreamError("stream ended before the result")
            for eid in [e for e in self.listeners if e in self.heard or end is None]:
                self.listeners[eid].put_nowait(lost)
            idle = 0 if got and end != "forgotten" else idle + 1
            if idle >= MAX_IDLE_REOPENS:
                self._fail_all(StreamError("the Space ended the stream without the result"))
                return
            if not self.known and not self.listeners:
                return  # opened early for a session the Space has forgotten: listen() opens it again
            if not any(e not in self.heard for e in self.listeners):
                return  # a join still in flight gets its stream when it listens (its result may be in already)

    def _dispatch(self, data: str) -> str | None:
        """Route one message; how the stream ends: "closed" at ``close_stream``, "forgotten" when the
        Space does not know the session (any more), "failed"; None to read on."""
        try:
            msg = queue_message(data)
        except StreamError as exc:
            self._fail_all(exc)
            return "failed"
        if msg is None:
            return None
        kind, eid = msg.get("msg"), msg.get("event_id")
        if kind == "close_stream":
            return "closed"
        if kind == "process_completed":
            self.known = True
        elif msg.get("session_not_found"):  # forgotten (Gradio keeps 2,000 sessions), or opened before the
            self.known = False  # join got there: not the runs' error; this stream ends, opened again after the join
            return "forgotten"
        if eid is None:  # heartbeats and the session's own errors concern every run
            for queue in self.listeners.values():
                queue.put_nowait(msg)
            return None
        if eid in self.listeners:
            self._deliver(eid, msg)
        elif eid in self.abandoned:
            if kind == "process_starts":
                self._cancel_alone(eid, self.abandoned.pop(eid))
            elif kind == "process_completed":
                self.abandoned.pop(eid, None)
        elif eid in self.deferred:
            if kind == "process_completed":  # it ran to its end beside the others: dropped unread
                self.deferred.pop(eid, None)
                self._alone_since.pop(eid, None)
        else:
            self._keep_early(eid, msg)
        return None

    def _take_early(self, eid: str) -> list[dict[str, Any]]:
        taken = self.early.pop(eid, [])
        self._early_count -= len(taken)
        return taken

    def _keep_early(self, eid: Any, msg: dict[str, Any]) -> None:
        """Keep a message for an event whose join reply is still on its way; past ``MAX_EARLY`` in all, the
        oldest event's go first (bounded memory, whatever ids the Space makes up)."""
        self.early.setdefault(eid, []).append(msg)
        self._early_count += 1
        while self._early_count > MAX_EARLY:
            self._take_early(next(iter(self.early)))

    def _deliver(self, eid: str, msg: dict[str, Any]) -> None:
        if msg.get("msg") == "process_starts":
            fn = self.fns.get(eid)
            if any(self.fns.get(e) == fn for e in self.started):
                self.concurrent.add(fn)  # type: ignore[arg-type]  # this Space runs several of them at once
            self.started.add(eid)
        self.heard.add(eid)
        self.listeners[eid].put_nowait(msg)

    def _fail_all(self, exc: BaseException) -> None:
        for queue in self.listeners.values():
            queue.put_nowait(exc)

    def _alone(self, event_id: str, fn_index: int) -> bool:
        """Whether ``/cancel`` for ``event_id`` can take no other event: no other event of its function has
        started here, and, on a Space seen running several of them at once, none is queued or joining
        either: one of those may start at the Space before its "process_starts" is read here (seen through
        nginx over TLS: the /cancel sent as the first siblings finished took the next one, just started).
        A Space that runs one at a time, as every ZeroGPU Space does, starts a queued one only after the
        stopped one ended."""
        others = self.listeners if fn_index in self.concurrent else self.started
        if any(self.fns.get(e) == fn_index for e in others if e != event_id):
            return False
        return fn_index not in self.concurrent or not self.expecting

    def _cancel_alone(self, event_id: str, fn_index: int) -> None:
        """``/cancel`` for a stopped event that runs; Gradio cancels every running task of the function in
        the session, so it waits while another of them may run (a server with ``concurrency_limit > 1``)."""
        self.deferred[event_id] = fn_index
        self._run_alone()

    def _run_alone(self) -> None:
        """Cancel the stopped events found alone for ``CANCEL_QUIET`` seconds: siblings that the Space
        started at the same moment (before the stopped one, or right after its neighbours ended) show
        their "process_starts" within it, and the Space is then known to run several at once."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for event_id, fn in list(self.deferred.items()):
            if not self._alone(event_id, fn):
                self._alone_since.pop(event_id, None)
                continue
            since = self._alone_since.setdefault(event_id, now)
            if now - since >= CANCEL_QUIET:
                del self.deferred[event_id]
                self._alone_since.pop(event_id, None)
                self._cancel(event_id, fn)
            elif since == now:  # found alone just now: look again once the quiet time is over
                loop.call_later(CANCEL_QUIET, self._run_alone)

    def _cancel(self, event_id: str, fn_index: int) -> None:
        """``/cancel`` for one event, in the background: the caller is being cancelled itself."""
        if self._closed:
            return
        body = {"session_hash": self.session_hash, "fn_index": fn_index, "event_id": event_id}

        async def send() -> None:
            try:
                await self.session.json("POST", f"{self.base}/gradio_api/cancel", deadline=Deadline(30.0),
                                        json_body=body, headers={}, proxy=self.proxy)
            except G4FError as exc:  # the run is stopped on our side all the same
                log.debug("cancel of %s on %s failed: %s", event_id, self.base, exc)

        task = asyncio.get_running_loop().create_task(send())
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)
