"""g4f_magic: image and chat generation on Hugging Face Spaces, for Jupyter.

Importing the package is cheap: the provider (and aiohttp) load on first use of a name below.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "G4F": "providers",
    "DeepseekAI_JanusPro7b": "providers",
    "FluxDev": "providers",
    "model_info": "providers",
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
    "G4FTimeout": "errors",
    "aclose": "client",
    "fetch_image": "client",
    "ENV_VAR": "endpoints",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'g4f_magic' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
