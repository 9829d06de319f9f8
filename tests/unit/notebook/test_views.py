"""The widget view without a browser: escaping, previews replaced, coalesced updates."""

from __future__ import annotations

import io
from typing import Any

import pytest

from g4f_magic.engine.result import GeneratedImage, Result
from g4f_magic.events import Reasoning
from g4f_magic.localspace.images import placeholder
from g4f_magic.notebook.html import markdown_html
from g4f_magic.notebook.views import PlainView, WidgetView


def image_result(seed: int = 1, side: int = 32) -> Result:
    data = placeholder("a cat", seed, side, side, "WEBP")
    return Result("a cat", "flux", seed, side, side, GeneratedImage(data, "image/webp", "http://127.0.0.1/x.webp"))


def test_status_and_log_text_is_escaped() -> None:
    view = WidgetView("flux", min_interval=0)
    view.status(0, Reasoning("<script>alert(1)</script>", "progress"))
    assert "<script>" not in view.status_w.value and "&lt;script&gt;" in view.status_w.value
    view.status(0, Reasoning("<img src=x onerror=alert(1)>", "log"))
    assert "<img" not in view.log_w.value and "&lt;img src=x onerror=alert(1)&gt;" in view.log_w.value
    view.fail("ResponseStatusError: Response 500: <b>bad</b>")
    assert "<b>" not in view.status_w.value and 'data-state="error"' in view.status_w.value
    assert "flux · ResponseStatusError: Response 500: &lt;b&gt;bad&lt;/b&gt; · " in view.status_w.value


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
    view.finish([image_result()])
    assert view.previews[0].value == b"" and view.previews[0].layout.display == "none"
    assert "done · seed 1 · 32x32" in view.status_w.value and 'data-state="done"' in view.status_w.value


def test_updates_are_coalesced(monkeypatch: Any) -> None:
    now = [0.0]
    monkeypatch.setattr("g4f_magic.notebook.views.time.monotonic", lambda: now[0])
    view = WidgetView("flux", min_interval=0.1)
    sent: list[Any] = []
    view.status_w.observe(lambda change: sent.append(change["new"]), names="value")
    for i in range(1000):  # 1000 progress events in 2 seconds
        now[0] = i * 0.002
        view.status(0, Reasoning(f"Sampling {i}/1000", "progress"))
    assert 15 <= len(sent) <= 21  # about ten a second, not a thousand
    view.finish([image_result()])
    assert "done" in sent[-1]


def test_plain_view_prints_a_line_per_stage(capsys: Any) -> None:
    view = PlainView("flux")
    for i in range(3):
        view.status(0, Reasoning(f"In queue: position {3 - i}", "queue"))
    view.status(0, Reasoning("Generating…", "heartbeat"))
    view.status(0, Reasoning("model loaded", "log"))
    for i in range(1, 29):
        view.status(0, Reasoning(f"{i}/28", "progress", elapsed=0.5))
    view.finish([image_result(seed=5)])
    view.settle()
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["flux · In queue: position 3", "flux · 1/28 · 0.5s"]
    assert len(out) == 3 and out[2].startswith("flux · done · seed 5 · 32x32 · ")


def test_plain_view_on_a_terminal_rewrites_one_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    view = PlainView("flux", out=out)
    for i in range(1, 29):
        view.status(0, Reasoning(f"{i}/28", "progress"))
    view.fail("ConnectionFailed: gone")
    view.settle(with_status=False)  # the cell raises the error's own line
    text = out.getvalue()
    assert text.count("\n") == 0 and text.count("\r\x1b[K") == 28 and text.endswith("\r\x1b[K")
    assert "28/28" in text


