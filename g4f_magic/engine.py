"""One generation request → events for a view → results. Shared by the magic and the panel.

Pure async: no IPython, no ipywidgets. A view is any object with the methods of ``View``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from .client import fetch_image
from .errors import G4FError, InvalidOption, StreamError
from .events import ImagePreview, ImageResponse, JsonConversation, Reasoning
from .media import MAX_IMAGE_BYTES
from .prompts import drop_controls
from .providers import G4F
from .result import GeneratedImage, Result, ResultSet, checked
from .routes import SEED_RANGES
from .sizes import image_size

__all__ = ["Job", "ChatState", "View", "run_job", "run_in_view", "MAX_COUNT"]

MAX_COUNT = 16


class View(Protocol):
    """What a run is shown in: the plain lines and the widgets both implement all of it, so the
    magic and the panel drive either without asking which it is."""

    can_run_in_background: bool  # --bg needs somewhere that keeps updating after the cell returns

    def status(self, index: int, event: Reasoning) -> None: ...
    def preview(self, index: int, data: bytes, mime: str) -> None: ...
    def text(self, chunk: str) -> None: ...
    def finish(self, results: list[Result]) -> None: ...  # the result arrived
    def fail(self, message: str) -> None: ...  # "ClassName: message"
    def cancelled(self) -> None: ...
    def show(self) -> None: ...  # put the live view in the cell's output
    # The run is over: leave its final form and release what it held. Without the status line when
    # the caller reports the outcome itself (a cell that raises the error's one line).
    def settle(self, with_status: bool = True) -> None: ...
    async def ticker(self) -> None: ...  # keep time while the Space is quiet


@dataclass
class ChatState:
    """A Janus conversation that continues across cells until ``--new``."""

    messages: list[dict[str, str]] = field(default_factory=list)
    conversation: JsonConversation | None = None

    def reset(self) -> None:
        self.messages.clear()
        self.conversation = None


@dataclass
class Job:
    model: str
    prompt: str
    aspect_ratio: str = "1:1"
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    count: int = 1
    image: bytes | None = None
    proxy: str | None = None
    timeout: float | None = 300.0
    endpoint: str | None = None
    # one's own Gradio server or a duplicated Space, per route (the provider's keyword names)
    api_url: str | None = None
    flux_dev_url: str | None = None
    url_flux: str | None = None
    api_key: str | None = field(default=None, repr=False)
    max_image_bytes: int = MAX_IMAGE_BYTES
    route: str = field(init=False, default="")  # set by check(): which wire flow serves the model

    def __post_init__(self) -> None:
        # what the Space receives, so results, history and PNG metadata carry no terminal escapes
        self.prompt = drop_controls(self.prompt)
        self.check()

    def check(self) -> None:
        """Everything that can be wrong with the job is found here, before any widget or request."""
        self.route = route = G4F.route(self.model)  # the model is validated here, once
        if not 1 <= self.count <= MAX_COUNT:
            raise InvalidOption(f"count must be from 1 to {MAX_COUNT}; got {self.count}")
        if route == "janus_chat" and self.count != 1:
            raise InvalidOption(f"{self.model} answers once per question; drop -n")
        if route in ("flux_dev", "run_predict"):
            image_size(self.aspect_ratio, self.width, self.height)
        if self.seed is not None:
            hi = SEED_RANGES[route][1]
            last = self.seed + self.count - 1
            if self.seed < 0 or last > hi:
                many = f" and -n {self.count} needs seeds up to {last}" if self.count > 1 else ""
                raise InvalidOption(f"seed {self.seed}{many}: {self.model} takes seeds from 0 to {hi}")

    def provider_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"aspect_ratio": self.aspect_ratio, "width": self.width, "height": self.height,
                                "proxy": self.proxy, "timeout": self.timeout, "api_key": self.api_key}
        for key in ("endpoint", "api_url", "flux_dev_url", "url_flux"):
            if getattr(self, key):
                opts[key] = getattr(self, key)
        return opts


def _seeds(job: Job, route: str) -> list[int | None]:
    if job.seed is not None:
        return [job.seed + i for i in range(job.count)]
    if job.count == 1:
        return [None]
    lo, hi = SEED_RANGES[route]
    return random.sample(range(lo, hi + 1), job.count)


async def _image_one(job: Job, index: int, seed: int | None, view: View) -> list[Result]:
    started = time.monotonic()
    log: list[str] = []
    shown_preview = None
    async for ev in G4F.create_async_generator(job.model, job.prompt, seed=seed, **job.provider_options()):
        if isinstance(ev, Reasoning):
            if ev.kind == "log":
                log.append(ev.status)
            view.status(index, ev)
        elif isinstance(ev, ImagePreview) and ev.urls and ev.urls[0] != shown_preview:
            shown_preview = ev.urls[0]
            try:
                data, mime = await fetch_image(ev.urls[0], proxy=job.proxy, timeout=30,
                                               max_bytes=job.max_image_bytes)
            except G4FError:
                continue  # a lost preview is not worth failing the generation for
            view.preview(index, data, mime)
        elif isinstance(ev, ImageResponse):
            results = []
            for url in ev.urls:
                data, mime = await fetch_image(url, proxy=job.proxy, timeout=job.timeout,
                                               max_bytes=job.max_image_bytes)
                checked(data)  # its declared size, before anything decodes it; shown as served, never re-encoded
                image = GeneratedImage(data, mime, url)
                results.append(Result(job.prompt, ev.model, ev.seed, ev.width, ev.height, image,
                                      elapsed=time.monotonic() - started, log=log))
            return results
    raise StreamError("the generation ended without an image")


async def _all_or_nothing(coros: list[Any]) -> list[Any]:
    """Run concurrently; the first failure cancels the rest (and waits for them to close)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
        return [t.result() for t in tasks]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _chat(job: Job, chat: ChatState, view: View) -> Result:
    started = time.monotonic()
    messages = [*chat.messages, {"role": "user", "content": job.prompt}]
    media = job.image
    parts: list[str] = []
    log: list[str] = []
    conversation = None
    async for ev in G4F.create_async_generator(
        job.model, messages, seed=job.seed, conversation=chat.conversation, media=media, **job.provider_options()
    ):
        if isinstance(ev, JsonConversation):
            conversation = ev
        elif isinstance(ev, Reasoning):
            if ev.kind == "log":
                log.append(ev.status)
            view.status(0, ev)
        elif isinstance(ev, str):
            parts.append(ev)
            view.text(ev)
    text = "".join(parts)
    chat.messages[:] = [*messages, {"role": "assistant", "content": text}]
    chat.conversation = conversation
    return Result(job.prompt, job.model, job.seed, text=text, elapsed=time.monotonic() - started, log=log)


async def run_job(job: Job, view: View, chat: ChatState | None = None) -> Result | ResultSet:
    """Run ``job``; several images come back as a ``ResultSet``."""
    job.check()  # again: a caller may have changed the job since it was made
    route = job.route
    if route == "janus_chat":
        return await _chat(job, chat if chat is not None else ChatState(), view)
    if job.image is not None:
        raise InvalidOption(f"--image is read by janus-pro-7b only; {job.model} makes images from text")
    batches = await _all_or_nothing([_image_one(job, i, s, view) for i, s in enumerate(_seeds(job, route))])
    results = [r for batch in batches for r in batch]
    return results[0] if len(results) == 1 else ResultSet(results)


async def run_in_view(job: Job, view: View, chat: ChatState | None = None) -> Result | ResultSet:
    """``run_job`` with the view's clock running, and the result handed to the view at the end."""
    ticker = asyncio.ensure_future(view.ticker())
    try:
        result = await run_job(job, view, chat)
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    view.finish([result] if isinstance(result, Result) else list(result))
    return result
