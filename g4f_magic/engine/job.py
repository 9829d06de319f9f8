"""A job: what the magic or the panel asks the engine to run, checked once when made.

A Job is the request (model, prompt, size, seeds, sampler settings) and the policy (fallbacks, waiting,
replay), with the client that knows where it goes and as whom. Checking it makes one
:class:`~g4f_magic.spaces.request.Request` per model: the engine hands those to the client as they are.
Pure: no network, no IPython.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

from ..errors import InvalidOption
from ..events import JsonConversation, Reasoning
from ..spaces.client import SpacesClient
from ..spaces.models import Model
from ..spaces.prompts import drop_controls
from ..spaces.request import Request
from .backend import Backend
from .replay import MAX_BYTES, ReplayStore
from .result import Result
from .words import PLAIN, Words, said

__all__ = ["Job", "Policy", "Handover", "ChatState", "View", "MAX_COUNT"]

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


@dataclass(eq=False)
class Handover:
    """Where an image run goes when ZeroGPU refuses it for quota, instead of waiting or failing: the user's
    opt-in (it spends their credits). Shared by a run's jobs: once one item of a batch was handed over, the
    rest go straight there rather than each being refused first."""

    client: Backend
    name: str  # how the status line names it: "Inference Providers (fal-ai)"
    taken: bool = False


@dataclass(frozen=True)
class Policy:
    """What the engine does around a request: who stands in, whether to wait, what to replay."""

    fallback: tuple[str, ...] = ()  # models that answer, in order, when the one before cannot
    wait: bool = False  # wait out a quota error that says when the quota returns
    max_wait: float = 900.0  # seconds: a longer stated wait fails at once
    replay: bool = True  # a seeded request answered before is replayed from the store
    refresh: bool = False  # generate anew, and replace what the store holds
    replay_dir: str | None = None  # None: the user's cache folder (replay.default_dir)
    replay_max_bytes: int = MAX_BYTES
    words: Words = field(default_factory=lambda: PLAIN, compare=False, repr=False)  # the front end's words for options
    handover: Handover | None = field(default=None, compare=False, repr=False)  # past the ZeroGPU quota


@dataclass(frozen=True)
class Job:
    """The request (model, prompt, size, seeds, sampler settings), the policy, and the client that knows where
    it goes and as whom (shared by every job of a sweep or a batch). Checked when made, then frozen: the
    image asked about and the Space to ask first are a run's arguments, not the job's."""

    model: str
    prompt: str
    aspect_ratio: str = "1:1"
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    count: int = 1
    steps: int | None = None  # FLUX.1-dev's num_inference_steps (the Space's default: 28)
    guidance: float | None = None  # FLUX.1-dev's guidance_scale (the Space's default: 3.5)
    policy: Policy = field(default_factory=Policy)
    client: Backend = field(default_factory=SpacesClient, repr=False)
    _requests: dict[str, Request] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        # what the Space receives, so results, history and PNG metadata carry no terminal escapes
        object.__setattr__(self, "prompt", drop_controls(self.prompt))
        self.check()

    def check(self) -> None:
        """Everything that can be wrong with the job is found here, once, before any widget or request:
        the policy (count, fallbacks, seeds for -n) here, each model's request by ``Request.make``."""
        spec = self.client.model(self.model)
        words = self.policy.words
        if not 1 <= self.count <= MAX_COUNT:
            raise InvalidOption(f"{said(words, 'count')} must be from 1 to {MAX_COUNT}; got {self.count}")
        if spec.chats and self.count != 1:
            raise InvalidOption(f"{self.model} answers once per question; drop {said(words, 'count')}")
        if not spec.sized and (self.width is not None or self.height is not None
                               or self.aspect_ratio not in (None, "1:1")):
            # (the g4f interface lets a caller pass a ratio to any model, as upstream does: the front ends
            # say what their user asked for cannot be done)
            raise InvalidOption(f"{self.model} takes no size or aspect ratio (it chooses its own); those are for "
                                "the flux models")
        if not spec.sampler:
            for name, value in (("steps", self.steps), ("guidance", self.guidance)):
                if value is not None:
                    raise InvalidOption(f"{said(words, name)} is read by flux and flux-dev only; {self.model} has no such setting")
        specs = {self.model: spec}
        for other in self.policy.fallback:
            if other == self.model:
                raise InvalidOption(f"{said(words, 'fallback')} {other}: that is the model itself")
            specs[other] = self.client.model(other)
            if specs[other].chats != spec.chats:
                raise InvalidOption(f"{said(words, 'fallback')} {other}: {self.model} {spec.makes} and {other} {specs[other].makes}")
        for model in self.models if self.seed is not None else ():
            hi, first = specs[model].seeds[1], cast(int, self.seed)
            last = first + self.count - 1
            if first < 0 or last > hi:
                many = f" and {said(words, 'count')} {self.count} needs seeds up to {last}" if self.count > 1 else ""
                raise InvalidOption(f"{said(words, 'seed')} {self.seed}{many}: {model} takes seeds from 0 to {hi}")
        self._requests.update({  # a fallback that takes no size stands in at its own size
            model: Request.make(specs[model], self.prompt, aspect_ratio=self.aspect_ratio, width=self.width,
                                height=self.height, steps=self.steps, guidance=self.guidance,
                                names={n: said(words, n) for n in ("seed", "steps", "guidance")})
            for model in self.models})

    @property
    def spec(self) -> Model:
        """What the model takes and makes."""
        return self._requests[self.model].model

    @property
    def models(self) -> tuple[str, ...]:
        """The model, then its fallbacks."""
        return (self.model, *self.policy.fallback)

    def knobs(self, model: str) -> dict[str, Any]:
        """The sampler settings ``model`` reads, as given (None: the Space's default)."""
        return {"steps": self.steps, "guidance": self.guidance} if self._requests[model].model.sampler else {}

    def request_for(self, model: str, seed: int | None) -> Request:
        """The checked request for ``model`` with ``seed`` (checked with the job, or picked in range)."""
        return self._requests[model].seeded(seed)

    def key(self, request: Request, messages: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """``request`` as sent, field by field, to its first Space: what the replay store is keyed by."""
        return request.key(self.client.space(request.model.name), messages)

    def handed_over(self, model: str) -> Job | None:
        """This job for ``model`` on the policy's handover (its client, no further fallback), or None when there is
        none or it does not serve ``model``."""
        handover = self.policy.handover
        if handover is None:
            return None
        try:
            handover.client.model(model)
        except InvalidOption:
            return None
        return replace(self, model=model, client=handover.client,
                       policy=replace(self.policy, fallback=(), handover=None))

    def store(self) -> ReplayStore | None:
        return ReplayStore.shared(self.policy.replay_dir, self.policy.replay_max_bytes) if self.policy.replay else None
