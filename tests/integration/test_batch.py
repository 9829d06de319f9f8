"""Batches through the magic against the local Space (issue #25): the template per item, a failed item that
does not stop the rest and runs again alone, a rerun that asks only for what had not finished, an interrupt
that keeps the partial set, and a view that stays the same size for 60 items as for 3."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from support.helpers import FLUX_DEV, OFFICIAL_SCHNELL, PREDICT

from g4f_magic.engine.batch import BatchSet
from g4f_magic.errors import QuotaExceeded, RunCancelled
from g4f_magic.localspace import LocalSpace


def cell(ip: Any, line: str, body: str) -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_cell_magic("g4f", line, body)
    return value, cap


def prompts_sent(space: LocalSpace) -> list[str]:
    """Every FLUX prompt joined, on whichever Space of the pool (the model's own and the official one)."""
    return [r.body["data"][0] for r in space.requests(path="/gradio_api/queue/join")]


def test_a_template_runs_over_a_list_and_a_dataframe(ip: Any, thread_space: LocalSpace) -> None:
    ip.user_ns["subjects"] = ["fox", "owl", "heron"]
    ip.user_ns["style"] = "watercolor"
    res, cap = cell(ip, "-m flux --each subjects -o res", "a {style} {item}, soft light")
    assert isinstance(res, BatchSet) and ip.user_ns["res"] is res and len(res) == 3
    assert sorted(prompts_sent(thread_space)) == ["a watercolor fox, soft light", "a watercolor heron, soft light",
                                                  "a watercolor owl, soft light"]
    assert [res.item(i).prompt for i in range(3)] == ["a watercolor fox, soft light", "a watercolor owl, soft light",
                                                      "a watercolor heron, soft light"]
    assert [res.item(i).seed for i in range(3)] == [e.seed for e in res.items]
    lines = cap.stdout.splitlines()
    assert lines[-2].startswith("flux · batch of 3 · 3 done · ") and "saved 3 images and manifest.jsonl in imgs/batch-" in lines[-1]
    assert sum(line.startswith("[#") for line in lines) == 3 and "3 done · 0 left · 3/3" in cap.stdout

    thread_space.reset()
    ip.user_ns["df"] = pd.DataFrame({"animal": ["cat", "emu"], "place": ["a barn", "the snow"]})
    res, _ = cell(ip, "-m flux --each df -s 5", "a {animal} in {place}")
    assert sorted(prompts_sent(thread_space)) == ["a cat in a barn", "a emu in the snow"]
    assert res.to_pandas().loc[1, "animal"] == "emu"


def test_a_file_of_prompts_and_the_mixes_that_are_refused(ip: Any, thread_space: LocalSpace, tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text("a red bicycle\na blue door\n")
    with capture_output():  # a line magic: no template, each line is the prompt
        res = ip.run_line_magic("g4f", "-m flux-schnell --each prompts.txt")
    assert [e.prompt for e in res.items] == ["a red bicycle", "a blue door"] and res.counts["done"] == 2
    ip.user_ns["xs"] = ["a", "b"]
    for line, message in (("-m flux,flux-schnell --each xs", "--each and a comma list (-m) do not mix"),
                          ("-n 2 --each xs", "-n and --each do not mix"),
                          ("-m janus-pro-7b --each xs", "--each makes images; janus-pro-7b answers questions"),
                          ("--each nothing_here", "--each nothing_here: NameError: name 'nothing_here' is not defined"),
                          ("--each xs", "the prompt uses none of the items' fields ({item}): every item would ask the same")):
        thread_space.reset()
        with pytest.raises(UsageError) as info:
            cell(ip, line, "a lighthouse" if "--each xs" == line else "{item}")
        assert message in str(info.value) and "\n" not in str(info.value), (line, info.value)
        assert not thread_space.requests(path="/gradio_api/queue/join")  # refused before anything is sent


def test_a_failed_item_leaves_the_rest_and_runs_again_alone(ip: Any, thread_space: LocalSpace) -> None:
    ip.user_ns["items"] = ["a fox", "a broken one [fault:error_string]", "an owl"]
    res, cap = cell(ip, "-m flux --each items -o res", "{item}")
    assert res.counts == {"done": 2, "failed": 1, "not run": 0}
    assert res.errors == {1: "GenerationError: CUDA out of memory"}
    assert "[#1] flux · GenerationError: CUDA out of memory" in cap.stdout
    rows = [json.loads(x) for x in next(Path("imgs").glob("batch-*/manifest.jsonl")).read_text().splitlines()]
    assert [r["error"] for r in rows] == [None, "GenerationError: CUDA out of memory", None]
    failed_at = {r.host for r in thread_space.requests(path="/gradio_api/queue/join") if "broken" in str(r.body)}
    assert {rows[1]["space"]} == failed_at  # the failed row names the Space that failed it
    thread_space.reset()
    again, _ = cell(ip, "-m flux --each res.failed", "{item}")
    assert prompts_sent(thread_space) == ["a broken one [fault:error_string]"]  # only the failed item, same seed
    assert again.items[0].seed == res.items[1].seed


def test_a_rerun_asks_only_for_what_had_not_finished(ip: Any, thread_space: LocalSpace) -> None:
    """As after a killed kernel: the first half finished (stored as each ended), the rerun of the whole list
    is counted at the Space."""
    subjects = [f"subject {i}" for i in range(8)]
    ip.user_ns["half"], ip.user_ns["whole"] = subjects[:4], subjects
    cell(ip, "-m flux --each half -s 3", "a study of {item}")
    thread_space.reset()
    res, _ = cell(ip, "-m flux --each whole -s 3", "a study of {item}")
    assert sorted(prompts_sent(thread_space)) == [f"a study of subject {i}" for i in range(4, 8)]
    assert [r.replayed is not None for r in res] == [True] * 4 + [False] * 4


def test_an_interrupt_keeps_the_partial_set(ip: Any, thread_space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (SIGINT) a third of the way through: the cell ends in one line that says what was kept, and the
    finished items are in -o's variable and _g4f, the rest marked not run."""
    from support.helpers import ctrl_c_when

    from g4f_magic.localspace import Pace

    monkeypatch.setattr(thread_space, "pace", Pace(step=0.1, queue=0.0, stride=7, previews=2))  # 0.5 s an image
    ip.user_ns["many"] = [f"item {i}" for i in range(12)]
    # once the first round has ended (two Spaces, two slots each) and the next is in
    with ctrl_c_when(lambda: len(thread_space.requests(path="/gradio_api/queue/join")) >= 6, settle=0.3), \
            pytest.raises(KeyboardInterrupt) as info, capture_output() as cap:
        ip.run_cell_magic("g4f", "-m flux --each many -o part", "a {item}")
    assert isinstance(info.value, RunCancelled)
    part = ip.user_ns["part"]
    assert isinstance(part, BatchSet) and ip.user_ns["_g4f"] is part
    counts = part.counts
    assert counts["done"] >= 1 and counts["not run"] >= 1 and counts["done"] + counts["not run"] == 12, counts
    line = info.value._render_traceback_()[0]
    assert line.startswith(f"RunCancelled: flux · cancelled · {counts['done']} of 12 done · ") and line.endswith("s · kept in part")
    assert f"flux · cancelled · {counts['done']} of 12 done · " in cap.stdout  # the headline over what was kept


def test_sixty_items_keep_the_view_and_the_output_bounded(ip: Any, thread_space: LocalSpace) -> None:
    """The widget view for a big batch: a fixed number of widgets, a bounded number of embedded thumbnails,
    the rest in the folder its output links to."""

    from g4f_magic.notebook.html import EMBEDDED
    from g4f_magic.notebook.views import THUMBS, BatchView

    ip.run_line_magic("config", "G4FMagics.widgets = 'on'")
    try:
        from ipywidgets.widgets.widget import _instances

        before = set(_instances)
        made: list[int] = []
        original = BatchView.__init__

        def counting(self: BatchView, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            made.append(len(set(_instances) - before))

        BatchView.__init__ = counting  # type: ignore[method-assign]
        try:
            ip.user_ns["sixty"] = [f"tile {i}" for i in range(60)]
            res, cap = cell(ip, "-m flux-schnell --each sixty", "a mosaic {item}")
        finally:
            BatchView.__init__ = original  # type: ignore[method-assign]
        assert res.counts["done"] == 60
        assert made and made[0] <= 3 * THUMBS + 20  # the same for 60 items as for 3 (widgets and their layouts)
        assert set(_instances) == before  # all closed when it settled
        [settled] = [o for o in cap.outputs if o.update]
        html = settled.data["text/html"]
        assert html.count('class="g4f-thumb"') == EMBEDDED and len(html) < 200_000
        [folder] = re.findall(r'href="(imgs/batch-[^"]+)/manifest.jsonl"', html)
        saved = [p for p in Path(folder).iterdir() if p.suffix in (".png", ".webp")]  # as each Space served it
        assert len(saved) == 60 and re.search(r'36 more and all 60 with <a href=\"[^\"]+/manifest.jsonl\" target=\"_blank\">manifest.jsonl</a> in <code>', html)
    finally:
        ip.run_line_magic("config", "G4FMagics.widgets = 'auto'")


def test_one_question_over_a_folder_a_glob_and_a_list_of_images(ip: Any, thread_space: LocalSpace, tmp_path: Path) -> None:
    """Janus as a labeller: --image naming a folder, a glob or a list asks the same question about each image,
    one conversation per image; the answers come back as a table of thumbnail and answer."""
    from support.helpers import JANUS, OFFICIAL_JANUS

    from g4f_magic.localspace.images import placeholder

    photos = tmp_path / "photos"
    photos.mkdir()
    for i, side in enumerate((64, 80, 96)):
        (photos / f"p{i}.png").write_bytes(placeholder(f"photo {i}", i, side, side, "PNG"))
    (photos / "notes.txt").write_text("not an image")
    res, cap = cell(ip, "-m janus-pro-7b --image photos -o labels", "What is in this picture?")
    assert isinstance(res, BatchSet) and res.counts == {"done": 3, "failed": 0, "not run": 0}
    answers = [res.item(i).text for i in range(3)]
    for i, (answer, side) in enumerate(zip(answers, (64, 80, 96))):
        assert "You asked: What is in this picture?" in answer and f"I see a {side}x{side} PNG image" in answer, answer
        assert res.items[i].source == f"photos/p{i}.png" and res.items[i].thumb is not None  # as named
    assert "(this conversation has" not in "".join(answers)  # each image its own conversation
    joins = [r for r in thread_space.requests(path="/gradio_api/queue/join") if r.host in (JANUS, OFFICIAL_JANUS)]
    uploads = [r for r in thread_space.requests(path="/gradio_api/upload") if r.host in (JANUS, OFFICIAL_JANUS)]
    assert len(joins) == len(uploads) == 3  # one conversation per image, over Janus's two Spaces
    assert "[#0] janus-pro-7b · done · " in cap.stdout and "I see a 64x64 PNG image" in cap.stdout
    rows = [json.loads(x) for x in next(Path("imgs").glob("batch-*/manifest.jsonl")).read_text().splitlines()]
    assert [r["image"] for r in rows] == [f"photos/p{i}.png" for i in range(3)]
    assert rows[1]["answer"] == answers[1] and rows[1]["file"] is None
    assert sorted(r["space"] for r in rows) == sorted(r.host for r in joins)  # each answer's row names its Space

    thread_space.reset()
    again, _ = cell(ip, f"-m janus-pro-7b --image {photos}/p[01].png", "What is in this picture?")
    assert [e.source for e in again.items] == [str(photos / "p0.png"), str(photos / "p1.png")]
    assert not thread_space.requests(path="/gradio_api/queue/join")  # the same questions: replayed

    (photos / "broken.png").write_bytes(b"not a png at all")
    ip.user_ns["mixed"] = [(photos / "p2.png").read_bytes(), str(photos / "broken.png")]
    mixed, _ = cell(ip, "-m janus-pro-7b --image mixed", "Describe it.")
    assert mixed.counts == {"done": 1, "failed": 1, "not run": 0}
    assert mixed.errors == {1: f"InvalidOption: {photos / 'broken.png'} is not a PNG, JPEG, GIF or WebP image"}


def test_a_question_batch_settles_into_a_table_of_images_and_answers(ip: Any, thread_space: LocalSpace,
                                                                     tmp_path: Path) -> None:
    from kernels import html_images

    from g4f_magic.localspace.images import placeholder

    ip.run_line_magic("config", "G4FMagics.widgets = 'on'")
    try:
        ip.user_ns["pics"] = [placeholder("a <b>cat</b>", i, 64, 64, "PNG") for i in range(3)]
        res, cap = cell(ip, "-m janus-pro-7b --image pics", "What is it? <script>x</script>")
    finally:
        ip.run_line_magic("config", "G4FMagics.widgets = 'auto'")
    [settled] = [o for o in cap.outputs if o.update]
    html = settled.data["text/html"]
    assert html.count("<tr>") == 3 and len(html_images(html)) == 3 and 'class="g4f-batch g4f-answers"' in html
    assert html.count("You asked: What is it? &lt;script&gt;x&lt;/script&gt;") == 3 and "<script>" not in html
    assert res.counts["done"] == 3 and "janus-pro-7b · batch of 3 · 3 done" in settled.data["text/plain"]


def test_a_batch_spreads_over_every_space_that_serves_the_model(ip: Any, thread_space: LocalSpace) -> None:
    """A pool: the model's own Space, the official one and one's own duplicate share a 50-item batch, and the
    manifest names which made each image; a paused one is benched and its items go to the others."""
    from collections import Counter

    from support.helpers import OFFICIAL_DEV

    from g4f_magic.localspace.app import OWN_DUPLICATE

    own = f"{thread_space.url}/{OWN_DUPLICATE}"  # type: ignore[attr-defined]
    ip.run_line_magic("config", f"G4FMagics.mirrors = {{'flux': [{own!r}]}}")
    ip.user_ns["fifty"] = [f"scene {i}" for i in range(50)]
    res, _ = cell(ip, "-m flux --each fifty -o res", "a {item}")
    made = Counter(row["space"] for row in res.manifest())
    assert res.counts["done"] == 50 and set(made) == {FLUX_DEV, OFFICIAL_DEV, OWN_DUPLICATE}, made
    assert min(made.values()) >= 10, made  # spread, not one Space and two idle
    asked = {host: len(thread_space.requests(host, "/gradio_api/queue/join")) for host in made}
    assert asked == dict(made)  # each image made where the manifest says

    thread_space.reset()
    thread_space.down[OFFICIAL_DEV] = "paused"  # type: ignore[attr-defined]
    res, _ = cell(ip, "-m flux --each fifty -s 2 -o res", "a {item}")
    made = Counter(row["space"] for row in res.manifest())
    assert res.counts["done"] == 50 and set(made) == {FLUX_DEV, OWN_DUPLICATE}, made
    tried = len(thread_space.requests(OFFICIAL_DEV, "/config")) + len(thread_space.requests(OFFICIAL_DEV, "/gradio_api/queue/join"))
    assert tried <= 8, tried  # benched after its first refusals (without the bench: 10 joins here)


def test_a_quota_refusal_in_a_pool_follows_wait_and_fallback_and_then_stops_the_batch(ip: Any,
                                                                                       thread_space: LocalSpace) -> None:
    """ZeroGPU's quota is the caller's on every Space of the pool: a refused item waits (--wait) or goes to the next
    model (--fallback) and benches no Space; past both, the batch sends no more items and says so."""
    from collections import Counter

    from g4f_magic.engine.run import BATCH_WORKERS
    from g4f_magic.localspace.app import OWN_DUPLICATE

    own = f"{thread_space.url}/{OWN_DUPLICATE}"  # type: ignore[attr-defined]
    ip.run_line_magic("config", f"G4FMagics.mirrors = {{'flux': [{own!r}]}}")
    ip.user_ns["twelve"] = [f"scene {i}" for i in range(12)]

    thread_space.arm("quota_soon", 3)  # "… Try again in 0:00:01", for the next three runs on any Space
    res, cap = cell(ip, "-m flux --each twelve --wait -o res", "a {item}")
    assert res.counts == {"done": 12, "failed": 0, "not run": 0} and res.halted is None
    assert sum("waited 0:01 for the quota" in r.note for r in res) == 3
    assert len(prompts_sent(thread_space)) == 15  # three refused, then made after their wait
    assert len({row["space"] for row in res.manifest()}) == 3  # the refusals benched no Space

    thread_space.reset()
    thread_space.arm("quota_new", 2)  # no time stated: the next model answers
    res, cap = cell(ip, "-m flux --each twelve -s 1 --fallback flux-schnell -o res", "a {item}")
    assert res.counts["done"] == 12
    assert Counter(r.model for r in res) == {"flux": 10, "flux-schnell": 2}
    stood_in = {row["space"] for row in res.manifest() if row["model"] == "flux-schnell"}
    assert stood_in <= {PREDICT, OFFICIAL_SCHNELL} and stood_in, stood_in  # the manifest names the stand-in's Space

    thread_space.reset()
    thread_space.arm("quota_old", 100)  # "… Please retry in 0:04:12", and no --wait: every Space would refuse
    ip.user_ns["forty"] = [f"scene {i}" for i in range(40)]
    res, cap = cell(ip, "-m flux --each forty -s 2 -o res", "a {item}")
    sent = len(prompts_sent(thread_space))
    counts = res.counts
    assert counts["done"] == 0 and counts["failed"] == sent and counts["failed"] + counts["not run"] == 40
    assert sent <= BATCH_WORKERS, sent  # only the items already taken went out after the first refusal
    assert isinstance(res.halted, QuotaExceeded) and "stopped at the GPU quota" in cap.stdout
    assert len(res.failed) == 40  # every item is there to run again once the quota is back
    thread_space.reset()
    res, cap = cell(ip, "-m flux --each res.failed -s 2 -o res", "a {item}")
    assert res.counts["done"] == 40 and len(prompts_sent(thread_space)) == 40


def test_in_a_pool_the_token_goes_only_to_the_spaces_it_belongs_to(ip: Any, thread_space: LocalSpace,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool sends items to one's own duplicate first as often as to the official Spaces: the Hugging Face token
    still goes only to the Spaces it is for, never to one's own server unless named (send_hf_token_to)."""
    from leakscan import TOKEN
    from support.helpers import OFFICIAL_DEV

    from g4f_magic.localspace.app import OWN_DUPLICATE

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    own = f"{thread_space.url}/{OWN_DUPLICATE}"  # type: ignore[attr-defined]
    ip.run_line_magic("config", f"G4FMagics.mirrors = {{'flux': [{own!r}]}}")
    ip.user_ns["twelve"] = [f"scene {i}" for i in range(12)]
    res, _ = cell(ip, "-m flux --each twelve -o res", "a {item}")
    assert res.counts["done"] == 12
    at = {host: [r.headers for r in thread_space.received if r.host == host] for host in (FLUX_DEV, OFFICIAL_DEV,
                                                                                          OWN_DUPLICATE)}
    assert all(at.values()), {h: len(v) for h, v in at.items()}  # every Space of the pool had items
    assert all("authorization" not in h and "x-zerogpu-token" not in h for h in at[OWN_DUPLICATE])
    assert all(TOKEN not in json.dumps(h) for h in at[OWN_DUPLICATE])
    joins = [r for r in thread_space.received if r.path.endswith("/queue/join") and r.host != OWN_DUPLICATE]
    assert joins and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in joins)


def test_a_batch_finds_its_identity_and_its_spaces_once(ip: Any, thread_space: LocalSpace,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a batch goes and as whom is resolved once for all its items (issue #33): one token lookup, not one
    per item, and still every join carries the token."""
    from leakscan import TOKEN

    from g4f_magic.spaces import providers

    looked: list[int] = []
    find = providers.find_hf_token

    def counting() -> Any:
        looked.append(1)
        return find()

    monkeypatch.setattr(providers, "find_hf_token", counting)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    ip.user_ns["thirty"] = [f"scene {i}" for i in range(30)]
    res, _ = cell(ip, "-m flux --each thirty -o res", "a {item}")
    assert res.counts["done"] == 30 and len(looked) == 1
    joins = [r for r in thread_space.received if r.path.endswith("/queue/join")]
    assert len(joins) == 30 and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in joins)


def test_an_auto_saved_batch_has_one_record_per_item_in_the_manifest_and_to_pandas(ip: Any,
                                                                                   thread_space: LocalSpace) -> None:
    """Issue #36, item 4: to_pandas() had file None for every row of an auto-saved batch whose manifest named them,
    and a plain list's value sat in a column field_item where --each calls it item."""
    ip.user_ns["thirty"] = [f"thing {i}" for i in range(30)]
    with capture_output() as cap:
        res = ip.run_cell_magic("g4f", "-m flux -s 3 --each thirty --no-widgets", "a {item}")
    [manifest] = list(Path("imgs").rglob("manifest.jsonl"))
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    frame = res.to_pandas()
    assert list(frame["file"]) == [r["file"] for r in rows] and all(rows[i]["file"] for i in range(30))
    assert list(frame["item"]) == [f"thing {i}" for i in range(30)] and "field_item" not in frame.columns
    assert cap.stdout.count(str(manifest.parent)) == 1, cap.stdout  # the folder said once


def test_a_hung_space_in_a_pool_is_benched_and_its_items_move_on(ip: Any, thread_space: LocalSpace,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #35, item 5: a mirror that never answers a join cost each of its items the whole --timeout, was not
    benched, and 6 of 12 items failed while the other Space sat idle. Now a Space that leaves a join unanswered
    past ANSWER_WITHIN, while another could take the run, hands it on and is benched; nothing is lost."""
    from collections import Counter

    from support.helpers import OFFICIAL_DEV

    from g4f_magic.spaces import providers

    monkeypatch.setattr(providers, "ANSWER_WITHIN", 0.5)
    thread_space.down[OFFICIAL_DEV] = "hung"  # type: ignore[attr-defined]
    ip.user_ns["twelve"] = [f"scene {i}" for i in range(12)]
    res, cap = cell(ip, "-m flux --each twelve -s 5 --timeout 5 -o res --no-widgets", "a {item}")
    rows = list(res.manifest())
    made = Counter(row["space"] for row in rows)
    assert res.counts["done"] == 12 and made == {FLUX_DEV: 12}, (res.counts, made)
    hung_joins = len(thread_space.requests(OFFICIAL_DEV, "/gradio_api/queue/join"))
    assert 1 <= hung_joins <= 6, hung_joins  # the items already given to it when it fell silent, then benched
    handed = [row for row in rows if "tried" in row]  # the manifest names every Space that tried an item
    assert len(handed) == hung_joins and all(row["tried"] == [OFFICIAL_DEV, FLUX_DEV] for row in handed), handed
    assert "no word on its join in 0.5 s" in cap.stdout or "unavailable" in cap.stdout
    thread_space.release_hung()  # type: ignore[attr-defined]
