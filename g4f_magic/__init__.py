"""g4f_magic: image and chat generation on Hugging Face Spaces, for Jupyter.

Importing the package is cheap: the provider (and aiohttp) load on first use of a name below.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "G4F": "spaces.providers",
    "DeepseekAI_JanusPro7b": "spaces.providers",
    "FluxDev": "spaces.providers",
    "model_info": "spaces.providers",
    "Reasoning": "events",
    "ImagePreview": "events",
    "ImageResponse": "events",
    "JsonConversation": "events",
    "G4FError": "errors",
    "InvalidOption": "errors",
    "ModelNotFound": "errors",
    "ConnectionFailed": "errors",
    "ResponseStatusError": "errors",
    "SpaceUnavailable": "errors",
    "GenerationError": "errors",
    "QuotaExceeded": "errors",
    "StreamError": "errors",
    "ResultShapeError": "errors",
    "G4FTimeout": "errors",
    "Panel": "notebook.panel",
    "aclose": "inference.client",
    "fetch_image": "http.session",
    "ENV_VAR": "spaces.endpoints",
}

__all__ = [*_EXPORTS, "__version__", "load_ipython_extension", "unload_ipython_extension"]

def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext g4f_magic``: register ``%%g4f`` / ``%g4f`` (configurable as ``G4FMagics``)."""
    from .notebook.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, cancel background runs, close the HTTP session: nothing stays behind."""
    from .notebook.extension import unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'g4f_magic' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
