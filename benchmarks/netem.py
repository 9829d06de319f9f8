"""A loopback TCP proxy that adds network latency: connection set-up waits one round trip, and
each direction's bytes arrive half a round trip late (``tc netem`` is not available here)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.ensure_future(deliver())
    try:
        while chunk := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, chunk))
    except ConnectionError:
        pass
    finally:
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(Exception):
            await sender
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def latency_proxy(target_port: int, rtt: float) -> AsyncIterator[str]:
    """Yield a base URL on 127.0.0.1 that reaches ``target_port`` with ``rtt`` seconds of round trip."""

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            await asyncio.sleep(rtt)  # the TCP handshake's round trip
            up_r, up_w = await asyncio.open_connection("127.0.0.1", target_port)
            await asyncio.gather(_pipe(client_r, up_w, rtt / 2), _pipe(up_r, client_w, rtt / 2))
        except (OSError, asyncio.CancelledError):  # refused, or the benchmark is shutting down
            client_w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def tls_terminator(target_port: int, context: Any) -> AsyncIterator[int]:
    """A TLS server on 127.0.0.1 that forwards the plain bytes to ``target_port``; yields its port. Put
    ``latency_proxy`` in front of it so the TLS handshake itself crosses the slow link."""

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", target_port)
            await asyncio.gather(_pipe(client_r, up_w, 0.0), _pipe(up_r, client_w, 0.0))
        except (OSError, asyncio.CancelledError):
            client_w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
