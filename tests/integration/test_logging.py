"""A user who turns on logging sees why a call failed; errors keep their cause."""

from __future__ import annotations

import json
import logging
import re

import aiohttp
import pytest
from leakscan import TOKEN
from support.helpers import collect

from g4f_magic.errors import ConnectionFailed, StreamError
from g4f_magic.http.session import Deadline, get_session
from g4f_magic.localspace import LocalSpace


async def test_the_network_boundary_logs_each_request_at_debug(space: LocalSpace, endpoint: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="g4f_magic")
    await collect("flux", "a storm", seed=1)
    await collect("flux", "a storm", seed=2)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("g4f_magic.") and r.levelno == logging.DEBUG]
    joins = [line for line in lines if re.fullmatch(r"POST https?://\S+/gradio_api/queue/join", line)]
    assert len(joins) == 2, lines
    assert any(re.fullmatch(r"POST /\S+/gradio_api/queue/join: 200 OK after \d+ ms", line) for line in lines)
    assert any(re.fullmatch(r"GET /\S+/gradio_api/queue/data: 200 OK after \d+ ms", line) for line in lines)
    assert "ZeroGPU token for roxky/FLUX.1-dev: from the hub" in lines
    issued = space.tokens_issued[-1]
    assert not any(issued in line or TOKEN in line for line in caplog.messages)  # never a secret


async def test_errors_keep_their_cause(space: LocalSpace) -> None:
    with pytest.raises(ConnectionFailed) as refused:
        await collect("flux", "a storm", seed=1, flux_dev_url="http://127.0.0.1:1", api_key=TOKEN)
    cause = refused.value.__cause__  # aiohttp's own error
    assert isinstance(cause, aiohttp.ClientConnectionError)
    assert isinstance(getattr(cause, "os_error", None), ConnectionRefusedError)
    session = await get_session()
    with pytest.raises(StreamError) as html:
        await session.json("GET", f"{space.url}/", deadline=Deadline(10))  # type: ignore[attr-defined]
    assert str(html.value) == "expected JSON, got an HTML page"
    assert isinstance(html.value.__cause__, json.JSONDecodeError)
