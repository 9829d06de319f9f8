"""The secrets scan itself: each channel it watches catches a planted secret (and masks it in its report).
The rest of the suite runs under it; a hit fails the test it happened in."""

from __future__ import annotations

import copy
import logging
from types import SimpleNamespace

import ipywidgets
from IPython.utils.capture import capture_output
from leakscan import MARK, SCANNER, TOKEN

from g4f_magic import G4FError
from g4f_magic.engine.result import Result


def caught() -> list[tuple[str, str]]:
    hits = SCANNER.take(planted=True)
    report = SCANNER.report(hits)
    assert MARK not in report and report.count("<SECRET>") == len({(h.channel, h.where, h.context) for h in hits})
    return [(h.channel, h.where) for h in hits]


def test_log_records_are_scanned() -> None:
    root = logging.getLogger()
    [handler] = [h for h in root.handlers if type(h).__name__ == "_ScanLogs"]
    assert root.level == logging.DEBUG  # every record reaches it
    # a logger of its own, so pytest's log capture never holds the planted secret
    logger = logging.getLogger("leakscan.selftest")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.debug("sending %s", TOKEN)
    finally:
        logger.removeHandler(handler)
    assert caught() == [("log", "leakscan.selftest")]


def test_exception_messages_are_scanned() -> None:
    G4FError(f"Response 401 for {TOKEN}")
    assert caught() == [("exception", "G4FError")]


def test_reprs_are_scanned() -> None:
    result = Result(TOKEN, "flux")
    SCANNER.scan_objects()  # the package's objects, known as they are made
    assert ("repr", "Result") in caught()
    copied = copy.copy(result)  # made without __init__: only the walk over every object finds it
    del result
    SCANNER.scan_objects()
    assert caught() == []
    SCANNER.scan_all()
    assert ("repr", "Result") in caught()
    del copied


def test_widget_states_are_scanned_when_opened_and_updated() -> None:
    widget = ipywidgets.HTML(value=f"<b>{TOKEN}</b>")
    assert caught() == [("widget state", "HTML")]
    widget.value = "safe"
    assert caught() == []
    widget.value = f"again {TOKEN}"
    widget.close()
    assert caught() == [("widget state", "HTML")]


def test_captured_outputs_are_scanned() -> None:
    with capture_output():
        print("token:", TOKEN)
    assert ("output", "capture_output") in caught()


def test_issued_zerogpu_tokens_are_secrets_too() -> None:
    space = SimpleNamespace(tokens_issued=[])
    SCANNER.watch(space)
    space.tokens_issued.append("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJlLW9mLXRoZS1qd3Q")
    SCANNER.scan("output", "header x-zerogpu-token: …c2lnbmF0dXJlLW9mLXRoZS1qd3Q", "test")
    SCANNER.unwatch(space)
    SCANNER.scan("output", "later: c2lnbmF0dXJlLW9mLXRoZS1qd3Q", "test")  # still known once the Space stopped
    assert caught() == [("output", "test"), ("output", "test")]
    SCANNER.scan("output", "nothing secret here", "test")
    assert SCANNER.take() == []
