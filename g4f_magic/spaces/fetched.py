"""A run with its images in hand, below the engine: its previews downloaded beside the stream, its final images
fetched and their declared size checked, all within the run's one deadline. Every backend's run goes through
here (the Spaces' and Inference Providers'), so the engine gets bytes, never an address to fetch."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable

from ..errors import G4FError
from ..events import Event, Fetched, ImagePreview, ImageResponse
from ..http.deadline import Deadline
from ..media import checked

__all__ = ["fetched", "PREVIEW_WAIT", "Download", "OnPreview"]

PREVIEW_WAIT = 30.0  # seconds a preview's download may take, within the run's deadline: it is not worth more

Download = Callable[[str, Deadline], Awaitable[tuple[bytes, str]]]
OnPreview = Callable[[bytes, str], None]  # (bytes, MIME type) of the newest preview


class _Previews:
    """A run's previews, downloaded beside its stream. FLUX.1-dev sends one per sampling step; a download slower
    than a step would otherwise hold the stream, and so the result, behind it. Only the newest preview waiting
    is fetched (the ones it overtook are skipped), and none is fetched or shown once the run has its result."""

    def __init__(self, download: Download, shown: OnPreview, deadline: Deadline) -> None:
        self._download, self._show, self._deadline = download, shown, deadline
        self._shown: str | None = None
        self._next: str | None = None
        self._task: asyncio.Task[None] | None = None

    def offer(self, url: str) -> None:
        if url in (self._shown, self._next):
            return
        self._next = url
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._fetch())

    async def _fetch(self) -> None:
        while self._next is not None:
            url, self._next = self._next, None
            try:
                data, mime = await self._download(url, self._deadline.capped(PREVIEW_WAIT))
            except G4FError:
                continue  # a lost preview is not worth failing the generation for
            self._shown = url
            self._show(data, mime)

    async def close(self) -> None:
        """Stop the download under way; ``asyncio.wait`` so that a cancellation of the run itself still
        propagates. A bug inside the download is raised here, not lost in its task."""
        task, self._task, self._next = self._task, None, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _images(ev: ImageResponse, download: Download, deadline: Deadline) -> Fetched:
    images = []
    for url in ev.urls:
        data, mime = await download(url, deadline)
        # its declared size, before anything decodes it; shown as served, never re-encoded
        checked(data, (ev.width, ev.height) if ev.width and ev.height else None)
        images.append((data, mime, url))
    return Fetched(ev, tuple(images))


async def fetched(events: AsyncIterator[Event], download: Download, deadline: Deadline,
                  preview: OnPreview | None = None) -> AsyncIterator[Event | Fetched]:
    """``events`` as they come, except that previews go to ``preview`` as bytes (none without it) and the final
    ``ImageResponse`` comes as ``Fetched``, its images downloaded with ``download`` and checked."""
    previews = _Previews(download, preview, deadline) if preview is not None else None
    try:
        async for ev in events:
            if isinstance(ev, ImagePreview):
                if previews is not None and ev.urls:
                    previews.offer(ev.urls[0])
            elif isinstance(ev, ImageResponse):
                if previews is not None:
                    await previews.close()  # the result replaces the preview: a late one must not cover it
                yield await _images(ev, download, deadline)
            else:
                yield ev
    finally:
        if previews is not None:
            await previews.close()
        close = getattr(events, "aclose", None)  # the stream read no further: its session let go now, not at GC
        if close is not None:
            await close()
