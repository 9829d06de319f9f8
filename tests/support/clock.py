"""An event loop on an injected clock, for the unit tier: a wait proves an absence without taking time."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """The loop's clock moves only when nothing is ready to run: then it jumps to the next timer. A test's
    ``await asyncio.sleep(0.05)`` returns at once, and every callback due within those 0.05 s (a deferred
    ``/cancel``, a quiet time) has run by then: what did not happen did not happen, on a busy machine too.
    For code that waits on timers and queues only (no sockets: the clock would jump past their I/O)."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0

    def time(self) -> float:
        return self._now

    def _run_once(self) -> None:
        ready, scheduled = self._ready, self._scheduled  # type: ignore[attr-defined]
        if not ready and scheduled:
            self._now = max(self._now, scheduled[0]._when)
        super()._run_once()  # type: ignore[misc]


def on_virtual_clock(test: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """An async test run to its end on a :class:`VirtualClockLoop` of its own."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        loop = VirtualClockLoop()
        try:
            return loop.run_until_complete(test(*args, **kwargs))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    return run
