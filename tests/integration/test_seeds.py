"""Issue #35, item 1: a Space's word for its seed is checked against the request, never taken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from g4f_magic.localspace import LocalSpace


def cell(ip: Any, line: str, body: str) -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_cell_magic("g4f", line, body)
    return value, cap


@pytest.mark.parametrize("model, fault", [("flux", "seed_lies")])  # /run/predict randomises: its reply's seed is used
def test_a_space_that_reports_another_seed_is_said_and_the_request_keeps_its_own(
        ip: Any, thread_space: LocalSpace, model: str, fault: str) -> None:
    ip.run_line_magic("config", "G4FMagics.replay_dir = 'replay'")
    result, cap = cell(ip, f"-m {model} -s 4242 --no-widgets", f"[fault:{fault}] a lighthouse")
    assert result.seed == 4242 and result.reported_seed == 4243
    assert f"{model} · done · seed 4242 · 1024x1024 · " in cap.stdout and "· the Space reported seed 4243\n" in cap.stdout
    assert ("The Space reports seed 4243 for the seed 4242 it was sent; the image is kept as seed 4242, what was "
            "asked") in result.log
    sent = len(thread_space.received)
    again, _ = cell(ip, f"-m {model} -s 4242 --no-widgets", f"[fault:{fault}] a lighthouse")
    assert again.replayed is not None and again.seed == 4242  # replayed under the key of the request as sent
    assert len(thread_space.received) == sent


def test_a_batch_over_a_space_that_misreports_replays_and_its_manifest_has_both(ip: Any, thread_space: LocalSpace) -> None:
    ip.run_line_magic("config", "G4FMagics.replay_dir = 'replay'")
    ip.user_ns["six"] = ["fox", "owl", "hare", "wren", "mole", "newt"]
    res, _ = cell(ip, "-m flux -s 1 --each six --save out --no-widgets", "[fault:seed_lies] a {item}")
    rows = [json.loads(line) for line in next(Path("out").rglob("manifest.jsonl")).read_text().splitlines()]
    assert all(r["reported_seed"] == r["seed"] + 1 for r in rows) and len(rows) == 6
    joins = len([r for r in thread_space.received if r.path.endswith("/queue/join")])
    again, _ = cell(ip, "-m flux -s 1 --each six --no-widgets", "[fault:seed_lies] a {item}")
    assert again.counts["done"] == 6 and all(r.replayed is not None for r in again)  # keyed by the seeds sent
    assert len([r for r in thread_space.received if r.path.endswith("/queue/join")]) == joins
