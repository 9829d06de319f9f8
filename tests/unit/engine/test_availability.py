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

    async def asleep(model: str) -> Any:
        raise SpaceUnavailable("Space unavailable (503): the Space is sleeping (HTML page)", 503)

    job = Job("flux", "x", seed=1)
    with pytest.raises(SpaceUnavailable, match="sleeping"):
        asyncio.run(availability.answered(job, 0, PlainView("flux", out=io.StringIO()), asleep))
