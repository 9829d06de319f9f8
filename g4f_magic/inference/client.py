"""The Inference Providers client: the engine's second backend beside the Spaces, with the same surface.

A run goes through ``huggingface_hub.InferenceClient.text_to_image`` (no provider protocol is written here:
the router's routes, fal-ai's, replicate's and nscale's reply shapes are its own), in a worker thread, since
it is a blocking client. The run's status ticks while it works, its deadline bounds the wait, and a Stop
leaves the thread to finish its one request (its own timeout is what is left of the run's deadline).
Nothing is sent here unless the user chose a provider: the Spaces stay the default (``SPACES``).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator

from ..errors import (
    ConnectionFailed,
    G4FError,
    G4FTimeout,
    GenerationError,
    InvalidOption,
    ResponseStatusError,
    SpaceUnavailable,
    StreamError,
    one_line,
)
from ..events import Event, Fetched, ImageResponse, Reasoning
from ..media import image_mime
from ..spaces.client import Deadline, SpacesClient, Target
from ..spaces.client import aclose as http_aclose
from ..spaces.endpoints import gateway_from_env, through_gateway
from ..spaces.fetched import OnPreview, fetched
from ..spaces.identity import HFToken, Quota, find_hf_token
from ..spaces.models import Model
from ..spaces.request import Request

__all__ = ["ProvidersClient", "REPOS", "SPACES", "AUTO", "HUB", "ROUTER", "aclose"]

# the models Inference Providers serve, by their Hub repository (Janus-Pro-7B is served by none)
REPOS = {"flux": "black-forest-labs/FLUX.1-dev", "flux-dev": "black-forest-labs/FLUX.1-dev",
         "flux-schnell": "black-forest-labs/FLUX.1-schnell"}
SPACES = "space"  # the choice that sends nothing to Inference Providers: the default
AUTO = "auto"  # the account's own order of providers (hf.co/settings/inference-providers)
HUB = "https://huggingface.co"
ROUTER = "https://router.huggingface.co"
STATUS_EVERY = 0.2  # seconds between "Generating" lines while the provider works
WORKERS = 16  # requests in flight at once: a provider takes many (a batch is not held to a Space's two)
BILLING = "https://huggingface.co/settings/billing"
TOKENS = "https://huggingface.co/settings/tokens"

_executor_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


class _Hub:
    """huggingface_hub as this process's runs left it: used or not, and pointed at which gateway."""

    used = False
    gateway: str | None = None



def _workers() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="g4f-inference-providers")
        return _executor


async def aclose() -> None:
    """Close what runs keep open: the loop's aiohttp session (the Spaces), and huggingface_hub's connections
    once Inference Providers were called (its client is the process's own; it opens anew on the next call)."""
    await http_aclose()
    hub = sys.modules.get("huggingface_hub")  # never imported here: nothing of it to close then
    if _Hub.used and hub is not None:
        hub.close_session()


def _loaded() -> None:
    """huggingface_hub's modules imported on the caller's thread, before a worker needs them: two threads that
    compile modules at once (an import in a worker beside pytest's assertion rewriting, say) can trip CPython
    3.11's AST recursion check."""
    import huggingface_hub.errors  # noqa: F401
    import huggingface_hub.inference._providers  # noqa: F401
    from huggingface_hub import HfApi, InferenceClient  # noqa: F401
    from PIL import PngImagePlugin  # noqa: F401  # the worker writes PNG


def _point_at(gateway: str | None) -> None:
    """huggingface_hub reads where the Hub and its router are from its ``constants`` at call time; behind a
    gateway (the local Space, a test's stand-in, ``G4F_MAGIC_ENDPOINT``) both go through it, as the Spaces
    do. Without one they stay huggingface_hub's own."""
    from huggingface_hub import constants
    from huggingface_hub.inference._providers import _common

    if _Hub.used and gateway == _Hub.gateway:
        return
    hub = through_gateway(HUB, gateway) if gateway else constants._HF_DEFAULT_ENDPOINT
    router = through_gateway(ROUTER, gateway) if gateway else ROUTER
    constants.ENDPOINT = hub.rstrip("/")
    constants.INFERENCE_PROXY_TEMPLATE = router.rstrip("/") + "/{provider}"
    _common._fetch_inference_provider_mapping.cache_clear()  # the mapping another hub gave
    _Hub.used, _Hub.gateway = True, gateway


class _Unserved(GenerationError):
    """The provider does not serve the model (or no longer): the next in the user's order may."""


