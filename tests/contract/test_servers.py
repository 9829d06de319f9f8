"""The contract tier's own servers (issue #35, item 6): started when a test asks, bounded on their own terms."""

from __future__ import annotations

import pytest


def test_a_server_that_starts_too_slowly_fails_the_test_that_asked_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import servers as mod

    monkeypatch.setattr(mod, "START_BOUND", 0.0)  # a machine so busy that no start finishes in time
    table = mod.Servers({"janus": ("janus",), "flux_dev": ("flux_dev",)})
    try:
        assert "janus" in table and getattr(dict.__getitem__(table, "janus"), "proc", None) is None  # not started
        with pytest.raises(pytest.fail.Exception) as info:
            table["janus"]
        assert str(info.value).startswith("Gradio's janus did not start in 0 s: the machine is slow or busy (load "
                                          "average ") and "\n" not in str(info.value)
        assert getattr(dict.__getitem__(table, "janus"), "proc", None) is None  # made anew: the next asker starts it
        assert getattr(dict.__getitem__(table, "flux_dev"), "proc", None) is None  # nobody asked: never started
    finally:
        table.close()
