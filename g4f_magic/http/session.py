"""HTTP for one event loop: with :mod:`.deadline` and :mod:`.status`, the only code that touches the network.

One ``aiohttp.ClientSession`` per running loop serves every call (keep-alive; no request is pipelined).
aiohttp's errors become the project's in :meth:`Deadline.guard`, HTTP error statuses in
:func:`~.status.status_error`, and :meth:`HttpSession.sse` is the one SSE loop. Layers above keep their
per-loop state on the session (:meth:`HttpSession.keep`): the Gradio streams, the ZeroGPU tokens. The
session closes with :func:`aclose`, or by itself when ``asyncio.run`` shuts the loop down.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import sys
import time
import weakref
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Mapping, Protocol, TypeVar, cast

import aiohttp
from yarl import URL

from ..errors import ResponseStatusError, StreamError, one_line
from ..media import MAX_IMAGE_BYTES, image_mime
from ..untrusted_json import read_json
from .body import read_body
from .deadline import Deadline
from .sse import SSEDecoder, SSEEvent
from .status import raise_for_status

__all__ = ["Deadline", "HttpSession", "get_session", "aclose", "fetch_image", "MAX_IMAGE_BYTES", "DRAIN_GRACE"]



class Kept(Protocol):
    """State a layer above keeps on the session (:meth:`HttpSession.keep`)."""

    async def aclose(self) -> None: ...


K = TypeVar("K", bound=Kept)

log = logging.getLogger(__name__)  # DEBUG: each request, its status and time (never a header or body)

MAX_JSON_BODY = 16 * 1024 * 1024
CONNECT_TIMEOUT = 30.0
MAX_REDIRECTS = 5
# asyncio leaves a TLS socket open when a loop ends during its shutdown (python/cpython#118960)
_SSL_LEAKS = sys.version_info < (3, 12, 8) or (3, 13, 0) <= sys.version_info < (3, 13, 1)
LARGE_BODY = 1024 * 1024  # aiohttp's threshold for its "may block the loop" warning
_NO_JSON = object()
REDIRECTS = (301, 302, 303, 307, 308)
DRAIN_GRACE = 1.0


def _loads(raw: bytes) -> Any:
    try:
        return read_json(raw)
    except StreamError as exc:
        if not isinstance(exc.__cause__, ValueError):
            raise StreamError("the reply is nested too deeply to read") from None
        kind = "an HTML page" if raw.lstrip()[:1] == b"<" else "malformed JSON"
        raise StreamError(f"expected JSON, got {kind}") from exc.__cause__


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


def _discard(resp: aiohttp.ClientResponse) -> None:
    """Close a response whose body was not read to its end. Over TLS the connection is aborted: a polite
    TLS shutdown waits for the server's answer, and if the loop closes meanwhile (``asyncio.run``
    returning right after a Stop) the socket is left open, unclosed until garbage collection."""
    conn = resp.connection
    transport = conn.transport if conn is not None else None
    if transport is not None and transport.get_extra_info("sslcontext") is not None:
        transport.abort()
    resp.close()


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, except that a kept-alive connection with bytes already waiting on it is never reused.
    HTTP/1.1 has no request ids: a reply is the next message on the connection. A server that sends a reply
    nobody asked for after a connection went back to the pool (a broken proxy, a hostile Space) would have the
    next request on it read that reply as its own: another run's image, under this run's label. aiohttp
    (3.9 to 3.14) reuses such a connection; here it is closed, and the request takes another."""

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        while True:
            conn = await super().connect(req, traces, timeout)
            protocol = conn.protocol
            if protocol is None or not protocol.should_close:
                return conn
            log.debug("a kept-alive connection to %s had a reply nobody asked for: closed", req.url.host)
            conn.close()


