"""Real Gradio servers on 127.0.0.1 for the contract tests.

The servers run ``apps.py`` under ``$G4F_GRADIO_PYTHON`` (default: this interpreter, whose test
extra installs the latest Gradio 6), so ``make conformance`` runs the same tests against each Gradio
version in its own venv. Which tests apply depends on the version: the queue API under
``/gradio_api`` is Gradio ≥ 5, the legacy ``/run/predict`` is Gradio ≤ 4. The others are deselected
(reported as such, never skipped), and the other runs of the matrix cover them.
"""

from __future__ import annotations

import inspect
import re
from typing import Iterator

import pytest
from servers import PYTHON, Servers, clean_temp, gradio_version

_ASKS = re.compile(r"""gradio\[["'](\w+)["']\]""")


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
    for item in contract:
        # the servers a test asks for (and a module's fixtures) start in its setup, which its time limit leaves out
        item.add_marker(pytest.mark.timeout(float(item.config.getini("timeout") or 60), func_only=True))
        if "gradio" in getattr(item, "fixturenames", ()):
            function = getattr(item, "function", None)
            named = set(_ASKS.findall(inspect.getsource(function))) if function else set()
            callspec = getattr(item, "callspec", None)  # gradio[name] with name a parameter
            named |= {v for v in (callspec.params.values() if callspec else ()) if isinstance(v, str)}
            item.stash[ASKED] = sorted(named)


ASKED = pytest.StashKey[list]()


def pytest_report_header(config: pytest.Config) -> str:
    return f"contract tests: gradio {'.'.join(map(str, gradio_version()))} ({PYTHON})"


# name → the app and its launch options; each started when a test first asks for it
QUEUE_SERVERS = {
    "janus": ("janus",), "janus_tls": ("janus", "tls"), "flux_dev": ("flux_dev", "--show-error", "--queue-max", "2"),
    "flux_dev_tls": ("flux_dev", "tls"), "moved": ("moved",), "auth": ("janus", "--auth", "user:pass"),
    "changed": ("changed",), "flux_dev_many": ("flux_dev", "--concurrency", "3"),
    "flux_dev_bare_tls": ("flux_dev", "bare_tls"),  # a TLS front that does not tell Gradio it is on https
}
PREDICT_SERVERS = {"predict": ("predict", "--show-error"), "predict_tls": ("predict", "tls"),
                   "predict_moved": ("predict_moved",)}


@pytest.fixture(scope="session")
def gradio_servers() -> Iterator[Servers]:
    servers = Servers(QUEUE_SERVERS if gradio_version() >= (5,) else PREDICT_SERVERS)
    try:
        yield servers
    finally:
        servers.close()
        clean_temp()


@pytest.fixture
def gradio(gradio_servers: Servers, request: pytest.FixtureRequest) -> Servers:
    """The session's servers, those this test names (``gradio["janus"]``) started before its own time runs."""
    gradio_servers.up(request.node.stash.get(ASKED, []))
    return gradio_servers


@pytest.fixture
def own_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No gateway: the calls name each Space's URL, as a user of their own Gradio server does."""
    monkeypatch.delenv("G4F_MAGIC_ENDPOINT", raising=False)