def _refusal(exc: BaseException, provider: str, token: HFToken) -> G4FError:
    """What huggingface_hub raised, in this package's errors and words (never with the token)."""
    from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

    if isinstance(exc, InferenceTimeoutError):
        return G4FTimeout(f"{provider} did not answer in time")
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        said = one_line(getattr(exc, "server_message", None) or "", 160)
        says = f"; it says: {said}" if said else ""
        if status == 402:
            return ResponseStatusError(f"{provider} (Inference Providers): the account's credits are used up (402); "
                                       f"add credits or subscribe to PRO at {BILLING}, or run on the Spaces", status)
        if status in (401, 403):
            return ResponseStatusError(
                f"{provider} (Inference Providers) refused the token from {token.source} ({status}): give it the "
                f"permission \"Make calls to Inference Providers\" at {TOKENS}{says}", status)
        if status == 404:
            return _Unserved(f"{provider} does not serve this model (404){says}")
        if status >= 500 or status == 429:
            return SpaceUnavailable(f"{provider} is unavailable ({status}){says}", status)
        return ResponseStatusError(f"{provider} (Inference Providers) answered {status}{says}", status)
    if isinstance(exc, ValueError):  # huggingface_hub's own: the model is not mapped to that provider, …
        return _Unserved(f"{provider}: {one_line(exc, 200)}")
    if type(exc).__module__.startswith(("httpx", "httpcore")):
        return ConnectionFailed(f"{provider} (Inference Providers) could not be reached: {one_line(exc, 160)}")
    return StreamError(f"{provider} (Inference Providers): {type(exc).__name__}: {one_line(exc, 160)}")


