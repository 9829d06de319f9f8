"""The panel without a browser: click its buttons, let the loop run against the local Space."""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets
import pytest
from leakscan import secret

from g4f_magic.localspace import LocalSpace
from g4f_magic.notebook.panel import Panel


async def until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting for the panel"
        await asyncio.sleep(0.01)


@pytest.fixture
async def panel(space: LocalSpace) -> Panel:
    return Panel(endpoint=space.url, image_dir="imgs")  # type: ignore[attr-defined]


async def finish_all(p: Panel) -> None:
    await asyncio.gather(*list(p.tasks), return_exceptions=True)
    await until(lambda: not p.tasks)


async def test_generate_shows_status_progress_image_and_gallery(panel: Panel) -> None:
    panel.prompt.value = "a lighthouse"
    panel.ratio.value = "16:9"
    panel.random_seed.value = False
    panel.seed.value = 42
    assert panel.actions.layout.display == "none"  # no Save/Download before there is an image
    panel.generate_button.click()
    assert panel.stop_button.disabled is False
    [view] = panel.tasks.values()
    assert panel.runs.children[0].children[0] is view.widget
    await finish_all(panel)
    assert view.progress.value == 1.0
    assert "Model loaded on the local stand-in" in view.log_w.value
    # the finished run's row became one line of the short history, its widgets closed
    assert panel.runs.children == () and view.widget.comm is None
    assert "flux · done · seed 42 · 1360x760" in panel.history.value and 'data-state="done"' in panel.history.value
    # the image as the Space served it, beside the controls, with its actions
    assert bytes(panel.large.value) == panel.results[0].image.data and panel.large.format == "webp"
    assert panel.large.layout.display == "" and panel.actions.layout.display == "flex"
    assert len(panel.gallery.children) == 1 and len(panel.results) == 1
    assert panel.gallery.children[0].layout.border.startswith("2px solid #")  # the selected tile is marked
    assert "a lighthouse" in panel.caption.value and "seed 42" in panel.caption.value
    assert panel.stop_button.disabled is True
    assert all(not v.value for v in view.previews)  # preview replaced by the result, kept once


async def test_finished_results_are_kept_as_a_plain_output(panel: Panel, monkeypatch: Any) -> None:
    updates: list[tuple[dict[str, str], str]] = []
    monkeypatch.setattr("IPython.display.update_display",
                        lambda data, display_id, raw: updates.append((data, display_id)))
    panel._shown = True  # as after _ipython_display_
    panel.prompt.value = "two foxes"
    panel.count.value = 2
    panel.generate()
    await finish_all(panel)
    # what the saved notebook shows without a kernel: every finished image, as served, and one line
    bundle, display_id = updates[-1]
    assert display_id == panel._id and bundle["text/plain"] == "g4f panel · 2 images"
    from kernels import html_images

    shown = html_images(bundle["text/html"])
    assert sorted(data for _, data in shown) == sorted(r.image.data for r in panel.results)
    assert f'<div class="g4f-copy-{panel._id}">' in bundle["text/html"]
    # the live panel hides that copy while it is on the page, so nothing shows twice
    assert f".g4f-copy-{panel._id}" in panel._hide_copy.value and "display:none" in panel._hide_copy.value
    live = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in live and "VBox" not in live["text/plain"]


async def test_ctrl_enter_submits(panel: Panel) -> None:
    panel.prompt.value = "a boat"
    panel.prompt._handle_custom_msg({"event": "submit"}, [])
    assert len(panel.tasks) == 1
    await finish_all(panel)
    assert len(panel.results) == 1


async def test_submit_carries_the_text_typed_while_the_kernel_was_busy(panel: Panel) -> None:
    panel.prompt.value = "the old prompt"  # the front end's state update is still held back
    panel.prompt._handle_custom_msg({"event": "submit", "value": "the new prompt"}, [])
    await finish_all(panel)
    assert panel.prompt.value == "the new prompt"
    assert [r.prompt for r in panel.results] == ["the new prompt"]


async def test_ratio_keeps_sides_in_step(panel: Panel) -> None:
    panel.ratio.value = "16:9"
    assert (panel.width.value, panel.height.value) == (1360, 760)
    panel.width.value = 1280
    assert (panel.width.value, panel.height.value) == (1280, 720)
    panel.height.value = 450
    assert (panel.width.value, panel.height.value) == (800, 448)
    panel.ratio.value = "custom"
    panel.width.value = 1001
    assert (panel.width.value, panel.height.value) == (1000, 448)


