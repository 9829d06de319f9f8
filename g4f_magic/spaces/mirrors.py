"""The Spaces that serve each route, in order, and when one hands a run to the next.

The seed's Spaces come first (their attributes stay exact, see SPEC §1), then the official Spaces of the
same models, then the user's own duplicates and servers. The seed's Spaces are fragile: gpt4free removed
its ``G4F`` provider in 2025 and its Janus provider in 2026, and ``roxky/Janus-Pro-7B`` has been seen
paused. The official Spaces and their functions, from their ``app.py``:

- ``black-forest-labs/FLUX.1-dev`` (Gradio 5): ``infer(prompt, seed, randomize_seed, width, height,
  guidance_scale, num_inference_steps)`` → (image, seed), the seed's FLUX.1-dev signature;
- ``black-forest-labs/FLUX.1-schnell`` (queue API): ``infer(prompt, seed, randomize_seed, width, height,
  num_inference_steps=4)`` → (image, seed), seeds up to 2**31 - 1;
- ``deepseek-ai/Janus-Pro-7B`` (Gradio 5): ``multimodal_understanding`` and ``generate_image``, the
  functions the seed's duplicate of it has.

Their function indexes are not pinned: each is found by its ``api_name`` in the Space's ``/config`` on
first use and remembered for the session.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConnectionFailed, G4FError, ResponseStatusError, SpaceUnavailable
from .endpoints import masked, space_root

__all__ = ["Mirror", "OFFICIAL", "hands_over", "flow_of"]


@dataclass(frozen=True)
class Mirror:
    """One Space (or server) that serves a route."""

    base: str  # its root URL, or the full /run/predict URL of the legacy route
    space: str | None  # its id on the hub; None for a server of the user's
    flow: str  # the wire flow that speaks to it: janus_chat, janus_image, flux_dev, run_predict, flux_schnell
    own: bool = False  # set by the user: the hub issues it no token; the HF token only when named

    @property
    def label(self) -> str:
        return self.space or masked(self.base)


OFFICIAL: dict[str, tuple[Mirror, ...]] = {
    "flux_dev": (Mirror("https://black-forest-labs-flux-1-dev.hf.space", "black-forest-labs/FLUX.1-dev",
                        "flux_dev"),),
    "run_predict": (Mirror("https://black-forest-labs-flux-1-schnell.hf.space", "black-forest-labs/FLUX.1-schnell",
                           "flux_schnell"),),
    "janus_chat": (Mirror("https://deepseek-ai-janus-pro-7b.hf.space", "deepseek-ai/Janus-Pro-7B", "janus_chat"),),
    "janus_image": (Mirror("https://deepseek-ai-janus-pro-7b.hf.space", "deepseek-ai/Janus-Pro-7B",
                           "janus_image"),),
}


def flow_of(route: str, url: str) -> str:
    """The flow for a server the user added to ``route``: the legacy route's own flow for a
    ``/run/predict`` URL, the official schnell Space's queue flow otherwise."""
    if route == "run_predict":
        return "run_predict" if space_root(url) != url.rstrip("/") else "flux_schnell"
    return route


def hands_over(exc: G4FError) -> str | None:
    """Why a Space cannot take the run while another may: it is gone (404, or its host no longer
    resolves), paused, stuck building, asleep or starting, its queue full, or unavailable. ``None``: the
    Space ran the job (or refused it for a reason another Space would share); the error stands."""
    if isinstance(exc, SpaceUnavailable):
        return {"full": "full (its queue)"}.get(exc.state, exc.state)
    if isinstance(exc, ResponseStatusError) and exc.status == 404:
        return "gone (404)"
    if isinstance(exc, ConnectionFailed) and ("not resolved" in str(exc) or "refused" in str(exc)):
        return "unreachable"
    return None
