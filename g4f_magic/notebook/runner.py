"""Run a coroutine to completion from synchronous code: a kernel cell, terminal IPython, a script.

Inside a running loop (ipykernel) nest-asyncio lets the cell wait on the kernel's own loop, so one
HTTP session serves every cell. Without one, a private loop is kept for the whole process for the
same reason. Ctrl-C / kernel interrupt cancels the task and lets it close its connections first.
"""

from __future__ import annotations

import asyncio
import atexit
from typing import Any, Coroutine, TypeVar

__all__ = ["run_sync", "kernel_loop"]

T = TypeVar("T")
_own: asyncio.AbstractEventLoop | None = None


def _close_own() -> None:
    global _own
    if _own is not None and not _own.is_closed():
        from ..inference.client import aclose

        _own.run_until_complete(aclose())
        _own.run_until_complete(_own.shutdown_asyncgens())
        _own.close()
    _own = None


def kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The loop that is running right now (a kernel's), if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _loop() -> asyncio.AbstractEventLoop:
    global _own
    loop = kernel_loop()
    if loop is not None:
        import nest_asyncio

        nest_asyncio.apply(loop)
        return loop
    if _own is None or _own.is_closed():
        _own = asyncio.new_event_loop()
        atexit.register(_close_own)
    return _own


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    loop = _loop()
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        task.cancel()
        try:
            loop.run_until_complete(task)
        except KeyboardInterrupt as own:  # the task's own account of it (RunCancelled: one line, no traceback)
            raise own from None
        except BaseException:  # noqa: BLE001 - the task's own CancelledError or error; we re-raise the interrupt
            pass
        raise
