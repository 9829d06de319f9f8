"""Reading a response body whole, bounded: over TLS or a real network it arrives in many pieces."""

from __future__ import annotations

import aiohttp

__all__ = ["read_body"]


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