def test_widget_view_leaves_one_plain_output() -> None:
    view = WidgetView("flux", count=2, min_interval=0)
    view.status(0, Reasoning("<b>loaded</b>", "log"))
    view.finish([image_result(1), image_result(2)])
    bundle = view.bundle()
    assert bundle["text/plain"].startswith("flux · done · 2 images · 32x32 · ")
    html = bundle["text/html"]
    assert html.count("data:image/webp;base64,") == 2 and "seed 2 · 32x32" in html
    assert "<summary>what streamed (1 update) · log (1)</summary>" in html and "[1] &lt;b&gt;loaded" in html
    assert "application/vnd.jupyter.widget-view+json" not in bundle
    view.fail("G4FTimeout: late")
    quiet = view.bundle(with_status=False)  # the cell's error line says how it ended
    assert quiet["text/plain"] == "" and "g4f-status" not in quiet["text/html"] and "log (1)" in quiet["text/html"]


def test_progress_bar_follows_progress_events() -> None:
    view = WidgetView("flux", min_interval=0)
    assert view.progress.layout.display == "none"
    view.status(0, Reasoning("Sampling 7/28", "progress", progress_index=7, progress_length=28))
    assert view.progress.value == 0.25 and view.progress.layout.display == ""
    view.finish([image_result()])
    assert view.progress.value == 1.0
    failed = WidgetView("flux", min_interval=0)
    failed.status(0, Reasoning("Sampling 7/28", "progress", progress_index=7, progress_length=28))
    failed.fail("GenerationError: no")
    assert failed.progress.layout.display == "none"  # a failed run shows no bar that reads as progress


@pytest.mark.parametrize("kind", ["PlainView", "WidgetView"])
def test_both_views_implement_the_whole_protocol(kind: str) -> None:
    import inspect

    from g4f_magic.engine.job import View
    from g4f_magic.notebook import views

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


HOSTILE = ("a\x1b]52;c;ZXZpbA==\x07b"  # OSC 52: write the clipboard
           "\x1b]0;pwned\x07c"  # the window title
           "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\"  # a hyperlink
           "\x1b[2J\x1b[31md\r\x9b31me\ud800f")  # clear the screen, colour, carriage return, CSI (C1), lone surrogate


def test_a_terminal_gets_no_control_sequence_from_the_network() -> None:
    """What a Space sends (chat text, a status, an error) reaches terminal IPython without ESC, C1 or a
    lone surrogate; what it says stays readable."""
    out = io.StringIO()
    view = PlainView("janus-pro-7b", out=out, verbose=True)
    view.status(0, Reasoning(HOSTILE, "log"))
    view.text("answer " + HOSTILE + "\nnext line")
    view.fail("GenerationError: " + HOSTILE)
    view.settle()
    printed = out.getvalue()
    assert not any(ch in printed for ch in "\x1b\x07\r\x9b\ud800"), repr(printed)
    assert "answer abclinkd31me?f\nnext line" in printed


def test_the_settled_output_keeps_what_streamed() -> None:
    """Issue #24, item 3: the saved output shows that the run queued, sampled and sent previews, not only
    its last line; a long run folds its steps, and the list stays bounded."""
    from g4f_magic.notebook.timeline import LIMIT

    view = WidgetView("flux", min_interval=0)
    for rank in (3, 2, 1):
        view.status(0, Reasoning(f"Queued: position {rank}", "queue", rank=rank))
        view.status(0, Reasoning(f"Queued: position {rank}", "queue", rank=rank))  # Gradio repeats itself
    view.status(0, Reasoning("Started", "start"))
    for step in range(1, 401):
        view.status(0, Reasoning(f"Sampling {step}/400", "progress", progress_index=step, progress_length=400))
        view.preview(0, b"RIFF0000WEBPx", "image/webp")
    view.status(0, Reasoning("Model <loaded>", "log"))
    view.finish([image_result(1)])
    html = view.bundle()["text/html"]
    body = html.split("<pre", 1)[1]
    lines = [x.split("s  ", 1)[1] for x in body.split(">", 1)[1].split("</pre>")[0].split("\n")]
    assert lines[:4] == ["Queued: position 3", "Queued: position 2", "Queued: position 1", "Started"]
    assert lines[4:8] == ["Sampling 1/400", "preview 1", "Sampling 400/400  (398 more before)",
                          "preview 400  (398 more before)"]
    assert lines[8] == "Model &lt;loaded&gt;" and lines[9].startswith("flux · done · seed 1")
    assert "<summary>what streamed (805 updates, 400 previews) · log (1)</summary>" in html
    at = [e.at for e in view.timeline.entries]
    assert at == sorted(at)  # a folded run's latest line moves down to where it happened

    busy = WidgetView("flux", min_interval=0)
    for n in range(500):  # a long ZeroGPU wait: every line differs
        busy.status(0, Reasoning(f"Waiting for a GPU · {n}s", "gpu"))
    busy.finish([image_result(1)])
    assert len(busy.timeline.lines()) == LIMIT and busy.timeline.lines()[-1].endswith("(441 more before)")


