"""The wire flows, one async generator each: Janus chat, Janus image, FLUX.1-dev, legacy /run/predict.

Each takes a :class:`Call` (resolved endpoints, session, deadline, credentials) and yields events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, Callable, Mapping

from ..errors import G4FError, GPUBusy, QuotaExceeded, ResultShapeError, TokenExpired, printable
from ..events import Event, ImagePreview, ImageResponse, JsonConversation, Reasoning
from ..gradio.calls import GradioCall
from ..gradio.functions import FLUX_INFER, JANUS_CHAT, JANUS_IMAGE, PREDICT_INFER, SCHNELL_INFER, Fn
from ..gradio.messages import Completed, Generating
from ..untrusted_json import is_int
from .endpoints import Endpoints, hub_space, space_root, takes_hf_token
from .identity import HFToken
from .mirrors import Mirror
from .refusals import heard, refined
from .request import Request
from .zerogpu import tokens_of

log = logging.getLogger(__name__)

__all__ = ["Call", "janus_chat", "janus_image", "flux_dev", "flux_schnell", "run_predict", "FLOWS"]

STATUS_EVERY = 0.2
SCHNELL_MAX_SEED = 2**31 - 1  # the official FLUX.1-schnell Space's MAX_SEED (np.int32)


def _seed(request: Request) -> int:
    """The request's seed, else one picked here, so that every result can be reproduced."""
    return random.randint(*request.model.seeds) if request.seed is None else request.seed


def predict_session_hash() -> str:
    """Ten characters of [a-z0-9] as Gradio's front end sends (hex is a subset), from one read of the OS's
    random source (``secrets.choice`` reads it once per character)."""
    return secrets.token_hex(5)


ZEROGPU_HEADERS = ("x-zerogpu-token", "x-zerogpu-uuid")


def zerogpu_headers(token: str | None, uuid: str | None) -> dict[str, str]:
    """Only for join / predict requests; a header whose value is None is left out."""
    headers = dict(zip(ZEROGPU_HEADERS, (token, uuid)))
    return {k: v for k, v in headers.items() if v is not None}


@dataclass(kw_only=True)
class Call(GradioCall):
    """A call to these Spaces: the Gradio call, plus where the hub is, the credentials (kept out of the
    repr), and which servers are the user's own."""

    endpoints: Endpoints
    cookies: Mapping[str, str] | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    zerogpu_uuid: str | None = None
    hf_token: HFToken | None = field(default=None, repr=False)
    hf_token_to: frozenset[str] = frozenset()  # servers set by hand that the user lets have the HF token
    own: frozenset[str] = frozenset()  # the user's own servers on a model's list: no hub token for them

    def _ours(self, base: str) -> bool:
        """Is ``base`` a Space the hub serves (through a gateway or not), or a server the user named?"""
        return takes_hf_token(base, self.endpoints, self.own, self.hf_token_to)

    def hubs(self, base: str) -> bool:
        """Is ``base`` a Space of the hub's (the hub issues its ZeroGPU token), not one set by hand?"""
        return hub_space(base, self.endpoints, self.own)

    def stream_headers(self, base: str) -> dict[str, str]:
        """What the shared stream's request carries besides ``accept``: the page a browser sends from."""
        return {"referer": self.referer(base)}

    def referer(self, base: str) -> str:
        """The page a browser would send from: the seed's Janus referer, else the Space's own page."""
        return self.endpoints.referer if base == self.endpoints.janus else f"{base}?__theme=light"

    async def token(self, space: str, base: str, fresh: bool = False) -> tuple[str | None, str | None, Reasoning | None]:
        """(token, uuid, a status line when the hub had to be asked). Also decides whether this call's
        requests under ``base`` carry the HF token: only for the hub's own Spaces and servers the user named."""
        hf = self.hf_token if self.hf_token is not None and self._ours(base) else None
        self.session.authorize(space_root(base), hf.value if hf else None)
        if self.api_key is not None:
            return self.api_key, self.zerogpu_uuid, None
        if not self.hubs(base):  # not a Space the hub would issue a token for
            return None, None, None
        item, fetched, problem = await tokens_of(self.session).get(
            self.session, hub=self.endpoints.hub, space=space, cookies=self.cookies,
            proxy=self.proxy, deadline=self.deadline, fresh=fresh, hf_token=hf.value if hf else None,
        )
        note = None
        if fetched:
            text = "Acquired GPU token" if problem is None else f"No GPU token ({problem}); continuing without one"
            note = Reasoning(text, "token", elapsed=self.elapsed())
        return item.token, item.uuid, note

    async def renewed(self, space: str, base: str, headers: dict[str, str]) -> bool:
        """After ZeroGPU said the token it was given expired: a fresh one from the hub in ``headers`` (updated in
        place), or False when the token is not ours to renew (the user gave it, or the hub does not issue one)."""
        if self.api_key is not None or not self.hubs(base):
            return False
        token, uuid, _ = await self.token(space, base, fresh=True)
        for name in ZEROGPU_HEADERS:
            headers.pop(name, None)
        headers.update(zerogpu_headers(token, uuid))
        return True


