"""HTTP for one event loop: the only module that touches the network.

One ``aiohttp.ClientSession`` per running loop serves every call (keep-alive; no request is pipelined)
together with the ZeroGPU token cache. aiohttp's errors are translated to the project's in :meth:`Deadline.guard`, HTTP error statuses in :func:`status_error`, and
:meth:`SpaceSession.sse` is the one SSE loop.
The session closes with :func:`aclose`, or by itself when ``asyncio.run`` shuts the loop down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import socket
import sys
import time
import uuid
import weakref
from typing import Any, AsyncIterator, Mapping

import aiohttp
from yarl import URL

from ..errors import (
    ConnectionFailed,
    G4FError,
    G4FTimeout,
    ResponseStatusError,
    SpaceUnavailable,
    StreamError,
    one_line,
)
from ..gradio.stream import SharedStream
from ..media import MAX_IMAGE_BYTES, image_mime
from ..spaces.refusals import refusal
from ..spaces.zerogpu import (
    FALLBACK_TOKEN,
    TokenCache,
    ZeroGPUToken,
    cookie_header,
    jwt_url,
    parse_jwt_reply,
    parse_space_page,
)
from .sse import SSEDecoder, SSEEvent

if sys.version_info >= (3, 11):
    from asyncio import timeout_at as _timeout_at
else:  # aiohttp depends on async-timeout before 3.11
    from async_timeout import timeout_at as _timeout_at

__all__ = [
    "Deadline", "SpaceSession", "get_session", "aclose", "raise_for_status", "fetch_image",
    "MAX_IMAGE_BYTES",
]

log = logging.getLogger(__name__)  # DEBUG: each request, its status and time (never a header or body)

MAX_ERROR_BODY = 64 * 1024
MAX_JSON_BODY = 16 * 1024 * 1024
CONNECT_TIMEOUT = 30.0
MAX_REDIRECTS = 5
LARGE_BODY = 1024 * 1024  # aiohttp's threshold for its "may block the loop" warning
_NO_JSON = object()
REDIRECTS = (301, 302, 303, 307, 308)
DRAIN_GRACE = 1.0


class Deadline:
    """A call's overall time limit, applied around each network wait (never across a yield).

    ``guard(url)`` is the one place where a wait is bounded and where aiohttp's exceptions become the
    project's: a plain object with no generator and no URL parsing unless an error needs the host
    (it runs around every SSE read)."""

    __slots__ = ("timeout", "_at")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._at = None if timeout is None else asyncio.get_running_loop().time() + timeout

    def guard(self, url: str) -> _Guard:
        """``async with deadline.guard(url):`` around one network wait."""
        return _Guard(self, url)


class _Guard:
    __slots__ = ("deadline", "url", "timer")

    def __init__(self, deadline: Deadline, url: str) -> None:
        self.deadline, self.url = deadline, url
        self.timer: Any = None

    async def __aenter__(self) -> None:
        if self.deadline._at is not None:
            self.timer = _timeout_at(self.deadline._at)
            await self.timer.__aenter__()

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if self.timer is not None:
            try:
                await self.timer.__aexit__(kind, exc, tb)  # a wait cut by the timer becomes TimeoutError
            except TimeoutError as cut:
                if isinstance(cut, G4FError):
                    raise
                t = self.deadline.timeout
                raise G4FTimeout(f"no result within {t:g} s (timeout={t:g})") from cut
        if isinstance(exc, aiohttp.ClientError):
            raise _translated(exc, self.url) from (None if _hides_cause(exc) else exc)
        return False


def _cause(error: BaseException | None) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "host name not resolved"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "timed out"
    return one_line(getattr(error, "strerror", None) or type(error).__name__)


def _hides_cause(exc: BaseException) -> bool:
    # a proxy error's cause would print the proxy's URL, which may carry user:password
    return isinstance(exc, (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError))


def _translated(exc: aiohttp.ClientError, url: str) -> G4FError:
    """The one place where aiohttp's exceptions become the project's (the host is parsed only here)."""
    parsed = URL(url)
    host = (parsed.host or "the server") + (f":{parsed.explicit_port}" if parsed.explicit_port else "")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return G4FTimeout(f"{host} did not answer in time ({type(exc).__name__})")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return ConnectionFailed(f"cannot reach the proxy: {_cause(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectionFailed(f"cannot connect to {host}: {_cause(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return ConnectionFailed(f"the proxy refused the request ({exc.status})")
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError)):
        return ConnectionFailed(f"connection to {host} broke: {type(exc).__name__}")
    if isinstance(exc, aiohttp.InvalidURL):
        return ConnectionFailed("invalid URL")
    return ConnectionFailed(f"request to {host} failed: {type(exc).__name__}")


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or its first ``limit + 1`` bytes when it is longer (so callers can tell).

    ``StreamReader.read(n)`` returns what is buffered, up to n: one network read, not n bytes. Over
    TLS or a real network a body arrives in many pieces, so read until the end or past the limit.
    """
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await resp.content.read(limit + 1 - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        kind = "an HTML page" if raw.lstrip()[:1] == b"<" else "malformed JSON"
        raise StreamError(f"expected JSON, got {kind}") from exc


def _same_origin(a: URL, b: URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _redirected(status: int, location: str, target: URL, method: str) -> URL:
    """Where a redirect may be followed: only a GET, only on the same scheme, host and port. Tokens and
    uploads must reach the Space they were meant for: anything else is refused with one line."""
    nxt = target.join(URL(location)) if location else None
    where = one_line((nxt.host if nxt is not None else None) or "nowhere", 80)
    if nxt is None or not _same_origin(nxt, target):
        raise ResponseStatusError(
            f"Response {status}: {target.host} redirected to {where}; redirects off the Space are refused", status)
    if method != "GET":
        raise ResponseStatusError(f"Response {status}: {target.host} redirected a {method}; not followed", status)
    return nxt


def _last_line_of_traceback(text: str) -> str:
    """A server that answers with its Python traceback (Gradio 5 on a bad fn_index): its last line."""
    if not text.lstrip().startswith("Traceback (most recent call last)"):
        return text
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return f"{lines[-1].strip()} (the server's traceback)"


def _describe_html(text: str) -> str:
    low = text.lower()
    for word in ("sleeping", "paused", "building", "starting", "runtime error"):
        if word in low:
            return f"the Space is {word} (HTML page)"
    return "HTML content"


def _discard(resp: aiohttp.ClientResponse) -> None:
    """Close a response whose body was not read to its end. Over TLS the connection is aborted: a polite
    TLS shutdown waits for the server's answer, and if the loop closes meanwhile (``asyncio.run``
    returning right after a Stop) the socket is left open, unclosed until garbage collection."""
    conn = resp.connection
    transport = conn.transport if conn is not None else None
    if transport is not None and transport.get_extra_info("sslcontext") is not None:
        transport.abort()
    resp.close()


async def raise_for_status(resp: aiohttp.ClientResponse) -> None:
    if resp.status >= 400:
        raise status_error(resp.status, resp.reason, resp.headers.get("content-type", ""),
                           await read_body(resp, MAX_ERROR_BODY))


def status_error(status: int, reason: str | None, ctype: str, raw: bytes) -> G4FError:
    """The one place for HTTP error statuses: a one-line message from JSON, text or HTML."""
    text = raw[:MAX_ERROR_BODY].decode("utf-8", errors="replace")
    ctype = ctype.lower()
    is_html = "html" in ctype or text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    message: str | None = None
    if not is_html:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("detail"), dict):  # Gradio's auth: {"detail": {"error": "Not authenticated"}}
                body = {**body, **body["detail"]}
            for key in ("error", "message", "detail"):
                value = body.get(key)
                if isinstance(value, list):  # FastAPI validation errors
                    value = "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)
                if isinstance(value, str) and value.strip():
                    message = value
                    break
    refused = refusal(message or text)
    if refused is not None:
        return refused
    if message is None:
        message = _describe_html(text) if is_html else _last_line_of_traceback(text)
    message = one_line(message) or (reason or "no details")
    if status in (502, 503, 504):
        return SpaceUnavailable(f"Space unavailable ({status}): {message}", status)
    return ResponseStatusError(f"Response {status}: {message}", status)


class SpaceSession:
    """The HTTP session and token cache of one event loop."""

    def __init__(self) -> None:
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies go only where we put them by hand
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
        )
        self.tokens = TokenCache()
        self.functions: dict[tuple[str, str], Any] = {}  # (Space base, function name) → where it moved
        self._token_locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self.streams: dict[tuple[str, str | None], SharedStream] = {}  # (Space base, proxy) → its queue stream
        self._retired: list[SharedStream] = []  # closed streams whose pump or /cancel may still be running
        # Space base → the HF token its requests carry (``identity``): set per call by the flows, read
        # here only, so every request under that base, and no other, is sent as the account
        self.credentials: dict[str, str] = {}
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}  # (Space root, limit) → its run slots

    @property
    def closed(self) -> bool:
        return self.http.closed

    async def close(self) -> None:
        streams, self.streams = [*self.streams.values(), *self._retired], {}
        self._retired = []
        for stream in streams:
            await stream.aclose()
        await self.http.close()
        self.tokens.clear()
        self.credentials.clear()

    def slots(self, root: str, limit: int) -> asyncio.Semaphore:
        """The run slots of the Space at ``root``: every run on this loop (``-n``, sweeps, the panel, chats)
        holds one from its join to its result, so no more than ``limit`` are in flight on one Space."""
        slots = self._slots.get((root, limit))
        if slots is None:
            slots = self._slots[(root, limit)] = asyncio.Semaphore(limit)
        return slots

    def authorize(self, base: str, token: str | None) -> None:
        """Requests under ``base`` carry ``Authorization: Bearer token`` (``None``: no longer)."""
        if token:
            self.credentials[base.rstrip("/")] = token
        else:
            self.credentials.pop(base.rstrip("/"), None)

    def _authorization(self, url: str) -> dict[str, str]:
        for base, token in self.credentials.items():
            if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
                return {"authorization": f"Bearer {token}"}
        return {}

    def shared_stream(self, base: str, headers: dict[str, str], proxy: str | None) -> SharedStream:
        """The one ``queue/data`` stream of a Space (per proxy) that concurrent events share."""
        stream = self.streams.get((base, proxy))
        if stream is None or stream.retired:
            if stream is not None:
                self._retired = [s for s in self._retired if not s.idle] + [stream]  # until its work is done
            stream = self.streams[(base, proxy)] = SharedStream(self, base, uuid.uuid4().hex[:12], headers, proxy)
        return stream

    async def _request(
        self, method: str, url: str, *, proxy: str | None, json_body: Any = _NO_JSON, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """Send; follow a redirect only for a GET and only on the same scheme, host and port."""
        if json_body is not _NO_JSON:
            raw = json.dumps(json_body).encode()
            # aiohttp warns that a bytes body over 1 MiB may block the loop; a stream does not.
            kwargs["data"] = io.BytesIO(raw) if len(raw) > LARGE_BODY else raw
            kwargs["headers"] = {"content-type": "application/json", **kwargs.get("headers", {})}
        target = URL(url, encoded=True) if "%" in url else URL(url)
        if self.credentials:  # the account's token, on the first hop only: never on a redirect
            auth = self._authorization(url)
            if auth and "authorization" not in {k.lower() for k in kwargs.get("headers", {})}:
                kwargs["headers"] = {**kwargs.get("headers", {}), **auth}
        debug = log.isEnabledFor(logging.DEBUG)  # no URL work on the hot path unless someone listens
        for hop in range(MAX_REDIRECTS + 1):
            if hop and "headers" in kwargs:
                kwargs["headers"] = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
            started = time.perf_counter()
            if debug:
                log.debug("%s %s%s", method, target.with_query(None), " (via proxy)" if proxy else "")
            resp = await self.http.request(method, target, proxy=proxy, allow_redirects=False, **kwargs)
            if debug:
                log.debug("%s %s: %d %s after %.0f ms", method, target.path, resp.status, resp.reason or "",
                          (time.perf_counter() - started) * 1000)
            if resp.status not in REDIRECTS:
                return resp
            _discard(resp)
            target = _redirected(resp.status, resp.headers.get("location", ""), target, method)
        raise ResponseStatusError(f"{target.host} redirected more than {MAX_REDIRECTS} times")

    @contextlib.asynccontextmanager
    async def open(
        self, method: str, url: str, *, deadline: Deadline, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A checked response; on any exit before the body is read the connection is closed."""
        async with deadline.guard(url):
            resp = await self._request(method, url, proxy=proxy, **kwargs)
        ok = False
        try:
            async with deadline.guard(url):
                await raise_for_status(resp)
            yield resp
            ok = True
        finally:
            resp.release() if ok else _discard(resp)

    async def body(self, method: str, url: str, *, deadline: Deadline, proxy: str | None = None,
                   **kwargs: Any) -> bytes:
        """A checked reply read whole (at most ``MAX_JSON_BODY``): one guard for the request, its status
        and its body, and no context-manager generator (every join and /run/predict comes here)."""
        async with deadline.guard(url):
            resp = await self._request(method, url, proxy=proxy, **kwargs)
            ok = False
            try:
                await raise_for_status(resp)
                raw = await read_body(resp, MAX_JSON_BODY)
                ok = True
            finally:
                resp.release() if ok else _discard(resp)
        if len(raw) > MAX_JSON_BODY:
            raise StreamError(f"the reply is larger than {MAX_JSON_BODY} bytes")
        return raw

    async def json(self, method: str, url: str, *, deadline: Deadline, **kwargs: Any) -> Any:
        return _loads(await self.body(method, url, deadline=deadline, **kwargs))

    async def text(self, method: str, url: str, *, deadline: Deadline, **kwargs: Any) -> str:
        return (await self.body(method, url, deadline=deadline, **kwargs)).decode("utf-8", errors="replace")

    async def image(
        self, url: str, *, deadline: Deadline, proxy: str | None = None, max_bytes: int = MAX_IMAGE_BYTES
    ) -> tuple[bytes, str]:
        """Download an image once: refused past ``max_bytes`` or when the bytes are not an image."""
        async with self.open("GET", url, deadline=deadline, proxy=proxy) as resp:
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise StreamError(f"the image is larger than the {max_bytes}-byte limit")
            async with deadline.guard(url):
                raw = await read_body(resp, max_bytes)
            ctype = resp.headers.get("content-type", "unknown").split(";")[0]
        if len(raw) > max_bytes:
            raise StreamError(f"the image is larger than the {max_bytes}-byte limit")
        mime = image_mime(raw)
        if mime is None:
            raise StreamError(f"the Space served something that is not an image (content type {one_line(ctype, 60)})")
        return raw, mime

    async def sse(
        self, url: str, *, deadline: Deadline, headers: Mapping[str, str], proxy: str | None
    ) -> AsyncIterator[SSEEvent]:
        """The one SSE loop: events as they complete, bounded by the deadline per read."""
        decoder = SSEDecoder()
        async with self.open("GET", url, deadline=deadline, headers=dict(headers), proxy=proxy) as resp:
            while True:
                async with deadline.guard(url):
                    chunk = await resp.content.readany()
                if not chunk:
                    return
                for event in decoder.feed(chunk):
                    yield event

    async def zerogpu_token(
        self,
        *,
        hub: str,
        space: str,
        cookies: Mapping[str, str] | None,
        proxy: str | None,
        deadline: Deadline,
        fresh: bool = False,
        hf_token: str | None = None,
    ) -> tuple[ZeroGPUToken, bool, str | None]:
        """(token, fetched now?, why the fallback was used). Cookies and the HF token go to the hub only.
        With an HF token the hub's jwt route is asked as the account (``Authorization: Bearer``), without
        the page: the page's token is an anonymous browser's. ``fresh``: the Space said the cached one
        expired, so it is dropped and the hub asked again."""
        cookie = cookie_header(cookies) if cookies else ""
        who = hf_token or cookie
        key = (hub, space, hashlib.sha256(who.encode()).hexdigest()[:16] if who else "")
        if fresh:
            self.tokens.drop(key)
        cached = self.tokens.get(key)
        if cached is not None:
            log.debug("ZeroGPU token for %s: cached", space)
            return cached, False, None
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self.tokens.get(key)
            if cached is not None:
                return cached, False, None
            headers = {"cookie": cookie} if cookie else {}
            token = uuid = problem = None
            try:
                if hf_token:
                    reply = await self.json("GET", jwt_url(hub, space), deadline=deadline, proxy=proxy,
                                            headers={**headers, "authorization": f"Bearer {hf_token}"})
                    token = parse_jwt_reply(reply)
                else:
                    page = await self.text(
                        "GET", f"{hub}/spaces/{space}", deadline=deadline, headers=headers, proxy=proxy,
                    )
                    token, uuid = parse_space_page(page)
                if cookie and not hf_token:
                    reply = await self.json(
                        "GET", jwt_url(hub, space), deadline=deadline, headers=headers, proxy=proxy,
                    )
                    token = parse_jwt_reply(reply) or token
            except G4FTimeout:
                raise
            except G4FError as exc:
                problem = str(exc)
            log.debug("ZeroGPU token for %s: %s", space, "from the hub" if token else f"none ({problem or 'not on the page'})")
            return self.tokens.put(key, token or FALLBACK_TOKEN, uuid), True, problem


_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SpaceSession]" = weakref.WeakKeyDictionary()
_keepers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()


async def _closer(session: SpaceSession) -> AsyncIterator[None]:
    # Parked async generator: ``loop.shutdown_asyncgens()`` (run by asyncio.run and asyncio.Runner)
    # closes it, and its ``finally`` closes the session before the loop goes away.
    try:
        yield
    finally:
        await session.close()


async def get_session() -> SpaceSession:
    """The running loop's session, made on first use."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = SpaceSession()
        _sessions[loop] = session
        keeper = _closer(session)
        await keeper.asend(None)
        _keepers[loop] = keeper
    return session


async def aclose() -> None:
    """Close the running loop's session (the magic calls this on unload; tests after each test)."""
    loop = asyncio.get_running_loop()
    session = _sessions.pop(loop, None)
    keeper = _keepers.pop(loop, None)
    if keeper is not None:
        await keeper.aclose()
    elif session is not None:
        await session.close()


async def fetch_image(
    url: str, *, proxy: str | None = None, timeout: float | None = 60.0, max_bytes: int = MAX_IMAGE_BYTES
) -> tuple[bytes, str]:
    """(bytes, MIME type by magic numbers) of a result image, on the running loop's session."""
    session = await get_session()
    return await session.image(url, deadline=Deadline(timeout), proxy=proxy, max_bytes=max_bytes)
