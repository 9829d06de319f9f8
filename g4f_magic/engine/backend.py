"""What the engine asks of a backend: the Spaces (``spaces.client.SpacesClient``) or Hugging Face Inference
Providers (``inference.ProvidersClient``). The engine never learns which one answered."""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, Callable, Protocol

if TYPE_CHECKING:
    from ..events import Event, Fetched
    from ..spaces.client import Deadline, Target
    from ..spaces.identity import HFToken, Quota
    from ..spaces.models import Model
    from ..spaces.request import Request

__all__ = ["Backend"]


class Backend(Protocol):
    """Built once per cell or panel run over a ``Target`` (where and as whom), shared by its jobs."""

    target: Target

    def model(self, name: str) -> Model:
        """What ``name`` takes and makes here; one it does not serve is refused in one line."""

    def spaces(self, model: str) -> list[str]:
        """The places that serve ``model``, in the order a run tries them (a batch's pool)."""

    def space(self, model: str) -> str:
        """Where ``model``'s requests go first: what a replay key names."""

    def sends_hf_token(self, model: str) -> HFToken | None:
        """The account's token when it goes with calls that spend the ZeroGPU quota."""

    def on_zerogpu(self, model: str) -> bool:
        """Whether ``model``'s runs spend the ZeroGPU quota."""

    async def quota(self, model: str) -> Quota | None:
        """What is left of the ZeroGPU quota, when known."""

    def deadline(self) -> Deadline:
        """One run's time limit."""

    def run(self, request: Request, deadline: Deadline | None = None, prefer: str | None = None
            ) -> AsyncIterator[Event]:
        """``request``'s events: status lines, previews, then its images (as URLs for :meth:`download`)."""

    def images(self, request: Request, deadline: Deadline, prefer: str | None = None,
               preview: Callable[[bytes, str], None] | None = None) -> AsyncIterator[Event | Fetched]:
        """:meth:`run` with its images in hand (``spaces.fetched``): previews to ``preview`` as bytes, the result
        as ``Fetched``, all within ``deadline``."""

    async def download(self, url: str, deadline: Deadline) -> tuple[bytes, str]:
        """(bytes, MIME type) of an image the run made, or one the user named by URL."""
