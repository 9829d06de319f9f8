"""One call's requests to a Gradio server: join, the shared stream, upload, functions found by name.

Gradio-generic: a :class:`GradioCall` knows a server's base URL, its session, its deadline and a proxy;
what Hugging Face adds (tokens, referers, gateways) is the Spaces layer's subclass. The per-loop state
(streams, moved functions, run slots) is kept on the HTTP session by :func:`servers_of`.
"""

from __future__ import annotations

import asyncio
import collections
import io
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, Callable, Mapping

import aiohttp

from ..errors import G4FError, G4FTimeout, GenerationError, SpaceUnavailable, StreamError
from ..events import Reasoning
from ..http.deadline import Deadline
from ..http.session import DRAIN_GRACE, HttpSession
from ..media import MediaItem
from .functions import Fn, from_config, may_have_moved
from .messages import Completed, Generating, QueueDecoder, image_urls, upload_paths
from .stream import SharedStream

__all__ = ["GradioCall", "Servers", "RunSlots", "servers_of", "queue_body", "FIRST_SLOTS"]

log = logging.getLogger(__name__)


def queue_body(data: list[Any], fn_index: int, trigger_id: int | None, session_hash: str) -> dict[str, Any]:
    """The JSON of a Gradio ``queue/join``."""
    return {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": trigger_id,
            "session_hash": session_hash}


FIRST_SLOTS = 2  # runs in flight on a server not yet seen running several at once: one running, one queued


class RunSlots:
    """A server's run slots, each run holding one from its join to its result. A server that runs one event at a
    time (a ZeroGPU Space; Gradio's default ``concurrency_limit`` is 1) gets two in flight: one running and the
    next queued behind it, so it never idles, while the rest wait here, where a Stop or a quota refusal costs
    no request. A server seen running every run in flight at once (their ``process_starts``) may take more: it
    is given twice as many, as TCP's slow start does, so a server that runs four at once is found in one round
    trip rather than one slot per round trip. Once runs of ours wait at the server, its capacity is known: what
    it runs at once, and as many queued behind them, since runs that started together end together and each
    freed worker must find the next run there while the freed slot's join is on its way (more when runs end
    faster than a join's round trip), up to ``ceiling`` (the ``space_concurrency`` setting). The user's own
    server that runs four at once is learned, not configured."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = min(FIRST_SLOTS, ceiling)
        self.held = 0
        self.most_running = 0  # the most of this loop's events seen running on it at once
        self.join_time = 0.0  # a join's round trip, seconds (a running average)
        self.run_time = 0.0  # a run's time from its start to its result
        self.pinned = False  # held to FIRST_SLOTS (pin)
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def __aenter__(self) -> None:
        if self.held < self.limit and not self._waiting:
            self.held += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # _wake counts the slot as held before it resolves the turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # given a slot just as it was stopped: handed on
                self.held -= 1
                self._wake()
            elif turn in self._waiting:
                self._waiting.remove(turn)
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.held -= 1
        self._wake()

    def pin(self) -> None:
        """Two in flight from now on, whatever was learned: the layer above found the server runs on a shared GPU
        (ZeroGPU), where runs seen "running" at once may be waiting for the GPU inside it, each a refusal to be."""
        self.pinned = True
        self.limit = min(FIRST_SLOTS, self.ceiling)

    def probing(self) -> bool:
        """Runs wait for a slot while what the server runs at once may still be learned: the sooner its
        ``process_starts`` are heard, the sooner they are sent."""
        return bool(self._waiting) and not self.pinned

    def saw_running(self, now: int, waiting: int = 0) -> None:
        """``now`` of this loop's events run on the server at once (one of them just started), ``waiting`` more
        were accepted by it and have not started: they wait in its queue, or their start is on its way."""
        self.most_running = max(self.most_running, now)
        if self.pinned or self.most_running < 2:  # one at a time (a ZeroGPU Space): one queued, whatever the times
            return
        if waiting:  # the server holds runs of ours back: what it runs at once is its capacity
            self._fit(settle=True)
        elif now >= self.held:  # every run in flight runs: it may take more than it was given
            self.limit = max(self.limit, min(self.ceiling, 2 * now))
            self._wake()

    def saw_join(self, seconds: float) -> None:
        self.join_time = _averaged(self.join_time, seconds)

    def saw_run(self, seconds: float) -> None:
        self.run_time = _averaged(self.run_time, seconds)
        self._fit(settle=False)

    def _fit(self, settle: bool) -> None:
        """What the server runs at once plus what keeps it fed; ``settle``: also less than a probe gave (the slots
        held over it are kept until their runs end)."""
        running = self.most_running
        if running < 2 or self.pinned:
            return
        # runs that started together end together: as many queued as run, so no freed worker waits for a join;
        # more when every run ends before a freed slot's next join has arrived
        behind = max(running, math.ceil(running * self.join_time / self.run_time)) if self.run_time > 0 else running
        fit = max(min(FIRST_SLOTS, self.ceiling), min(self.ceiling, running + behind))
        self.limit = fit if settle else max(self.limit, fit)
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self.held < self.limit:
            turn = self._waiting.popleft()
            if not turn.done():
                self.held += 1
                turn.set_result(None)


def _averaged(average: float, seconds: float) -> float:
    return seconds if average == 0 else 0.7 * average + 0.3 * seconds


class Servers:
    """What one event loop knows of the Gradio servers it talks to (kept on its HTTP session)."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str | None], SharedStream] = {}  # (base, proxy) → its queue stream
        self._retired: list[SharedStream] = []  # closed streams whose pump or /cancel may still be running
        self.functions: dict[tuple[str, str], Fn] = {}  # (base, function name) → where it moved
        self._slots: dict[tuple[str, int], RunSlots] = {}  # (base, ceiling) → its run slots

    def stream(self, session: HttpSession, base: str, headers: dict[str, str], proxy: str | None) -> SharedStream:
        """The one ``queue/data`` stream of a server (per proxy) that concurrent events share."""
        stream = self.streams.get((base, proxy))
        if stream is None or stream.retired:
            if stream is not None:
                self._retired = [s for s in self._retired if not s.idle] + [stream]  # until its work is done
            stream = self.streams[(base, proxy)] = SharedStream(session, base, uuid.uuid4().hex[:12], headers, proxy)
        return stream

    def slots(self, base: str, ceiling: int) -> RunSlots:
        """The run slots of the server at ``base``: every run on this loop holds one from its join to its
        result; see :class:`RunSlots` for how many, never more than ``ceiling``."""
        slots = self._slots.get((base, ceiling))
        if slots is None:
            slots = self._slots[(base, ceiling)] = RunSlots(ceiling)
        return slots

    async def aclose(self) -> None:
        streams, self.streams = [*self.streams.values(), *self._retired], {}
        self._retired = []
        for stream in streams:
            await stream.aclose()


