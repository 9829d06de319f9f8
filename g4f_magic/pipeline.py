"""One connection per Space for queue joins, with HTTP/1.1 pipelining: concurrent runs send their joins
back to back on it instead of opening a connection each.

aiohttp sends one request at a time per connection, so twenty concurrent joins took twenty connections
although they share one ``queue/data`` stream. A join is a small POST answered at once with an event id,
and an HTTP/1.1 server answers pipelined requests in order (RFC 9112 §9.3.2; Gradio's uvicorn does,
seen on 5.50 and 6.31, and so does aiohttp's server). A request on its own is plain keep-alive HTTP/1.1.

A reply that says ``Connection: close`` ends the connection: the requests sent after it were not read
(RFC 9112 §9.6), so they are sent again on a new one. A connection that breaks with replies outstanding
fails those requests (a join may have reached the Space: it is not sent twice). An idle connection is
closed after :data:`KEEPALIVE` seconds, as aiohttp's pool does.

h11 (python-hyper's HTTP/1.1 state machine, the one under uvicorn and httpx) reads the replies: the
server's bytes, framed by length or in chunks, with header limits, are its job rather than hand-written
parsing. The request is ours and simple (a request line, our headers, a JSON body), so it is written
directly, refusing a line break in a header. Errors are raised as aiohttp's connection errors, so the
one translation in :mod:`client` turns them into the project's.
"""

from __future__ import annotations

import asyncio
import collections
import re
import ssl
from dataclasses import dataclass, field
from typing import Mapping

import aiohttp
import h11

__all__ = ["Pipe", "Reply", "ConnectFailed", "Broken", "KEEPALIVE"]

KEEPALIVE = 15.0  # seconds an idle connection is kept (aiohttp's default keepalive_timeout)
CONNECT_TIMEOUT = 30.0
_USER_AGENT = f"user-agent: {aiohttp.http.SERVER_SOFTWARE}"  # as every other request of the session
_BREAKS = re.compile(r"[\r\n\0]")
_END = h11.EndOfMessage()


class ConnectFailed(aiohttp.ClientConnectionError):
    """The connection could not be made; ``os_error`` says why."""

    def __init__(self, os_error: OSError) -> None:
        super().__init__(os_error)
        self.os_error = os_error


class Broken(aiohttp.ClientConnectionError):
    """The connection ended or spoke garbage before this request's reply."""


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class _Sent:
    data: bytes = field(repr=False)  # the request as sent: its headers carry the ZeroGPU token
    method: str
    future: asyncio.Future[Reply]


