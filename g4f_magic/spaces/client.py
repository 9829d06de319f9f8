"""Where runs go and as whom, built once per cell or panel run: the engine's one way to the Spaces.

``Target`` holds the where-and-as-whom values (endpoints, mirrors, proxy, credentials, runs per Space, the
image size bound, the time limit); ``SpacesClient`` over it answers what a model takes, which Spaces serve
it, runs a request there and downloads what they made. Every job of a sweep or a batch shares one client,
so endpoints, mirrors and the identity are resolved once per model, not once per item: gradio_client's
``Client(src, hf_token, …)`` and huggingface_hub's ``InferenceClient(provider, token)`` hold theirs the
same way, and take only the call's own arguments per call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import AsyncIterator, Mapping

from ..errors import G4FError
from ..events import Event, Fetched
from ..gradio.calls import FIRST_SLOTS
from ..http.session import Deadline, aclose, fetch_image
from ..media import MAX_IMAGE_BYTES
from .endpoints import SPACE_CONCURRENCY, hub_space, takes_hf_token
from .fetched import OnPreview, fetched
from .hub import zero_gpu_quota
from .identity import HFToken, Quota
from .models import Model
from .providers import G4F
from .request import DEFAULT_TIMEOUT, Access, Request

__all__ = ["Target", "SpacesClient", "Deadline", "aclose", "FIRST_SLOTS"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where a run's requests go and as whom. ``hf_token`` None: found as the Hugging Face tools find it."""

    proxy: str | None = field(default=None, repr=False)  # may carry user:password
    timeout: float | None = DEFAULT_TIMEOUT
    endpoint: str | None = None
    # one's own Gradio server or a duplicated Space, per route (the provider's keyword names)
    api_url: str | None = None
    flux_dev_url: str | None = None
    url_flux: str | None = None
    api_key: str | None = field(default=None, repr=False)
    hf_token: HFToken | None = field(default=None, repr=False)
    send_hf_token_to: tuple[str, ...] = ()  # one's own servers that may have it
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # model → the user's extra Spaces
    space_concurrency: int = SPACE_CONCURRENCY  # runs in flight per Space, for -n, sweeps and the panel alike
    max_image_bytes: int = MAX_IMAGE_BYTES


class SpacesClient:
    """The Spaces as one run sees them: ``target`` resolved per model on first use, then kept."""

    def __init__(self, target: Target | None = None, provider: type[G4F] = G4F) -> None:
        self.target = target or Target()
        self._provider = provider
        self._access: dict[str, Access] = {}
        self._quota: list[Quota | None] = []  # asked once per run

    def __repr__(self) -> str:
        return f"SpacesClient({self.target!r})"

    def model(self, name: str) -> Model:
        """What ``name`` takes and makes; an unknown name is ``ModelNotFound`` with a hint."""
        return self._provider.model(name)

    def access(self, model: str) -> Access:
        """Where ``model``'s requests go and as whom, checked on first use (a bad proxy fails the run) and kept."""
        found = self._access.get(model)
        if found is None:
            t = self.target
            found = self._access[model] = self._provider.access(
                self.model(model), proxy=t.proxy, api_key=t.api_key, hf_token=t.hf_token,
                send_hf_token_to=t.send_hf_token_to, endpoint=t.endpoint, api_url=t.api_url,
                flux_dev_url=t.flux_dev_url, url_flux=t.url_flux, mirrors=t.mirrors, timeout=t.timeout,
                space_concurrency=t.space_concurrency)
        return found

    def spaces(self, model: str) -> list[str]:
        """The Spaces that serve ``model``, in the order a run tries them (a batch's pool)."""
        return [m.base for m in self.access(model).mirrors]

    def space(self, model: str) -> str:
        """Where ``model``'s requests go first: what a replay key names, whichever Space answers."""
        return self.access(model).space

    def sends_hf_token(self, model: str) -> HFToken | None:
        """The account's token when it goes with ``model``'s calls (to a Space of the hub's, or a server the user
        named): what a refusal that charged the IP address says did not count."""
        a = self.access(model)
        if a.hf_token is None or not any(takes_hf_token(m.base, a.endpoints, a.own, a.hf_token_to) for m in a.mirrors):
            return None
        return a.hf_token

    def on_zerogpu(self, model: str) -> bool:
        """Whether ``model``'s runs can spend the ZeroGPU quota: some Space of it is not one's own server."""
        a = self.access(model)
        return any(hub_space(m.base, a.endpoints, a.own) for m in a.mirrors)

    async def quota(self, model: str) -> Quota | None:
        """What is left of the account's ZeroGPU quota, asked of the hub once per run; None when there is no
        Hugging Face token, the token may not read it, or the hub does not answer (nothing to say then)."""
        if not self._quota:
            access = self.access(model)
            found = None
            if access.hf_token is not None:
                try:
                    found = await zero_gpu_quota(access.hf_token, access.endpoints.hub)
                except G4FError as exc:
                    _log.debug("no ZeroGPU quota from the hub: %s", exc)
            self._quota.append(found)
        return self._quota[0]

    def deadline(self) -> Deadline:
        """One run's time limit: its stream, its previews and its image downloads all within it."""
        return Deadline(self.target.timeout)

    def run(self, request: Request, deadline: Deadline | None = None, prefer: str | None = None
            ) -> AsyncIterator[Event]:
        """``request``'s events from the Spaces that serve its model; ``prefer``: the Space to ask first (a
        batch spreads over its pool), the others after it in their order, to hand over to."""
        access = self.access(request.model.name)
        first = [m for m in access.mirrors if m.base == prefer]
        if first:
            access = replace(access, mirrors=(*first, *(m for m in access.mirrors if m.base != prefer)))
        return self._provider.run(request, access, deadline)

    def images(self, request: Request, deadline: Deadline, prefer: str | None = None,
               preview: OnPreview | None = None) -> AsyncIterator[Event | Fetched]:
        """:meth:`run` with its previews and images downloaded and checked (``spaces.fetched``)."""
        return fetched(self.run(request, deadline, prefer), self.download, deadline, preview)

    async def download(self, url: str, deadline: Deadline) -> tuple[bytes, str]:
        """(bytes, MIME type by magic numbers) of an image a Space made, or one a user named by URL: through
        the run's proxy, within the run's ``deadline``, at most ``max_image_bytes``."""
        return await fetch_image(url, proxy=self.target.proxy, deadline=deadline, max_bytes=self.target.max_image_bytes)
