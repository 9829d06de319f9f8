"""The unit tier: no socket and no process. A test that opens one belongs in tests/integration."""

from __future__ import annotations

import socket
import subprocess
from typing import Any

import pytest


def _refused(*_: Any, **__: Any) -> Any:
    raise AssertionError("a unit test opened a socket or started a process: it belongs in tests/integration")


@pytest.fixture(autouse=True)
def no_socket_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _refused)
    monkeypatch.setattr(subprocess.Popen, "__init__", _refused)
