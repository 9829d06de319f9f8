"""Availability without a Space: a Space that never wakes fails in the end, with its own line."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from g4f_magic.engine import availability
from g4f_magic.engine.job import Job
from g4f_magic.errors import SpaceUnavailable
from g4f_magic.notebook.views import PlainView


def test_a_space_that_never_wakes_fails_in_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(availability, "WAKE_POLL", 0.01)
    monkeypatch.setattr(availability, "WAKE_LIMIT", 0.05)

    async def asleep(job: Job, model: str) -> Any:
        raise SpaceUnavailable("Space unavailable (503): the Space is sleeping (HTML page)", 503)

    job = Job("flux", "x", seed=1)
    with pytest.raises(SpaceUnavailable, match="sleeping"):
        asyncio.run(availability.answered(job, 0, PlainView("flux", out=io.StringIO()), asleep))


@pytest.mark.parametrize("words, hint", [
    (None, "(wait tries again, fallback asks another model)"),
    ("magic", "(--wait tries again, --fallback asks another model)"),
    ("panel", "(the wait setting tries again, the fallback setting asks another model)"),
])
def test_a_busy_gpu_is_worded_by_the_front_end_that_asked(words: str | None, hint: str) -> None:
    """The engine names its options in the words of the front end that made the job: the panel's user is not told
    of flags they cannot type, and no front end rewrites another's words."""
    from g4f_magic.engine.job import Policy
    from g4f_magic.errors import GPUBusy
    from g4f_magic.notebook import magic, panel

    vocabulary = {None: None, "magic": magic.WORDS, "panel": panel.WORDS}[words]
    job = Job("flux", "x", policy=Policy(words=vocabulary) if vocabulary else Policy())

    async def busy(job: Job, model: str) -> Any:
        raise GPUBusy("No GPU was available", retry_after=None)

    with pytest.raises(GPUBusy) as info:
        asyncio.run(availability.answered(job, 0, PlainView("flux", out=io.StringIO()), busy))
    assert str(info.value).endswith(hint)
    if words != "magic":
        assert "--" not in str(info.value)
