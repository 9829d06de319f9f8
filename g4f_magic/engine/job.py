"""A job: what the magic or the panel asks the engine to run, checked once when made.

A Job is the request (model, prompt, size, seeds, sampler settings), where it goes (endpoints, proxy,
credentials) and the policy (count, fallbacks, waiting, replay). Checking it makes one
:class:`~g4f_magic.spaces.request.Request` per model: the engine hands those to the Spaces layer as
they are. Pure: no network, no IPython.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Protocol, cast

from ..errors import InvalidOption
from ..events import JsonConversation, Reasoning
from ..media import MAX_IMAGE_BYTES
from ..spaces.endpoints import SPACE_CONCURRENCY
from ..spaces.identity import HFToken
from ..spaces.models import Model
from ..spaces.prompts import drop_controls
from ..spaces.providers import G4F
from ..spaces.request import DEFAULT_TIMEOUT, Access, Request
from .replay import MAX_BYTES, ReplayStore
from .result import Result

__all__ = ["Job", "ChatState", "View", "MAX_COUNT", "OPTION_NAMES"]

OPTION_NAMES = {"seed": "seed", "steps": "--steps", "guidance": "--guidance"}  # the front ends' words in messages
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
    timeout: float | None = DEFAULT_TIMEOUT
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
    prefer: str | None = None  # the Space (a mirror's base) this run asks first: a batch spreads over its pool
    spec: Model = field(init=False, repr=False)  # set by check(): what the model takes
    _requests: dict[str, Request] = field(init=False, repr=False, default_factory=dict)
    _access: dict[str, Access] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        # what the Space receives, so results, history and PNG metadata carry no terminal escapes
        self.prompt = drop_controls(self.prompt)
        self.check()

    def check(self) -> None:
        """Everything that can be wrong with the job is found here, once, before any widget or request:
        the policy (count, fallbacks, seeds for -n) here, each model's request by ``Request.make``."""
        self.spec = spec = G4F.model(self.model)
        if not 1 <= self.count <= MAX_COUNT:
            raise InvalidOption(f"count must be from 1 to {MAX_COUNT}; got {self.count}")
        if spec.chats and self.count != 1:
            raise InvalidOption(f"{self.model} answers once per question; drop -n")
        if not spec.sized and (self.width is not None or self.height is not None
                               or self.aspect_ratio not in (None, "1:1")):
            # (the g4f interface lets a caller pass a ratio to any model, as upstream does: the front ends
            # say what their user asked for cannot be done)
            raise InvalidOption(f"{self.model} takes no size or aspect ratio (it chooses its own); those are for "
                                "the flux models")
        if not spec.sampler:
            for name, value in (("--steps", self.steps), ("--guidance", self.guidance)):
                if value is not None:
                    raise InvalidOption(f"{name} is read by flux and flux-dev only; {self.model} has no such setting")
        specs = {self.model: spec}
        for other in self.fallback:
            if other == self.model:
                raise InvalidOption(f"--fallback {other}: that is the model itself")
            specs[other] = G4F.model(other)
            if specs[other].chats != spec.chats:
                raise InvalidOption(f"--fallback {other}: {self.model} {spec.makes} and {other} {specs[other].makes}")
        for model in self.models if self.seed is not None else ():
            hi, first = specs[model].seeds[1], cast(int, self.seed)
            last = first + self.count - 1
            if first < 0 or last > hi:
                many = f" and -n {self.count} needs seeds up to {last}" if self.count > 1 else ""
                raise InvalidOption(f"seed {self.seed}{many}: {model} takes seeds from 0 to {hi}")
        self._requests = {  # a fallback that takes no size stands in at its own size
            model: Request.make(specs[model], self.prompt, aspect_ratio=self.aspect_ratio, width=self.width,
                                height=self.height, steps=self.steps, guidance=self.guidance, names=OPTION_NAMES)
            for model in self.models}
        self._access = {}

    @property
    def models(self) -> tuple[str, ...]:
        """The model, then its fallbacks."""
        return (self.model, *self.fallback)

    def knobs(self, model: str) -> dict[str, Any]:
        """The sampler settings ``model`` reads, as given (None: the Space's default)."""
        return {"steps": self.steps, "guidance": self.guidance} if self._requests[model].model.sampler else {}

    def request_for(self, model: str, seed: int | None) -> Request:
        """The checked request for ``model`` with ``seed`` (checked with the job, or picked in range)."""
        return self._requests[model].seeded(seed)

    def access_for(self, model: str) -> Access:
        """Where ``model``'s request goes and as whom, checked on first use (a bad proxy fails the run)."""
        found = self._access.get(model)
        if found is None:
            found = self._access[model] = G4F.access(
                self._requests[model].model, proxy=self.proxy, api_key=self.api_key, hf_token=self.hf_token,
                send_hf_token_to=self.send_hf_token_to, endpoint=self.endpoint, api_url=self.api_url,
                flux_dev_url=self.flux_dev_url, url_flux=self.url_flux, mirrors=self.mirrors,
                timeout=self.timeout, space_concurrency=self.space_concurrency)
        return found

    def route_for(self, model: str) -> Access:
        """``access_for``, with the preferred Space first and the others after it, in their order, to hand over
        to. The replay key stays that of the model's own first Space, whichever Space answers."""
        access = self.access_for(model)
        first = [m for m in access.mirrors if m.base == self.prefer]
        if not first:
            return access
        return replace(access, mirrors=(*first, *(m for m in access.mirrors if m.base != self.prefer)))

    def key(self, request: Request, messages: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """``request`` as sent, field by field, to its first Space: what the replay store is keyed by."""
        return request.key(self.access_for(request.model.name).space, messages)

    def store(self) -> ReplayStore | None:
        return ReplayStore.shared(self.replay_dir, self.replay_max_bytes) if self.replay else None
