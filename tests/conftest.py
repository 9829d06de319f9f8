"""Fixtures: an in-process local Space on 127.0.0.1, a loopback-only network guard, leak checks."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

import g4f_magic
from g4f_magic.localspace import LocalSpace, serve

# Kernels, IPython and Jupyter write nothing to the home folder, and no user kernelspec shadows python3.
_HOME = __import__("tempfile").mkdtemp(prefix="g4f-tests-")
for _var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
    __import__("os").environ[_var] = f"{_HOME}/{_var.lower()}"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"a test tried to reach {host}: tests only talk to 127.0.0.1")
        except ValueError:
            raise AssertionError(f"a test tried to reach {host!r}: tests only talk to 127.0.0.1") from None


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    _check(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    _check(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.delenv(g4f_magic.ENV_VAR, raising=False)


@pytest.fixture(autouse=True)
async def no_leaks() -> Any:
    """Close the loop's session after each test and fail on any loop-level error report
    (``Task was destroyed``, ``Unclosed client session``, ``Unclosed connection``)."""
    loop = asyncio.get_running_loop()
    reports: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: reports.append(ctx))
    yield
    await g4f_magic.aclose()
    await asyncio.sleep(0)
    assert not reports, [r.get("message") for r in reports]


@pytest.fixture
async def space() -> Any:
    ls = LocalSpace(step_delay=0.001)
    server = serve(ls)
    ls.url = await server.__anext__()  # type: ignore[attr-defined]
    yield ls
    await server.aclose()


@pytest.fixture
def endpoint(space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every provider call at the local Space through the environment variable."""
    monkeypatch.setenv(g4f_magic.ENV_VAR, space.url)  # type: ignore[attr-defined]
    return space.url  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def thread_space() -> Any:
    """A local Space on its own loop in a thread, for code that runs its own loop (the magic)."""
    from g4f_magic.localspace import in_thread

    ls = LocalSpace(step_delay=0.001)
    with in_thread(ls) as url:
        ls.url = url  # type: ignore[attr-defined]
        yield ls


@pytest.fixture
def ip(thread_space: LocalSpace, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real InteractiveShell with the extension loaded and pointed at the local Space."""
    from IPython.core.interactiveshell import InteractiveShell

    thread_space.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("G4F_MAGIC_TOKEN", raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "g4f_magic")
    shell.run_line_magic("config", f"G4FMagics.endpoint = {thread_space.url!r}")  # type: ignore[attr-defined]
    shell.run_line_magic("config", "G4FMagics.image_dir = 'imgs'")
    yield shell
    shell.run_line_magic("unload_ext", "g4f_magic")
    shell.user_ns.pop("_g4f", None)
