"""Batches in real kernels (issue #25): a kernel killed half way loses only what was in flight, and a saved
notebook of a 500-item batch stays light."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from kernels import Kernel, run_notebook

from g4f_magic.localspace import LocalSpace, Pace

JOIN = "/gradio_api/queue/join"


@pytest.mark.timeout(240)
def test_a_rerun_after_the_kernel_was_killed_asks_only_for_what_had_not_finished(kernel_env: LocalSpace,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_env, "pace", Pace(step=0.03, queue=0.0, stride=7, previews=2))
    store = Path(os.environ["G4F_MAGIC_CACHE"])
    cell = "%%g4f -m flux --each subjects -s 9\na study of {item}"
    first = Kernel()
    try:
        assert first.execute("%load_ext g4f_magic\nsubjects = [f'subject {i}' for i in range(30)]")["status"] == "ok"
        first.kc.execute(cell)  # not waited for: the kernel dies under it
        deadline = time.monotonic() + 60
        while len(kernel_env.requests(path=JOIN)) < 12 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.km.signal_kernel(signal.SIGKILL)  # no cleanup, no goodbye
    finally:
        first.close()
    from g4f_magic.engine.replay import _TEMP

    # each item stored as it ended; a temporary file the kill cut short (same suffix) is no entry
    finished = len([p for p in store.glob("*.g4f") if not p.name.startswith(_TEMP)])
    assert 0 < finished < 30, finished
    kernel_env.reset()
    again = Kernel()
    try:
        assert again.execute("%load_ext g4f_magic\nsubjects = [f'subject {i}' for i in range(30)]")["status"] == "ok"
        reply, out = again.run(cell, timeout=120)
        assert reply["status"] == "ok", reply
    finally:
        again.close()
    asked = sorted(r.body["data"][0] for r in kernel_env.requests(path=JOIN))  # on any Space of the pool
    assert len(asked) == 30 - finished and len(set(asked)) == len(asked)  # the rest, each once
    assert len([p for p in store.glob("*.g4f") if not p.name.startswith(_TEMP)]) == 30


@pytest.mark.timeout(300)
def test_a_saved_notebook_of_a_500_item_batch_stays_light(kernel_env: LocalSpace, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from kernels import html_images

    monkeypatch.setattr(kernel_env, "pace", Pace.fast(0.0))
    path = tmp_path / "batch.ipynb"
    nb: Any = run_notebook(["%load_ext g4f_magic", "tiles = [f'tile {i}' for i in range(500)]",
                            "%%g4f -m flux-schnell --each tiles -o res\na mosaic {item}",
                            "print(res.counts)"], path, timeout=280)
    assert "{'done': 500, 'failed': 0, 'not run': 0}" in nb.cells[3].outputs[0]["text"]
    size = path.stat().st_size
    assert size < 1_000_000, size  # the bound is 2 MB for 1,000 items
    html = "".join(o.get("data", {}).get("text/html", "") for o in nb.cells[2].outputs)
    assert len(html_images(html)) == 24 and re.search(r'476 more and all 500 with <a href=\"[^\"]+/manifest.jsonl\" target=\"_blank\">manifest.jsonl</a> in <code>', html)
    saved = [p for p in tmp_path.glob("g4f_images/batch-*/*") if p.suffix in (".png", ".webp")]
    assert len(saved) == 500  # each as its Space served it
