"""One generation request → events for a view → results. Shared by the magic and the panel.

Pure async: no IPython, no ipywidgets. A view is any object with the methods of ``View``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from ..errors import G4FError, InvalidOption, StreamError
from ..events import ImagePreview, ImageResponse, JsonConversation, Reasoning
from ..http.session import fetch_image
from ..media import MAX_IMAGE_BYTES
from ..spaces.endpoints import SPACE_CONCURRENCY
from ..spaces.flows import SEED_RANGES
from ..spaces.identity import HFToken
from ..spaces.prompts import drop_controls
from ..spaces.providers import G4F
from ..spaces.sizes import image_size
from .availability import answered
from .replay import MAX_BYTES, Entry, ReplayStore, replay_note, request_key
from .result import GeneratedImage, Result, ResultSet, checked
from .sweep import Sweep, SweepCell, SweepSet

__all__ = ["Job", "ChatState", "View", "run_job", "run_sweep", "run_in_view", "MAX_COUNT"]

MAX_COUNT = 16


class View(Protocol):
    """What a run is shown in: the plain lines and the widgets both implement all of it, so the
    magic and the panel drive either without asking which it is."""

    can_run_in_background: bool  # --bg needs somewhere that keeps updating after the cell returns

    def status(self, index: int, event: Reasoning) -> None: ...
    def preview(self, index: int, data: bytes, mime: str) -> None: ...
    def text(self, chunk: str) -> None: ...
    def cell(self, index: int, result: Result | None, error: str | None) -> None: ...  # one image's outcome
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
    hf_token: HFToken | None = field(default=None, repr=False)  # None: the provider finds it (identity)
    send_hf_token_to: tuple[str, ...] = ()  # one's own servers that may have it
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # model → the user's extra Spaces
    max_image_bytes: int = MAX_IMAGE_BYTES
    steps: int | None = None  # FLUX.1-dev's num_inference_steps (the Space's default: 28)
    guidance: float | None = None  # FLUX.1-dev's guidance_scale (the Space's default: 3.5)
    fallback: tuple[str, ...] = ()  # models that answer, in order, when the one before cannot
    wait: bool = False  # wait out a quota error that says when the quota returns
    max_wait: float = 900.0  # seconds: a longer stated wait fails at once
    replay: bool = True  # a seeded request answered before is replayed from the store
    refresh: bool = False  # generate anew, and replace what the store holds
    replay_dir: str | None = None  # None: the user's cache folder (replay.default_dir)
    replay_max_bytes: int = MAX_BYTES
    space_concurrency: int = SPACE_CONCURRENCY  # runs in flight per Space, for -n, sweeps and the panel alike
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
        if route != "flux_dev":
            for name, value in (("--steps", self.steps), ("--guidance", self.guidance)):
                if value is not None:
                    raise InvalidOption(f"{name} is read by flux and flux-dev only; {self.model} has no such setting")
        if self.steps is not None and not 1 <= self.steps <= 200:
            raise InvalidOption(f"--steps must be from 1 to 200; got {self.steps}")
        if self.guidance is not None and not 0 <= self.guidance <= 30:
            raise InvalidOption(f"--guidance must be from 0 to 30; got {self.guidance:g}")
        chat = route == "janus_chat"
        for other in self.fallback:
            if other == self.model:
                raise InvalidOption(f"--fallback {other}: that is the model itself")
            if (G4F.route(other) == "janus_chat") != chat:
                kinds = ("answers questions", "makes images")
                raise InvalidOption(f"--fallback {other}: {self.model} {kinds[not chat]} and {other} "
                                    f"{kinds[chat]}")
        for model in self.models if self.seed is not None else ():
            hi = SEED_RANGES[G4F.route(model)][1]
            last = self.seed + self.count - 1
            if self.seed < 0 or last > hi:
                many = f" and -n {self.count} needs seeds up to {last}" if self.count > 1 else ""
                raise InvalidOption(f"seed {self.seed}{many}: {model} takes seeds from 0 to {hi}")

    @property
    def models(self) -> tuple[str, ...]:
        """The model, then its fallbacks."""
        return (self.model, *self.fallback)

    def knobs(self, model: str) -> dict[str, Any]:
        """The sampler settings ``model`` reads, as given (None: the Space's default)."""
        return {"steps": self.steps, "guidance": self.guidance} if G4F.route(model) == "flux_dev" else {}

    def provider_options(self, model: str | None = None) -> dict[str, Any]:
        opts: dict[str, Any] = {"aspect_ratio": self.aspect_ratio, "width": self.width, "height": self.height,
                                "proxy": self.proxy, "timeout": self.timeout, "api_key": self.api_key,
                                "space_concurrency": self.space_concurrency}
        for key in ("endpoint", "api_url", "flux_dev_url", "url_flux", "hf_token", "send_hf_token_to", "mirrors"):
            if getattr(self, key):
                opts[key] = getattr(self, key)
        knobs = self.knobs(model or self.model)
        if knobs.get("steps") is not None:
            opts["num_inference_steps"] = knobs["steps"]
        if knobs.get("guidance") is not None:
            opts["guidance_scale"] = knobs["guidance"]
        return opts

    def space(self, model: str | None = None) -> str:
        """The URL the request for ``model`` goes to: a duplicated Space or one's own server is another Space."""
        ends = G4F.endpoints(self.endpoint, None, self.api_url, self.flux_dev_url, self.url_flux)
        route = G4F.route(model or self.model)
        return {"janus_chat": ends.janus, "janus_image": ends.janus, "flux_dev": ends.flux_dev,
                "run_predict": ends.flux_predict}[route]

    def request(self, model: str, seed: int | None, messages: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """The request as sent, field by field: what the replay store is keyed by."""
        route = G4F.route(model)
        req: dict[str, Any] = {"route": route, "space": self.space(model), "model": model, "prompt": self.prompt,
                               "seed": seed}
        if route in ("flux_dev", "run_predict"):
            req["size"] = list(image_size(self.aspect_ratio, self.width, self.height))
        if route == "flux_dev":  # the Space's own defaults when not given, so "given 28" = "not given"
            req["steps"] = 28 if self.steps is None else self.steps
            req["guidance"] = 3.5 if self.guidance is None else self.guidance
        if route == "janus_chat":
            req["messages"] = messages
            req["image"] = hashlib.sha256(self.image).hexdigest() if self.image is not None else None
        return req

    def store(self) -> ReplayStore | None:
        return ReplayStore(self.replay_dir, self.replay_max_bytes) if self.replay else None


def _seeds(job: Job, route: str) -> list[int | None]:
    if job.seed is not None:
        return [job.seed + i for i in range(job.count)]
    if job.count == 1:
        return [None]
    lo, hi = SEED_RANGES[route]
    return random.sample(range(lo, hi + 1), job.count)


def _stored(result: Result, urls: list[str | None]) -> dict[str, Any]:
    """What rebuilds ``result`` from the store (its images are the entry's parts)."""
    return {"prompt": result.prompt, "model": result.model, "seed": result.seed, "width": result.width,
            "height": result.height, "text": result.text, "elapsed": result.elapsed, "log": result.log,
            "steps": result.steps, "guidance": result.guidance, "note": result.note, "urls": urls}


def _replayed(entry: Entry) -> list[Result]:
    r = entry.result
    fields = dict(prompt=r["prompt"], model=r["model"], seed=r["seed"], width=r["width"], height=r["height"],
                  text=r.get("text", ""), log=list(r.get("log", [])), steps=r.get("steps"),
                  guidance=r.get("guidance"), note=r.get("note", ""), replayed=entry.created)
    if not entry.parts:
        return [Result(**fields)]
    urls = r.get("urls") or []
    return [Result(**fields, image=GeneratedImage(data, mime, urls[i] if i < len(urls) else ""))
            for i, (mime, data) in enumerate(entry.parts)]


async def _generate(job: Job, model: str, index: int, seed: int | None, view: View) -> list[Result]:
    """One request to the Space for ``model``: its events to the view, its images fetched and checked."""
    started = time.monotonic()
    log: list[str] = []
    handovers: list[str] = []  # "roxky/FLUX.1-dev is paused; trying black-forest-labs/FLUX.1-dev"
    shown_preview = None
    async for ev in G4F.create_async_generator(model, job.prompt, seed=seed, **job.provider_options(model)):
        if isinstance(ev, Reasoning):
            if ev.kind == "log":
                log.append(ev.status)
            elif ev.kind == "mirror":
                handovers.append(ev.status)
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
                                      elapsed=time.monotonic() - started, log=log, note="; ".join(handovers),
                                      **job.knobs(model)))
            return results
    raise StreamError("the generation ended without an image")