def test_a_batchs_progress_reads_as_tqdm_says_it() -> None:
    """Issue #25: done, failed and left, then tqdm's own meter (count, elapsed<remaining, rate)."""
    from g4f_magic.notebook.html import batch_progress

    assert batch_progress(18, 1, 50, 41.0) == "18 done · 1 failed · 31 left · 19/50 [00:41<01:06, 0.46 img/s]"
    assert batch_progress(0, 0, 50, 0.0) == "0 done · 50 left · 0/50 [00:00<?, ? img/s]"


def test_a_batchs_live_widget_line_is_short_enough_for_the_panels_column() -> None:
    """Issue #36, item 8: the widget's line (beside its bar and its time) fits one line of the panel's column."""
    from g4f_magic.notebook.html import batch_meter

    assert batch_meter(18, 1, 50, 41.0) == "18/50 done · 1 failed · ETA 01:06"
    assert batch_meter(0, 0, 12, 0.0) == "0/12 done · ETA ?"
    assert len("flux · " + batch_meter(18, 1, 50, 41.0) + " · 41.0s") <= 48  # the panel column: about 48 characters


def test_a_batch_stopped_at_the_quota_says_why_and_how_to_finish() -> None:
    from g4f_magic.engine.batch import BatchItem, BatchSet
    from g4f_magic.errors import QuotaExceeded
    from g4f_magic.notebook.html import batch_bundle, batch_line

    done = Result("a fox", "flux", 11, 64, 64, GeneratedImage(placeholder("a fox", 11, 64, 64), "image/png", "http://127.0.0.1:1/a.png"),
                  elapsed=1.0)
    refused = QuotaExceeded("You have exceeded your GPU quota <b>(60s requested vs. 0s left)</b>", retry_after=252.0)
    batch = BatchSet([BatchItem(0, {"item": "fox"}, "a fox", 11, result=done),
                      BatchItem(1, {"item": "owl"}, "an owl", 12, error=refused),
                      BatchItem(2, {"item": "emu"}, "an emu", 13)], "a {item}")
    assert "stopped at the GPU quota" not in batch_line(batch, 2.0)
    batch.halted = refused
    line = batch_line(batch, 2.0)
    assert "1 done · 1 failed · 1 not run · stopped at the GPU quota" in line
    html = batch_bundle(line, "done", batch)["text/html"]
    assert "&lt;b&gt;(60s requested" in html and "<b>(60s" not in html  # the Space's words, escaped
    assert "1 not sent: <code>.failed</code> runs them" in html


def test_the_panels_live_row_says_a_queue_position_briefly() -> None:
    """Issue #36, item 8: "flux · In queue: position 4 of 4, ETA 2.8s · 0.5s" took two lines of the panel's column
    beside the file browser; there it reads "In queue 4/4, ETA 2.8s". The magic's wide output keeps the words."""
    wide, narrow = WidgetView("flux"), WidgetView("flux")
    narrow.brief = True
    for view in (wide, narrow):
        view.status(0, Reasoning("In queue: position 4 of 4, ETA 2.8s", "queue", rank=4, queue_size=4, eta=2.8))
    assert wide._line_text() == "In queue: position 4 of 4, ETA 2.8s"
    assert narrow._line_text() == "In queue 4/4, ETA 2.8s"
    narrow.status(0, Reasoning("Sampling 3/28", "progress", progress_index=3, progress_length=28))
    assert narrow._line_text() == "Sampling 3/28"
    for view in (wide, narrow):
        view.finish([])
