"""What a ``%%g4f`` line and the panel's controls become, without a server (issue #33): the job, its policy
and where it goes, planned as the front ends plan them, with no run started (jupyter-ai's magic tests patch
the run out; here the plan is a value to look at, so nothing needs patching)."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic_arguments import parse_argstring

from g4f_magic.engine.batch import Batch
from g4f_magic.engine.job import Job
from g4f_magic.engine.sweep import Sweep
from g4f_magic.notebook.magic import G4FMagics

OWN = "http://127.0.0.1:9/flux"


@pytest.fixture
def magics() -> Any:
    shell = InteractiveShell.instance()
    m = G4FMagics(shell)  # a Configurable joins the shell's configurables: it leaves them with the test
    m.flux_dev_url, m.fallback, m.replay = OWN, "", False
    yield m
    shell.configurables.remove(m)


def planned(magics: Any, line: str, cell: str = "a lighthouse") -> Any:
    return magics._job(parse_argstring(magics.g4f, line), cell)


def test_a_line_becomes_one_checked_job_with_its_policy_and_target(magics: Any) -> None:
    job = planned(magics, "-m flux -s 42 -a 16:9 --steps 8 --wait --fallback flux-schnell --timeout 30")
    assert isinstance(job, Job) and (job.model, job.seed, job.steps) == ("flux", 42, 8)
    sent = job.request_for("flux", 42)
    assert (sent.width, sent.height, sent.steps) == (1360, 760, 8)
    assert job.policy.wait and job.policy.fallback == ("flux-schnell",) and not job.policy.replay
    assert job.client.target.timeout == 30 and job.client.spaces("flux") == [OWN]


def test_comma_lists_become_a_sweep_over_one_client(magics: Any) -> None:
    sweep = planned(magics, "-s 1,2 -a 1:1,16:9")
    assert isinstance(sweep, Sweep) and len(sweep.jobs) == 4 and sweep.axes == {"aspect_ratio": ["1:1", "16:9"],
                                                                                "seed": [1, 2]}
    assert len({id(j.client) for j in sweep.jobs}) == 1


@pytest.mark.parametrize(("line", "said"), [
    ("-m janus-pro-7b -a 16:9", "janus-pro-7b takes no size or aspect ratio (it chooses its own); those are for "
                                "the flux models"),
    ("-m flux -n 2 -s 1,2", "-n and a sweep do not mix: sweep the seed instead (-s 1,2,3)"),
    ("-m flux --fallback janus-pro-7b", "--fallback janus-pro-7b: flux makes images and janus-pro-7b answers "
                                        "questions"),
])
def test_what_cannot_work_is_one_line_before_anything_runs(magics: Any, line: str, said: str) -> None:
    with pytest.raises(UsageError) as refused:
        planned(magics, line)
    assert str(refused.value) == said


async def test_the_panels_controls_become_a_job_a_sweep_or_a_batch(magics: Any) -> None:
    from g4f_magic.notebook.panel import Panel

    panel = Panel(magics)
    panel.model.value, panel.prompt.value = "flux", "a fox"
    panel.random_seed.value, panel.seed.value = False, 7
    job = panel._plan()
    assert isinstance(job, Job) and job.seed == 7 and job.client.spaces("flux") == [OWN]
    panel.compare.value, panel.compare_values.value = True, "1, 2, 3"
    panel.compare_axis.value = "seed"
    sweep = panel._plan()
    assert isinstance(sweep, Sweep) and [j.seed for j in sweep.jobs] == [1, 2, 3]
    panel.compare.value, panel.batch.value, panel.prompt.value = False, True, "a fox\nan owl\n\na heron"
    batch = panel._plan()
    assert isinstance(batch, Batch) and [j.prompt for j in batch.jobs] == ["a fox", "an owl", "a heron"]
    assert len({id(j.client) for j in batch.jobs}) == 1
