"""The widget view without a browser: escaping, previews replaced, coalesced updates."""

from __future__ import annotations

from typing import Any

import pytest

from g4f_magic.events import Reasoning
from g4f_magic.render import markdown_html
from g4f_magic.views import PlainView, WidgetView


def test_status_and_log_text_is_escaped() -> None:
    view = WidgetView("flux", min_interval=0)
    view.status(0, Reasoning("<script>alert(1)</script>", "progress"))
    assert "<script>" not in view.status_w.value and "&lt;script&gt;" in view.status_w.value
    view.status(0, Reasoning("<img src=x onerror=alert(1)>", "log"))
    assert "<img" not in view.log_w.value and "&lt;img src=x onerror=alert(1)&gt;" in view.log_w.value
    view.fail("Response 500: <b>bad</b>")
    assert "<b>" not in view.status_w.value and 'class="g4f-error"' in view.status_w.value


def test_markdown_answer_with_raw_html_and_js_link() -> None:
    html = markdown_html("**bold** <iframe src=x></iframe> [click](javascript:alert(1))")
    assert "<strong>bold</strong>" in html
    assert "<iframe" not in html and 'href="javascript' not in html


def test_preview_is_replaced_then_emptied() -> None:
    view = WidgetView("flux", min_interval=0)
    view.preview(0, b"RIFF0000WEBPfirst", "image/webp")
    view.preview(0, b"RIFF0000WEBPsecond", "image/webp")
    assert view.previews[0].value == b"RIFF0000WEBPsecond" and view.previews[0].format == "webp"
    assert view.previews[0].layout.display == ""
    view.finish("seed 1 · 32x32")
    assert view.previews[0].value == b"" and view.previews[0].layout.display == "none"
    assert "done · seed 1 · 32x32" in view.status_w.value and 'data-state="done"' in view.status_w.value


def test_updates_are_coalesced(monkeypatch: Any) -> None:
    now = [0.0]
    monkeypatch.setattr("g4f_magic.views.time.monotonic", lambda: now[0])
    view = WidgetView("flux", min_interval=0.1)
    sent: list[Any] = []
    view.status_w.observe(lambda change: sent.append(change["new"]), names="value")
    for i in range(1000):  # 1000 progress events in 2 seconds
        now[0] = i * 0.002
        view.status(0, Reasoning(f"Sampling {i}/1000", "progress"))
    assert 15 <= len(sent) <= 21  # about ten a second, not a thousand
    view.finish("")
    assert "done" in sent[-1]


def test_plain_view_prints_changes_only(capsys: Any) -> None:
    view = PlainView("flux")
    for _ in range(3):
        view.status(0, Reasoning("In queue", "queue"))
    view.status(0, Reasoning("Generating…", "heartbeat"))
    view.status(0, Reasoning("1/2", "progress", elapsed=0.5))
    out = capsys.readouterr().out.splitlines()
    assert out == ["flux · In queue", "flux · 1/2 · 0.5s"]


def test_progress_bar_follows_progress_events() -> None:
    view = WidgetView("flux", min_interval=0)
    assert view.progress.layout.display == "none"
    view.status(0, Reasoning("Sampling 7/28", "progress", progress_index=7, progress_length=28))
    assert view.progress.value == 0.25 and view.progress.layout.display == ""
    view.finish("seed 1")
    assert view.progress.value == 1.0


@pytest.mark.parametrize("kind", ["PlainView", "WidgetView"])
def test_both_views_implement_the_whole_protocol(kind: str) -> None:
    import inspect

    from g4f_magic import views
    from g4f_magic.engine import View

    cls = getattr(views, kind)
    wanted = {n for n in dir(View) if not n.startswith("_")} | set(View.__annotations__)
    for name in sorted(wanted):
        assert hasattr(cls, name), f"{kind} lacks {name}"
        proto = getattr(View, name, None)
        if callable(proto):
            have = [p.name for p in inspect.signature(getattr(cls, name)).parameters.values()]
            need = [p.name for p in inspect.signature(proto).parameters.values()]
            assert have[:len(need)] == need, (kind, name)
            assert inspect.iscoroutinefunction(getattr(cls, name)) == inspect.iscoroutinefunction(proto)
