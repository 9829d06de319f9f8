"""Where a run goes and as whom is built once per run (issue #33): a sweep's cells and a batch's items share
one client, which resolves each model's Spaces and identity once, and a job is frozen after its check."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from g4f_magic.engine.batch import items_of
from g4f_magic.engine.plan import build_batch, build_job, build_run
from g4f_magic.errors import InvalidOption
from g4f_magic.spaces.client import SpacesClient, Target

SETTINGS: dict[str, Any] = {"default_model": "flux", "timeout": 300.0, "replay": False,
                            "flux_dev_url": "http://127.0.0.1:9/own", "space_concurrency": 3}


def test_a_batch_shares_one_client_and_resolves_each_model_once() -> None:
    batch = build_batch(SETTINGS, template="a {item}", rows=items_of([f"fox {i}" for i in range(50)]))
    assert len({id(job.client) for job in batch.jobs}) == 1
    client = batch.client
    first = client.access("flux")
    assert all(job.client.access("flux") is first for job in batch.jobs)  # one resolution for 50 items
    assert client.spaces("flux") == ["http://127.0.0.1:9/own"]  # set by hand: the official Space is not added
    assert client.target.space_concurrency == 3 and client.target.timeout == 300.0


def test_a_sweeps_cells_share_one_client() -> None:
    sweep = build_run(SETTINGS, prompt="a fox", choices={"seed": [1, 2, 3], "aspect_ratio": ["1:1", "16:9"]})
    assert len({id(job.client) for job in sweep.jobs}) == 1 and len(sweep.jobs) == 6


def test_each_single_run_gets_a_client_of_its_own() -> None:
    """A setting changed between two cells reaches the second: nothing outlives the run it was built for."""
    one, two = build_job(SETTINGS, prompt="a fox"), build_job({**SETTINGS, "timeout": 5.0}, prompt="a fox")
    assert one.client is not two.client and two.client.target.timeout == 5.0


def test_a_job_is_frozen_after_its_check() -> None:
    job = build_job(SETTINGS, prompt="a fox", seed=7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.seed = 8  # type: ignore[misc]
    assert len(dataclasses.fields(job)) <= 12
    assert dataclasses.replace(job, seed=8).request_for("flux", 8).seed == 8  # checked again when remade


def test_a_bad_target_fails_when_first_used_with_a_clear_line() -> None:
    client = SpacesClient(Target(space_concurrency=0))
    with pytest.raises(InvalidOption, match="^space_concurrency must be a whole number from 1 to 64; got 0$"):
        client.access("flux")


def test_the_target_keeps_credentials_out_of_its_repr() -> None:
    target = Target(proxy="http://user:pw@127.0.0.1:3128", api_key="hf_secret_key")
    assert "pw" not in repr(SpacesClient(target)) and "hf_secret_key" not in repr(target)