async def tries(call: Call, space: str, url: str, fn: Fn, headers: dict[str, str],
                attempt: Callable[[Fn], AsyncGenerator[Event, None]]) -> AsyncGenerator[Event, None]:
    """A flow's one loop over its attempts at ``url`` (a Space's base or its /run/predict). ZeroGPU speaks
    through the Space: its toasts become status lines and its refusals typed errors as they come. Once each:
    an expired ZeroGPU token is renewed and the run sent again, and a function the Space moved is found by
    name and the run sent there."""
    base = space_root(url)
    if call.hubs(base):  # the hub's Spaces run on ZeroGPU: two in flight, never learned past (RunSlots.pin)
        call.slot(base).pin()
    known = await call.located(base, fn)
    renewed = relocated = False
    while True:
        run = attempt(known)
        try:
            async for event in run:
                event = heard(event)
                if isinstance(event, Reasoning) and event.kind == "gpu":  # ZeroGPU speaks: a shared GPU
                    call.slot(base).pin()
                yield event
            return
        except G4FError as exc:
            refusal = refined(exc)
            if isinstance(refusal, (QuotaExceeded, GPUBusy)):
                call.slot(base).pin()
            if isinstance(refusal, TokenExpired) and not renewed:
                renewed = True
                if await call.renewed(space, url, headers):
                    yield Reasoning("ZeroGPU's token had expired; retrying with a fresh one", "token",
                                    elapsed=call.elapsed())
                    continue
            if refusal is not exc:
                raise refusal from exc
            moved = None if relocated else await call.moved(base, fn, known, exc)
            if moved is None:
                raise
            relocated, known = True, moved
            yield Reasoning(f"The Space moved {fn.name} to function {moved.index}; retrying", "log", level="info",
                            elapsed=call.elapsed())
        finally:
            await run.aclose()


async def janus_chat(call: Call, mirror: Mirror, request: Request) -> AsyncGenerator[Event, None]:
    """The Space's chat function keeps nothing per session (the transcript goes in every prompt), so a
    chat joins the Space's shared stream like an image run: a warm turn is one round trip, and a
    conversation keeps its session hash for as long as that stream lives (``request.conversation`` is
    taken for the API's sake: the transcript carries the chat)."""
    base, space, prompt, media = mirror.base, mirror.space or "", request.prompt, request.media
    session_hash = call.stream(base, call.stream_headers(base)).session_hash
    token, uuid, note = await call.token(space, base)
    if note:
        yield note
    yield JsonConversation(session_hash, uuid, token)
    image = await call.upload(base, session_hash, media[-1]) if media else None
    seed = _seed(request)
    headers = {**zerogpu_headers(token, uuid), "referer": call.referer(base)}

    async def attempt(fn: Fn) -> AsyncGenerator[Event, None]:
        sent = ""
        async with contextlib.aclosing(call.queued(base, fn, [image, prompt, seed, 0.95, 0.1], headers, call.stream_headers(base))) as items:
            async for item in items:
                if isinstance(item, Reasoning):
                    yield item
                    continue
                text = item.data[0] if len(item.data) == 1 else None
                if not isinstance(text, str):
                    if isinstance(item, Completed):
                        raise ResultShapeError("the chat result is not text")
                    continue
                if text.startswith(sent) and len(text) > len(sent):
                    yield printable(text[len(sent):])  # what the Space wrote, without terminal control
                    sent = text

    async for event in tries(call, space, base, JANUS_CHAT, headers, attempt):
        yield event
    yield call.finished()


async def janus_image(call: Call, mirror: Mirror, request: Request) -> AsyncGenerator[Event, None]:
    base, space, model, prompt = mirror.base, mirror.space or "", request.model.name, request.prompt
    token, uuid, note = await call.token(space, base)
    if note:
        yield note
    seed = _seed(request)
    headers = {**zerogpu_headers(token, uuid), "referer": call.referer(base)}

    async def attempt(fn: Fn) -> AsyncGenerator[Event, None]:
        async with contextlib.aclosing(call.queued(base, fn, [prompt, seed, 5, 1], headers, call.stream_headers(base))) as items:
            async for item in items:
                if isinstance(item, Reasoning):
                    yield item
                elif isinstance(item, Completed):
                    if len(item.data) != 1 or not isinstance(item.data[0], list):
                        raise ResultShapeError("the result is not a gallery of images")
                    urls = call.image_urls(item.data[0], base)
                    yield call.finished()
                    yield ImageResponse(urls, prompt, model, seed)

    async for event in tries(call, space, base, JANUS_IMAGE, headers, attempt):
        yield event


async def flux_dev(call: Call, mirror: Mirror, request: Request) -> AsyncGenerator[Event, None]:
    seed = _seed(request)
    data = [request.prompt, seed, False, request.width, request.height, request.guidance, request.steps]
    async for event in _image_and_seed(call, mirror, FLUX_INFER, data, request, seed):
        yield event