class HttpSession:
    """The HTTP session of one event loop, and what the layers above keep for as long as it lives."""

    def __init__(self) -> None:
        self.http = aiohttp.ClientSession(
            # A request given up over TLS (a Stop while a join's reply is in flight) starts a polite TLS
            # shutdown that the loop's end cuts short, leaving its socket open; with this aiohttp aborts such
            # transports when the session closes. CPython fixed the leak itself in 3.12.8 and 3.13.1
            # (python/cpython#118960), where aiohttp refuses the flag with a warning.
            connector=_Connector(enable_cleanup_closed=_SSL_LEAKS),
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies go only where we put them by hand
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
        )
        # URL prefix → the bearer token its requests carry (an HF token, set per call by the Spaces layer,
        # read here only, so every request under that prefix, and no other, is sent as the account)
        self.credentials: dict[str, str] = {}
        # URL prefix → the ``Authorization: Basic`` of a user:password the user wrote in that server's URL
        # (one's own server behind basic auth): sent under that prefix only (a stricter scope than the
        # origin), on the first hop only, for as long as the session lives, as a browser remembers it
        self.logins: dict[str, str] = {}
        self._kept: dict[str, Kept] = {}

    @property
    def closed(self) -> bool:
        return self.http.closed

    def keep(self, owner: str, make: Callable[[], K]) -> K:
        """``owner``'s state for this loop, made on first use; its ``aclose()`` runs when the session closes."""
        found = self._kept.get(owner)
        if found is None:
            found = self._kept[owner] = make()
        return cast(K, found)

    async def close(self) -> None:
        kept, self._kept = list(self._kept.values()), {}
        for state in kept:
            await state.aclose()
        await self.http.close()
        self.credentials.clear()
        self.logins.clear()

    def authorize(self, base: str, token: str | None) -> None:
        """Requests under ``base`` carry ``Authorization: Bearer token`` (``None``: no longer)."""
        if token:
            self.credentials[base.rstrip("/")] = token
        else:
            self.credentials.pop(base.rstrip("/"), None)

    def login(self, base: str, user: str, password: str) -> None:
        """Requests under ``base`` carry ``user:password`` as basic auth, before any token."""
        # RFC 7617 in UTF-8, written out: aiohttp's BasicAuth is deprecated and encode_basic_auth is 3.13+
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self.logins[base.rstrip("/")] = f"Basic {token}"

    def _authorization(self, url: str) -> dict[str, str]:
        for base, value in self.logins.items():  # the user's own words for this server come first
            if _within(url, base):
                return {"authorization": value}
        for base, token in self.credentials.items():
            if _within(url, base):
                return {"authorization": f"Bearer {token}"}
        return {}

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
        if target.user is not None:  # credentials go by login(), never from a URL a Space wrote
            target = target.with_user(None)
        if self.credentials or self.logins:  # the account's token, on the first hop only: never on a redirect
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
        self, url: str, *, deadline: Deadline, headers: Mapping[str, str], proxy: str | None,
        answered: Callable[[], None] | None = None,
    ) -> AsyncGenerator[SSEEvent, None]:
        """The one SSE loop: events as they complete, bounded by the deadline per read. ``answered`` is called
        once the server has answered the request (its status line and headers read): it has the request."""
        decoder = SSEDecoder()
        async with self.open("GET", url, deadline=deadline, headers=dict(headers), proxy=proxy) as resp:
            if answered is not None:
                answered()
            while True:
                async with deadline.guard(url):
                    chunk = await resp.content.readany()
                if not chunk:
                    return
                for event in decoder.feed(chunk):
                    yield event


_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HttpSession]" = weakref.WeakKeyDictionary()
_keepers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()


async def _closer(session: HttpSession) -> AsyncGenerator[None, None]:
    # Parked async generator: ``loop.shutdown_asyncgens()`` (run by asyncio.run and asyncio.Runner)
    # closes it, and its ``finally`` closes the session before the loop goes away.
    try:
        yield
    finally:
        await session.close()


def _within(url: str, base: str) -> bool:
    return url == base or url.startswith(base + "/") or url.startswith(base + "?")


async def get_session() -> HttpSession:
    """The running loop's session, made on first use."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = HttpSession()
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
    url: str, *, proxy: str | None = None, timeout: float | None = 60.0, max_bytes: int = MAX_IMAGE_BYTES,
    deadline: Deadline | None = None,
) -> tuple[bytes, str]:
    """(bytes, MIME type by magic numbers) of a result image, on the running loop's session; within
    ``deadline`` when the download is part of a run that has one, else within ``timeout``."""
    session = await get_session()
    return await session.image(url, deadline=deadline or Deadline(timeout), proxy=proxy, max_bytes=max_bytes)
