"""Shared test helpers."""

from __future__ import annotations

from typing import Any


async def collect(model: str, prompt: Any = "a lighthouse in a storm", **kwargs: Any) -> list[Any]:
    from g4f_magic import G4F

    return [ev async for ev in G4F.create_async_generator(model, prompt, **kwargs)]


def fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter (a clean ``sys.modules``); return its stdout, stripped."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc


def _hosts() -> dict[str, str]:
    """Host names as the provider spells them: the first path segment of the local Space's gateway
    layout (tests reach only 127.0.0.1; conftest refuses any other address)."""
    from g4f_magic import G4F, DeepseekAI_JanusPro7b, FluxDev
    from g4f_magic.endpoints import HUB_URL

    return {"HUB": _host(HUB_URL), "JANUS": _host(G4F.api_url), "DEEPSEEK": _host(DeepseekAI_JanusPro7b.api_url),
            "FLUX_DEV": _host(FluxDev.url), "PREDICT": _host(G4F.url_flux)}


HOSTS = _hosts()
HUB, JANUS, DEEPSEEK, FLUX_DEV, PREDICT = (HOSTS[k] for k in ("HUB", "JANUS", "DEEPSEEK", "FLUX_DEV", "PREDICT"))
