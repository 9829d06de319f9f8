"""Hugging Face Inference Providers (issue #34): huggingface_hub's own InferenceClient, unpatched, against the
local Space's router and providers (g4f_magic/localspace/providers.py), driven from the magic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from leakscan import TOKEN
from support.helpers import CDNS, ROUTER

from g4f_magic.engine.result import Result
from g4f_magic.errors import G4FTimeout, InvalidOption, ResponseStatusError, SpaceUnavailable
from g4f_magic.inference.client import BILLING, TOKENS
from g4f_magic.localspace import LocalSpace


def cell(ip: Any, line: str, body: str = "a lighthouse in a storm") -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_cell_magic("g4f", line, body)
    return value, cap


@pytest.fixture
def account(ip: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The user's Hugging Face token, where the Hugging Face tools find it; replay kept to this test."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    ip.run_line_magic("config", "G4FMagics.replay_dir = 'replay'")
    return ip


def test_a_seeded_cell_on_fal_ai_gives_that_seed_and_replays(account: Any, thread_space: LocalSpace) -> None:
    result, cap = cell(account, "-m flux --provider fal-ai -s 7 -a 16:9")
    assert isinstance(result, Result) and (result.model, result.seed, result.width, result.height) == ("flux", 7, 1360, 760)
    assert result.image is not None and result.image.mime == "image/jpeg"  # as the provider served it
    assert "Sent to fal-ai (Hugging Face Inference Providers" in cap.stdout and "flux · done · seed 7" in cap.stdout
    assert thread_space.providers.served == {"fal-ai": 1}
    [call] = thread_space.requests(ROUTER)
    assert call.path == "/fal-ai/fal-ai/flux/dev" and call.body["seed"] == 7
    assert call.body["image_size"] == {"width": 1360, "height": 760} and call.body["num_inference_steps"] == 28
    # the token at the bytes: the router (and the Hub's API) only; the provider's CDN and the Spaces never
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert all("authorization" not in r.headers for r in thread_space.received if r.host in CDNS)
    assert not [r for r in thread_space.received if r.host.endswith(".hf.space")]
    again, cap = cell(account, "-m flux --provider fal-ai -s 7 -a 16:9")
    assert again.image.data == result.image.data and thread_space.providers.served == {"fal-ai": 1}  # replayed
    cell(account, "-m flux --provider replicate -s 7 -a 16:9")  # another provider: another image, not a replay
    assert thread_space.providers.served == {"fal-ai": 1, "replicate": 1}


def test_without_the_choice_nothing_goes_to_inference_providers(account: Any, thread_space: LocalSpace) -> None:
    result, _ = cell(account, "-m flux -s 7")
    assert result.seed == 7 and result.image.mime == "image/webp"  # the Space's own WebP
    assert not thread_space.requests(ROUTER) and thread_space.providers.served == {}


def test_the_setting_chooses_for_every_run_and_flux_schnell_goes_to_nscale(account: Any, thread_space: LocalSpace) -> None:
    account.run_line_magic("config", "G4FMagics.provider = 'auto'")
    result, cap = cell(account, "-m flux-schnell -s 3")
    assert result.seed == 3 and thread_space.providers.served == {"nscale": 1}
    [call] = thread_space.requests(ROUTER)
    assert call.path == "/nscale/v1/images/generations" and call.body["seed"] == 3


def test_auto_hands_over_when_a_provider_is_down_and_says_so(account: Any, thread_space: LocalSpace) -> None:
    thread_space.providers.down["fal-ai"] = 503
    result, cap = cell(account, "-m flux --provider auto -s 5")
    assert result.seed == 5 and thread_space.providers.served == {"replicate": 1}
    assert "fal-ai is unavailable (503); it says: fal-ai is unavailable; trying replicate" in cap.stdout
    with pytest.raises(SpaceUnavailable, match=r"^fal-ai is unavailable \(503\)"):  # chosen by name: no other is tried
        cell(account, "-m flux --provider fal-ai -s 6")
    assert thread_space.providers.served == {"replicate": 1}


@pytest.mark.parametrize("refusal, words", [
    ("broke", "fal-ai (Inference Providers): the account's credits are used up (402); add credits or subscribe to "
              f"PRO at {BILLING}, or run on the Spaces"),
    ("no_permission", "fal-ai (Inference Providers) refused the token from $HF_TOKEN (403): give it the permission "
                      f"\"Make calls to Inference Providers\" at {TOKENS}"),
])
def test_credits_and_permissions_are_said_in_one_line(account: Any, thread_space: LocalSpace, refusal: str,
                                                       words: str) -> None:
    getattr(thread_space.providers, refusal).add(TOKEN)
    with pytest.raises(ResponseStatusError) as info:
        cell(account, "-m flux --provider fal-ai -s 5")
    assert str(info.value).startswith(words) and "\n" not in str(info.value) and TOKEN not in str(info.value)


def test_a_hung_provider_ends_at_the_runs_timeout(account: Any, thread_space: LocalSpace) -> None:
    thread_space.providers.down["fal-ai"] = "hang"
    with pytest.raises(G4FTimeout, match=r"^no result within 1 s \(timeout=1\)$"):
        cell(account, "-m flux --provider fal-ai -s 5 --timeout 1")


def test_what_no_provider_serves_is_refused_before_any_request(account: Any, thread_space: LocalSpace) -> None:
    with pytest.raises(UsageError, match="^janus-pro-7b-image is served by no Inference Provider; flux, flux-dev, "
                                         "flux-schnell are"):
        cell(account, "-m janus-pro-7b-image --provider auto -s 1")
    with pytest.raises(UsageError, match=r"^no Inference Provider is called 'fal' \(did you mean fal-ai\?\)"):
        cell(account, "-m flux --provider fal -s 1")
    assert not thread_space.received


def test_no_token_is_one_line_before_any_request(ip: Any, thread_space: LocalSpace, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    with pytest.raises(InvalidOption, match="^Inference Providers bill the account of a Hugging Face token, and none "
                                         "was found: %g4f login, or set HF_TOKEN$"):
        cell(ip, "-m flux --provider fal-ai -s 1")
    assert not thread_space.requests(ROUTER)


def test_a_batch_on_a_provider_names_it_in_the_manifest_and_resumes(account: Any, thread_space: LocalSpace) -> None:
    account.user_ns["animals"] = ["fox", "owl", "hare", "wren", "mole", "newt"]
    res, _ = cell(account, "-m flux --provider fal-ai -s 1 --each animals --save out", "a {item} in snow")
    assert len(res) == 6 and thread_space.providers.served == {"fal-ai": 6}
    rows = [json.loads(line) for line in next(Path("out").rglob("manifest.jsonl")).read_text().splitlines()]
    assert {r["space"] for r in rows} == {"fal-ai"} and all(r["file"] for r in rows)  # the provider that made each
    again, _ = cell(account, "-m flux --provider fal-ai -s 1 --each animals", "a {item} in snow")
    assert len(again) == 6 and thread_space.providers.served == {"fal-ai": 6}  # every item replayed


async def test_the_panel_runs_on_the_provider_the_user_picks(space: LocalSpace, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    """The panel's "on" control: the free Spaces by default (nothing sent to a provider), fal-ai when picked."""
    import asyncio

    from g4f_magic.notebook.panel import Panel

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    panel = Panel(endpoint=space.url, image_dir="imgs", replay_dir=str(tmp_path / "replay"))  # type: ignore[attr-defined]
    assert panel.backend.value == "space"
    panel.prompt.value, panel.random_seed.value, panel.seed.value = "a lighthouse", False, 7
    for place in ("space", "fal-ai"):
        panel.backend.value = place
        panel.generate_button.click()
        await asyncio.gather(*list(panel.tasks), return_exceptions=True)
        for _ in range(500):
            if not panel.tasks:
                break
            await asyncio.sleep(0.01)
        assert panel.results[0].seed == 7 and not panel.error.value
        assert space.providers.served == ({} if place == "space" else {"fal-ai": 1})
    assert "flux · done · seed 7" in panel.history.value


