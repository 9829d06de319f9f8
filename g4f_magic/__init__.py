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
    "aclose": "http.session",
    "fetch_image": "http.session",
    "ENV_VAR": "spaces.endpoints",
}

__all__ = [*_EXPORTS, "__version__", "load_ipython_extension", "unload_ipython_extension"]

_loaded: dict[int, Any] = {}
_COMPLETE_KEYS = ("%g4f", "%%g4f")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext g4f_magic``: register ``%%g4f`` / ``%g4f`` (configurable as ``G4FMagics``)."""
    from .notebook.magic import G4FMagics

    if id(ipython) in _loaded:
        return
    magics = G4FMagics(shell=ipython)  # also joins ipython.configurables, so %config sees it
    ipython.register_magics(magics)
    from .notebook.magic import completions

    for key in _COMPLETE_KEYS:  # Tab on a %g4f / %%g4f line: options, models, ratios, subcommands
        ipython.set_hook("complete_command", lambda _shell, event: completions(magics, event.text_until_cursor),
                         str_key=key)
    from .notebook.magic import async_cell, sync_cell

    # in a kernel, cells run as coroutines on the kernel's loop, never nested; either way a %g4f cell
    # is rewritten before IPython reads a trailing "?" as a help request
    ipython.input_transformers_cleanup.append(async_cell if magics._has_kernel() else sync_cell)
    _loaded[id(ipython)] = magics
    from .notebook.warmup import start

    start(widgets=magics._has_kernel())  # the first run's imports, in the background


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, cancel background runs, close the HTTP session: nothing stays behind."""
    magics = _loaded.pop(id(ipython), None)
    if magics is None:
        return
    from .http.session import aclose
    from .notebook.runner import run_sync

    async def shutdown() -> None:
        import asyncio

        for task in list(magics.tasks):
            task.cancel()
        await asyncio.gather(*magics.tasks, return_exceptions=True)
        await aclose()

    run_sync(shutdown())
    from IPython.utils.strdispatch import StrDispatch

    from .notebook.magic import async_cell, sync_cell

    for transformer in (async_cell, sync_cell):
        if transformer in ipython.input_transformers_cleanup:
            ipython.input_transformers_cleanup.remove(transformer)
    for key in _COMPLETE_KEYS:
        ipython.strdispatchers.get("complete_command", StrDispatch()).strs.pop(key, None)
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("g4f", None)
    ipython.magics_manager.registry.pop(type(magics).__name__, None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'g4f_magic' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