class ProvidersClient:
    """FLUX on Hugging Face Inference Providers as one run sees it: ``provider`` is one of huggingface_hub's
    provider names, or ``auto`` for the account's own order (a provider down or not serving the model hands
    the run to the next one). The user's token pays (credits, PRO)."""

    def __init__(self, target: Target | None = None, provider: str = AUTO) -> None:
        self.target = target or Target()
        self.provider = _checked(provider)
        self._spaces = SpacesClient(self.target)  # the models' specs, and a user's image URL
        self._kept: dict[str, bytes] = {}  # a result's bytes, as served, until the engine takes them
        self._numbers = itertools.count(1)

    def __repr__(self) -> str:
        return f"ProvidersClient({self.provider!r}, {self.target!r})"

    def model(self, name: str) -> Model:
        spec = self._spaces.model(name)
        if name not in REPOS:
            raise InvalidOption(f"{name} is served by no Inference Provider; {', '.join(REPOS)} are (or run it "
                                "on the Spaces)")
        return spec

    def spaces(self, model: str) -> list[str]:
        """One place: the provider (or the account's order of them) takes a batch's items itself."""
        return [self.place(model)]

    def space(self, model: str) -> str:
        """What a replay key names: the backend and the provider (the same seed elsewhere is another image)."""
        return self.place(model)

    def place(self, model: str) -> str:
        return f"inference-providers/{self.provider}"

    def sends_hf_token(self, model: str) -> HFToken | None:
        return None  # no ZeroGPU quota is charged here: nothing for a quota refusal to explain

    def on_zerogpu(self, model: str) -> bool:
        return False

    async def quota(self, model: str) -> Quota | None:
        return None

    def deadline(self) -> Deadline:
        return Deadline(self.target.timeout)

    def token(self) -> HFToken:
        token = self.target.hf_token if self.target.hf_token is not None else find_hf_token()
        if token is None:
            raise InvalidOption("Inference Providers bill the account of a Hugging Face token, and none was found: "
                                "%g4f login, or set HF_TOKEN")
        return token

    def run(self, request: Request, deadline: Deadline | None = None, prefer: str | None = None
            ) -> AsyncIterator[Event]:
        self.model(request.model.name)
        return self._run(request, deadline or self.deadline())

    def images(self, request: Request, deadline: Deadline, prefer: str | None = None,
               preview: OnPreview | None = None) -> AsyncIterator[Event | Fetched]:
        """:meth:`run` with its image in hand and checked, as the Spaces' (``spaces.fetched``)."""
        return fetched(self.run(request, deadline, prefer), self.download, deadline, preview)

    async def _run(self, request: Request, deadline: Deadline) -> AsyncIterator[Event]:
        token = self.token()
        _loaded()
        _point_at(self.target.endpoint or gateway_from_env())
        loop = asyncio.get_running_loop()
        started = loop.time()
        repo = REPOS[request.model.name]
        seed = random.randint(*request.model.seeds) if request.seed is None else request.seed
        order = [self.provider]
        if self.provider == AUTO:
            asked = loop.run_in_executor(_workers(), _order, repo, token)
            async with deadline.guard(HUB):
                order = await asked
        last: G4FError | None = None
        tried: list[str] = []
        for provider in order:
            if last is not None:
                yield Reasoning(f"{last}; trying {provider}", "mirror", elapsed=loop.time() - started, space=tried[-1])
            tried.append(provider)
            yield Reasoning(f"Sent to {provider} (Hugging Face Inference Providers, billed to the account of the "
                            f"token from {token.source})", "start", elapsed=loop.time() - started, space=provider)
            job = loop.run_in_executor(_workers(), self._generate, provider, repo, request, seed, token, deadline)
            while not job.done():
                async with deadline.guard(ROUTER):
                    await asyncio.wait({job}, timeout=STATUS_EVERY)
                if not job.done():
                    t = loop.time() - started
                    yield Reasoning(f"Generating {t:.2f}s", "generating", elapsed=t, space=provider)
            try:
                served = job.result()
            except G4FError as exc:
                exc.spaces = tuple(tried)
                if self.provider != AUTO or not isinstance(exc, (_Unserved, SpaceUnavailable)):
                    raise
                last = exc
                continue
            url = f"inference-providers://{provider}/{repo}/{next(self._numbers)}"
            self._kept[url] = served
            t = loop.time() - started
            yield Reasoning(f"Finished {t:.2f}s", "finished", elapsed=t, space=provider)
            yield ImageResponse((url,), request.prompt, request.model.name, seed, request.width, request.height)
            return
        if last is not None:
            last.spaces = tuple(tried)
            raise last
        raise _Unserved(f"no Inference Provider serves {repo} for this account")

    def _generate(self, provider: str, repo: str, request: Request, seed: int, token: HFToken,
                  deadline: Deadline) -> bytes:
        """In a worker: one ``text_to_image`` through huggingface_hub. huggingface_hub hands back a PIL image opened
        (lazily) on the bytes the provider served: those bytes are kept as served, as the Spaces' are; only an
        image that carries none is written as PNG."""
        from huggingface_hub import InferenceClient

        timeout = deadline.timeout  # the thread's own bound: a Stop leaves it to finish this one request
        client = InferenceClient(provider=provider, api_key=token.value, timeout=timeout)  # type: ignore[arg-type]
        try:
            image = client.text_to_image(
                request.prompt, model=repo, seed=seed, width=request.width, height=request.height,
                num_inference_steps=request.steps if request.model.sampler else None,
                guidance_scale=request.guidance if request.model.sampler else None)
        except Exception as exc:  # noqa: BLE001 - every failure of the client becomes one of ours
            raise _refusal(exc, provider, token) from None
        served = getattr(image, "fp", None)
        if isinstance(served, io.BytesIO) and image_mime(served.getvalue()) is not None:
            return served.getvalue()
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    async def download(self, url: str, deadline: Deadline) -> tuple[bytes, str]:
        """A result this client kept (taken once), or an image a user named by URL (as the Spaces client does)."""
        kept = self._kept.pop(url, None)
        if kept is not None:
            return kept, image_mime(kept) or "image/png"
        return await self._spaces.download(url, deadline)


def _checked(provider: str) -> str:
    try:
        from huggingface_hub.inference._providers import PROVIDERS
    except ImportError:
        raise InvalidOption("Inference Providers are called through huggingface_hub: pip install "
                            "'g4f_magic[providers]'") from None

    if provider == AUTO or provider in PROVIDERS:
        return provider
    import difflib

    close = difflib.get_close_matches(provider, [AUTO, *PROVIDERS], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise InvalidOption(f"no Inference Provider is called {provider!r}{hint}; auto, or one of: "
                        f"{', '.join(sorted(PROVIDERS))}")


def _order(repo: str, token: HFToken) -> list[str]:
    """In a worker: the providers that serve ``repo`` for text-to-image, in the account's order (the Hub sorts
    them by the user's settings when it knows the user)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(token=token.value).model_info(repo, expand=["inferenceProviderMapping"])  # type: ignore[list-item]
    except Exception as exc:  # noqa: BLE001
        raise _refusal(exc, "the Hub", token) from None
    mapping = info.inference_provider_mapping or []
    return [m.provider for m in mapping if m.task == "text-to-image" and m.status != "error"]