async def _image_one(job: Job, index: int, seed: int | None, view: View) -> list[Result]:
    """Replayed when this exact request was answered before; else generated (with the job's waiting and
    fallbacks) and stored for the next time."""
    store = job.store()
    if store is not None and seed is not None and not job.refresh:
        for model in job.models:
            entry = await asyncio.to_thread(store.get, request_key(job.request(model, seed)))
            if entry is not None:
                results = _replayed(entry)
                view.status(index, Reasoning(replay_note(entry.created), "replayed", elapsed=0.0))
                return results

    async def attempt(model: str) -> list[Result]:
        return await _generate(job, model, index, seed, view)

    results, note = await answered(job, index, view, attempt)
    for r in results:  # which Space answered and why another did not, then the model's own story
        r.note = "; ".join(x for x in (r.note, note) if x)
    if store is not None and results:
        first = results[0]
        parts = [(r.image.mime, r.image.data) for r in results if r.image is not None]
        await asyncio.to_thread(store.put, request_key(job.request(first.model, first.seed)),
                                _stored(first, [r.url for r in results]), parts)
    return results


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
    messages = [*chat.messages, {"role": "user", "content": job.prompt}]
    store = job.store() if job.seed is not None else None  # a chat is replayable only with its seed
    key = request_key(job.request(job.model, job.seed, messages)) if store is not None else ""
    entry = None
    if store is not None and not job.refresh:
        entry = await asyncio.to_thread(store.get, key)
    if entry is not None:
        [result] = _replayed(entry)
        view.status(0, Reasoning(replay_note(entry.created), "replayed", elapsed=0.0))
        view.text(result.text)
        chat.messages[:] = [*messages, {"role": "assistant", "content": result.text}]
        chat.conversation = None  # the Space's session is not replayed; the transcript carries the chat
        return result

    handovers: list[str] = []  # the Spaces that handed the chat on, and why

    async def attempt(model: str) -> tuple[str, list[str], JsonConversation | None, float]:
        started = time.monotonic()
        parts: list[str] = []
        log: list[str] = []
        conversation = None
        async for ev in G4F.create_async_generator(
            model, messages, seed=job.seed, conversation=chat.conversation, media=job.image,
            **job.provider_options(model),
        ):
            if isinstance(ev, JsonConversation):
                conversation = ev
            elif isinstance(ev, Reasoning):
                if ev.kind == "log":
                    log.append(ev.status)
                elif ev.kind == "mirror":
                    handovers.append(ev.status)
                view.status(0, ev)
            elif isinstance(ev, str):
                parts.append(ev)
                view.text(ev)
        return "".join(parts), log, conversation, time.monotonic() - started

    (text, log, conversation, elapsed), note = await answered(job, 0, view, attempt)
    note = "; ".join(x for x in (*handovers, note) if x)
    chat.messages[:] = [*messages, {"role": "assistant", "content": text}]
    chat.conversation = conversation
    result = Result(job.prompt, job.model, job.seed, text=text, elapsed=elapsed, log=log, note=note)
    if store is not None:
        await asyncio.to_thread(store.put, key, _stored(result, []), [])
    return result


