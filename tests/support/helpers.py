"""Shared test helpers."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]  # the checkout


async def collect(model: str, prompt: Any = "a lighthouse in a storm", **kwargs: Any) -> list[Any]:
    from g4f_magic import G4F

    return [ev async for ev in G4F.create_async_generator(model, prompt, **kwargs)]


def fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter (a clean ``sys.modules``); return its stdout, stripped."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def free_port() -> int:
    """A loopback port nobody listens on (for a server about to start, or a refused connection)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _host(url: str) -> str:
    return urlsplit(url).netloc


def _hosts() -> dict[str, str]:
    """Host names as the provider spells them: the first path segment of the local Space's gateway
    layout (tests reach only 127.0.0.1; conftest refuses any other address)."""
    from g4f_magic import G4F, DeepseekAI_JanusPro7b, FluxDev
    from g4f_magic.spaces.endpoints import HUB_URL

    return {"HUB": _host(HUB_URL), "JANUS": _host(G4F.api_url), "DEEPSEEK": _host(DeepseekAI_JanusPro7b.api_url),
            "FLUX_DEV": _host(FluxDev.url), "PREDICT": _host(G4F.url_flux)}


HOSTS = _hosts()
HUB, JANUS, DEEPSEEK, FLUX_DEV, PREDICT = (HOSTS[k] for k in ("HUB", "JANUS", "DEEPSEEK", "FLUX_DEV", "PREDICT"))


def _provider_hosts() -> tuple[str, set[str]]:
    """Hugging Face's router and the providers' image hosts, as the client and the local Space spell them."""
    from g4f_magic.inference.client import ROUTER as ROUTER_URL
    from g4f_magic.localspace.providers import FAL_CDN, REPLICATE_CDN

    return _host(ROUTER_URL), {FAL_CDN, REPLICATE_CDN}


ROUTER, CDNS = _provider_hosts()


def _official() -> dict[str, str]:
    """The official Spaces each route falls back to (``g4f_magic.spaces.mirrors``), host by route."""
    from g4f_magic.spaces.mirrors import OFFICIAL

    return {route: _host(mirrors[0].base) for route, mirrors in OFFICIAL.items()}


OFFICIAL_DEV, OFFICIAL_SCHNELL, OFFICIAL_JANUS = (_official()[r] for r in ("flux_dev", "run_predict", "janus_chat"))
# the links the ``spaces`` package puts in its messages: text a refusal carries, never requested
SPACES_LINK = {"tokens": f"https://{HUB}/settings/tokens", "join": f"https://{HUB}/join",
               "pro": f"https://{HUB}/subscribe/pro?from=ZeroGPU"}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class LoopbackProxy:
    """A minimal HTTP forward proxy on loopback that records each request it forwards: line, head, body.
    https targets go through a ``CONNECT`` tunnel, as with any real proxy."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.headers: list[str] = []
        self.bodies: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            self.seen.append(f"{method} {target}")
            self.headers.append(head.decode("latin-1"))
            length = next((int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length:")), 0)
            body = await reader.readexactly(length) if length else b""
            self.bodies.append(body)
            if method == "CONNECT":  # an https target: a tunnel, the bytes inside stay encrypted
                host, port = target.rsplit(":", 1)
                up_r, up_w = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
                return
            url = urlsplit(target)
            up_r, up_w = await asyncio.open_connection(url.hostname, url.port)
            path = url.path + (f"?{url.query}" if url.query else "")
            kept = [h for h in lines[1:] if h and not h.lower().startswith(("connection:", "proxy-"))]
            up_w.write(f"{method} {path} {version}\r\n".encode() + "\r\n".join(kept + ["Connection: close"]).encode()
                       + b"\r\n\r\n" + body)
            await up_w.drain()
            while chunk := await up_r.read(65536):
                writer.write(chunk)
                await writer.drain()
            up_w.close()
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: Any) -> None:
        self.server.close()
        await self.server.wait_closed()


def shown(ip: Any, obj: Any) -> dict[str, Any]:
    """What the notebook shows for ``obj``: IPython's formatters, the extension's among them."""
    data, _ = ip.display_formatter.format(obj)
    return data


@contextlib.contextmanager
def ctrl_c_when(ready: Callable[[], bool], settle: float = 0.0, timeout: float = 20.0) -> Iterator[None]:
    """Ctrl-C (SIGINT to the main thread, as the kernel's interrupt sends) once ``ready()`` holds and ``settle``
    seconds more have passed, while the block runs; never a stray one after it."""
    ended = threading.Event()

    def interrupt() -> None:
        deadline = time.monotonic() + timeout
        while not ready() and not ended.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        ended.wait(settle)
        if not ended.is_set():
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # type: ignore[arg-type]

    threading.Thread(target=interrupt, daemon=True).start()
    try:
        yield
    finally:
        ended.set()
