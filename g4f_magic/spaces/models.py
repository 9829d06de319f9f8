"""What each model takes and makes: the one table the engine and the front ends ask.

A model is served by a wire flow (``route``, see :mod:`.flows`); nothing above this layer reads the
flow's name. It asks the model instead: does it answer questions or make images, does it take a size,
sampler settings, an image, which seeds.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Sequence

from ..errors import ModelNotFound

__all__ = ["Model", "describe", "unknown_model", "SEED_RANGES", "STEPS", "GUIDANCE", "VISION_MODEL"]

_JANUS_SEEDS = (1000, 999999)
SEED_RANGES = {  # by route; a seed is picked client-side so every result can be reproduced
    "flux_dev": (0, 2147483647),  # the FLUX.1-dev Space's MAX_SEED
    "run_predict": (9999, 2**32 - 1),
    "janus_chat": _JANUS_SEEDS,
    "janus_image": _JANUS_SEEDS,
}
STEPS = (1, 200)  # FLUX.1-dev's num_inference_steps, as its Space's slider allows and a little more
GUIDANCE = (0.0, 30.0)
VISION_MODEL = "janus-pro-7b"  # the model that reads an image with the question


@dataclass(frozen=True)
class Model:
    """One model as the providers name it, and what it takes."""

    name: str
    route: str  # the wire flow of its first Space
    chats: bool  # answers questions with text; else makes images
    seeds: tuple[int, int]
    sized: bool  # takes a size: width x height, or an aspect ratio
    sampler: bool  # takes steps and guidance
    reads_image: bool  # takes one image with the question
    steps: int = 28  # the Space's own defaults, sent when none is given
    guidance: float = 3.5

    @property
    def makes(self) -> str:
        return "answers questions" if self.chats else "makes images"


_TRAITS = {
    "flux_dev": {"chats": False, "sized": True, "sampler": True, "reads_image": False},
    "run_predict": {"chats": False, "sized": True, "sampler": False, "reads_image": False},
    "janus_chat": {"chats": True, "sized": False, "sampler": False, "reads_image": True},
    "janus_image": {"chats": False, "sized": False, "sampler": False, "reads_image": False},
}


def describe(name: str, route: str) -> Model:
    """The model ``name`` served by ``route`` (the provider knows which: ``G4F.model(name)``)."""
    return Model(name, route, seeds=SEED_RANGES[route], **_TRAITS[route])


def unknown_model(name: object, known: Sequence[str]) -> ModelNotFound:
    """The one wording for a model a provider does not serve: the known ones and the closest."""
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.4)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ModelNotFound(f"unknown model {name!r}{hint}; known models: {', '.join(known)}")
