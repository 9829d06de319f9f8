"""Real Gradio servers behind a ``G4F_MAGIC_ENDPOINT`` gateway, each handing out file URLs on its own public
host (``root_path``), as a real Space behind a reverse proxy does: the provider, a real kernel and the panel
fetch every image through the gateway, and a URL naming another host inside the gateway's layout is refused.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import pytest
from gateway import Gateway, gateway_in_thread
from kernels import run_notebook, shown_images
from servers import Server, gradio_version, running
from support.helpers import FLUX_DEV, HUB, JANUS, OFFICIAL_DEV, OFFICIAL_JANUS, OFFICIAL_SCHNELL, PREDICT

from g4f_magic import G4F, ImageResponse, fetch_image
from g4f_magic.notebook.panel import Panel


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, Gateway]]:
    apps = {JANUS: "janus", FLUX_DEV: "flux_dev"} if gradio_version() >= (5,) else {PREDICT: "predict"}
    servers = {host: Server(app, "--root-path", f"https://{host}") for host, app in apps.items()}
    with running(servers, clean=False):  # the session's servers share Gradio's file cache
        with gateway_in_thread({host: s.direct for host, s in servers.items()}) as (url, gw):
            yield url, gw


@pytest.fixture
def through(gateway: tuple[str, Gateway], monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", gateway[0])
    gateway[1].seen.clear()
    return gateway[1]


def models() -> list[tuple[str, str]]:
    if gradio_version() >= (5,):
        return [("flux", FLUX_DEV), ("flux-dev", FLUX_DEV), ("janus-pro-7b-image", JANUS)]
    return [("flux-schnell", PREDICT)]


async def test_every_image_model_fetches_through_the_gateway(through: Gateway, gateway: tuple[str, Gateway]) -> None:
    for model, host in models():
        events = [e async for e in G4F.create_async_generator(model, "a lighthouse", seed=12345, width=256,
                                                              height=256)]
        [result] = [e for e in events if isinstance(e, ImageResponse)]
        assert all(u.startswith(f"{gateway[0]}/{host}/") for u in result.urls), result.urls
        data, mime = await fetch_image(result.urls[0])
        assert mime in ("image/webp", "image/png") and len(data) > 100
    assert {h for h, _ in through.seen} <= {JANUS, FLUX_DEV, PREDICT, HUB}


@pytest.mark.timeout(180)
def test_a_real_kernel_through_the_gateway(through: Gateway, gateway: tuple[str, Gateway], tmp_path: Any) -> None:
    from g4f_magic import G4F

    sized = {m: " -W 256 -H 256" if G4F.model(m).sized else "" for m, _ in models()}  # Janus takes no size
    sources = ["%load_ext g4f_magic", *[f"%%g4f -m {m} -s 12345{sized[m]}\na lighthouse" for m, _ in models()]]
    nb = run_notebook(sources, tmp_path / "gateway.ipynb", timeout=150)
    for i, (model, _) in enumerate(models(), start=1):
        assert shown_images(nb.cells[i]), (model, nb.cells[i].outputs)


async def test_the_panel_through_the_gateway(through: Gateway) -> None:
    model, host = models()[0]
    panel = Panel(image_dir="imgs")
    panel.model.value = model
    panel.prompt.value = "a lighthouse"
    panel.generate_button.click()
    await asyncio.gather(*list(panel.tasks), return_exceptions=True)
    assert len(panel.results) == 1 and panel.results[0].image is not None, panel.error.value
    assert any(h == host and "file=" in p for h, p in through.seen)


async def test_the_account_token_goes_to_the_spaces_and_the_hub_only(through: Gateway,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """What goes through the gateway is what would go to the real hosts: the Space's own host gets the HF
    token as ``Authorization: Bearer`` on every request (files too), the hub on its jwt route only."""
    token = "hf_TESTSECRET_gateway_account"
    monkeypatch.setenv("HF_TOKEN", token)
    through.authorized.clear()
    for model, host in models():
        [e async for e in G4F.create_async_generator(model, "a lighthouse", seed=12345, width=256, height=256)]
    spaces = {h for h, _ in through.seen if h != HUB}
    assert spaces and {h for h, _, _ in through.authorized} == spaces | {HUB}
    assert all(auth == f"Bearer {token}" for _, _, auth in through.authorized)
    assert all(p.endswith("/jwt") for h, p, _ in through.authorized if h == HUB)
    assert len(through.authorized) == len([s for s in through.seen if s[0] in spaces]) + len(
        [s for s in through.seen if s[0] == HUB])


OFFICIAL = {OFFICIAL_DEV: "flux_dev", OFFICIAL_JANUS: "janus", OFFICIAL_SCHNELL: "schnell_official"}


@pytest.fixture(scope="module")
def mirrored() -> Iterator[tuple[str, Gateway]]:
    """The seed's Spaces down (paused, gone, building); the official ones real Gradio apps with their signatures."""
    servers = {host: Server(app, "--root-path", f"https://{host}") for host, app in OFFICIAL.items()}
    with running(servers, clean=False):
        ups = {host: s.direct for host, s in servers.items()}
        ups.update({FLUX_DEV: "paused", PREDICT: "gone", JANUS: "building"})
        with gateway_in_thread(ups) as (url, gw):
            yield url, gw


