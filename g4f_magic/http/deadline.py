"""A call's time limit, and the one place where aiohttp's exceptions become the project's."""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import aiohttp
from yarl import URL

from ..errors import ConnectionFailed, G4FError, G4FTimeout, one_line
from .status import IN_WORDS

if sys.version_info >= (3, 11):
    from asyncio import timeout_at as _timeout_at
else:  # aiohttp depends on async-timeout before 3.11
    from async_timeout import timeout_at as _timeout_at

__all__ = ["Deadline"]


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

    def capped(self, seconds: float) -> Deadline:
        """This deadline, or ``seconds`` from now when that comes first (a wait that is not worth more)."""
        sooner = Deadline(seconds)
        if self._at is not None and self._at < sooner._at:  # type: ignore[operator]  # set: seconds is a number
            sooner._at, sooner.timeout = self._at, self.timeout
        return sooner


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
    if isinstance(exc, aiohttp.ClientHttpProxyError):  # a CONNECT refused (an https URL through the proxy)
        return ConnectionFailed(IN_WORDS.get(exc.status, f"the proxy refused the request ({exc.status})"))
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError)):
        return ConnectionFailed(f"connection to {host} broke: {type(exc).__name__}")
    if isinstance(exc, aiohttp.InvalidURL):
        return ConnectionFailed("invalid URL")
    return ConnectionFailed(f"request to {host} failed: {type(exc).__name__}")
