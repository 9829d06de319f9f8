"""One run, start to end, for the magic and the panel alike: the one place that says how a run ended.

``run_to_end`` awaits the engine's run and tells the view how it ended (failed, in one line; stopped); what
each front end keeps of it (a cell's outputs and variable, the panel's gallery and saved copy) is its own,
handed in as an ``Ending``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..errors import G4FError

if TYPE_CHECKING:  # the engine's runs pull in aiohttp: loaded on the first run, not by %load_ext
    from ..engine.batch import Batch, BatchSet
    from ..engine.job import ChatState, Job
    from ..engine.result import Result, ResultSet
    from ..engine.sweep import Sweep

__all__ = ["Ending", "run_to_end"]


@dataclass(frozen=True)
class Ending:
    """What a front end does when its run ends otherwise than with a result. ``stopped``: the run was
    cancelled (a stopped batch hands over what had finished); the cancellation goes on after it, unless it
    raises its own. ``failed``: the run's error, already in the view's line; raise to pass it on. ``aborted``:
    anything else (a bug), which goes on after it."""

    stopped: Callable[[BatchSet | None], Awaitable[None]]
    failed: Callable[[G4FError], None]
    aborted: Callable[[], None]


async def run_to_end(job: Job | Sweep | Batch, view: Any, ending: Ending, chat: ChatState | None = None,
                     image: Callable[[], Awaitable[bytes | None]] | None = None) -> Result | ResultSet | None:
    """The run's result; None when it failed and ``ending.failed`` kept the error to the view. ``image``: how
    to read the image a question is about, as part of the run (a download can be stopped or fail too)."""
    from ..engine.batch import Batch
    from ..engine.run import run_in_view

    try:
        return await run_in_view(job, view, chat, await image() if image is not None else None)
    except (asyncio.CancelledError, KeyboardInterrupt):
        view.cancelled()
        await ending.stopped(job.partial if isinstance(job, Batch) else None)
        raise
    except G4FError as exc:
        view.fail(f"{type(exc).__name__}: {exc}")
        ending.failed(exc)
        return None
    except BaseException:
        ending.aborted()
        raise
