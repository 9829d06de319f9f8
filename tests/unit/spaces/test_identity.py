"""SPEC §1 identity and §3 routing, exactly."""

from __future__ import annotations

import pytest

from g4f_magic import G4F, DeepseekAI_JanusPro7b, FluxDev, ModelNotFound


def test_g4f_identity_is_exact() -> None:
    assert G4F.label == "G4F framework"
    assert G4F.space == "roxky/Janus-Pro-7B"
    assert G4F.url == "https://huggingface.co/spaces/roxky/g4f-space"
    assert G4F.api_url == "https://roxky-janus-pro-7b.hf.space"
    assert G4F.url_flux == "https://roxky-g4f-flux.hf.space/run/predict"
    assert G4F.referer == "https://roxky-janus-pro-7b.hf.space?__theme=light"
    assert G4F.default_model == "flux"
    assert G4F.model_aliases == {"flux-schnell": "flux"}
    assert G4F.image_models == ["janus-pro-7b-image", "flux", "flux-dev", "flux-schnell"]
    assert G4F.models == ["janus-pro-7b", "janus-pro-7b-image", "flux", "flux-dev", "flux-schnell"]


def test_parents() -> None:
    assert issubclass(G4F, DeepseekAI_JanusPro7b)
    assert DeepseekAI_JanusPro7b.space == "deepseek-ai/Janus-Pro-7B"
    assert DeepseekAI_JanusPro7b.default_model == "janus-pro-7b"
    assert DeepseekAI_JanusPro7b.default_image_model == "janus-pro-7b-image"
    assert FluxDev.space == "roxky/FLUX.1-dev"
    assert FluxDev.url == "https://roxky-flux-1-dev.hf.space"


@pytest.mark.parametrize(
    ("model", "route"),
    [("flux", "flux_dev"), ("flux-dev", "flux_dev"), ("flux-schnell", "run_predict"),
     ("janus-pro-7b", "janus_chat"), ("janus-pro-7b-image", "janus_image")],
)
def test_routing_table(model: str, route: str) -> None:
    assert G4F.route(model) == route


def test_unknown_model_names_the_known_ones_and_the_closest() -> None:
    with pytest.raises(ModelNotFound) as info:
        G4F.route("flux-schnel")
    msg = str(info.value)
    assert "did you mean 'flux-schnell'?" in msg
    assert "janus-pro-7b, janus-pro-7b-image, flux, flux-dev, flux-schnell" in msg
    assert "\n" not in msg
    with pytest.raises(ModelNotFound, match="unknown model 'gpt-4'"):
        G4F.route("gpt-4")


def test_one_source_for_the_version() -> None:
    from importlib.metadata import version

    import g4f_magic

    assert version("g4f_magic") == g4f_magic.__version__  # pyproject reads it from the package
