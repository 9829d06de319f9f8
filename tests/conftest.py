"""Fixtures: an in-process local Space on 127.0.0.1, a loopback-only network guard, leak checks."""

from __future__ import annotations

# isort: off
import netproxy  # noqa: F401 - first: every client made from here on trusts its test CA (aiohttp reads it on import)

# isort: on

import asyncio
import ipaddress
import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from leakscan import SCANNER, TOKEN
from netproxy import ChunkingTLSProxy, upstream_of
from support.faultyspace import FaultySpace

import g4f_magic
from g4f_magic.localspace import LocalSpace, Pace, serve

# Kernels, IPython and Jupyter write nothing to the home folder, and no user kernelspec shadows python3.
_HOME = __import__("tempfile").mkdtemp(prefix="g4f-tests-")
for _var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
    __import__("os").environ[_var] = f"{_HOME}/{_var.lower()}"
# No Hugging Face token of the machine's reaches a test (set before huggingface_hub reads HF_HOME): tests
# that need one set HF_TOKEN, write the token file, or pass it.
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_DISABLE_IMPLICIT_TOKEN"):
    __import__("os").environ.pop(_var, None)
__import__("os").environ["HF_HOME"] = f"{_HOME}/hf_home"


# -- the secrets scan (see leakscan): every channel a secret could leak through feeds the scanner ---------
class _ScanLogs(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        SCANNER.scan("log", self.format(record), record.name)


def _scanned_init(init: Any) -> Any:
    def __init__(self: BaseException, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        SCANNER.scan("exception", f"{type(self).__name__}: {self}", type(self).__name__)
    return __init__


def _scan_captures() -> None:
    from IPython.utils.capture import capture_output

    enter, exit_ = capture_output.__enter__, capture_output.__exit__

    def __enter__(self: Any) -> Any:
        self._scanned = enter(self)
        return self._scanned

    def __exit__(self: Any, *exc: Any) -> Any:
        io = self._scanned
        SCANNER.scan("output", io.stdout + io.stderr, "capture_output")
        SCANNER.scan("output", json.dumps([o.data for o in io.outputs], default=lambda _: "<bytes>"), "displays")
        return exit_(self, *exc)

    capture_output.__enter__, capture_output.__exit__ = __enter__, __exit__  # type: ignore[method-assign]


def _scan_widgets() -> None:
    """What a widget sends a front end: its whole state when it opens, then each update."""
    from ipywidgets import Widget

    open_, send = Widget.open, Widget._send

    def open(self: Any) -> None:  # noqa: A001 - the method's own name
        open_(self)
        SCANNER.scan_widget(self, self.get_state())

    def _send(self: Any, msg: Any, buffers: Any = None) -> None:
        SCANNER.scan_widget(self, msg)
        send(self, msg, buffers)

    Widget.open, Widget._send = open, _send  # type: ignore[method-assign]


def _package_modules() -> list[Any]:
    """Every module of the package but the local Space (which keeps what it received, by design)."""
    import importlib
    import pkgutil

    names = [m.name for m in pkgutil.walk_packages(g4f_magic.__path__, "g4f_magic.")
             if ".localspace" not in m.name and not m.name.endswith("__main__")]
    return [g4f_magic, *(importlib.import_module(n) for n in names)]


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)  # every record is formatted and scanned, whatever its level
    root.addHandler(_ScanLogs())


@pytest.fixture(scope="session")
def secrets_scan() -> None:
    """The scan's hooks into the classes that carry text: every tier but the unit tier, whose tests run
    the package's classes as they are (see ``pytest_collection_modifyitems``)."""
    from IPython.core.error import UsageError

    g4f_magic.G4FError.__init__ = _scanned_init(g4f_magic.G4FError.__init__)  # type: ignore[method-assign]
    SCANNER.track_classes(_package_modules())
    UsageError.__init__ = _scanned_init(UsageError.__init__)  # type: ignore[method-assign]
    _scan_captures()
    _scan_widgets()


TIERS = ("unit", "integration", "kernel", "browser", "fuzz", "contract")  # tests/<tier>/, run in this order
SLOW_TIERS = {"kernel", "browser", "fuzz", "contract"}
SLOW_FIXTURES = {"kernel", "kernel_env", "gradio"}  # real kernels, real Gradio servers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test is marked with its tier (its folder under tests/). ``slow``: what starts kernels, servers
    or a browser, fuzzes, or repeats a test through the TLS proxy. ``pytest tests/unit`` (``make unit``) is
    the inner loop; ``make test`` runs every tier. The secrets scan watches every tier but the unit tier."""
    here = Path(__file__).parent
    for item in items:
        tier = Path(str(item.path)).relative_to(here).parts[0]
        assert tier in TIERS, f"{item.nodeid}: a test lives in one of tests/{{{','.join(TIERS)}}}"
        item.add_marker(getattr(pytest.mark, tier))
        if tier != "unit":
            item.fixturenames[:0] = ["secrets_scan", "no_secret_leaks"]
        params = getattr(item, "callspec", None)
        if (tier in SLOW_TIERS or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
                or (params is not None and params.params.get("endpoint") == "tls-chunked")):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "teardown":
        return
    for name, text in rep.sections:  # captured stdout and stderr (kernels' too), all phases
        if not name.startswith("Captured log"):  # each log record was scanned as it was emitted
            SCANNER.scan("captured " + name.split()[-1], text, name)
    hits = SCANNER.take()
    if hits:
        rep.outcome = "failed"
        rep.longrepr = SCANNER.report(hits)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Last, the walk over every object the garbage collector knows: what escaped the per-test scan
    (an object made without ``__init__``) is still caught."""
    SCANNER.scan_all()
    hits = SCANNER.take()
    if hits:
        session.config._leak_report = SCANNER.report(hits)  # type: ignore[attr-defined]
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    report = getattr(terminalreporter.config, "_leak_report", None)
    if report:
        terminalreporter.write_line(f"FAILED at the session's end: {report}", red=True)
    terminalreporter.write_line(SCANNER.summary())


@pytest.fixture
def no_secret_leaks() -> Any:
    """After each test, the reprs of the package's live objects are scanned."""
    yield
    SCANNER.scan_objects()


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
def replay_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each test's own replay store (kernels started by the test inherit it): none touches ~/.cache."""
    folder = tmp_path_factory.mktemp("replay")
    monkeypatch.setenv("G4F_MAGIC_CACHE", str(folder))
    return folder


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
    ls = FaultySpace(pace=Pace.fast(0.001))
    server = serve(ls)
    ls.url = await server.__anext__()  # type: ignore[attr-defined]
    SCANNER.watch(ls)
    yield ls
    await server.aclose()
    SCANNER.unwatch(ls)


@pytest.fixture(params=["loopback", "tls-chunked"])
async def endpoint(request: pytest.FixtureRequest, space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point every provider call at the local Space through the environment variable: directly, and
    through the chunking TLS proxy (every body in small TLS records, keep-alive over TLS)."""
    url = space.url  # type: ignore[attr-defined]
    proxy = None
    if request.param == "tls-chunked":
        proxy = ChunkingTLSProxy(upstream_of(url))
        url = await proxy.start()
        space.https_fronts.add(url.split("://", 1)[1])
    monkeypatch.setenv(g4f_magic.ENV_VAR, url)
    yield url
    if proxy is not None:
        await g4f_magic.aclose()  # the client's kept-alive TLS connections go before the proxy does
        await proxy.stop()


@pytest.fixture(scope="session")
def thread_space() -> Any:
    """A local Space on its own loop in a thread, for code that runs its own loop (the magic)."""
    from g4f_magic.localspace import in_thread

    ls = FaultySpace(pace=Pace.fast(0.001))
    with in_thread(ls) as url:
        ls.url = url  # type: ignore[attr-defined]
        SCANNER.watch(ls)
        yield ls
        SCANNER.unwatch(ls)


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
    shell.config.pop("G4FMagics", None)  # the shell is one instance: no test's %config reaches the next


@pytest.fixture
def kernel_env(thread_space: LocalSpace, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> LocalSpace:
    thread_space.reset()
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", thread_space.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("G4F_MAGIC_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    return thread_space


@pytest.fixture
def kernel(kernel_env: LocalSpace) -> Any:
    from kernels import Kernel

    k = Kernel()
    assert k.execute("%load_ext g4f_magic")["status"] == "ok"
    yield k
    k.close()