@pytest.mark.gradio("queue")
@pytest.mark.parametrize(("model", "seed", "said"), [
    ("flux", 7, "roxky/FLUX.1-dev is paused; trying black-forest-labs/FLUX.1-dev"),
    ("flux-schnell", 3_000_000_001, "roxky/g4f-flux is gone (404); trying black-forest-labs/FLUX.1-schnell"),
    ("janus-pro-7b-image", 1234, "roxky/Janus-Pro-7B is building; trying deepseek-ai/Janus-Pro-7B"),
])
async def test_the_official_spaces_answer_when_the_seeds_are_down(mirrored: tuple[str, Gateway], model: str,
                                                                  seed: int, said: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", mirrored[0])
    events = [e async for e in G4F.create_async_generator(model, "a lighthouse", seed=seed, width=256, height=256)]
    assert [str(e) for e in events if getattr(e, "kind", None) == "mirror"] == [said]
    [result] = [e for e in events if isinstance(e, ImageResponse)]
    assert result.seed == seed % 2**31  # the official schnell's seeds stop at 2**31 - 1: folded, and said
    data, mime = await fetch_image(result.urls[0])
    assert mime == "image/webp" and len(data) > 100


@pytest.mark.gradio("queue")
async def test_a_janus_chat_answers_from_the_official_space(mirrored: tuple[str, Gateway],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", mirrored[0])
    events = [e async for e in G4F.create_async_generator("janus-pro-7b", "what is a lighthouse?", seed=7)]
    assert "".join(e for e in events if isinstance(e, str)) == (
        "Contract app answer (seed 7). You asked: what is a lighthouse?")


@pytest.mark.gradio("queue")
@pytest.mark.timeout(180)
def test_a_real_kernel_and_the_panel_say_which_space_answered(mirrored: tuple[str, Gateway], tmp_path: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", mirrored[0])
    nb = run_notebook(["%load_ext g4f_magic", "%%g4f -m flux -s 7 -W 256 -H 256\na lighthouse"],
                      tmp_path / "mirrors.ipynb", timeout=150)
    assert shown_images(nb.cells[1])
    said = " ".join(o.get("data", {}).get("text/plain", "") for o in nb.cells[1].outputs)
    assert "flux · done · seed 7 · 256x256" in said and "roxky/FLUX.1-dev is paused; trying black-forest-labs" in said

    async def panel_run() -> Panel:
        panel = Panel(image_dir="imgs")
        panel.model.value = "janus-pro-7b-image"
        panel.prompt.value = "a red bicycle"
        panel.generate_button.click()
        await asyncio.gather(*list(panel.tasks), return_exceptions=True)
        return panel

    panel = asyncio.run(panel_run())
    assert len(panel.results) == 5, panel.error.value + panel.history.value
    assert "roxky/Janus-Pro-7B is building; trying deepseek-ai/Janus-Pro-7B" in panel.history.value
