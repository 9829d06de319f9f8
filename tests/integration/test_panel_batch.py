"""Batches in the panel (issue #25): a prompt per line or a template over a variable, one question over several
uploaded images, Stop keeping what finished, a big batch's output bounded and its images in a folder, and the
bad inputs said in one red line."""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from kernels import html_images
from PIL import Image

from g4f_magic.localspace import LocalSpace
from g4f_magic.notebook.html import EMBEDDED
from g4f_magic.notebook.panel import GALLERY_PER_BATCH, Panel

from .test_panel import finish_all, until


def joined(space: LocalSpace) -> list[str]:
    return [r.body["data"][0] for r in space.received if r.path.endswith("/queue/join")]


@pytest.fixture
async def panel(space: LocalSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Panel:
    monkeypatch.chdir(tmp_path)
    return Panel(endpoint=space.url, image_dir="imgs", namespace={"subjects": ["fox", "owl"]})  # type: ignore[attr-defined]


def copies(monkeypatch: pytest.MonkeyPatch, panel: Panel) -> list[dict[str, str]]:
    """What the saved notebook's copy of the panel is updated to."""
    updates: list[dict[str, str]] = []
    monkeypatch.setattr("IPython.display.update_display", lambda data, display_id, raw: updates.append(data))
    panel._shown = True
    return updates


async def test_a_prompt_per_line_is_a_batch_with_one_live_line_and_a_light_output(
        panel: Panel, space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    updates = copies(monkeypatch, panel)
    panel.prompt.value = "a fox\n\nan owl\na heron\n"
    panel.random_seed.value = False
    panel.seed.value = 3
    assert panel.each.disabled
    panel.compare.value = True
    panel.batch.value = True  # one or the other
    assert panel.compare.value is False and not panel.each.disabled
    assert "One prompt per line" in panel.prompt.placeholder
    task = panel.generate()
    assert task is not None
    [view] = panel.tasks.values()
    [row] = panel.runs.children  # the live line under the buttons, its thumbnails under both columns
    [live] = panel.compare_area.children
    assert view.status_w in row.children[0].children and any(t in live.children[1].children for t in view.thumbs)
    await finish_all(panel)
    [batch] = panel.batches
    assert batch.counts == {"done": 3, "failed": 0, "not run": 0}
    assert sorted(joined(space)) == ["a fox", "a heron", "an owl"]
    assert [r.prompt for r in batch] == ["a fox", "an owl", "a heron"]  # by item, whichever ended first
    [shown] = panel.compare_area.children  # the live rows gave way to the output, their widgets closed
    assert panel.runs.children == () and row.comm is None and live.comm is None
    assert len(html_images(shown.value)) == 3 and "batch of 3 · 3 done" in shown.value
    assert len(panel.gallery.children) == 3 and panel.current is batch[-1]  # to look at large, one click each
    assert "batch of 3" in panel.history.value
    copy = updates[-1]["text/html"]
    assert copy.count('class="g4f-batch"') == 1 and len(html_images(copy)) == 3  # the table, not the images twice
    assert updates[-1]["text/plain"] == "g4f panel · 3 images · 1 batch"

    sent = len(space.received)
    panel.generate()  # the same seed: every item replays
    await finish_all(panel)
    assert len(space.received) == sent and panel.batches[-1].counts["done"] == 3
    assert all(r.replayed is not None for r in panel.batches[-1])
    panel.clear()
    assert panel.batches == [] and panel.compare_area.children == () and shown.comm is None


async def test_a_template_runs_over_the_variable_each_names(panel: Panel, space: LocalSpace) -> None:
    panel.batch.value = True
    panel.each.value = "subjects"
    panel.prompt.value = "a {item}, watercolor"
    panel.generate()
    await finish_all(panel)
    assert sorted(joined(space)) == ["a fox, watercolor", "a owl, watercolor"]
    [batch] = panel.batches
    assert batch.batch_seed != 0 and len({e.seed for e in batch.items}) == 2  # random: a fresh batch seed
    panel.each.value = "[s.upper() for s in subjects]"  # an expression, as --each takes one
    panel.prompt.value = "a {item}"
    panel.generate()
    await finish_all(panel)
    assert {"a FOX", "a OWL"} <= set(joined(space))


@pytest.mark.parametrize(("setup", "message"), [
    ({"each": "nope"}, "each nope: NameError: name &#x27;nope&#x27; is not defined"),
    ({"each": "subjects", "prompt": "a lighthouse"}, "the prompt uses none of the items"),
    ({"count": 2}, "a batch makes one image per item: set count to 1"),
    ({"each": "prompts.doc"}, "each prompts.doc: NameError"),
    ({"each": "missing.txt"}, "each missing.txt: No such file or directory"),
])
async def test_bad_batch_input_is_one_red_line_and_sends_nothing(panel: Panel, space: LocalSpace,
                                                                 setup: dict[str, Any], message: str) -> None:
    panel.batch.value = True
    panel.prompt.value = setup.get("prompt", "a {item}")
    panel.each.value = setup.get("each", "")
    panel.count.value = setup.get("count", 1)
    assert panel.generate() is None
    assert message in panel.error.value, panel.error.value
    assert "--each" not in panel.error.value  # the panel's words
    assert not space.received and not panel.tasks


def png(colour: str, size: tuple[int, int]) -> dict[str, Any]:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return {"name": f"{colour}.png", "type": "image/png", "size": len(out.getvalue()), "content": memoryview(out.getvalue()),
            "last_modified": datetime.datetime.now()}


async def test_several_uploaded_images_ask_the_question_about_each(panel: Panel, space: LocalSpace,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    updates = copies(monkeypatch, panel)
    panel.model.value = "janus-pro-7b"
    assert panel.batch_row.layout.display != "none" and "images: a folder" in panel.each.placeholder
    panel.upload.value = (png("red", (120, 80)), png("blue", (64, 96)), png("green", (50, 50)))
    panel.prompt.value = "what size is this?"
    panel.generate()
    await finish_all(panel)
    [batch] = panel.batches
    answers = [e.result.text for e in batch.items]
    assert [e.source for e in batch.items] == ["red.png", "blue.png", "green.png"]
    assert all(f"I see a {w}x{h}" in a for a, (w, h) in zip(answers, [(120, 80), (64, 96), (50, 50)])), answers
    assert panel.chat.messages == []  # each image its own conversation, none in the panel's chat
    [shown] = panel.compare_area.children
    assert shown.value.count("<tr>") == 3 and "g4f-answers" in shown.value and "red.png" in shown.value
    assert "g4f-answers" in updates[-1]["text/html"]
    assert updates[-1]["text/plain"] == "g4f panel · 1 batch"

    panel.upload.value = (png("red", (120, 80)),)  # one image is a question, not a batch
    panel.batch.value = True
    assert panel.generate() is None and "a question batch needs several images" in panel.error.value


async def test_a_question_batch_over_a_folder_the_field_names(panel: Panel, space: LocalSpace, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, size in (("a.png", (30, 20)), ("b.jpg", (40, 30))):
        Image.new("RGB", size, "white").save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    panel.model.value = "janus-pro-7b"
    panel.batch.value = True
    panel.each.value = "photos"
    panel.prompt.value = "what size is this?"
    panel.generate()
    await finish_all(panel)
    [batch] = panel.batches
    assert [Path(e.source).name for e in batch.items] == ["a.png", "b.jpg"]
    assert "I see a 30x20" in batch.item(0).text and "I see a 40x30" in batch.item(1).text


async def test_stop_keeps_what_the_batch_had_finished(panel: Panel, space: LocalSpace) -> None:
    space.pace.step = 0.05  # type: ignore[attr-defined]  # slow enough to stop half way
    panel.namespace["forty"] = [f"scene {i}" for i in range(40)]  # type: ignore[index]
    panel.batch.value = True
    panel.each.value = "forty"
    panel.prompt.value = "a {item}"
    panel.generate()
    [view] = panel.tasks.values()
    await until(lambda: view.done >= 3)
    panel.stop()
    await finish_all(panel)
    [batch] = panel.batches
    counts = batch.counts
    assert counts["done"] >= 3 and counts["not run"] > 0, counts
    [shown] = panel.compare_area.children
    assert 'data-state="cancelled"' in shown.value and f"cancelled · {counts['done']} of 40 done" in shown.value
    assert panel.runs.children == () and not panel._live
    assert len(batch.failed) == 40 - counts["done"]  # to run again


async def test_a_big_batch_writes_its_folder_and_keeps_the_panel_bounded(panel: Panel, space: LocalSpace,
                                                                         tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    updates = copies(monkeypatch, panel)
    n = EMBEDDED + 6
    panel.prompt.value = "\n".join(f"scene {i}" for i in range(n))
    panel.batch.value = True
    panel.generate()
    await finish_all(panel)
    [batch] = panel.batches
    assert batch.counts["done"] == n
    [folder] = list((tmp_path / "imgs").iterdir())
    assert folder.name.startswith("batch-item-")
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == n and all((folder / r["file"]).is_file() for r in rows)
    [shown] = panel.compare_area.children
    assert len(html_images(shown.value)) == EMBEDDED and re.search(r'6 more and all \d+ with <a href=\"[^\"]+/manifest.jsonl\" target=\"_blank\">manifest.jsonl</a> in <code>', shown.value)
    assert len(panel.gallery.children) == GALLERY_PER_BATCH
    assert len(html_images(updates[-1]["text/html"])) == EMBEDDED


async def test_clear_leaves_a_running_batch_alone(panel: Panel, space: LocalSpace) -> None:
    """Clear forgets what finished; a batch (or a comparison) still running keeps its live rows."""
    panel.prompt.value = "a fox\nan owl"
    panel.batch.value = True
    panel.generate()
    await finish_all(panel)
    [done] = panel.compare_area.children
    space.pace.step = 0.05  # type: ignore[attr-defined]
    panel.prompt.value = "\n".join(f"scene {i}" for i in range(6))
    panel.generate()
    [view] = panel.tasks.values()
    [live, _] = panel.compare_area.children
    panel.clear()
    assert panel.compare_area.children == (live,) and live.comm is not None and done.comm is None
    assert view.widget.children[0].comm is not None and panel.batches == []
    await finish_all(panel)
    [output] = panel.compare_area.children
    assert [b.counts["done"] for b in panel.batches] == [6] and "batch of 6 · 6 done" in output.value
