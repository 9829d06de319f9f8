"""``%load_ext g4f_magic``: the magics, Tab completion, the cell rewriting, the warm-up, and how results
are shown (an IPython formatter for results, with the display settings of the extension that shows them).
``%unload_ext`` takes all of it back and closes the HTTP session: nothing stays behind."""

from __future__ import annotations

import asyncio
from typing import Any

from ..engine.result import Result, ResultSet
from .completion import matcher
from .html import Display, result_bundle, result_line
from .magic import G4FMagics, async_cell, sync_cell
from .runner import run_sync
from .settings import extensions, values

__all__ = ["load", "unload"]

_SHOWN = (Result, ResultSet)  # a SweepSet is a ResultSet


def _line(obj: ResultSet, printer: Any, cycle: bool) -> None:
    printer.text(result_line(obj))


def load(ipython: Any) -> None:
    if id(ipython) in extensions:
        return
    magics = G4FMagics(shell=ipython)  # also joins ipython.configurables, so %config sees it
    ipython.register_magics(magics)
    magics.matcher = matcher(magics)  # Tab on a %g4f / %%g4f line: options, models, ratios, subcommands
    ipython.Completer.custom_matchers.append(magics.matcher)
    # in a kernel, cells run as coroutines on the kernel's loop, never nested; either way a %g4f cell
    # is rewritten before IPython reads a trailing "?" as a help request
    ipython.input_transformers_cleanup.append(async_cell if magics._has_kernel() else sync_cell)

    def shown(obj: Result | ResultSet, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """A result as the output its run left, at this extension's display settings (read when shown)."""
        return result_bundle(obj, Display.of(values(magics)))

    for kind in _SHOWN:
        ipython.display_formatter.mimebundle_formatter.for_type(kind, shown)
    # a ResultSet is a list, and IPython's plain-text printer for lists would take its text/plain
    ipython.display_formatter.formatters["text/plain"].for_type(ResultSet, _line)
    extensions[id(ipython)] = magics
    from .warmup import start

    start(widgets=magics._has_kernel())  # the first run's imports, in the background


def unload(ipython: Any) -> None:
    magics = extensions.pop(id(ipython), None)
    if not isinstance(magics, G4FMagics):
        return
    from ..inference.client import aclose

    async def shutdown() -> None:
        for task in list(magics.tasks):
            task.cancel()
        await asyncio.gather(*magics.tasks, return_exceptions=True)
        await aclose()

    run_sync(shutdown())
    for transformer in (async_cell, sync_cell):
        if transformer in ipython.input_transformers_cleanup:
            ipython.input_transformers_cleanup.remove(transformer)
    if magics.matcher in ipython.Completer.custom_matchers:
        ipython.Completer.custom_matchers.remove(magics.matcher)
    for kind in _SHOWN:
        ipython.display_formatter.mimebundle_formatter.pop(kind, None)
    ipython.display_formatter.formatters["text/plain"].pop(ResultSet, None)
    for magic_kind in ("line", "cell"):
        ipython.magics_manager.magics[magic_kind].pop("g4f", None)
    ipython.magics_manager.registry.pop(type(magics).__name__, None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
