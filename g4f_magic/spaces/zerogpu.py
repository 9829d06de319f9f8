"""ZeroGPU tokens: parsing the hub's replies and caching per Space until shortly before expiry."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping
from urllib.parse import quote

from ..errors import G4FError, G4FTimeout, StreamError
from ..http.deadline import Deadline
from ..http.session import HttpSession
from ..untrusted_json import read_json

__all__ = [
    "FALLBACK_TOKEN",
    "parse_space_page",
    "parse_jwt_reply",
    "jwt_expiry",
    "jwt_url",
    "cookie_header",
    "ZeroGPUToken",
    "TokenCache",
    "Tokens",
    "tokens_of",
]

log = logging.getLogger(__name__)

FALLBACK_TOKEN = "[object Object]"  # what the Space's own web page sends when it has none
_TOKEN = re.compile(r"&quot;token&quot;:&quot;([^&]+?)&quot;")
_UUID = re.compile(r"&quot;sessionUuid&quot;:&quot;([^&]+?)&quot;")
_COOKIE_SAFE = re.compile(r"^[!#-+\--:<-\[\]-~]*$")  # RFC 6265 cookie-octets
EXPIRY_MARGIN = 30.0
UNSIGNED_TTL = 60.0


def parse_space_page(html: str) -> tuple[str | None, str | None]:
    """(token, session uuid) from the Space page's HTML-escaped JSON."""
    t = _TOKEN.search(html)
    u = _UUID.search(html)
    return (t.group(1) if t else None, u.group(1) if u else None)


def parse_jwt_reply(body: Any) -> str | None:
    token = body.get("token") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (seconds since the epoch), or ``None`` if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = read_json(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError, StreamError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


def jwt_url(hub: str, space: str, now: datetime | None = None) -> str:
    """The hub's jwt route with an expiration ten minutes ahead, quoted as the hub's page does."""
    when = (now or datetime.now(timezone.utc)) + timedelta(minutes=10)
    exp = quote(when.isoformat(timespec="milliseconds"))
    return f"{hub.rstrip('/')}/api/spaces/{space}/jwt?expiration={exp}&include_pro_status=true"


def cookie_header(cookies: Mapping[str, str]) -> str:
    """A ``Cookie`` header for the hub only; values that could split the header are refused."""
    parts = []
    for k, v in cookies.items():
        if not _COOKIE_SAFE.match(str(k)) or not _COOKIE_SAFE.match(str(v)) or "=" in str(k):
            raise ValueError(f"cookie {k!r} has characters a Cookie header cannot carry")
        parts.append(f"{k}={v}")
    return "; ".join(parts)


@dataclass(frozen=True)
class ZeroGPUToken:
    token: str
    uuid: str | None
    expires_at: float  # time.time() seconds

    def __repr__(self) -> str:
        return f"ZeroGPUToken(token='***', uuid={self.uuid!r}, expires_at={self.expires_at!r})"


class TokenCache:
    """Per (hub, Space, who-asked) tokens, dropped ``EXPIRY_MARGIN`` seconds before their ``exp``."""

    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._items: dict[tuple[str, ...], ZeroGPUToken] = {}

    def get(self, key: tuple[str, ...]) -> ZeroGPUToken | None:
        item = self._items.get(key)
        if item is not None and item.expires_at - EXPIRY_MARGIN > self._clock():
            return item
        self._items.pop(key, None)
        return None

    def put(self, key: tuple[str, ...], token: str, uuid: str | None) -> ZeroGPUToken:
        exp = jwt_expiry(token)
        item = ZeroGPUToken(token, uuid, exp if exp is not None else self._clock() + UNSIGNED_TTL + EXPIRY_MARGIN)
        self._items[key] = item
        return item

    def drop(self, key: tuple[str, ...]) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class Tokens:
    """The ZeroGPU tokens of one event loop (kept on its HTTP session): one hub request per Space and
    identity at a time, cached until shortly before they expire."""

    def __init__(self) -> None:
        self.cache = TokenCache()
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}

    async def aclose(self) -> None:
        self.cache.clear()

    async def get(
        self,
        session: HttpSession,
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
            self.cache.drop(key)
        cached = self.cache.get(key)
        if cached is not None:
            log.debug("ZeroGPU token for %s: cached", space)
            return cached, False, None
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self.cache.get(key)
            if cached is not None:
                return cached, False, None
            headers = {"cookie": cookie} if cookie else {}
            token = uuid = problem = None
            try:
                if hf_token:
                    reply = await session.json("GET", jwt_url(hub, space), deadline=deadline, proxy=proxy,
                                               headers={**headers, "authorization": f"Bearer {hf_token}"})
                    token = parse_jwt_reply(reply)
                else:
                    page = await session.text(
                        "GET", f"{hub}/spaces/{space}", deadline=deadline, headers=headers, proxy=proxy,
                    )
                    token, uuid = parse_space_page(page)
                if cookie and not hf_token:
                    reply = await session.json(
                        "GET", jwt_url(hub, space), deadline=deadline, headers=headers, proxy=proxy,
                    )
                    token = parse_jwt_reply(reply) or token
            except G4FTimeout:
                raise
            except G4FError as exc:
                problem = str(exc)
            log.debug("ZeroGPU token for %s: %s", space, "from the hub" if token else f"none ({problem or 'not on the page'})")
            return self.cache.put(key, token or FALLBACK_TOKEN, uuid), True, problem


def tokens_of(session: HttpSession) -> Tokens:
    return session.keep("zerogpu", Tokens)
