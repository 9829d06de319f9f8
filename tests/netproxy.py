"""A realistic network on loopback: TLS, latency, and bodies delivered in small pieces.

Loopback hands a client each body in one read; the internet does not (TCP segments, TLS records).
:class:`ChunkingTLSProxy` terminates TLS with a test certificate (``trustme``, the certificate
authority tests trust through ``SSL_CERT_FILE``) and forwards plain TCP to the server behind it. Each
direction is re-sent as TLS records of 1–1,500 bytes with short pauses, so a reader sees many partial
reads, and each new connection pays a set-up delay, so keep-alive over TLS is what makes calls cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import ssl
import tempfile
from typing import Any, AsyncIterator, Iterator

import trustme

_CA = trustme.CA()
_CERT = _CA.issue_cert("127.0.0.1", "localhost")
CA_FILE = os.path.join(tempfile.mkdtemp(prefix="g4f-ca-"), "ca.pem")
_CA.cert_pem.write_to_path(CA_FILE)
# Every client made from here on trusts the test CA: aiohttp reads it when it is imported (below, and
# the project's own import), and the kernels the tests start inherit it.
os.environ["SSL_CERT_FILE"] = CA_FILE

from g4f_magic.localspace.app import run_in_thread  # noqa: E402


def server_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _CERT.configure_cert(ctx)
    return ctx


class ChunkingTLSProxy:
    """``https://127.0.0.1:PORT`` in front of ``upstream`` (host, port)."""

    def __init__(self, upstream: tuple[str, int], *, max_piece: int = 1500, pause_every: int = 6,
                 connect_delay: float = 0.005, seed: int = 11) -> None:
        self.upstream = upstream
        self.max_piece = max_piece
        self.pause_every = pause_every
        self.connect_delay = connect_delay
        self.rng = random.Random(seed)
        self.connections = 0
        self.pieces = 0
        self.errors: list[str] = []  # what went wrong on a connection, for a failing test's message
        self._tasks: set[asyncio.Task[None]] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                view = memoryview(chunk)
                while view:
                    n = self.rng.randint(1, self.max_piece)
                    writer.write(view[:n])  # one write: one TLS record on the client side
                    view = view[n:]
                    self.pieces += 1
                    await writer.drain()
                    if self.rng.randrange(self.pause_every) == 0:
                        await asyncio.sleep(0.0005)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            self.errors.append(f"pipe: {type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.write_eof()

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        u_writer = None
        try:
            await asyncio.sleep(self.connect_delay)
            u_reader, u_writer = await asyncio.open_connection(*self.upstream)
            await asyncio.gather(self._pipe(c_reader, u_writer), self._pipe(u_reader, c_writer))
        except Exception as exc:  # noqa: BLE001 - recorded for the failing test's message, never lost
            self.errors.append(f"upstream {self.upstream}: {type(exc).__name__}: {exc}")
        finally:
            for w in (c_writer, u_writer):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()

    def _spawn(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._handle(r, w))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._spawn, "127.0.0.1", 0, ssl=server_context())
        return f"https://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        self.server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.wait_closed()


def upstream_of(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def _serving(proxy: ChunkingTLSProxy) -> AsyncIterator[str]:
    url = await proxy.start()
    try:
        yield url
    finally:
        await proxy.stop()


@contextlib.contextmanager
def proxy_in_thread(upstream: tuple[str, int], **kwargs: Any) -> Iterator[tuple[str, ChunkingTLSProxy]]:
    """The proxy on its own loop, for code that runs a loop of its own (the magic, kernels)."""
    proxy = ChunkingTLSProxy(upstream, **kwargs)
    with run_in_thread(_serving(proxy), "tls-proxy") as url:
        yield url, proxy
