"""Sweeps: comma lists run the product of their values and come back as one labelled grid."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from kernels import html_images
from support.helpers import shown

from g4f_magic.engine.sweep import SweepSet
from g4f_magic.errors import GenerationError
from g4f_magic.gradio.calls import FIRST_SLOTS
from g4f_magic.localspace import LocalSpace


def cell(ip: Any, line: str, body: str = "a lighthouse") -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_cell_magic("g4f", line, body)
    return value, cap


def test_a_2x3_sweep_is_six_labelled_cells(ip: Any, thread_space: LocalSpace) -> None:
    grid, cap = cell(ip, "-m flux,flux-schnell -s 10001,10002,10003")
    assert isinstance(grid, SweepSet) and len(grid.cells) == 6 and len(grid) == 6
    assert grid.axes == {"model": ["flux", "flux-schnell"], "seed": [10001, 10002, 10003]}
    assert grid.row_labels == ["flux", "flux-schnell"]
    assert grid.column_labels == ["seed 10001", "seed 10002", "seed 10003"]
    for c in grid.cells:  # each cell is the request its labels say
        assert (c.result.model, c.result.seed) == (c.values["model"], c.values["seed"])
    assert grid.at(model="flux-schnell", seed=10002) is grid["flux-schnell", 10002]
    assert grid["flux", 10003].seed == 10003 and grid[0] is grid.cells[0].result  # still a list
    with pytest.raises(KeyError, match="was not swept"):
        grid.at(steps=4)
    html = shown(ip, grid)["text/html"]
    assert re.findall(r'<th class="g4f-row"[^>]*>([^<]*)</th>', html) == ["flux", "flux-schnell"]
    assert re.findall(r'<th class="g4f-col"[^>]*>([^<]*)</th>', html) == grid.column_labels
    assert "model \\ seed" in html and len(html_images(html)) == 6
    # each image is captioned with its seed, in its row and column
    rows = html.split("<tr>")[2:]
    assert [re.findall(r"seed (\d+) ·", row) for row in rows] == [["10001", "10002", "10003"]] * 2
    # a terminal names each cell by its values as it ends
    assert re.search(r"^\[flux-schnell · seed 10002\] flux-schnell · done · seed 10002", cap.stdout, re.M)
    [done] = [x for x in cap.stdout.splitlines() if x.startswith("flux, flux-schnell · done")]
    assert re.fullmatch(r"flux, flux-schnell · done · 6 cells · \d+\.\ds", done)
    # saved (a terminal run saves) to a folder of its own, so one sweep's index is not another's
    [folder] = {Path(x.split(" ", 1)[1]).parent for x in cap.stdout.splitlines() if x.startswith("saved ")}
    assert folder.parent == Path("imgs") and folder.name.startswith("sweep-a-lighthouse-")
    assert len(list(folder.glob("*.png"))) == 7


def test_a_failed_cell_shows_its_error_and_the_rest_complete(ip: Any, thread_space: LocalSpace) -> None:
    thread_space.arm("error_string")  # the next stream fails: one cell of six
    grid, cap = cell(ip, "-m flux -s 1,2,3 -a 1:1,16:9")
    assert len(grid.cells) == 6 and len(grid) == 5
    [failed] = [c for c in grid.cells if c.error is not None]
    assert isinstance(failed.error, GenerationError) and "CUDA out of memory" in str(failed.error)
    with pytest.raises(GenerationError, match="CUDA out of memory"):
        grid.at(**failed.values)
    assert list(grid.errors.values()) == ["GenerationError: CUDA out of memory"]
    html = shown(ip, grid)["text/html"]
    assert html.count('class="g4f-cell-error"') == 1 and "GenerationError: CUDA out of memory" in html
    assert len(html_images(html)) == 5
    assert any(x.startswith("flux · done · 6 cells (1 failed)") for x in cap.stdout.splitlines())
    sizes = {(c.values["aspect_ratio"], c.result.size) for c in grid.cells if c.result}
    assert sizes <= {("1:1", "1024x1024"), ("16:9", "1360x760")}


def test_without_a_seed_every_cell_shares_one_and_nothing_is_replayed(ip: Any, thread_space: LocalSpace) -> None:
    grid, _ = cell(ip, "-m flux,flux-schnell,janus-pro-7b-image")
    assert len({r.seed for r in grid}) == 1  # the grid compares the models, not their seeds
    seed = grid[0].seed
    assert 9999 <= seed <= 999999  # inside every model's range
    before = len(thread_space.received)
    cell(ip, "-m flux,flux-schnell,janus-pro-7b-image")
    assert len(thread_space.received) > before  # not a seed the user chose: generated anew


def test_steps_and_guidance_sweep_reach_the_space(ip: Any, thread_space: LocalSpace) -> None:
    grid, _ = cell(ip, "-m flux-dev --steps 4,8 --guidance 2,3.5 -s 7")
    assert grid.row_labels == ["4 steps", "8 steps"] and grid.column_labels == ["guidance 2", "guidance 3.5"]
    sent = sorted((j.body["data"][6], j.body["data"][5]) for j in thread_space.requests(path="/gradio_api/queue/join"))
    assert sent == [(4, 2.0), (4, 3.5), (8, 2.0), (8, 3.5)]
    assert grid.at(steps=8, guidance=2).metadata()["steps"] == "8"


def test_a_sweep_saves_pngs_an_index_and_a_contact_sheet(ip: Any, tmp_path: Path) -> None:
    grid, _ = cell(ip, "-m flux,flux-schnell -s 10001,10002,10003")
    paths = grid.save(tmp_path / "out")
    from PIL import Image

    pngs = sorted(p.name for p in paths if p.suffix == ".png" and p.name != "contact-sheet.png")
    assert pngs == sorted(f"model-{m}_seed-{s}.png" for m in ("flux", "flux-schnell") for s in (10001, 10002, 10003))
    with Image.open(tmp_path / "out" / "model-flux-schnell_seed-10002.png") as im:
        assert im.text["seed"] == "10002" and im.text["model"] == "flux-schnell" and im.text["prompt"] == "a lighthouse"
    index = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert index["axes"] == {"model": ["flux", "flux-schnell"], "seed": [10001, 10002, 10003]}
    assert [c["values"] for c in index["cells"]][:2] == [{"model": "flux", "seed": 10001}, {"model": "flux", "seed": 10002}]
    with Image.open(tmp_path / "out" / "contact-sheet.png") as sheet:
        assert sheet.width > 3 * 256 and sheet.height > 2 * 256  # three columns, two rows, and the labels


@pytest.mark.parametrize(("line", "message"), [
    ("-s 1,x", "-s 1,x: 'x' is not a whole number"),
    ("--guidance 2,,3", "an empty value in the list"),
    ("-n 2 -s 1,2", "-n and a sweep do not mix"),
    ("-m janus-pro-7b,flux", "a sweep compares images"),
    ("-m flux-schnell --steps 4,8", "--steps is read by flux and flux-dev only"),
    ("-a 1:1,16:9 -W 512", "sweep -a without -W/-H"),
    ("-s " + ",".join(str(i) for i in range(9)) + " -a 1:1,16:9,4:3,3:4,9:16,21:9,3:2,2:3", "at most 64"),
    ("-m flux,flux-schnell -s 4294967295", "flux takes seeds from 0 to 2147483647"),
])
def test_a_bad_sweep_is_one_line_before_any_request(ip: Any, thread_space: LocalSpace, line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        cell(ip, line)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not thread_space.received


def test_requests_go_out_at_bounded_concurrency_per_space(ip: Any, thread_space: LocalSpace,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep's cells go through each Space's run slots: counted at the Space, never more in flight."""
    from support.helpers import FLUX_DEV, PREDICT

    monkeypatch.setattr(thread_space, "slow_delay", 0.0005)
    monkeypatch.setattr(thread_space.pace, "step", 0.05)  # /run/predict takes this long: its calls overlap
    grid, _ = cell(ip, "-m flux,flux-schnell -s 10001,10002,10003,10004", "a lighthouse [fault:slow]")
    assert len(grid) == 8
    assert thread_space.peak[FLUX_DEV] == thread_space.peak[PREDICT] == FIRST_SLOTS  # one running, one queued


