"""Start the Space-shaped Gradio apps of ``spaces.py`` as real servers (tests and ``record.py``)."""

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

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # netproxy, when run as a script
from netproxy import proxy_in_thread  # noqa: E402

PYTHON = os.environ.get("G4F_GRADIO_PYTHON") or sys.executable
_TEMP = tempfile.mkdtemp(prefix="g4f-gradio-")


def gradio_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("G4F_MAGIC", "SSL_CERT"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", GRADIO_TEMP_DIR=_TEMP,
               NO_PROXY="127.0.0.1,localhost", PYTHONWARNINGS="ignore")
    return env


def clean_temp() -> None:
    """Gradio's file cache of this run (results, uploads, a 10 MB image)."""
    import shutil

    shutil.rmtree(_TEMP, ignore_errors=True)


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