class _Connection(asyncio.Protocol):
    """One connection: replies are read as bytes arrive (a protocol, no task), in the order sent."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.parser = h11.Connection(h11.CLIENT)
        self.waiting: collections.deque[_Sent] = collections.deque()  # sent, reply not read yet
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.writable = asyncio.Event()
        self.writable.set()
        self._head: h11.Response | None = None
        self._body = bytearray()

    # asyncio's calls
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.waiting:
            self.pipe._end(self, Broken("the server sent data nobody asked for"))
            return
        self.parser.receive_data(data)
        self._advance()

    def eof_received(self) -> bool:
        if self.waiting:
            self.parser.receive_data(b"")  # h11 tells whether the end was allowed here
            self._advance()
        self.pipe._end(self, Broken("the server closed the connection before the reply"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()  # a writer waiting for room wakes to find the connection closed
        self.pipe._end(self, Broken(f"connection broke: {type(exc).__name__}" if exc else
                                    "the server closed the connection before the reply"))

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    # the replies
    def _advance(self) -> None:
        try:
            while self.waiting:
                if self.parser.our_state is h11.IDLE:  # tell h11 what the next reply answers (a HEAD has no body)
                    self.parser.send(self.pipe.stand_in(self.waiting[0].method))
                    self.parser.send(_END)  # (the request's own bytes went out already)
                event = self.parser.next_event()
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.Response):
                    self._head = event
                elif isinstance(event, h11.Data):
                    self._body += event.data
                    if len(self._body) > self.pipe.max_body:
                        raise Broken(f"a reply larger than {self.pipe.max_body} bytes")
                elif isinstance(event, h11.EndOfMessage) and self._head is not None:
                    self._answer(self._head, bytes(self._body))
                    self._head, self._body = None, bytearray()
                    if self.parser.their_state is h11.MUST_CLOSE:  # "Connection: close", or HTTP/1.0
                        self.pipe._reopen(self)  # the requests sent after this reply were not read
                        return
                    self.parser.start_next_cycle()
                    if not self.waiting:
                        self.pipe._rest(self)
                elif isinstance(event, h11.ConnectionClosed):
                    raise Broken("the server closed the connection before the reply")
                # an InformationalResponse (1xx) comes before the real reply: read on
        except (Broken, h11.ProtocolError) as exc:
            self.pipe._end(self, exc if isinstance(exc, Broken) else Broken(f"a malformed reply ({exc})"))

    def _answer(self, head: h11.Response, body: bytes) -> None:
        sent = self.waiting.popleft()
        if not sent.future.done():  # (a request given up still has its reply read, and dropped)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in head.headers}
            sent.future.set_result(Reply(head.status_code, head.reason.decode("latin-1"), headers, body))


class Pipe:
    """Requests to one origin (scheme, host, port) on one kept-alive, pipelined connection."""

    def __init__(self, scheme: str, host: str, port: int, max_body: int) -> None:
        self.scheme, self.host, self.port, self.max_body = scheme, host, port, max_body
        default = 443 if scheme == "https" else 80
        self.authority = host if port == default else f"{host}:{port}"
        self.opened = 0  # connections made, for tests and benchmarks
        self._conn: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # requests being sent again on a new connection
        self._stand_ins: dict[str, h11.Request] = {}

    def stand_in(self, method: str) -> h11.Request:
        """The request h11 is told a reply answers (made once: h11 validates every event it is given)."""
        event = self._stand_ins.get(method)
        if event is None:
            event = self._stand_ins[method] = h11.Request(
                method=method, target="/", headers=[("host", self.authority), ("content-length", "0")])
        return event

    async def request(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Send now (behind any requests already sent) and wait for this request's reply."""
        lines = [f"{method} {target} HTTP/1.1", f"host: {self.authority}", _USER_AGENT,
                 f"content-length: {len(body)}"]
        for name, value in headers.items():
            if _BREAKS.search(name) or _BREAKS.search(value):  # one header must not become two
                raise ValueError(f"a line break in the {name.splitlines()[0]!r} header")
            lines.append(f"{name}: {value}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        sent = _Sent(data, method, asyncio.get_running_loop().create_future())
        try:
            await self._send(sent)
            return await sent.future
        finally:
            if not sent.future.done():  # given up: its reply, when it comes, is read and dropped
                sent.future.cancel()

    async def aclose(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        if self._conn is not None:
            self._end(self._conn, Broken("the session was closed"))
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the connection --------------------------------------------------------------------------
    async def _send(self, sent: _Sent) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        assert conn.transport is not None
        conn.waiting.append(sent)  # in the order written: the replies come in this order
        conn.transport.write(sent.data)
        if not conn.writable.is_set():  # a large prompt: wait for room in the socket
            await conn.writable.wait()

    async def _connect(self) -> _Connection:
        self._connecting = self._connecting or asyncio.Lock()
        async with self._connecting:
            if self._conn is not None and not self._conn.closed:
                return self._conn  # another request made it meanwhile
            context = None
            if self.scheme == "https":
                context = ssl.create_default_context()
                context.set_alpn_protocols(["http/1.1"])
            loop = asyncio.get_running_loop()
            try:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(lambda: _Connection(self), self.host, self.port, ssl=context,
                                           server_hostname=self.host if context else None),
                    CONNECT_TIMEOUT)
            except asyncio.TimeoutError as exc:
                raise ConnectFailed(TimeoutError("timed out")) from exc
            except OSError as exc:
                raise ConnectFailed(exc) from exc
            self.opened += 1
            self._conn = conn
            return conn

    def _rest(self, conn: _Connection) -> None:
        """Every reply is in: close the connection if nothing is sent on it for a while."""
        if self._conn is conn:
            if self._idle is not None:
                self._idle.cancel()
            self._idle = asyncio.get_running_loop().call_later(KEEPALIVE, self._close_idle, conn)

    def _close_idle(self, conn: _Connection) -> None:
        self._idle = None
        if not conn.waiting:
            self._end(conn, Broken("idle"))

    def _reopen(self, conn: _Connection) -> None:
        """The server ends the connection after a reply: what was sent after it goes on a new one."""
        rest = list(conn.waiting)
        conn.waiting.clear()
        self._end(conn, Broken("the server closed the connection"))  # nothing waits on it any more
        if not rest:
            return

        async def again() -> None:
            for sent in rest:
                if sent.future.done():
                    continue
                try:
                    await self._send(sent)
                except aiohttp.ClientConnectionError as exc:
                    if not sent.future.done():
                        sent.future.set_exception(exc)

        task = asyncio.get_running_loop().create_task(again())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _end(self, conn: _Connection, error: Broken) -> None:
        """Close the connection; requests still waiting for their reply fail with ``error``."""
        if self._conn is conn:
            self._conn = None
        if conn.closed:
            return
        conn.closed = True
        while conn.waiting:
            sent = conn.waiting.popleft()
            if not sent.future.done():
                sent.future.set_exception(error)
        if conn.transport is not None:
            conn.transport.abort()  # no polite TLS shutdown: it can outlive the loop (see client._discard)
