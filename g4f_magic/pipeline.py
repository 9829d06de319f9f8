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

The replies are read by :class:`Replies`, a small HTTP/1.1 response reader (framing by length, by
chunks or by the connection's end; bounded head and body). h11 did this first and was right, but it took
about 30 µs a reply, 7% of the client's CPU per call, where the issue asks for the floor's. The request
is ours and simple (a request line, our headers, a JSON body), so it is written directly, refusing a
line break in a header. Errors are raised as aiohttp's connection errors, so the one translation in
:mod:`client` turns them into the project's.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
import ssl
from dataclasses import dataclass, field
from typing import Mapping

import aiohttp

__all__ = ["Pipe", "Reply", "Replies", "ConnectFailed", "Broken", "KEEPALIVE"]

KEEPALIVE = 15.0  # seconds an idle connection is kept (aiohttp's default keepalive_timeout)
CONNECT_TIMEOUT = 30.0
_USER_AGENT = f"user-agent: {aiohttp.http.SERVER_SOFTWARE}"  # as every other request of the session
_BREAKS = re.compile(r"[\r\n\0]")
MAX_HEAD = 64 * 1024  # a reply's status line and headers
_STATUS = re.compile(rb"HTTP/1\.([01]) (\d{3})(?: ([^\r\n]*))?")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*)?")


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Made once (loading the system's CA list takes milliseconds), as aiohttp does for its own."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


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
    future: asyncio.Future[Reply]


class Replies:
    """HTTP/1.1 replies from the bytes of one connection, in order.

    :meth:`feed` takes bytes as they come and returns the replies they complete; ``b""`` is the end of
    the connection. Bytes that break the framing raise :class:`Broken`. ``must_close`` is set by a reply
    after which the server ends the connection (``Connection: close``, HTTP/1.0, a body that runs to the
    end): nothing after it is read, and the requests sent after it were not read by the server either.
    Only replies with a body are expected (answers to POST): there is no HEAD here."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.must_close = False
        self._buf = bytearray()
        self._head: tuple[int, str, dict[str, str]] | None = None
        self._left: int | None = None  # body bytes still due, in a length-framed body or the current chunk
        self._chunked = False
        self._to_end = False  # the body runs to the connection's end
        self._body = bytearray()
        self._ended = False

    def feed(self, data: bytes) -> list[Reply]:
        if self.must_close and self._head is None:
            return []  # the reply that ended the connection is out: what follows is not read
        if self._ended:
            raise Broken("the server sent data after closing its side")
        if data:
            self._buf += data
        else:
            self._ended = True
        replies = []
        while not (replies and self.must_close):  # nothing after a reply that ends the connection counts
            reply = self._next()
            if reply is None:
                break
            replies.append(reply)
        if self._ended and (self._head is not None or self._buf) and not replies:
            raise Broken("the server closed the connection in the middle of a reply")
        return replies

    def _next(self) -> Reply | None:
        while self._head is None:  # (an informational 1xx reply leaves it None: the real one follows)
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    raise Broken(f"a reply's head is longer than {MAX_HEAD} bytes")
                return None
            head = bytes(self._buf[:end])
            del self._buf[:end + 4]
            self._start(head)
        if self._chunked:
            done = self._chunks()
        elif self._to_end:
            self._take(len(self._buf))
            done = self._ended
        else:
            self._take(min(self._left or 0, len(self._buf)))
            done = self._left == 0
        if not done:
            return None
        assert self._head is not None
        status, reason, headers = self._head
        reply = Reply(status, reason, headers, bytes(self._body))
        self._head, self._body = None, bytearray()
        return reply

    def _start(self, head: bytes) -> None:
        """Read a reply's head (an informational one is dropped: it has no body, another head follows)."""
        line, *fields = head.split(b"\r\n")
        status = _STATUS.fullmatch(line)
        if status is None:
            raise Broken("a reply that is not HTTP/1.x")
        code = int(status.group(2))
        headers: dict[str, str] = {}
        for field_ in fields:
            name, colon, value = field_.partition(b":")
            if not colon or not name or name != name.strip() or name[:1] in b" \t":
                raise Broken("a malformed header line in a reply")
            key = name.decode("latin-1").lower()
            text = value.strip(b" \t").decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        if 100 <= code < 200:
            return
        self._head = (code, (status.group(3) or b"").decode("latin-1"), headers)
        connection = headers.get("connection", "").lower()
        self.must_close = "close" in connection or (status.group(1) == b"0" and "keep-alive" not in connection)
        self._chunked = self._to_end = False
        if code in (204, 304):
            self._left = 0
        elif headers.get("transfer-encoding", "").lower().rsplit(",", 1)[-1].strip() == "chunked":
            self._chunked, self._left = True, None
        elif "transfer-encoding" in headers:
            raise Broken("a reply in a transfer coding other than chunked")
        elif "content-length" in headers:
            lengths = {v.strip() for v in headers["content-length"].split(",")}
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise Broken("a reply with a malformed content-length")
            self._left = int(lengths.pop())
            if self._left > self.max_body:
                raise Broken(f"a reply larger than {self.max_body} bytes")
        else:
            self._to_end, self.must_close = True, True

    def _take(self, n: int) -> None:
        self._body += self._buf[:n]
        del self._buf[:n]
        if self._left is not None:
            self._left -= n
        if len(self._body) > self.max_body:
            raise Broken(f"a reply larger than {self.max_body} bytes")

    def _chunks(self) -> bool:
        """Read chunks; True once the last one (size 0) and its trailer are in."""
        while True:
            if self._left is None:  # at a chunk's size line
                end = self._buf.find(b"\r\n")
                if end < 0:
                    if len(self._buf) > MAX_HEAD:
                        raise Broken("a chunk size line that does not end")
                    return False
                size = _CHUNK_SIZE.fullmatch(bytes(self._buf[:end]))
                if size is None:
                    raise Broken("a malformed chunk size in a reply")
                del self._buf[:end + 2]
                self._left = int(size.group(1), 16)
                if self._left == 0:
                    self._left = -1  # the last chunk: a trailer follows, up to a blank line
            if self._left == -1:
                end = self._buf.find(b"\r\n")
                while end > 0:  # trailer fields are read and dropped
                    del self._buf[:end + 2]
                    end = self._buf.find(b"\r\n")
                if end < 0:
                    return False
                del self._buf[:2]
                self._left = None
                return True
            self._take(min(self._left, len(self._buf)))
            if self._left:
                return False
            if len(self._buf) < 2:
                self._left = 0
                return False
            if self._buf[:2] != b"\r\n":
                raise Broken("a chunk longer than its size")
            del self._buf[:2]
            self._left = None


class _Connection(asyncio.Protocol):
    """One connection: replies are read as bytes arrive (a protocol, no task), in the order sent."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.replies = Replies(pipe.max_body)
        self.waiting: collections.deque[_Sent] = collections.deque()  # sent, reply not read yet
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.writable = asyncio.Event()
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.waiting:
            self.pipe._end(self, Broken("the server sent data nobody asked for"))
            return
        self._read(data)

    def eof_received(self) -> bool:
        if self.waiting:
            self._read(b"")
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

    def _read(self, data: bytes) -> None:
        try:
            replies = self.replies.feed(data)
            if len(replies) > len(self.waiting):
                raise Broken("the server sent more replies than requests")
        except Broken as exc:
            self.pipe._end(self, exc)
            return
        for reply in replies:
            sent = self.waiting.popleft()
            if not sent.future.done():  # (a request given up still has its reply read, and dropped)
                sent.future.set_result(reply)
        if self.replies.must_close and replies:
            self.pipe._reopen(self)  # the requests sent after that reply were not read
        elif replies and not self.waiting:
            self.pipe._rest(self)


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

    async def post(self, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """POST now (behind any requests already sent) and wait for this request's reply."""
        lines = [f"POST {target} HTTP/1.1", f"host: {self.authority}", _USER_AGENT,
                 f"content-length: {len(body)}"]
        for name, value in headers.items():
            if _BREAKS.search(name) or _BREAKS.search(value):  # one header must not become two
                raise ValueError(f"a line break in the {name.splitlines()[0]!r} header")
            lines.append(f"{name}: {value}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        sent = _Sent(data, asyncio.get_running_loop().create_future())
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
            context = _tls_context() if self.scheme == "https" else None
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
