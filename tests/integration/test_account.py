"""The user's Hugging Face identity: found as the HF tools find it, sent only where it belongs (checked at
the local Space, which plays hub and edge and records every header), and named by %g4f whoami / quota."""

from __future__ import annotations

import re
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from leakscan import MARK, TOKEN
from support.helpers import FLUX_DEV, HUB, collect

from g4f_magic.errors import QuotaExceeded
from g4f_magic.localspace import LocalSpace
from g4f_magic.localspace.app import OWN_DUPLICATE


async def test_hf_token_in_the_environment_is_used(space: LocalSpace, endpoint: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: with HF_TOKEN set, a flux-dev run sent it to no host at all."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    await collect("flux-dev", "x", seed=1)
    holders = {(r.host, r.path.split("?")[0]) for r in space.received
               if r.headers.get("authorization") == f"Bearer {TOKEN}"}
    assert (HUB, "/api/spaces/roxky/FLUX.1-dev/jwt") in holders
    assert {(FLUX_DEV, "/gradio_api/queue/join"), (FLUX_DEV, "/gradio_api/queue/data")} <= holders
    assert {h for h, _ in holders} == {HUB, FLUX_DEV}
    assert all(TOKEN not in str(r.query) + str(r.body) for r in space.received)  # a header, nowhere else


async def test_never_on_a_redirect(space: LocalSpace, endpoint: str) -> None:
    from g4f_magic import ImageResponse, fetch_image

    events = await collect("flux", "[fault:file_redirect_same] a storm", seed=3, hf_token=TOKEN)
    [image] = [e for e in events if isinstance(e, ImageResponse)]
    await fetch_image(image.urls[0])
    first, moved = [r for r in space.received if "file=" in r.path]
    assert first.headers.get("authorization") == f"Bearer {TOKEN}"
    assert moved.query == {"moved": "1"} and "authorization" not in moved.headers


async def test_ones_own_server_only_when_named(space: LocalSpace, endpoint: str) -> None:
    own = f"{space.url}/{FLUX_DEV}"  # type: ignore[attr-defined]  # set by hand, as one's own server is
    await collect("flux", "x", seed=1, flux_dev_url=own, hf_token=TOKEN)
    assert not [r for r in space.received if "authorization" in r.headers]  # no jwt asked, nothing sent
    space.reset()
    await collect("flux", "x", seed=2, flux_dev_url=own, hf_token=TOKEN, send_hf_token_to=[own])
    sent = {r.host for r in space.received if r.headers.get("authorization") == f"Bearer {TOKEN}"}
    assert sent == {FLUX_DEV}  # the server the user named; the hub issues no token for it
    space.reset()
    await collect("flux", "x", seed=3, hf_token=False)  # False: anonymous, whatever the environment says
    assert not [r for r in space.received if "authorization" in r.headers]


def test_whoami_quota_and_config_name_the_identity(ip: Any, thread_space: LocalSpace,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with capture_output() as cap:
        ip.run_line_magic("g4f", "whoami")
        ip.run_line_magic("g4f", "config")
    assert cap.stdout.startswith("anonymous: anonymous calls share this machine's IP quota (2 min of GPU a day)")
    assert "anonymous (no Hugging Face token: 2 min of GPU a day per IP address)" in cap.stdout
    with pytest.raises(UsageError, match="^%g4f quota needs a Hugging Face token: anonymous calls"):
        ip.run_line_magic("g4f", "quota")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    thread_space.accounts[TOKEN] = {"name": "alice", "pro": True, "role": "fineGrained"}
    with capture_output() as cap:
        ip.run_line_magic("g4f", "whoami")
        ip.run_line_magic("g4f", "quota")
        ip.run_line_magic("g4f", "config")
    lines = cap.stdout.splitlines()
    assert lines[0] == "alice (PRO: 40 min of ZeroGPU a day) · token from $HF_TOKEN · fineGrained token"
    assert lines[1].startswith("ZeroGPU quota: 38.5 of 40.0 min left · resets ") and "(in 0:59:" in lines[1]
    assert lines[1].endswith(" · about 25 images at 90 s of GPU each")  # 2310 s left, 60 s x 1.5 a call
    assert "Hugging Face account (token from $HF_TOKEN; %g4f whoami names it)" in cap.stdout
    assert MARK not in cap.stdout
    asked = [r for r in thread_space.received if r.host == HUB]
    assert [r.path for r in asked] == ["/api/whoami-v2", "/api/spaces/zero-gpu/quota"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in asked)
    thread_space.accounts[TOKEN] = {"name": "alice", "billing": False}  # a fine-grained token without billing
    with pytest.raises(UsageError, match=r"^cannot read the ZeroGPU quota: the token may not read billing usage: "
                                         r"a fine-grained token needs 'Billing > Read billing usage"):
        ip.run_line_magic("g4f", "quota")
    monkeypatch.setenv("HF_TOKEN", "hf_not_an_account")
    thread_space.accounts.clear()
    monkeypatch.setattr(thread_space, "account", lambda request: None)  # the hub refuses the token
    with pytest.raises(UsageError, match=r"^the hub did not accept the Hugging Face token from \$HF_TOKEN \(401\)$"):
        ip.run_line_magic("g4f", "whoami")


@pytest.mark.parametrize(("fault", "start"), [
    ("quota_anonymous", "You have exceeded your ZeroGPU quota (60s requested vs. 41s left). Try again in 0:12:34. "
                        "(--wait resumes by itself in 12:34; anonymous calls"),
    ("space_limit", "Space app has reached its GPU limit. (anonymous calls"),
])
def test_an_anonymous_quota_error_says_how_to_log_in(ip: Any, thread_space: LocalSpace, fault: str,
                                                     start: str) -> None:
    thread_space.arm(fault)
    with pytest.raises(QuotaExceeded) as info:
        with capture_output():
            ip.run_cell_magic("g4f", "-m flux -s 5", "a cat")
    assert str(info.value).startswith(start), str(info.value)
    assert str(info.value).endswith("set HF_TOKEN or run %g4f login to use your account's quota (5 min a day free, 40 with PRO))")


async def test_the_panel_runs_as_the_account(space: LocalSpace, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from g4f_magic.notebook.panel import Panel

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    panel = Panel(endpoint=space.url, image_dir="imgs")  # type: ignore[attr-defined]
    panel.prompt.value = "a lighthouse"
    panel.generate_button.click()
    await asyncio.gather(*list(panel.tasks), return_exceptions=True)
    assert len(panel.results) == 1, panel.error.value
    join = space.requests(FLUX_DEV, "/gradio_api/queue/join")[-1]
    assert join.headers["authorization"] == f"Bearer {TOKEN}"
    assert MARK not in panel.error.value + panel.history.value


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_real_kernel_runs_as_the_account(thread_space: LocalSpace, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Any) -> None:
    from kernels import run_notebook

    thread_space.reset()
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", thread_space.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    thread_space.accounts[TOKEN] = {"name": "alice"}
    nb = run_notebook(["%load_ext g4f_magic", "%g4f whoami", "%%g4f -m flux -s 7\na lighthouse"],
                      tmp_path / "account.ipynb", timeout=90)
    assert nb.cells[1].outputs[0].text.startswith("alice (free account: 5 min of ZeroGPU a day) · token from $HF_TOKEN")
    join = thread_space.requests(FLUX_DEV, "/gradio_api/queue/join")[-1]
    assert join.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in (tmp_path / "account.ipynb").read_text()


def test_a_batch_larger_than_the_quota_says_so_before_it_starts(ip: Any, thread_space: LocalSpace,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub says 210 s are left of a free account's 300: about two images. A five-item batch says so
    first, in one line, and runs (past the quota the Space's own refusal speaks); anonymous, nothing is said."""
    ip.user_ns["five"] = ["fox", "owl", "heron", "emu", "yak"]
    with capture_output() as cap:
        ip.run_cell_magic("g4f", "-m flux --each five --no-widgets", "a {item}")
    assert "ZeroGPU quota left" not in cap.stdout  # anonymous: the hub's quota is not known
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    thread_space.reset()
    with capture_output() as cap:
        ip.run_cell_magic("g4f", "-m flux --each five --no-widgets -s 3", "a {item}")
    said = [line for line in cap.stdout.splitlines() if "ZeroGPU quota left" in line]
    assert len(said) == 1 and re.search(r"· 5 items, about 2 images of ZeroGPU quota left \(90 s of GPU each; it "
                                        r"resets in (59:5\d|1:00:00)\): past it, --wait waits for the reset, "
                                        r"--fallback asks another model, the quota_handover setting would send the "
                                        r"rest to Inference Providers \(your credits\)$", said[0]), said
    assert [r.path for r in thread_space.received if r.host == HUB].count("/api/spaces/zero-gpu/quota") == 1
    thread_space.reset()
    own = f"{thread_space.url}/{OWN_DUPLICATE}"  # type: ignore[attr-defined]
    ip.run_line_magic("config", f"G4FMagics.flux_dev_url = {own!r}")
    with capture_output() as cap:
        ip.run_cell_magic("g4f", "-m flux --each five --no-widgets -s 4", "a {item}")
    assert "ZeroGPU quota left" not in cap.stdout  # one's own server spends no ZeroGPU quota: not asked
    assert not [r for r in thread_space.received if r.path == "/api/spaces/zero-gpu/quota"]


def test_wait_takes_its_time_from_the_hubs_reset(ip: Any, thread_space: LocalSpace,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal that names no time ("60s requested vs. 56s left"): with --wait, the hub's resets_at says how
    long; within max_wait the run waits and then goes through, past it the line says when the quota is back."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(thread_space, "quota_resets_in", 2.0)
    thread_space.arm("quota_new")  # type: ignore[attr-defined]
    with capture_output() as cap:
        result = ip.run_cell_magic("g4f", "-m flux -s 8 --wait --no-widgets", "a lighthouse")
    assert result.seed == 8 and "waited 0:0" in cap.stdout and "for the quota" in cap.stdout
    monkeypatch.setattr(thread_space, "quota_resets_in", 3600.0)
    thread_space.arm("quota_new")  # type: ignore[attr-defined]
    with pytest.raises(QuotaExceeded, match=r"\(the hub says the quota resets in (59:5\d|1:00:00)\) \(that is "
                                            r"longer than max_wait \(15:00\)"):
        ip.run_cell_magic("g4f", "-m flux -s 9 --wait --no-widgets", "a lighthouse")


def test_a_token_that_did_not_count_is_said(ip: Any, thread_space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    """ZeroGPU charged the machine's IP although a Hugging Face token went with the call: the line says the token
    did not count (not "set HF_TOKEN", which the user did), and where it came from."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    thread_space.arm("quota_anonymous")  # type: ignore[attr-defined]
    with pytest.raises(QuotaExceeded) as info:
        with capture_output():
            ip.run_cell_magic("g4f", "-m flux -s 5", "a cat")
    said = str(info.value)
    assert said.endswith("; a Hugging Face token went with the call (from $HF_TOKEN) but ZeroGPU charged this "
                         "machine's IP address, as for anonymous calls: %g4f whoami checks the token)"), said
    assert "set HF_TOKEN" not in said and MARK not in said