async def test_chat_mode_is_a_chat(panel: Panel, space: LocalSpace) -> None:
    assert panel.upload.layout.display == "none" and panel.transcript.layout.display == "none"
    panel.model.value = "janus-pro-7b"
    assert panel.upload.layout.display == "" and panel.new_chat_button.layout.display == ""
    # a question box and a transcript: no size, seed, count or image area
    assert panel.transcript.layout.display == "" and panel.image_side.layout.display == "none"
    assert panel.size_row.layout.display == "none" and panel.seed_row.layout.display == "none"
    # each row has its own layout: hiding the size and seed rows leaves Ask and batch where they are
    assert panel.buttons_row.layout.display != "none" and panel.batch_row.layout.display != "none"
    assert panel.generate_button.description == "Ask" and panel.prompt.placeholder.startswith("Ask Janus")
    panel.prompt.value = "hello"
    panel.generate()
    await finish_all(panel)
    panel.prompt.value = "more?"
    panel.generate()
    await finish_all(panel)
    assert "You asked: more? (this conversation has 2 user turns)" in panel.transcript.value
    panel.new_chat_button.click()
    assert panel.transcript.value == "" and panel.chat.messages == []
    panel.prompt.value = "again"
    panel.generate()
    await finish_all(panel)
    panel.clear_button.click()  # Clear clears the chat too
    assert panel.transcript.value == "" and panel.chat.messages == []
    panel.model.value = "flux-dev"
    assert panel.size_row.layout.display == "" and panel.generate_button.description == "Generate"


async def test_ask_empties_the_box_and_shows_the_image_asked_about(panel: Panel, space: LocalSpace) -> None:
    """Issue #24, item 6: after Ask the box is for the next question; an unanswered one comes back; a vision
    question shows its image in the transcript, and in the copy the saved notebook keeps."""
    import io

    from PIL import Image

    panel.model.value = "janus-pro-7b"
    png = io.BytesIO()
    Image.new("RGB", (120, 80), "red").save(png, "PNG")
    panel.upload.value = ({"name": "red.png", "type": "image/png", "size": len(png.getvalue()),
                           "content": memoryview(png.getvalue()),
                           "last_modified": __import__("datetime").datetime.now()},)
    panel.prompt.value = "what is this?"
    panel.generate()
    assert panel.prompt.value == ""  # at once: the next question can be typed while Janus answers
    await finish_all(panel)
    assert "I see a 120x80" in panel.transcript.value
    assert panel.transcript.value.count('class="g4f-asked"') == 1 and "data:image/png;base64," in panel.transcript.value
    assert 'class="g4f-asked"' in panel._copy_bundle()["text/html"]
    panel.upload.value = ()
    panel.prompt.value = "and now? [fault:error_string]"
    panel.generate()
    await finish_all(panel)
    assert panel.prompt.value == "and now? [fault:error_string]"  # no answer: the question is back
    panel.new_chat_button.click()
    assert panel.asked == {}


async def test_a_bad_compare_value_is_said_in_the_panels_words(panel: Panel) -> None:
    panel.prompt.value = "a lighthouse"
    panel.compare.value = True
    panel.compare_values.value = "5, five"
    assert panel.generate() is None
    assert "compare seed 5, five: &#x27;five&#x27; is not a whole number" in panel.error.value
    assert "-s " not in panel.error.value


