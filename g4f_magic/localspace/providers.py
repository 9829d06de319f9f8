"""The local Space's Hugging Face Inference Providers: the Hub's model mapping, the router, and three providers
as huggingface_hub's own helpers call them (``inference/_providers/fal_ai.py``, ``replicate.py``, ``nscale.py``).

- ``GET  /huggingface.co/api/models/{repo}?expand=inferenceProviderMapping``: the providers of a model, in the
  account's order (``ModelInfo`` reads the dict form the Hub sends for one model).
- ``POST /router.huggingface.co/fal-ai/{providerId}``: fal's synchronous reply, ``{"images": [{"url": …}], "seed"}``;
  the image is fetched from ``/v3.fal.media/files/…`` with no token (``get_session().get(url)``).
- ``POST /router.huggingface.co/replicate/v1/models/{providerId}/predictions`` (``Prefer: wait``): ``{"output":
  url}``, fetched from ``/replicate.delivery/…``.
- ``POST /router.huggingface.co/nscale/v1/images/generations``: OpenAI's images reply with ``b64_json``.

The router takes the account's token (``Authorization: Bearer hf_…``): none is 401; a token in ``broke`` is
402 (credits used up), in ``no_permission`` 403; a provider in ``down`` answers that status, or hangs for
``"hang"``. ``served`` counts the images each provider made; ``latency`` is each call's time at the provider.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from typing import Any, Callable

from aiohttp import web

from .images import placeholder

__all__ = ["ProviderStandIn", "MAPPING"]

# repo → [(provider, the provider's id for it)], in the order the Hub gives them for an account with no preference
MAPPING: dict[str, list[tuple[str, str]]] = {
    "black-forest-labs/FLUX.1-dev": [("fal-ai", "fal-ai/flux/dev"), ("replicate", "black-forest-labs/flux-dev")],
    "black-forest-labs/FLUX.1-schnell": [("nscale", "black-forest-labs/FLUX.1-schnell"),
                                         ("fal-ai", "fal-ai/flux/schnell")],
}
ROUTER = "router.huggingface.co"
FAL_CDN = "v3.fal.media"
REPLICATE_CDN = "replicate.delivery"


class ProviderStandIn:
    def __init__(self, base: Callable[[web.Request, str], str]) -> None:
        self._base = base  # a host's URL as the client reached the Space (through a TLS front: https)
        self.reset()

    def reset(self) -> None:
        self.mapping = {repo: list(providers) for repo, providers in MAPPING.items()}
        self.down: dict[str, int | str] = {}  # provider → the status it answers, or "hang"
        self.broke: set[str] = set()  # tokens whose account has no credits left
        self.no_permission: set[str] = set()  # fine-grained tokens without "Make calls to Inference Providers"
        self.latency = 0.0  # seconds each provider call takes
        self.served: dict[str, int] = {}
        self._files: dict[str, bytes] = {}
        self._numbers = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/huggingface.co/api/models/{owner}/{name}", self.model_info)
        app.router.add_post(f"/{ROUTER}/replicate/v1/models/{{model:.+}}/predictions", self.replicate)
        app.router.add_post(f"/{ROUTER}/nscale/v1/images/generations", self.nscale)
        app.router.add_post(f"/{ROUTER}/fal-ai/{{model:.+}}", self.fal)
        app.router.add_get(f"/{FAL_CDN}/files/{{name}}", self.file)
        app.router.add_get(f"/{REPLICATE_CDN}/{{name}}", self.file)

    async def model_info(self, request: web.Request) -> web.Response:
        repo = f"{request.match_info['owner']}/{request.match_info['name']}"
        providers = self.mapping.get(repo)
        if providers is None:
            return web.json_response({"error": "Repository not found"}, status=404)
        return web.json_response({"id": repo, "pipeline_tag": "text-to-image", "inferenceProviderMapping": {
            provider: {"status": "live", "providerId": provider_id, "task": "text-to-image"}
            for provider, provider_id in providers}})

    async def _refused(self, request: web.Request, provider: str) -> web.Response | None:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        if not token.startswith("hf_"):
            return web.json_response({"error": "Invalid credentials in Authorization header"}, status=401)
        if token in self.no_permission:
            return web.json_response({"error": "This authentication method does not have sufficient permissions to "
                                      "call Inference Providers on behalf of user"}, status=403)
        if token in self.broke:
            return web.json_response({"error": "You have exceeded your monthly included credits for Inference "
                                      "Providers. Subscribe to PRO to get 20x more monthly included credits."},
                                     status=402)
        fault = self.down.get(provider)
        if fault == "hang":
            await asyncio.Event().wait()
        if isinstance(fault, int):
            return web.json_response({"error": f"{provider} is unavailable"}, status=fault)
        if self.latency:
            await asyncio.sleep(self.latency)
        return None

    def _image(self, request: web.Request, provider: str, prompt: Any, seed: Any, width: Any, height: Any,
               cdn: str) -> tuple[str, bytes]:
        w, h = (width, height) if isinstance(width, int) and isinstance(height, int) else (1024, 1024)
        data = placeholder(str(prompt), int(seed) if isinstance(seed, int) else 0, w, h, "JPEG", label=provider,
                           by=f"{provider} (Inference Providers)")
        self.served[provider] = self.served.get(provider, 0) + 1
        name = f"{next(self._numbers)}.jpeg"
        self._files[name] = data
        return f"{self._base(request, cdn)}/{'files/' if cdn == FAL_CDN else ''}{name}", data

    async def fal(self, request: web.Request) -> web.Response:
        refused = await self._refused(request, "fal-ai")
        if refused is not None:
            return refused
        body = await request.json()
        size = body.get("image_size") or {}
        url, _ = self._image(request, "fal-ai", body.get("prompt"), body.get("seed"), size.get("width"),
                             size.get("height"), FAL_CDN)
        return web.json_response({"images": [{"url": url, "width": size.get("width"), "height": size.get("height"),
                                              "content_type": "image/jpeg"}],
                                  "seed": body.get("seed"), "has_nsfw_concepts": [False], "prompt": body.get("prompt")})

    async def replicate(self, request: web.Request) -> web.Response:
        refused = await self._refused(request, "replicate")
        if refused is not None:
            return refused
        body = (await request.json()).get("input") or {}
        url, _ = self._image(request, "replicate", body.get("prompt"), body.get("seed"), body.get("width"),
                             body.get("height"), REPLICATE_CDN)
        return web.json_response({"id": f"p{next(self._numbers)}", "status": "succeeded", "output": [url]})

    async def nscale(self, request: web.Request) -> web.Response:
        refused = await self._refused(request, "nscale")
        if refused is not None:
            return refused
        body = await request.json()
        w, _, h = str(body.get("size") or "1024x1024").partition("x")
        _, data = self._image(request, "nscale", body.get("prompt"), body.get("seed"), int(w), int(h), FAL_CDN)
        return web.json_response({"created": 0, "data": [{"b64_json": base64.b64encode(data).decode()}]})

    async def file(self, request: web.Request) -> web.Response:
        data = self._files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/jpeg")
