"""What the first generation needs, loaded in the background right after ``%load_ext``.

``%load_ext`` stays cheap (nothing heavy is imported on its path), and the first ``%%g4f`` cell does
not wait about a quarter of a second for aiohttp, Pillow, the Markdown renderer, ipywidgets and
huggingface_hub (the token lookup): a daemon thread imports them while the user reads or types. ``G4F_MAGIC_WARMUP=0`` turns it off.
"""

from __future__ import annotations

import importlib
import os
import threading

__all__ = ["start", "MODULES", "ENV_VAR"]

ENV_VAR = "G4F_MAGIC_WARMUP"
# the engine pulls in aiohttp (and its TLS context), the routes and the client
MODULES = ("g4f_magic.engine.run", "PIL.Image", "PIL.WebPImagePlugin", "PIL.PngImagePlugin", "markdown_it")


def _warm(widgets: bool) -> None:
    for name in (*MODULES, *(("ipywidgets",) if widgets else ())):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the run that needs it says what is wrong, in its own cell
            return
    from ..spaces.identity import find_hf_token
    from .html import markdown_html

    markdown_html("")  # builds the parser once
    find_hf_token()  # imports huggingface_hub where installed (about 0.1 s) to find the user's token


def start(widgets: bool) -> threading.Thread | None:
    """Start the warm-up (once per process); None when it is turned off or already ran."""
    global _started
    if os.environ.get(ENV_VAR, "1").strip() in ("0", "false", "no", "off") or _started:
        return None
    _started = True
    thread = threading.Thread(target=_warm, args=(widgets,), name="g4f-warmup", daemon=True)
    from .runner import kernel_loop

    loop = kernel_loop()
    if loop is not None:  # in a kernel: once the %load_ext cell is over, not while it runs
        loop.call_soon(thread.start)
    else:
        thread.start()
    return thread


_started = False
