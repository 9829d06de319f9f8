"""Batches without a Space: items from each kind of data, the template per item, seeds that survive a rerun,
and the result set's manifest, folder and DataFrame (issue #25)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.helpers import FLUX_DEV, OFFICIAL_DEV

from g4f_magic.engine.batch import BatchItem, BatchSet, fill, item_seed, items_of, make_batch
from g4f_magic.engine.job import Job
from g4f_magic.engine.result import GeneratedImage, Result
from g4f_magic.errors import GenerationError, InvalidOption
from g4f_magic.localspace.images import placeholder

SEEDS = (0, 2**31 - 1)


def test_items_come_from_lists_pandas_and_files(tmp_path: Path) -> None:
    assert items_of(["fox", "owl"]) == [{"item": "fox"}, {"item": "owl"}]
    assert items_of(("fox",)) == [{"item": "fox"}]
    assert items_of([{"animal": "fox", "n": 2}]) == [{"animal": "fox", "n": 2}]
    assert items_of(pd.Series(["fox", "owl"], name="animal")) == [{"item": "fox", "animal": "fox"},
                                                                 {"item": "owl", "animal": "owl"}]
    frame = pd.DataFrame({"animal": ["fox", "owl"], "legs": [4, 2]})
    rows = items_of(frame)
    assert rows == [{"animal": "fox", "legs": 4}, {"animal": "owl", "legs": 2}] and type(rows[0]["legs"]) is int
    (tmp_path / "p.txt").write_text("a fox\n\n  an owl  \n")
    (tmp_path / "p.csv").write_text("animal,place\nfox,snow\nowl,barn\n")
    (tmp_path / "p.jsonl").write_text('{"animal": "fox"}\n\n"an owl"\n')
    assert items_of(str(tmp_path / "p.txt")) == [{"item": "a fox"}, {"item": "an owl"}]
    assert items_of(tmp_path / "p.csv") == [{"animal": "fox", "place": "snow"}, {"animal": "owl", "place": "barn"}]
    assert items_of(tmp_path / "p.jsonl") == [{"animal": "fox"}, {"item": "an owl"}]


@pytest.mark.parametrize("data, message", [
    ([], "--each: there are no items"),
    (42, "--each takes a list, a tuple, a pandas Series or DataFrame, or a .txt, .csv, .jsonl file; not int"),
    ("prompts.md", "--each prompts.md: a file of prompts is .txt, .csv, .jsonl"),
    ("missing.txt", "--each missing.txt: No such file or directory"),
])
def test_bad_items_are_one_line(data: Any, message: str) -> None:
    """In the front end's words (the magic's flag here); in plain words for a caller that gives none."""
    with pytest.raises(InvalidOption) as info:
        items_of(data, {"each": "--each"})
    assert str(info.value) == message
    with pytest.raises(InvalidOption) as info:
        items_of(data)
    assert str(info.value) == message.replace("--each", "each")


def jobs(prompt: str, seed: int) -> Job:
    return Job("flux", prompt, seed=seed)


def test_the_template_fills_per_item_and_each_item_keeps_its_seed() -> None:
    rows = items_of(pd.DataFrame({"animal": ["fox", "owl", "fox"], "place": ["snow", "barn", "snow"]}))
    batch = make_batch(jobs, "a {animal} in the {place}", rows, 7, SEEDS)
    assert [i.prompt for i in batch.items] == ["a fox in the snow", "a owl in the barn",
                                              "a fox in the snow"]
    assert [j.prompt for j in batch.jobs] == [i.prompt for i in batch.items]
    assert [j.seed for j in batch.jobs] == [i.seed for i in batch.items]
    first, second, again = (i.seed for i in batch.items)
    assert first != again  # the same prompt twice: two images, not one replayed twice
    # a rerun of a part, or with items added around it, asks for the same requests
    alone = make_batch(jobs, "a {animal} in the {place}", rows[1:2], 7, SEEDS)
    assert alone.items[0].seed == second
    assert make_batch(jobs, "a {animal} in the {place}", rows, 8, SEEDS).items[0].seed != first  # -s picks another set
    assert item_seed(7, "a fox in the snow", 0, (0, 99)) in range(100)
    plain = make_batch(jobs, "", items_of(["a red fox"]), None, SEEDS)  # no template: the item is the prompt
    assert plain.items[0].prompt == "a red fox" and plain.batch_seed == 0


@pytest.mark.parametrize("template, message", [
    ("a lighthouse", "the prompt uses none of the items' fields ({item}): every item would ask the same"),
    ("a {item} in {place}", "the prompt uses {place}, which the items do not have; they have {item}"),
])
def test_a_template_that_cannot_vary_is_refused(template: str, message: str) -> None:
    with pytest.raises(InvalidOption) as info:
        make_batch(jobs, template, items_of(["fox", "owl"]), None, SEEDS)
    assert str(info.value) == message


def test_minus_n_does_not_mix_with_a_batch() -> None:
    with pytest.raises(InvalidOption, match="-n and --each do not mix"):
        make_batch(lambda p, s: Job("flux", p, seed=s, count=2), "{item}", items_of(["fox"]), None, SEEDS,
                   {"count": "-n", "each": "--each"})
    with pytest.raises(InvalidOption, match="^count and each do not mix"):
        make_batch(lambda p, s: Job("flux", p, seed=s, count=2), "{item}", items_of(["fox"]), None, SEEDS)
    assert fill("{a}-{b}", {"a": 1, "b": "x"}) == "1-x"


def finished(tmp_path: Path) -> BatchSet:
    def result(prompt: str, seed: int, url: str) -> Result:
        data = placeholder(prompt, seed, 64, 64, "WEBP")
        return Result(prompt, "flux", seed, 64, 64, GeneratedImage(data, "image/webp", url), elapsed=1.5)

    items = [BatchItem(0, {"animal": "fox", "item": "x"}, "a fox", 11,
                       result=result("a fox", 11, f"http://127.0.0.1:1/{FLUX_DEV}/gradio_api/file=/a.webp")),
             BatchItem(1, {"animal": "owl", "item": "y"}, "an owl", 12, error=GenerationError("CUDA out of memory"),
                       tried=[OFFICIAL_DEV, FLUX_DEV]),  # the first handed it on, the second failed it
             BatchItem(2, {"animal": "cat", "item": "z"}, "a cat", 13,
                       result=result("a cat", 13, "http://127.0.0.1:7860/gradio_api/file=/b.webp")),  # own server
             BatchItem(3, {"animal": "emu", "item": "w"}, "an emu", 14)]  # interrupted before it ran
    return BatchSet(items, "a {animal}", 0)


def test_a_batch_set_is_indexed_by_item_and_lists_what_failed(tmp_path: Path) -> None:
    batch = finished(tmp_path)
    assert len(batch) == 2 and batch[1] is batch.item(2)  # a list of what arrived, and each item by its number
    with pytest.raises(GenerationError, match="CUDA"):
        batch.item(1)
    with pytest.raises(InvalidOption, match="item 3 was not run"):
        batch.item(3)
    assert batch.counts == {"done": 2, "failed": 1, "not run": 1}
    assert batch.errors == {1: "GenerationError: CUDA out of memory"}
    assert batch.failed == [{"animal": "owl", "item": "y"}, {"animal": "emu", "item": "w"}]  # --each takes it


def test_save_writes_the_images_and_a_manifest_and_to_pandas_reads_it(tmp_path: Path) -> None:
    batch = finished(tmp_path)
    paths = batch.save(tmp_path / "out")
    assert [p.name for p in paths] == ["0000-flux-11-a-fox.webp", "0002-flux-13-a-cat.webp", "manifest.jsonl"]
    assert (tmp_path / "out" / "0000-flux-11-a-fox.webp").read_bytes() == batch.item(0).image.data  # as served
    rows = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert [r["item"] for r in rows] == [0, 1, 2, 3]
    assert rows[0] == {"item": 0, "prompt": "a fox", "model": "flux", "space": FLUX_DEV,
                       "seed": 11, "size": "64x64", "file": "0000-flux-11-a-fox.webp", "elapsed": 1.5,
                       "replayed": False, "error": None}
    assert rows[2]["space"] == "127.0.0.1:7860"  # one's own server, by host and port
    assert rows[1]["error"] == "GenerationError: CUDA out of memory" and rows[1]["seed"] == 12 and rows[1]["file"] is None
    assert rows[1]["space"] == FLUX_DEV and rows[1]["tried"] == [OFFICIAL_DEV, FLUX_DEV]  # a failure names who tried
    assert "tried" not in rows[0] and rows[3]["space"] is None
    assert rows[3]["error"] is None and rows[3]["model"] is None
    with pytest.raises(InvalidOption, match="saved to a folder"):
        batch.save(tmp_path / "x.png")
    frame = batch.to_pandas()
    assert list(frame.index) == [0, 1, 2, 3] and frame.loc[2, "animal"] == "cat" and frame.loc[0, "seed"] == 11
    assert frame.loc[0, "item"] == "x"  # a plain value is the column item, as --each names it (the index: its number)
    assert list(frame.columns[:2]) == ["animal", "item"]
    assert frame.loc[0, "file"] == rows[0]["file"] and pd.isna(frame.loc[1, "file"])  # the manifest's files


def test_a_question_over_many_images_reads_each_only_when_it_runs() -> None:
    from g4f_magic.engine.batch import make_question_batch

    read: list[str] = []

    def loader(name: str) -> Any:
        async def load(client: Any) -> bytes:
            read.append(name)
            return b""
        return load

    janus = (0, 999_999)

    def ask(names: list[str]) -> Any:
        return make_question_batch(lambda s: Job("janus-pro-7b", "What is it?", seed=s), "What is it?",
                                   [(n, loader(n)) for n in names], None, janus)

    batch = ask(["photos/a.png", "photos/b.png", "photos/a.png"])
    assert read == [] and [i.source for i in batch.items] == ["photos/a.png", "photos/b.png", "photos/a.png"]
    a, b, twice = (i.seed for i in batch.items)
    assert len({a, b, twice}) == 3  # the same image twice: asked twice
    assert ask(["/home/me/photos/a.png"]).items[0].seed == a  # a file by its own name, however its folder is written
    assert all(i.prompt == "What is it?" and i.fields == {"image": i.source} for i in batch.items)
    with pytest.raises(InvalidOption, match="the question is empty"):
        make_question_batch(lambda s: Job("janus-pro-7b", "x", seed=s), " ", [("a.png", loader("a"))], None, (0, 9))


def test_a_big_batchs_images_wait_on_disk_not_in_memory(tmp_path: Path) -> None:
    """Issue #25: with a folder, each image is written as it arrives and the result keeps only its path;
    saving to that folder at the end writes nothing twice."""
    from g4f_magic.engine.batch import spill
    from g4f_magic.engine.result import SavedImage

    batch = finished(tmp_path)
    served = batch.item(0).image.data
    for e in batch.items:
        spill(e, len(batch.items), tmp_path / "out")
    image = batch.item(0).image
    assert isinstance(image, SavedImage) and image.path == tmp_path / "out" / "0000-flux-11-a-fox.webp"
    assert image.data == served and image.mime == "image/webp" and "__dict__" not in repr(image)
    os.utime(image.path, ns=(0, 0))  # a rewrite would set it to now
    paths = batch.save(tmp_path / "out")
    assert paths[0] == image.path and image.path.stat().st_mtime_ns == 0