def test_the_live_grid_settles_into_the_labelled_table(ip: Any) -> None:
    ip.run_line_magic("config", "G4FMagics.widgets = 'on'")
    try:
        from ipywidgets.widgets.widget import _instances

        before = set(_instances)
        grid, cap = cell(ip, "-m flux,flux-schnell -s 10001,10002")
        views = [o for o in cap.outputs if "application/vnd.jupyter.widget-view+json" in o.data]
        assert len(views) == 1
        [settled] = [o for o in cap.outputs if o.update]
        html = settled.data["text/html"]
        assert "flux, flux-schnell · done · 4 cells" in html and len(html_images(html)) == 4
        assert re.findall(r'<th class="g4f-col"[^>]*>([^<]*)</th>', html) == ["seed 10001", "seed 10002"]
        assert set(_instances) == before  # the live grid's widgets are closed
    finally:
        ip.run_line_magic("config", "G4FMagics.widgets = 'auto'")


def test_figures_agree_a_replayed_sweeps_time_and_its_words(ip: Any, thread_space: LocalSpace,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #24, item 5: the sweep's line gives the sweep's own time (cells waiting for a slot included, as
    the panel's history row does), and a replayed sweep says so without parentheses inside parentheses."""
    import time

    monkeypatch.setattr(thread_space.pace, "step", 0.02)
    started = time.monotonic()
    grid, cap = cell(ip, "-m flux,flux-schnell -s 31,32,33")
    wall = time.monotonic() - started
    assert grid.elapsed is not None and grid.elapsed >= max(r.elapsed for r in grid) and grid.elapsed <= wall
    [line] = [x for x in cap.stdout.splitlines() if x.startswith("flux, flux-schnell · done · 6 cells")]
    assert line.endswith(f"{grid.elapsed:.1f}s"), (line, grid.elapsed)
    again, cap = cell(ip, "-m flux,flux-schnell -s 31,32,33")
    [line] = [x for x in cap.stdout.splitlines() if x.startswith("flux, flux-schnell · done · 6 cells")]
    assert re.match(r"flux, flux-schnell · done · 6 cells · replayed \(generated [0-9-]+ [0-9:]+\) · ", line), line


def test_images_of_distinct_seeds_save_without_a_number_and_a_gallerys_are_numbered(ip: Any, tmp_path: Path) -> None:
    cell(ip, f"-m flux -s 21 -n 2 --save {tmp_path / 'n'}", "a fox")
    assert sorted(p.name for p in (tmp_path / "n").iterdir()) == ["flux-21-a-fox.png", "flux-22-a-fox.png"]
    gallery, _ = cell(ip, f"-m janus-pro-7b-image -s 5000 --save {tmp_path / 'j'}", "a fox")
    names = sorted(p.name for p in (tmp_path / "j").iterdir())
    assert names == [f"janus-pro-7b-image-5000-{i}-a-fox.png" for i in range(1, len(gallery) + 1)], names


def test_a_sweep_over_models_shows_each_models_own_picture(ip: Any) -> None:
    """Issue #36, item 6: the stand-in drew the same picture for every model, so the README's own sweep
    ``-m flux,flux-schnell`` showed two identical rows and looked broken."""
    import io

    from PIL import Image

    with capture_output():
        grid = ip.run_cell_magic("g4f", "-m flux,flux-schnell -s 5 --no-widgets", "a lighthouse in a storm")
    corners = []
    for result in grid:
        with Image.open(io.BytesIO(result.image.data)) as im:
            corners.append(im.convert("RGB").getpixel((2, 2)))
    (a, b) = corners
    assert sum(abs(x - y) for x, y in zip(a, b)) > 30, corners  # another gradient, not the same one re-encoded
