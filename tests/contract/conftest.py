"""Real Gradio servers on 127.0.0.1 for the contract tests.

The servers run ``spaces.py`` under ``$G4F_GRADIO_PYTHON`` (default: this interpreter, whose test
extra installs the latest Gradio 6), so ``make conformance`` runs the same tests against each Gradio
version in its own venv. Which tests apply depends on the version: the queue API under
``/gradio_api`` is Gradio ≥ 5, the legacy ``/run/predict`` is Gradio ≤ 4. The others are deselected
(reported as such, never skipped), and the other runs of the matrix cover them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from netproxy import proxy_in_thread

HERE = Path(__file__).parent
PYTHON = os.environ.get("G4F_GRADIO_PYTHON") or sys.executable
_version: list[tuple[int, ...]] = []


def gradio_version() -> tuple[int, ...]:
    if not _version:
        out = subprocess.run([PYTHON, "-c", "import gradio; print(gradio.__version__)"], capture_output=True,
                             text=True, timeout=120, env=_env())
        assert out.returncode == 0, f"no gradio for {PYTHON}: {out.stderr[-500:]}"
        _version.append(tuple(int(p) for p in out.stdout.strip().split(".")[:3]))
    return _version[0]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gradio(api): needs the 'queue' API (Gradio >= 5) or 'predict' (<= 4)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    contract = [i for i in items if i.get_closest_marker("gradio")]
    if not contract:
        return
    api = "queue" if gradio_version() >= (5,) else "predict"
    off = [i for i in contract if i.get_closest_marker("gradio").args[0] != api]  # type: ignore[union-attr]
    if off:
        config.hook.pytest_deselected(items=off)
        items[:] = [i for i in items if i not in off]


def pytest_report_header(config: pytest.Config) -> str:
    return f"contract tests: gradio {'.'.join(map(str, gradio_version()))} ({PYTHON})"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("G4F_MAGIC", "SSL_CERT"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", GRADIO_TEMP_DIR=_TEMP,
               NO_PROXY="127.0.0.1,localhost", PYTHONWARNINGS="ignore")
    return env


_TEMP = tempfile.mkdtemp(prefix="g4f-gradio-")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One ``spaces.py`` app; ``url`` is what a client uses (the TLS front's when there is one)."""

    def __init__(self, app: str, *args: str, tls: bool = False) -> None:
        self.app, self.args, self.tls = app, list(args), tls
        self.port = free_port()
        self.direct = f"http://127.0.0.1:{self.port}"
        self.url = self.direct
        self._stack = contextlib.ExitStack()
        self.log = Path(_TEMP) / f"{app}-{self.port}.log"

    def start(self) -> "Server":
        if self.tls:  # Gradio builds file URLs from root_path: the public https host of the proxy
            self.url, self.proxy = self._stack.enter_context(proxy_in_thread(("127.0.0.1", self.port)))
            self.args += ["--root-path", self.url]
        fh = self._stack.enter_context(open(self.log, "w"))
        self.proc = subprocess.Popen([PYTHON, str(HERE / "spaces.py"), self.app, str(self.port), *self.args],
                                     stdout=fh, stderr=subprocess.STDOUT, env=_env())
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
        raise AssertionError(f"{self.app} did not start in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if getattr(self, "proc", None) is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stack.close()


# name → the app and its launch options; started together on first use (Gradio takes seconds to import)
QUEUE_SERVERS = {
    "janus": ("janus",), "janus_tls": ("janus", "tls"), "flux_dev": ("flux_dev", "--show-error", "--queue-max", "2"),
    "flux_dev_tls": ("flux_dev", "tls"), "moved": ("moved",), "auth": ("janus", "--auth", "user:pass"),
}
PREDICT_SERVERS = {"predict": ("predict", "--show-error"), "predict_tls": ("predict", "tls")}


@pytest.fixture(scope="session")
def gradio() -> Iterator[dict[str, Server]]:
    table = QUEUE_SERVERS if gradio_version() >= (5,) else PREDICT_SERVERS
    servers = {}
    for name, (app, *opts) in table.items():
        tls = "tls" in opts
        servers[name] = Server(app, *[o for o in opts if o != "tls"], tls=tls)
    try:
        for s in servers.values():
            s.start()
        for s in servers.values():
            s.wait()
        yield servers
    finally:
        for s in servers.values():
            s.stop()


@pytest.fixture
def own_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No gateway: the calls name each Space's URL, as a user of their own Gradio server does."""
    monkeypatch.delenv("G4F_MAGIC_ENDPOINT", raising=False)


def urls(server: Server, route: str) -> dict[str, Any]:
    """The provider keywords that point ``route`` at ``server``."""
    return {"janus": {"api_url": server.url}, "flux_dev": {"flux_dev_url": server.url},
            "predict": {"url_flux": f"{server.url}/run/predict"}}[route]
