"""Typed events a generation yields, in g4f's vocabulary.

A stream is: ``JsonConversation`` first (Janus chat only), then any number of ``Reasoning``
status lines and ``ImagePreview`` frames, then the result: ``str`` chunks for text or one
``ImageResponse``. ``str()`` of each is what a terminal user should see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

__all__ = [
    "Reasoning",
    "ImagePreview",
    "ImageResponse",
    "JsonConversation",
    "Fetched",
    "Event",
    "ReasoningKind",
    "markdown_image",
]

ReasoningKind = Literal[
    "token", "queue", "start", "progress", "log", "heartbeat", "generating", "finished",
    "gpu",  # a ZeroGPU toast: waiting for a GPU, got one, running past its duration, IP-based quota
    "mirror",  # a Space that is gone, paused, building or asleep hands the run to the next that serves the model
    "replayed", "waiting", "waking", "fallback",  # the engine's own: replay store, quota, wake-up, fallback
    "quota",  # the engine's own: a sweep or batch larger than the ZeroGPU quota left, said before it starts
]


@dataclass(frozen=True)
class Reasoning:
    """A status line; the structured fields let a UI draw a queue badge or a progress bar."""

    status: str
    kind: ReasoningKind = "generating"
    rank: int | None = None  # 1-based queue position
    queue_size: int | None = None
    eta: float | None = None  # seconds
    progress_index: float | None = None
    progress_length: float | None = None
    progress_unit: str | None = None
    level: str | None = None  # log level, for kind == "log"
    elapsed: float | None = None
    space: str | None = None  # the Space the line came from (``spaces.endpoints.space_name``), when it is one's

    def __str__(self) -> str:
        return self.status


def _md_alt(alt: str) -> str:
    return " ".join(alt.split()).replace("[", "\\[").replace("]", "\\]")


def markdown_image(url: str, alt: str) -> str:
    return f"[![{_md_alt(alt)}]({url})]({url})"


@dataclass(frozen=True)
class ImagePreview:
    """An intermediate frame; a UI replaces the previous one with it."""

    urls: tuple[str, ...]
    alt: str

    def __str__(self) -> str:
        return ""  # previews are for widgets; a terminal shows only the final image


@dataclass(frozen=True)
class ImageResponse:
    """The final images and the options actually used, so any result can be reproduced."""

    urls: tuple[str, ...]
    alt: str
    model: str
    seed: int | None = None  # as sent: the request's, never the Space's word for it
    width: int | None = None
    height: int | None = None
    reported_seed: int | None = None  # the seed the Space said it used, when that is not the one sent

    def __str__(self) -> str:
        return "\n".join(markdown_image(u, self.alt) for u in self.urls)


@dataclass(frozen=True)
class JsonConversation:
    """Handle to continue a Janus chat; pass it back as ``conversation=``.

    The token is kept out of ``repr`` so a notebook that displays the handle leaks nothing.
    """

    session_hash: str
    zerogpu_uuid: str | None = None
    zerogpu_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        token = None if self.zerogpu_token is None else "***"
        return (
            f"JsonConversation(session_hash={self.session_hash!r}, "
            f"zerogpu_uuid={self.zerogpu_uuid!r}, zerogpu_token={token!r})"
        )

    def __str__(self) -> str:
        return ""


@dataclass(frozen=True)
class Fetched:
    """A run's final images in hand, for the engine (a backend's run with its images fetched): (bytes, MIME type,
    URL) each, as served and checked, with the response that named them."""

    response: ImageResponse
    images: tuple[tuple[bytes, str, str], ...]

    def __repr__(self) -> str:
        return f"Fetched({self.response!r}, {len(self.images)} images)"


Event = Union[Reasoning, ImagePreview, ImageResponse, JsonConversation, str]
