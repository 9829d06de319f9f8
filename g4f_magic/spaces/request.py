"""One generation, checked once: what is asked of a model (:class:`Request`) and where it goes, as whom
(:class:`Access`).

The engine makes both from a Job it has checked; the g4f-compatible ``create_async_generator`` makes the
same two from its keyword arguments. The flows read them as they are: nothing below checks again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ..errors import InvalidOption
from ..events import JsonConversation
from ..media import MediaItem, load_media
from .endpoints import SPACE_CONCURRENCY, Endpoints, space_root
from .identity import HFToken
from .mirrors import Mirror
from .models import GUIDANCE, STEPS, VISION_MODEL, Model
from .prompts import Messages, chat_prompt, image_prompt
from .sizes import image_size

__all__ = ["Request", "Access", "PROVIDER_NAMES", "DEFAULT_TIMEOUT", "check_seed", "check_number"]

DEFAULT_TIMEOUT = 300.0  # seconds a generation may take in all, unless told
# FLUX's text encoder reads 512 tokens (about 2,000 characters): a longer image prompt is a mistake (a whole file
# in one item), not a wish, and every output would carry it. A question to Janus may quote a document: not bounded
MAX_PROMPT = 4_000

# the provider's keyword for each field, for messages (the magic passes its option names instead)
PROVIDER_NAMES = {"seed": "seed", "steps": "num_inference_steps", "guidance": "guidance_scale"}


def check_seed(seed: Any, model: Model, name: str = "seed") -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidOption(f"{name} must be a whole number; got {seed!r}")
    hi = model.seeds[1]
    if not 0 <= seed <= hi:
        raise InvalidOption(f"{name} must be between 0 and {hi}; got {seed}")
    return seed


def check_number(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise InvalidOption(f"{name} must be a number from {lo:g} to {hi:g}; got {value!r}")
    return value


def _bounded(prompt: str) -> str:
    if len(prompt) > MAX_PROMPT:
        raise InvalidOption(f"the prompt is {len(prompt):,} characters; at most {MAX_PROMPT:,} are sent (FLUX reads "
                            "about the first 2,000)")
    return prompt


@dataclass(frozen=True)
class Request:
    """What one generation asks of a model. ``width``/``height`` for a model that takes a size; ``steps``
    and ``guidance`` (the Space's defaults when not given) for one that takes sampler settings; ``media``
    and ``conversation`` for a chat."""

    model: Model
    prompt: str
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    media: tuple[MediaItem, ...] = ()
    conversation: JsonConversation | None = None

    @classmethod
    def make(
        cls,
        model: Model,
        messages: Messages,
        *,
        prompt: str | None = None,
        seed: Any = None,
        aspect_ratio: str = "1:1",
        width: Any = None,
        height: Any = None,
        steps: Any = None,
        guidance: Any = None,
        media: Any = None,
        conversation: Any = None,
        names: Mapping[str, str] = PROVIDER_NAMES,
    ) -> Request:
        """Every field checked against what ``model`` takes; ``names``: the caller's words for the fields
        in its messages. Sampler settings and a size are not sent to a model without them."""
        if conversation is not None and not isinstance(conversation, JsonConversation):
            raise InvalidOption("conversation must be the JsonConversation a previous chat yielded")
        base = cls(model, "", check_seed(seed, model, names["seed"]))
        if model.sized:
            w, h = image_size(aspect_ratio, width, height)
            base = replace(base, width=w, height=h)
        if model.sampler:
            steps = model.steps if steps is None else int(check_number(names["steps"], steps, *STEPS))
            guidance = model.guidance if guidance is None else check_number(names["guidance"], guidance, *GUIDANCE)
            base = replace(base, steps=steps, guidance=guidance)
        if not model.chats:
            if media is not None and load_media(media):
                raise InvalidOption(f"images are only read by {VISION_MODEL}; {model.name} ignores them")
            return replace(base, prompt=_bounded(image_prompt(messages, prompt)))
        return base.chat(messages, prompt=prompt, media=media, conversation=conversation)

    def chat(self, messages: Messages, *, prompt: str | None = None, media: Any = None,
             conversation: Any = None) -> Request:
        """This chat with the transcript so far, and the image asked about: only these are checked."""
        items = load_media(media)
        if len(items) > 1:
            raise InvalidOption(f"{VISION_MODEL} takes one image per question; got {len(items)}")
        if conversation is not None and not isinstance(conversation, JsonConversation):
            raise InvalidOption("conversation must be the JsonConversation a previous chat yielded")
        text = chat_prompt(messages) if prompt is None else image_prompt(messages, prompt)
        return replace(self, prompt=text, media=tuple(items), conversation=conversation)

    def seeded(self, seed: int | None) -> Request:
        return replace(self, seed=check_seed(seed, self.model))

    def key(self, space: str, messages: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """The request as sent, field by field, to ``space``: what the replay store is keyed by. A chat is
        keyed by its ``messages``, the last of them its question."""
        prompt = messages[-1]["content"] if self.model.chats and messages else self.prompt
        req: dict[str, Any] = {"route": self.model.route, "space": space, "model": self.model.name,
                               "prompt": prompt, "seed": self.seed}
        if self.model.sized:
            req["size"] = [self.width, self.height]
        if self.model.sampler:
            req["steps"], req["guidance"] = self.steps, self.guidance
        if self.model.chats:
            req["messages"] = messages
            req["image"] = hashlib.sha256(self.media[0].data).hexdigest() if self.media else None
        return req


@dataclass(frozen=True)
class Access:
    """Where a request goes and as whom: the Spaces to try in order, the hub, the proxy and the
    credentials (kept out of the repr), the time limit and the runs in flight per Space."""

    endpoints: Endpoints
    mirrors: tuple[Mirror, ...]
    proxy: str | None = field(default=None, repr=False)  # may carry user:password
    cookies: Mapping[str, str] | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    zerogpu_uuid: str | None = None
    hf_token: HFToken | None = field(default=None, repr=False)
    hf_token_to: frozenset[str] = frozenset()  # servers set by hand that the user lets have the HF token
    timeout: float | None = DEFAULT_TIMEOUT
    concurrency: int = SPACE_CONCURRENCY
    # (bare URL, (user, password)) written in a URL set by hand: sent to that origin only, never shown
    logins: tuple[tuple[str, tuple[str, str]], ...] = field(default=(), repr=False)

    @property
    def own(self) -> frozenset[str]:
        """The user's own servers among the mirrors (by root): the hub issues them no token."""
        return frozenset(space_root(m.base) for m in self.mirrors if m.own)

    @property
    def space(self) -> str:
        """Where the request goes first: the model's own Space, or the URL set by hand."""
        return self.mirrors[0].base