def servers_of(session: HttpSession) -> Servers:
    return session.keep("gradio", Servers)


@dataclass(kw_only=True)
class GradioCall:
    session: HttpSession
    deadline: Deadline
    proxy: str | None = field(default=None, repr=False)  # a proxy URL may carry user:password
    concurrency: int  # the most runs in flight per server (its run slots learn how many it takes, up to this)
    public: Mapping[str, str] = field(default_factory=dict)  # base through a gateway → the server's own address
    # seconds a server may take to answer a join (and to say the first word of its event) while another server
    # could take the run: past it, the server is taken for unavailable and the run goes on elsewhere
    answer_within: float | None = None
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def slot(self, base: str) -> RunSlots:
        """One of the server's run slots, held from the join to the result."""
        return servers_of(self.session).slots(base, self.concurrency)

    async def join(self, base: str, body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
        reply = await self.session.json("POST", f"{base}/gradio_api/queue/join?__theme=light", deadline=self.deadline,
                                        json_body=body, headers=dict(headers), proxy=self.proxy)
        event_id = reply.get("event_id") if isinstance(reply, dict) else None
        return event_id if isinstance(event_id, str) and event_id else None

    async def join_shared(self, stream: SharedStream, body: dict[str, Any], headers: Mapping[str, str],
                          fn: Fn, probing: Callable[[], bool] | None = None) -> str:
        """Join on the shared stream. A run stopped while its join is in flight still leaves the event on
        the Space: the join then finishes in the background and the stream cancels what it names."""
        stream.joining(probing)
        join = asyncio.ensure_future(self.join(stream.base, body, headers))
        try:
            event_id = await asyncio.wait_for(asyncio.shield(join), self.answer_within)
        except asyncio.CancelledError:
            stream.stopped_joining(join, fn.index)
            raise
        except asyncio.TimeoutError:  # the join goes on in the background; what it names is cancelled
            stream.stopped_joining(join, fn.index)
            raise self.unanswered("its join") from None
        except BaseException:
            stream.joined()
            raise
        if event_id is None:
            stream.joined()
            raise StreamError("the Space accepted the job without an event_id")
        return event_id  # still expected on the stream: queued listens for it next

    async def queued(self, base: str, fn: Fn, data: list[Any], headers: Mapping[str, str],
                     stream_headers: Mapping[str, str] | None = None
                     ) -> AsyncGenerator[Reasoning | Generating | Completed, None]:
        """One event of ``fn`` with ``data``, in one of the Space's run slots: joined on its shared stream
        (concurrent runs join under its session hash), then that event's messages within this call's
        deadline. ``stream_headers`` go with the stream's request when this call opens it."""
        slots = self.slot(base)
        async with slots:
            stream = self.stream(base, stream_headers)  # the same one, unless a stop retired it meanwhile
            body = queue_body(data, fn.index, fn.trigger, stream.session_hash)
            sent = time.monotonic()
            event_id = await self.join_shared(stream, body, headers, fn, slots.probing)
            slots.saw_join(time.monotonic() - sent)
            began = 0.0
            messages = stream.listen(event_id, fn.index, joined=True)
            decoder = QueueDecoder(event_id)
            finished = False
            heard = False
            try:
                while True:
                    if messages.empty():  # a wait: bounded by the call's deadline
                        async with self.deadline.guard(base):
                            msg = await (messages.get() if heard else self._first(messages))
                        heard = True
                    else:  # already here (messages come in bursts): no timer to set and cancel
                        msg = messages.get_nowait()
                    if isinstance(msg, BaseException):
                        raise msg
                    for item in decoder.handle(msg):
                        if isinstance(item, Reasoning) and item.kind == "start":  # what the server runs at once
                            began = time.monotonic()
                            slots.saw_running(len(stream.started), stream.unstarted)
                        if isinstance(item, Completed):
                            if began:
                                slots.saw_run(time.monotonic() - began)
                            finished = True
                            stream.leave(event_id, True)
                            await stream.drained(DRAIN_GRACE)  # the last one out lets the connection go back
                            yield item
                            return
                        yield item
            except G4FTimeout:
                raise  # the Space may still run it: cancelled on leaving
            except G4FError as exc:
                # the event failed or the stream broke: nothing left to cancel; one never heard of may still run
                finished = heard or not isinstance(exc, SpaceUnavailable)
                raise
            finally:
                stream.leave(event_id, finished or decoder.done)

    async def _first(self, messages: asyncio.Queue[Any]) -> Any:
        """An event's first message, within ``answer_within`` when another server could take the run."""
        try:
            return await asyncio.wait_for(messages.get(), self.answer_within)
        except asyncio.TimeoutError:
            raise self.unanswered("the event it accepted") from None

    def unanswered(self, what: str) -> SpaceUnavailable:
        return SpaceUnavailable(f"Space unavailable: no word on {what} in {self.answer_within:g} s", 504)

    def stream(self, base: str, headers: Mapping[str, str] | None = None) -> SharedStream:
        """The server's shared ``queue/data`` stream; join under its ``session_hash`` to be on it."""
        sent = {"accept": "text/event-stream", **(headers or {})}
        return servers_of(self.session).stream(self.session, base, sent, self.proxy)

    async def upload(self, base: str, session_hash: str, item: MediaItem) -> dict[str, Any]:
        form = aiohttp.FormData()
        # a stream, not bytes: aiohttp would warn (and copy) for a body over 1 MiB
        form.add_field("files", io.BytesIO(item.data), filename=item.name, content_type=item.mime_type)
        reply = await self.session.json(
            "POST", f"{base}/gradio_api/upload?upload_id={session_hash}",
            deadline=self.deadline, data=form, proxy=self.proxy,
        )
        path = upload_paths(reply)[0]
        return {
            "path": path,
            "url": f"{base}/gradio_api/file={path}",
            "orig_name": item.name,
            "size": len(item.data),
            "mime_type": item.mime_type,
            "meta": {"_type": "gradio.FileData"},
        }

    async def located(self, base: str, fn: Fn) -> Fn:
        """Where ``fn`` is on the server: where this session last found it, else its pinned index, else
        found by name in the server's config (a function with no pinned index)."""
        known = servers_of(self.session).functions.get((base, fn.name), fn)
        if known.index >= 0:
            return known
        found = from_config(await self.session.json("GET", f"{base}/config", deadline=self.deadline,
                                                    proxy=self.proxy), fn)
        if found is None:
            raise GenerationError(f"the Space has no function named {fn.name} (its /config)")
        moved, labels = found
        if moved.arity != fn.arity:
            raise GenerationError(f"the Space's {fn.name} takes {moved.arity} inputs ({', '.join(labels)}); "
                                  f"this client sends {fn.arity}")
        servers_of(self.session).functions[(base, fn.name)] = moved
        return moved

    async def moved(self, base: str, fn: Fn, known: Fn, failure: G4FError) -> Fn | None:
        """After ``failure`` of ``fn`` at ``known``: where the server has it now (remembered for the session),
        or None when it has not moved and the failure stands."""
        if not may_have_moved(failure):
            return None
        found = await self._find(base, fn)
        if found is None:
            return None
        moved, labels = found
        if moved.arity != fn.arity:
            raise GenerationError(
                f"the Space's {fn.name} now takes {moved.arity} inputs ({', '.join(labels)}); "
                f"this client sends {fn.arity}") from failure
        if moved == known:
            return None
        servers_of(self.session).functions[(base, fn.name)] = moved
        log.debug("%s: %s moved from fn_index %d to %d", base, fn.name, known.index, moved.index)
        return moved

    async def _find(self, base: str, fn: Fn) -> tuple[Fn, list[str]] | None:
        try:
            config = await self.session.json("GET", f"{base}/config", deadline=self.deadline, proxy=self.proxy)
        except G4FError:
            return None
        return from_config(config, fn)

    def image_urls(self, value: Any, base: str, file_route: str = "gradio_api/file=") -> tuple[str, ...]:
        """The result's image URLs (``public``: the server's own address when reached through a gateway)."""
        return image_urls(value, base, file_route, self.public.get(base))

    def finished(self) -> Reasoning:
        t = self.elapsed()
        return Reasoning(f"Finished {t:.2f}s", "finished", elapsed=t)