def test_past_the_quota_a_batch_goes_to_the_provider_the_user_allowed(account: Any, thread_space: LocalSpace) -> None:
    """The quota_handover setting: ZeroGPU's quota refusal hands the run, and the rest of the batch, to Inference
    Providers instead of failing; every item says where it went. Without the setting nothing is sent there."""
    account.user_ns["things"] = [f"thing {i}" for i in range(30)]
    with pytest.raises(Exception, match="over its GPU quota|GPU quota"):
        cell(account, "-m flux -s 1", "[fault:quota_new] a lighthouse")
    assert not thread_space.requests(ROUTER)  # not allowed: not one request to a provider
    thread_space.reset()
    account.run_line_magic("config", "G4FMagics.quota_handover = 'fal-ai'")
    res, cap = cell(account, "-m flux -s 1 --each things --save out", "[fault:quota_new] a {item}")
    assert len(res) == 30 and not res.failed and thread_space.providers.served == {"fal-ai": 30}
    assert "30 items, about 2 images of ZeroGPU quota left (90 s of GPU each; it resets in " in cap.stdout
    assert "): past it, the rest go to Inference Providers (fal-ai), as the quota_handover setting says" in cap.stdout
    rows = [json.loads(line) for line in next(Path("out").rglob("manifest.jsonl")).read_text().splitlines()]
    assert {r["space"] for r in rows} == {"fal-ai"} and all(r["file"] for r in rows)
    joins = [r for r in thread_space.received if r.path.endswith("/queue/join")]
    assert 1 <= len(joins) <= 16  # the items already in flight when the first refusal came; the rest went straight
    one, cap = cell(account, "-m flux -s 2", "[fault:quota_new] a lighthouse")
    assert one.seed == 2 and "handing it to Inference Providers (fal-ai), as the quota_handover setting says" in cap.stdout


def test_the_provider_setting_leaves_janus_on_the_spaces(account: Any, thread_space: LocalSpace) -> None:
    """The setting is for FLUX: a Janus run under it stays on the Spaces without a word; asked by name it is refused."""
    account.run_line_magic("config", "G4FMagics.provider = 'auto'")
    gallery, _ = cell(account, "-m janus-pro-7b-image -s 4")
    assert gallery[0].seed == 4 and not thread_space.requests(ROUTER)
    with pytest.raises(UsageError, match="^janus-pro-7b-image is served by no Inference Provider"):
        cell(account, "-m janus-pro-7b-image --provider auto -s 4")