async def flux_schnell(call: Call, mirror: Mirror, request: Request) -> AsyncGenerator[Event, None]:
    """The official FLUX.1-schnell Space on the queue API (the legacy route's mirror): its ``infer`` found by
    name, 4 steps as its default, and seeds folded into its range (the reply names the seed it used)."""
    seed = _seed(request) % (SCHNELL_MAX_SEED + 1)
    data = [request.prompt, seed, False, request.width, request.height, 4]
    async for event in _image_and_seed(call, mirror, SCHNELL_INFER, data, request, seed):
        yield event


async def _image_and_seed(call: Call, mirror: Mirror, fn: Fn, data: list[Any], request: Request,
                          seed: int) -> AsyncGenerator[Event, None]:
    """A FLUX ``infer`` on the queue API: outputs (image, seed), previews when it is a generator."""
    base, space, prompt = mirror.base, mirror.space or "", request.prompt
    token, uuid, note = await call.token(space, base)
    if note:
        yield note
    headers = zerogpu_headers(token, uuid)

    async def attempt(fn: Fn) -> AsyncGenerator[Event, None]:
        async with contextlib.aclosing(call.queued(base, fn, data, headers, call.stream_headers(base))) as items:
            async for item in items:
                if isinstance(item, Reasoning):
                    yield item
                elif len(item.data) != 2:  # (image, seed)
                    raise ResultShapeError(f"the result has {len(item.data)} outputs where infer gives 2")
                elif isinstance(item, Generating):
                    if item.data[0]:
                        yield ImagePreview(call.image_urls(item.data[0], base), prompt)
                else:
                    urls = call.image_urls(item.data[0], base)
                    reported = _reported(item.data[1], seed)
                    if reported is not None:
                        yield _misreported(call, reported, seed)
                    yield call.finished()
                    yield ImageResponse(urls, prompt, request.model.name, seed, request.width, request.height, reported)

    async for event in tries(call, space, base, fn, headers, attempt):
        yield event


def _reported(said: Any, sent: int) -> int | None:
    """The seed a Space's reply names, when it is a seed and not the one it was sent. A result is labelled and
    kept by the request as sent: a Space's word for its seed is checked, never taken (issue #35)."""
    return said if is_int(said) and said != sent else None


def _misreported(call: Call, reported: int, sent: int) -> Reasoning:
    return Reasoning(f"The Space reports seed {reported} for the seed {sent} it was sent; the image is kept as seed "
                     f"{sent}, what was asked", "log", level="warning", elapsed=call.elapsed())


async def _settled(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], seconds: float) -> None:
    """Until ``task`` is done or ``seconds`` pass: ``asyncio.wait`` for one task, without its set and
    its coroutine (this runs once per /run/predict call)."""
    waiter = loop.create_future()

    def wake(_: Any = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = loop.call_later(seconds, wake)
    task.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        task.remove_done_callback(wake)


async def run_predict(call: Call, mirror: Mirror, request: Request) -> AsyncGenerator[Event, None]:
    url, space = mirror.base, mirror.space or ""  # the full /run/predict URL
    base = space_root(url)
    model, prompt, width, height = request.model.name, request.prompt, request.width, request.height
    token, uuid, note = await call.token(space, url)
    if note:
        yield note
    seed = _seed(request)
    headers = zerogpu_headers(token, uuid)

    async def attempt(fn: Fn) -> AsyncGenerator[Event, None]:
        body = {
            "data": [prompt, seed, width, height, True, 1], "event_data": None,
            "fn_index": fn.index, "session_hash": predict_session_hash(), "trigger_id": fn.trigger,
        }
        loop = asyncio.get_running_loop()
        async with call.slot(base):
            task = loop.create_task(call.session.json(
                "POST", url, deadline=call.deadline, json_body=body, headers=headers, proxy=call.proxy,
            ))
            try:
                while not task.done():
                    t = call.elapsed()
                    yield Reasoning(f"Generating {t:.2f}s", "generating", elapsed=t)
                    await _settled(loop, task, STATUS_EVERY)
                reply = task.result()
            finally:
                if not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list) or not data:  # upstream reads data[0] only; a seed may follow it
            raise ResultShapeError("the Space replied without an image")
        urls = call.image_urls(data[0], base, file_route="file=")
        # this route is sent randomize_seed (as upstream does): the seed its reply names is the one it used
        used = data[1] if len(data) > 1 and is_int(data[1]) else seed
        yield call.finished()  # one order on every route: Finished, then the image
        yield ImageResponse(urls, prompt, model, used, width, height)

    async for event in tries(call, space, url, PREDICT_INFER, headers, attempt):
        yield event


FLOWS = {"janus_chat": janus_chat, "janus_image": janus_image, "flux_dev": flux_dev, "run_predict": run_predict,
         "flux_schnell": flux_schnell}