async def run_sweep(sweep: Sweep, view: View) -> SweepSet:
    """Every cell of the grid (as many at once per Space as its run slots allow); a failed cell keeps its
    error and the others go on. The view hears each cell's outcome as it comes."""
    cells = [SweepCell(values) for values in sweep.cells]

    async def one(index: int, job: Job) -> None:
        try:
            # a cell is one picture: Janus's gallery gives its first (the seed makes the others anew)
            cells[index].result = (await _image_one(job, index, job.seed, view))[0]
        except G4FError as exc:
            cells[index].error = exc
            view.cell(index, None, f"{type(exc).__name__}: {exc}")
            return
        view.cell(index, cells[index].result, None)

    await _all_or_nothing([one(i, job) for i, job in enumerate(sweep.jobs)])  # only a cancel ends it early
    return SweepSet.of(sweep, cells)


async def run_job(job: Job | Sweep, view: View, chat: ChatState | None = None) -> Result | ResultSet:
    """Run ``job``; several images come back as a ``ResultSet``, a sweep as a ``SweepSet``."""
    job.check()  # again: a caller may have changed the job since it was made
    if isinstance(job, Sweep):
        return await run_sweep(job, view)
    route = job.route
    if route == "janus_chat":
        return await _chat(job, chat if chat is not None else ChatState(), view)
    if job.image is not None:
        raise InvalidOption(f"--image is read by janus-pro-7b only; {job.model} makes images from text")

    async def one(index: int, seed: int | None) -> list[Result]:
        results = await _image_one(job, index, seed, view)
        if job.count > 1:
            view.cell(index, results[0], None)
        return results

    batches = await _all_or_nothing([one(i, s) for i, s in enumerate(_seeds(job, route))])
    results = [r for batch in batches for r in batch]
    return results[0] if len(results) == 1 else ResultSet(results)


async def run_in_view(job: Job | Sweep, view: View, chat: ChatState | None = None) -> Result | ResultSet:
    """``run_job`` with the view's clock running, and the result handed to the view at the end."""
    ticker = asyncio.ensure_future(view.ticker())
    try:
        result = await run_job(job, view, chat)
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    view.finish(result if isinstance(result, ResultSet) else [result])  # a SweepSet stays one
    return result
