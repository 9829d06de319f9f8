"""The panel without a browser: click its buttons, let the loop run against the local Space."""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets
import pytest
from leakscan import secret

from g4f_magic.localspace import LocalSpace
from g4f_magic.panel import Panel


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
    panel.generate_button.click()
    assert panel.stop_button.disabled is False
    [view] = panel.tasks.values()
    await finish_all(panel)
    assert "flux · done · seed 42 · 1360x760" in view.status_w.value
    assert view.progress.value == 1.0
    assert "Model loaded on the local stand-in" in view.log_w.value
    assert bytes(panel.large.value).startswith(b"\x89PNG") and panel.large.layout.display == ""
    assert len(panel.gallery.children) == 1 and len(panel.results) == 1
    assert "a lighthouse" in panel.caption.value and "seed 42" in panel.caption.value
    assert panel.stop_button.disabled is True
    assert all(not v.value for v in view.previews)  # preview replaced by the result, kept once


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


async def test_upload_and_new_chat_only_for_vision(panel: Panel, space: LocalSpace) -> None:
    assert panel.upload.layout.display == "none"
    panel.model.value = "janus-pro-7b"
    assert panel.upload.layout.display == "" and panel.new_chat_button.layout.display == ""
    panel.prompt.value = "hello"
    panel.generate()
    await finish_all(panel)
    panel.prompt.value = "more?"
    panel.generate()
    await finish_all(panel)
    assert "You asked: more? (this conversation has 2 user turns)" in panel.transcript.value
    panel.new_chat_button.click()
    assert panel.transcript.value == "" and panel.chat.messages == []


async def test_gallery_click_reuse_seed_save_and_download(panel: Panel, tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    panel.prompt.value = "foxes"
    panel.count.value = 2
    panel.generate()
    await finish_all(panel)
    assert len(panel.gallery.children) == 2
    older = panel.results[0]
    panel.gallery.children[-1].children[1].click()  # the older thumbnail's button
    assert panel.current is older and panel.large.value == older.image.png
    panel.reuse_button.click()
    assert panel.random_seed.value is False and panel.seed.value == older.seed
    panel.save_button.click()
    saved = list((tmp_path / "imgs").glob("*.png"))
    assert len(saved) == 1 and "saved" in panel.caption.value
    from PIL import Image

    with Image.open(saved[0]) as im:
        assert im.text["seed"] == str(older.seed)
    panel.download_button.click()
    assert 'download="flux-' in panel.download_link.value and "data:image/png;base64," in panel.download_link.value


async def test_stop_cancels_and_the_space_sees_the_disconnect(panel: Panel, space: LocalSpace) -> None:
    space.arm("slow")
    panel.prompt.value = "slow"
    panel.generate()
    [view] = panel.tasks.values()
    await until(lambda: view._fraction is not None)
    panel.stop_button.click()
    await finish_all(panel)
    assert await space.wait_disconnect()
    assert 'data-state="cancelled"' in view.status_w.value
    assert panel.stop_button.disabled is True


async def test_errors_show_one_red_line_and_the_panel_stays_usable(panel: Panel, space: LocalSpace) -> None:
    space.arm("join_503_queue_full")
    panel.prompt.value = "x"
    panel.generate()
    await finish_all(panel)
    assert "Queue is full" in panel.error.value and 'class="g4f-error"' in panel.error.value
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
    views = list(panel.tasks.values())
    await finish_all(panel)
    assert all("done" in v.status_w.value for v in views)
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
    assert panel.large.layout.display == "none" and panel.save_button.disabled
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

def test_panel_needs_a_kernel_loop() -> None:
    from g4f_magic import InvalidOption

    with pytest.raises(InvalidOption, match="needs a running event loop"):
        Panel()


def test_settings_default_from_the_magic(ip: Any) -> None:
    ip.run_line_magic("config", "G4FMagics.default_model = 'flux-dev'")
    ip.run_line_magic("config", "G4FMagics.aspect_ratio = '9:16'")
    try:
        from g4f_magic.settings import values

        ip.run_line_magic("config", f"G4FMagics.token = {PANEL!r}")
        s = values()
        assert s["default_model"] == "flux-dev" and s["aspect_ratio"] == "9:16"
        assert s["api_key"] == PANEL and PANEL not in repr(s)
    finally:
        ip.run_line_magic("config", "G4FMagics.default_model = 'flux'")
        ip.run_line_magic("config", "G4FMagics.aspect_ratio = '1:1'")
        ip.run_line_magic("config", "G4FMagics.token = ''")


def test_the_prompt_box_front_end_is_a_file_with_a_cleanup() -> None:
    from pathlib import Path

    import g4f_magic
    from g4f_magic.panel import PromptBox

    box = PromptBox()
    esm = box.get_state()["_esm"]
    assert esm == (Path(g4f_magic.__file__).parent / "prompt_box.js").read_text()
    assert 'model.off("change:value", onValue)' in esm  # listeners go with the view, not the model
    box.close()


def test_one_job_builder_with_one_rule_for_timeout_0(ip: Any) -> None:
    """The magic and the panel build requests in one place: timeout 0 is "no limit" for both."""
    from g4f_magic.settings import build_job, values

    ip.run_line_magic("config", "G4FMagics.timeout = 0.0")
    try:
        assert build_job(values(), prompt="a cat").timeout is None
        assert build_job(values(), prompt="a cat", timeout=12.5).timeout == 12.5  # per run wins
        assert build_job(values(), prompt="a cat", timeout=0).timeout is None
    finally:
        ip.run_line_magic("config", "G4FMagics.timeout = 300.0")
    assert build_job(values(), prompt="a cat").timeout == 300.0
