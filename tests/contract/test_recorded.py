"""The local Space against real Gradio's recorded streams (``recorded/``, made by ``record.py``).

The local Space is our own reading of the protocol; these recordings are Gradio's. For each scenario
the local Space must send the same message order, the same success flags, the same full-value /
edits / unchanged form per output (completions full, never edits), and the keys every recorded
Gradio version sends for completions, failures and log lines. No Gradio is needed to run this.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from scenarios import SCENARIOS, capture, keys_of, normalised, shape
from support.helpers import FLUX_DEV, JANUS

from g4f_magic.localspace import LocalSpace

RECORDED = Path(__file__).parent / "recorded"
VERSIONS = sorted(p.name for p in RECORDED.iterdir() if p.is_dir())
HOSTS = {"flux_dev": FLUX_DEV, "janus": JANUS}


def recorded(version: str, name: str) -> list[dict[str, Any]]:
    return json.loads((RECORDED / version / f"{name}.json").read_text())


async def local(space: LocalSpace, name: str) -> list[dict[str, Any]]:
    sc = SCENARIOS[name]
    async with aiohttp.ClientSession() as http:
        return normalised(await capture(http, f"{space.url}/{HOSTS[sc.app]}", sc, sc.local_prompt))  # type: ignore[attr-defined]


def common_keys(name: str, kind: str, part: str = "") -> set[str]:
    """The keys every recorded Gradio version sends (top level, or of ``output``)."""
    sets = []
    for version in VERSIONS:
        msgs = [m for m in recorded(version, name) if m.get("msg") == kind]
        sets.append({k for m in msgs for k in (m.get(part, {}) if part else m)})
    return set.intersection(*sets)


def test_recordings_cover_gradio_5_and_6() -> None:
    assert {v.split("-")[1].split(".")[0] for v in VERSIONS} >= {"5", "6"}
    for version in VERSIONS:
        assert sorted(p.stem for p in (RECORDED / version).glob("*.json")) == sorted(SCENARIOS)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_local_space_streams_like_real_gradio(space: LocalSpace, version: str, name: str) -> None:
    assert shape(await local(space, name)) == shape(recorded(version, name))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_local_space_sends_the_keys_gradio_sends(space: LocalSpace, name: str) -> None:
    mine = await local(space, name)
    assert keys_of(mine, "process_completed") == common_keys(name, "process_completed")
    assert {k for m in mine if m.get("msg") == "process_completed" for k in m["output"]} == \
        common_keys(name, "process_completed", "output")
    if name == "log_lines":
        assert keys_of(mine, "log") == common_keys(name, "log")
