"""Start the Space-shaped Gradio apps of ``apps.py`` as real servers (tests and ``record.py``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # netproxy, when run as a script
from netproxy import proxy_in_thread  # noqa: E402
from support.helpers import free_port  # noqa: E402

PYTHON = os.environ.get("G4F_GRADIO_PYTHON") or sys.executable
_TEMP = tempfile.mkdtemp(prefix="g4f-gradio-")


def gradio_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("G4F_MAGIC", "SSL_CERT"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", GRADIO_TEMP_DIR=_TEMP,
               NO_PROXY="127.0.0.1,localhost", PYTHONWARNINGS="ignore")
    return env


def clean_temp() -> None:
    """Gradio's file cache of this run (results, uploads, a 10 MB image); the folder stays for later servers."""
    import shutil

    shutil.rmtree(_TEMP, ignore_errors=True)
    os.makedirs(_TEMP, exist_ok=True)


_version: list[tuple[int, ...]] = []


def gradio_version() -> tuple[int, ...]:
    """The Gradio under test, from its distribution's metadata (importing it takes seconds)."""
    if not _version:
        out = subprocess.run([PYTHON, "-c", "from importlib.metadata import version; print(version('gradio'))"],
                             capture_output=True, text=True, timeout=120, env=gradio_env())
        assert out.returncode == 0, f"no gradio for {PYTHON}: {out.stderr[-500:]}"
        _version.append(tuple(int(p) for p in out.stdout.strip().split(".")[:3]))
    return _version[0]


@contextlib.contextmanager
def running(servers: dict[str, "Server"], clean: bool = True) -> Iterator[dict[str, "Server"]]:
    """Start them all at once (each takes seconds to import Gradio), wait for each, then stop them and
    remove Gradio's file cache (not while other servers may still use it: ``clean=False``)."""
    try:
        for s in servers.values():
            s.start()
        for s in servers.values():
            s.wait()
        yield servers
    finally:
        for s in servers.values():
            s.stop()
        if clean:
            clean_temp()


START_BOUND = 180.0  # seconds a Gradio server may take to start: importing Gradio on a busy 2-core machine


class Servers(dict):  # type: ignore[type-arg]
    """name → :class:`Server`, each started when a test first asks for it (``servers["janus"]``), not all at once:
    eight Gradio imports at once on a busy machine outran the first test's timeout, and every contract test
    then failed in its setup. A start is bounded on its own terms (``START_BOUND``); one that does not finish
    fails the test that asked, in one line, and the next test that asks starts it anew."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        super().__init__()
        self.table = table
        for name in table:
            super().__setitem__(name, self._made(name))

    def _made(self, name: str) -> Server:
        app, *opts = self.table[name]
        return Server(app, *[o for o in opts if o not in ("tls", "bare_tls")], tls=bool({"tls", "bare_tls"} & set(opts)),
                      says_https="bare_tls" not in opts)

    def __getitem__(self, name: str) -> Server:
        server: Server = super().__getitem__(name)
        if getattr(server, "proc", None) is None:
            server.start()
            try:
                server.wait(START_BOUND)
            except _SlowStart as slow:
                server.stop()
                super().__setitem__(name, self._made(name))
                pytest.fail(str(slow), pytrace=False)
        return server

    def up(self, names: Iterable[str]) -> None:
        """Start these (a test's, before its own time runs) one after the other."""
        for name in names:
            if name in self:
                self[name]

    def close(self) -> None:
        for server in self.values():
            server.stop()


class _SlowStart(AssertionError):
    pass


class Server:
    """One ``apps.py`` app; ``url`` is what a client uses (the TLS front's when there is one)."""

    def __init__(self, app: str, *args: str, tls: bool = False, says_https: bool = True) -> None:
        """``tls``: behind the chunking TLS proxy; ``says_https``: Gradio told it is served on https (its root path
        the front's URL), as a front that sends X-Forwarded-Proto does; without it, Gradio writes http:// URLs."""
        self.app, self.args, self.tls, self.says_https = app, list(args), tls, says_https
        self.port = free_port()
        self.direct = f"http://127.0.0.1:{self.port}"
        self.url = self.direct
        self._stack = contextlib.ExitStack()
        self.log = Path(_TEMP) / f"{app}-{self.port}.log"

    def start(self) -> "Server":
        if self.tls:  # Gradio builds file URLs from root_path: the public https host of the proxy
            self.url, self.proxy = self._stack.enter_context(proxy_in_thread(("127.0.0.1", self.port)))
            if self.says_https:
                self.args += ["--root-path", self.url]
        fh = self._stack.enter_context(open(self.log, "w"))
        self.proc = subprocess.Popen([PYTHON, str(HERE / "apps.py"), self.app, str(self.port), *self.args],
                                     stdout=fh, stderr=subprocess.STDOUT, env=gradio_env())
        return self

    def wait(self, timeout: float = 120) -> "Server":
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc.poll() is None, f"{self.app} exited: {self.log.read_text()[-2000:]}"
            try:
                urllib.request.urlopen(f"{self.direct}/config", timeout=2).close()
                return self
            except urllib.error.HTTPError:  # 401 behind auth: up all the same
                return self
            except OSError:
                time.sleep(0.2)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        raise _SlowStart(f"Gradio's {self.app} did not start in {timeout:.0f} s: the machine is slow or busy "
                         f"(load average {load:.1f}); the test that asked for it fails, the next one starts it anew")

    def stop(self) -> None:
        if getattr(self, "proc", None) is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stack.close()


def urls(server: Server, route: str) -> dict[str, Any]:
    """The provider keywords that point ``route`` at ``server``."""
    return {"janus": {"api_url": server.url}, "flux_dev": {"flux_dev_url": server.url},
            "predict": {"url_flux": f"{server.url}/run/predict"}}[route]
