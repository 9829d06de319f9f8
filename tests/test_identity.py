"""SPEC §1 identity and §3 routing, exactly; the core imports nothing from IPython."""

from __future__ import annotations

import pytest
from helpers import fresh_python

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


def test_core_imports_no_ipython_and_package_import_is_lazy() -> None:
    code = (
        "import sys, g4f_magic\n"
        "assert 'aiohttp' not in sys.modules, 'import g4f_magic loaded aiohttp'\n"
        "from g4f_magic import G4F\n"
        "import g4f_magic.localspace\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'nest_asyncio') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    assert fresh_python(code) == "ok"


def test_one_source_for_the_version() -> None:
    from importlib.metadata import version

    import g4f_magic

    assert version("g4f_magic") == g4f_magic.__version__  # pyproject reads it from the package


@pytest.mark.slow  # twenty fresh interpreters
def test_each_module_imports_alone_and_the_panel_does_not_import_the_magic() -> None:
    """No import cycle: every module of the package, first in a fresh interpreter (all at once)."""
    import pkgutil
    import subprocess
    import sys

    import g4f_magic

    names = [m.name for m in pkgutil.walk_packages(g4f_magic.__path__, "g4f_magic.") if not m.name.endswith("__main__")]
    code = "import importlib, sys; importlib.import_module(sys.argv[1]); print('g4f_magic.notebook.magic' in sys.modules)"
    procs = {n: subprocess.Popen([sys.executable, "-c", code, n], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for n in names}
    results = {n: p.communicate(timeout=120) + (p.returncode,) for n, p in procs.items()}
    failed = {n: err.strip().splitlines()[-1:] for n, (_, err, rc) in results.items() if rc != 0}
    assert failed == {} and len(names) > 15
    assert results["g4f_magic.notebook.panel"][0].strip() == "False"  # only the magic imports the panel
    assert results["g4f_magic.notebook.settings"][0].strip() == "False"
