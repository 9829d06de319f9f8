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
from typing import Any, Iterator

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


class Server:
    """One ``apps.py`` app; ``url`` is what a client uses (the TLS front's when there is one)."""

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


def urls(server: Server, route: str) -> dict[str, Any]:
    """The provider keywords that point ``route`` at ``server``."""
    return {"janus": {"api_url": server.url}, "flux_dev": {"flux_dev_url": server.url},
            "predict": {"url_flux": f"{server.url}/run/predict"}}[route]