async def test_gallery_click_reuse_seed_save_and_download(panel: Panel, tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    panel.prompt.value = "foxes"
    panel.count.value = 2
    panel.generate()
    await finish_all(panel)
    assert len(panel.gallery.children) == 2
    older = panel.results[0]
    tiles = panel.gallery.children
    assert all(t.children[0].layout.width == t.children[0].layout.height == "96px" for t in tiles)  # aligned
    tiles[-1].children[1].click()  # the older tile's button
    assert panel.current is older and panel.large.value == older.image.data
    assert tiles[-1].layout.border != "2px solid transparent" and tiles[0].layout.border == "2px solid transparent"
    panel.reuse_button.click()
    assert panel.random_seed.value is False and panel.seed.value == older.seed
    panel.save_button.click()
    saved = list((tmp_path / "imgs").glob("*.png"))
    assert len(saved) == 1 and "saved" in panel.caption.value
    from PIL import Image

    with Image.open(saved[0]) as im:
        assert im.text["seed"] == str(older.seed)
    # one click: the link is there as soon as the image is, with the bytes the Space served
    import base64
    import re

    link = panel.download_link.value
    [data] = re.findall(r'download="flux-\d+\.webp" [^>]*href="data:image/webp;base64,([^"]+)"', link)
    assert base64.b64decode(data) == older.image.data


async def test_stop_cancels_and_the_space_sees_the_disconnect(panel: Panel, space: LocalSpace) -> None:
    space.arm("slow")
    panel.prompt.value = "slow"
    panel.generate()
    [view] = panel.tasks.values()
    await until(lambda: view._fraction is not None)
    panel.stop_button.click()
    await finish_all(panel)
    assert await space.wait_disconnect()
    assert 'data-state="cancelled"' in panel.history.value and "flux · cancelled" in panel.history.value
    assert panel.stop_button.disabled is True


async def test_errors_show_one_red_line_and_the_panel_stays_usable(panel: Panel, space: LocalSpace) -> None:
    space.arm("join_503_queue_full", times=2)  # the seed's FLUX.1-dev and the official one
    panel.prompt.value = "x"
    panel.generate()
    [view] = panel.tasks.values()
    await finish_all(panel)
    # said once, in the run's line, red, with its class; no bar left that reads as progress or success
    assert panel.error.value == "" and panel.history.value.count("Queue is full") == 1
    assert 'data-state="error"' in panel.history.value and "SpaceUnavailable: " in panel.history.value
    assert view.progress.layout.display == "none" and panel.actions.layout.display == "none"
    panel.prompt.value = "   "
    panel.generate()
    assert "the prompt is empty" in panel.error.value
    panel.prompt.value = "<img src=x onerror=alert(1)>"
    panel.generate()
    await finish_all(panel)
    assert panel.error.value == "" and len(panel.results) == 1
    assert "<img src=x" not in panel.caption.value and "&lt;img src=x onerror=alert(1)&gt;" in panel.caption.value


async def test_several_runs_at_once_each_with_its_own_status(panel: Panel) -> None:
    panel.prompt.value = "one"
    panel.generate()
    panel.prompt.value = "two"
    panel.generate()
    assert len(panel.tasks) == 2 and len(panel.runs.children) == 2
    await finish_all(panel)
    assert panel.history.value.count('data-state="done"') == 2
    assert {r.prompt for r in panel.results} == {"one", "two"}


async def test_clear(panel: Panel) -> None:
    from ipywidgets.widgets.widget import _instances

    before = set(_instances)
    for prompt in ("x", "y"):
        panel.prompt.value = prompt
        panel.generate()
        await finish_all(panel)
    assert len(_instances) > len(before)
    panel.clear_button.click()
    assert panel.results == [] and panel.gallery.children == () and panel.runs.children == ()
    assert panel.large.layout.display == "none" and panel.actions.layout.display == "none"
    assert panel.history.value == ""
    # every widget the runs made (rows, stop buttons, thumbnails, their layouts and styles) is closed:
    # the kernel would keep them for as long as it lives
    assert set(_instances) == before


@pytest.mark.slow  # waits through real 0.3 s flush intervals
async def test_widget_messages_are_coalesced(panel: Panel, space: LocalSpace, monkeypatch: Any) -> None:
    space.slow_delay = 0.005  # 400 progress steps and heartbeats in about 2 s
    space.arm("slow")
    sent: list[tuple[int, float]] = []
    original = ipywidgets.Widget.send_state

    def counting(self: Any, key: Any = None) -> None:
        sent.append((id(self), asyncio.get_running_loop().time()))
        original(self, key)

    panel.prompt.value = "many updates"
    panel.generate()
    [view] = panel.tasks.values()
    run_widgets = {id(x) for x in (view.status_w, view.progress, view.log_w, view.text_w, *view.previews)}
    monkeypatch.setattr(ipywidgets.Widget, "send_state", counting)
    started = asyncio.get_running_loop().time()
    await finish_all(panel)
    seconds = asyncio.get_running_loop().time() - started
    mine = [t for i, t in sent if i in run_widgets]
    assert seconds > 1.0  # a long stream really happened
    assert len(mine) <= 10 * seconds + 8, (len(mine), seconds)  # ~10/s, plus the final state
    space.slow_delay = 0.05


PANEL = secret("panel")


def test_settings_default_from_the_magic(ip: Any) -> None:
    ip.run_line_magic("config", "G4FMagics.default_model = 'flux-dev'")
    ip.run_line_magic("config", "G4FMagics.aspect_ratio = '9:16'")
    try:
        from g4f_magic.notebook.settings import active, values

        ip.run_line_magic("config", f"G4FMagics.token = {PANEL!r}")
        s = values(active())  # what Panel() made in code starts from
        assert s["default_model"] == "flux-dev" and s["aspect_ratio"] == "9:16"
        assert s["api_key"] == PANEL and PANEL not in repr(s)
    finally:
        ip.run_line_magic("config", "G4FMagics.default_model = 'flux'")
        ip.run_line_magic("config", "G4FMagics.aspect_ratio = '1:1'")
        ip.run_line_magic("config", "G4FMagics.token = ''")


def test_one_job_builder_with_one_rule_for_timeout_0(ip: Any) -> None:
    """The magic and the panel build requests in one place: timeout 0 is "no limit" for both."""
    from g4f_magic.engine.plan import build_job
    from g4f_magic.notebook.settings import active

    def values() -> dict[str, Any]:
        from g4f_magic.notebook.settings import values

        return values(active())

    ip.run_line_magic("config", "G4FMagics.timeout = 0.0")
    try:
        assert build_job(values(), prompt="a cat").client.target.timeout is None
        assert build_job(values(), prompt="a cat", timeout=12.5).client.target.timeout == 12.5  # per run wins
        assert build_job(values(), prompt="a cat", timeout=0).client.target.timeout is None
    finally:
        ip.run_line_magic("config", "G4FMagics.timeout = 300.0")
    assert build_job(values(), prompt="a cat").client.target.timeout == 300.0


async def test_compare_runs_one_option_over_a_list_as_a_labelled_grid(panel: Panel, monkeypatch: Any) -> None:
    updates: list[dict[str, str]] = []
    monkeypatch.setattr("IPython.display.update_display", lambda data, display_id, raw: updates.append(data))
    panel._shown = True
    panel.prompt.value = "a lighthouse"
    panel.random_seed.value = False
    panel.seed.value = 7
    assert panel.compare_values.disabled
    panel.compare.value = True
    assert not panel.compare_values.disabled
    panel.compare_axis.value = "aspect_ratio"
    panel.compare_values.value = "1:1, 16:9, 9:16"
    assert panel.generate() is not None
    [view] = panel.tasks.values()
    # the live line under the buttons, where the eye is (issue #24, item 4); the live grid spans both columns
    [row] = panel.runs.children
    [live] = panel.compare_area.children
    assert row.children[0] is view.widget.children[0] and view.status_w in row.children[0].children
    assert view.table in live.children and len(view.cell_status) == 3
    await finish_all(panel)
    [grid] = panel.sweeps
    assert [c.result.size for c in grid.cells] == ["1024x1024", "1360x760", "760x1360"]
    assert {r.seed for r in grid} == {7}
    [shown] = panel.compare_area.children  # the live grid became the finished table
    assert panel.runs.children == () and row.comm is None and live.comm is None
    assert "<th" in shown.value and "16:9" in shown.value and shown.value.count("<img") == 3
    assert len(panel.gallery.children) == 3 and "3 cells" in panel.history.value
    import re

    [in_grid] = re.findall(r"3 cells · (\d+\.\d)s", shown.value)  # one figure for the sweep's time (issue #24)
    [in_history] = re.findall(r"3 cells · (\d+\.\d)s", panel.history.value)
    assert abs(float(in_grid) - float(in_history)) <= 0.2, (in_grid, in_history)
    # the saved notebook keeps the comparison as its table, not its images twice
    from kernels import html_images

    assert len(html_images(updates[-1]["text/html"])) == 3 and 'class="g4f-col"' in updates[-1]["text/html"]
    panel.clear()
    assert panel.compare_area.children == () and panel.sweeps == [] and shown.comm is None


async def test_compare_with_one_value_or_a_bad_one_is_one_line(panel: Panel, space: LocalSpace) -> None:
    panel.prompt.value = "a lighthouse"
    panel.compare.value = True
    panel.compare_values.value = "5"
    assert panel.generate() is None and "compare needs two or more seed values" in panel.error.value
    panel.compare_values.value = "5, five"
    assert panel.generate() is None and "&#x27;five&#x27; is not a whole number" in panel.error.value
    panel.compare_axis.value = "steps"
    panel.model.value = "flux-schnell"
    panel.compare_values.value = "4, 8"
    assert panel.generate() is None and "flux-schnell has no such setting" in panel.error.value
    assert not space.received and not panel.tasks


async def test_a_seeded_panel_run_is_replayed_the_second_time(panel: Panel, space: LocalSpace) -> None:
    panel.prompt.value = "a lighthouse"
    panel.random_seed.value = False
    panel.seed.value = 42
    panel.generate()
    await finish_all(panel)
    sent = len(space.received)
    panel.generate()
    await finish_all(panel)
    assert len(space.received) == sent  # no request: the same request was answered before
    first, again = panel.results
    assert again.image.data == first.image.data and again.replayed is not None and first.replayed is None
    assert "flux · replayed (generated " in panel.history.value
