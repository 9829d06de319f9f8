"""Spaces that pause, vanish or move: each model's ordered list of Spaces (the seed's, the official ones, the
user's own), the run handed to the next, the status line saying which answered and why, and replay finding
the result whichever Space gave it."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.utils.capture import capture_output
from leakscan import TOKEN
from support.helpers import FLUX_DEV, HUB, JANUS, OFFICIAL_DEV, OFFICIAL_JANUS, OFFICIAL_SCHNELL, PREDICT, collect

from g4f_magic import ImageResponse, Reasoning
from g4f_magic.errors import GenerationError, SpaceUnavailable
from g4f_magic.localspace import LocalSpace
from g4f_magic.localspace.app import OWN_DUPLICATE


def handovers(events: list[Any]) -> list[str]:
    return [str(e) for e in events if isinstance(e, Reasoning) and e.kind == "mirror"]


@pytest.mark.parametrize(("state", "why"), [("paused", "paused"), ("gone", "gone (404)"),
                                            ("building", "building"), ("sleeping", "sleeping")])
async def test_a_flux_dev_space_that_is_down_hands_over(space: LocalSpace, endpoint: str, state: str,
                                                        why: str) -> None:
    space.down[FLUX_DEV] = state  # type: ignore[attr-defined]
    events = await collect("flux", "a lighthouse", seed=42)
    assert handovers(events) == [f"roxky/FLUX.1-dev is {why}; trying black-forest-labs/FLUX.1-dev"]
    [image] = [e for e in events if isinstance(e, ImageResponse)]
    assert image.seed == 42 and image.urls[0].startswith(f"{endpoint}/{OFFICIAL_DEV}/gradio_api/file=")
    [join] = space.requests(OFFICIAL_DEV, "/gradio_api/queue/join")
    assert join.body["data"][:2] == ["a lighthouse", 42] and join.body["fn_index"] == 2
    # its own ZeroGPU token, from the hub, for the official Space
    assert [r.path for r in space.requests(HUB)][-1] == "/spaces/black-forest-labs/FLUX.1-dev"


async def test_flux_schnell_falls_back_to_the_official_space_on_the_queue_api(space: LocalSpace,
                                                                            endpoint: str) -> None:
    space.down[PREDICT] = "gone"  # type: ignore[attr-defined]
    events = await collect("flux-schnell", "a lighthouse", seed=3_000_000_000, width=512, height=512)
    assert handovers(events) == ["roxky/g4f-flux is gone (404); trying black-forest-labs/FLUX.1-schnell"]
    [config] = space.requests(OFFICIAL_SCHNELL, "/config")  # its infer is found by name
    [join] = space.requests(OFFICIAL_SCHNELL, "/gradio_api/queue/join")
    assert join.body["fn_index"] == 2 and join.body["trigger_id"] == 7
    folded = 3_000_000_000 % 2**31  # its seeds stop at 2**31 - 1: folded, and the result says which was used
    assert join.body["data"] == ["a lighthouse", folded, False, 512, 512, 4]
    [image] = [e for e in events if isinstance(e, ImageResponse)]
    assert (image.seed, image.width, image.height) == (folded, 512, 512)
    await collect("flux-schnell", "again", seed=5)
    assert len(space.requests(OFFICIAL_SCHNELL, "/config")) == 1  # remembered for the session


async def test_janus_falls_back_to_deepseeks_own_space(space: LocalSpace, endpoint: str) -> None:
    space.down[JANUS] = "paused"  # type: ignore[attr-defined]
    chat = await collect("janus-pro-7b", "what is a lighthouse?", seed=1234)
    assert handovers(chat) == ["roxky/Janus-Pro-7B is paused; trying deepseek-ai/Janus-Pro-7B"]
    assert "You asked: what is a lighthouse?" in "".join(e for e in chat if isinstance(e, str))
    join = space.requests(OFFICIAL_JANUS, "/gradio_api/queue/join")[-1]
    assert join.headers["referer"].startswith(f"{endpoint}/{OFFICIAL_JANUS}")
    images = await collect("janus-pro-7b-image", "a red bicycle", seed=1234)
    [image] = [e for e in images if isinstance(e, ImageResponse)]
    assert len(image.urls) == 5 and all(OFFICIAL_JANUS in u for u in image.urls)


async def test_a_failure_the_next_space_would_share_is_not_handed_over(space: LocalSpace, endpoint: str) -> None:
    space.arm("error_string")  # the Space ran the job: CUDA out of memory
    with pytest.raises(GenerationError, match="^CUDA out of memory$"):
        await collect("flux", "x", seed=1)
    assert space.requests(OFFICIAL_DEV) == []
    space.down[FLUX_DEV] = space.down[OFFICIAL_DEV] = "paused"  # type: ignore[attr-defined]
    with pytest.raises(SpaceUnavailable, match=r"^Space unavailable \(503\): the Space is paused"):
        await collect("flux", "x", seed=1)  # every Space down: the last one's error is the run's


def test_the_line_says_who_answered_and_replay_finds_it(ip: Any, thread_space: LocalSpace) -> None:
    thread_space.down[FLUX_DEV] = "paused"  # type: ignore[attr-defined]
    with capture_output() as cap:
        result = ip.run_cell_magic("g4f", "-m flux -s 77", "a lighthouse")
    assert "roxky/FLUX.1-dev is paused; trying black-forest-labs/FLUX.1-dev" in cap.stdout
    assert result.note == "roxky/FLUX.1-dev is paused; trying black-forest-labs/FLUX.1-dev"
    [done] = [x for x in cap.stdout.splitlines() if x.startswith("flux · done")]
    assert done.endswith("· roxky/FLUX.1-dev is paused; trying black-forest-labs/FLUX.1-dev")
    thread_space.down.clear()  # type: ignore[attr-defined]
    thread_space.reset()
    with capture_output():
        again = ip.run_cell_magic("g4f", "-m flux -s 77", "a lighthouse")
    assert thread_space.received == [] and again.image.data == result.image.data  # replayed: no request


def test_the_users_own_servers_come_last_and_get_no_token(ip: Any, thread_space: LocalSpace,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    own = f"{thread_space.url}/{OWN_DUPLICATE}"  # type: ignore[attr-defined]  # one's own duplicate
    ip.run_line_magic("config", f"G4FMagics.mirrors = {{'flux': [{own!r}]}}")
    thread_space.down[OFFICIAL_DEV] = "gone"  # type: ignore[attr-defined]
    thread_space.arm("join_503_queue_full")  # the seed's Space: its queue is full
    with capture_output() as cap:
        result = ip.run_cell_magic("g4f", "-m flux -s 5", "a lighthouse")
    assert result.image is not None
    lines = [x for x in cap.stdout.splitlines() if "trying" in x]
    assert any("roxky/FLUX.1-dev is full (its queue); trying black-forest-labs/FLUX.1-dev" in x for x in lines)
    assert any(f"black-forest-labs/FLUX.1-dev is gone (404); trying {own}" in x for x in lines)
    [join] = thread_space.requests(OWN_DUPLICATE, "/gradio_api/queue/join")
    assert "authorization" not in join.headers and "x-zerogpu-token" not in join.headers  # not named: nothing
    assert thread_space.requests(FLUX_DEV, "/gradio_api/queue/join")[0].headers["authorization"] == f"Bearer {TOKEN}"
    with capture_output() as cap:
        ip.run_line_magic("g4f", "models")
    assert f"  flux: roxky/FLUX.1-dev → black-forest-labs/FLUX.1-dev → {own}" in cap.stdout
    assert "  flux-schnell: roxky/g4f-flux → black-forest-labs/FLUX.1-schnell" in cap.stdout
    assert "  janus-pro-7b: roxky/Janus-Pro-7B → deepseek-ai/Janus-Pro-7B" in cap.stdout
    magics = ip.find_cell_magic("g4f").__self__
    ip.run_line_magic("config", "G4FMagics.mirrors = {'flux-dve': ['http://127.0.0.1:9']}")  # %config logs why
    assert magics.mirrors == {"flux": [own]}
