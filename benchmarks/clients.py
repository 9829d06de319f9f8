"""The clients compared: this project's provider, the upstream gpt4free provider (the last g4f release
with ``hf_space/G4F.py``, 0.5.4.5, pointed at the same server), and the floor: raw aiohttp doing only
what the wire needs (join + stream, or one POST), on one kept-alive session."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any, Awaitable, Callable

import aiohttp

from g4f_magic import G4F, aclose
from g4f_magic.http.sse import SSEDecoder

PROMPT = "a lighthouse in a storm"
ROUTES = {"queue (janus-pro-7b-image)": "janus-pro-7b-image", "run/predict (flux-schnell)": "flux-schnell"}
Call = Callable[[], Awaitable[None]]
HEADERS = {"x-zerogpu-token": "bench-token"}


def ours(gateway: str, model: str, token: str | None = "bench-token", **urls: str) -> Call:
    async def call() -> None:
        async for _ in G4F.create_async_generator(model, PROMPT, endpoint=gateway, api_key=token, seed=7,
                                                  aspect_ratio="1:1", **urls):
            pass
    return call


def gradio_client_call(base: str, model: str = "janus-pro-7b-image") -> Callable[[], None]:
    """gradio_client on the same route (synchronous; outputs not downloaded, as for the others)."""
    from gradio_client import Client

    client = Client(base + "/", verbose=False, download_files=False)
    if model == "flux":
        return lambda: client.predict(PROMPT, 7, False, 256, 256, 3.5, 4, api_name="/infer")
    if model == "janus-pro-7b":  # the chat, text only (no image)
        return lambda: client.predict(None, PROMPT, 7, 0.95, 0.1, fn_index=2)
    return lambda: client.predict(PROMPT, 7, 5, 1, fn_index=3)


class Floor:
    def __init__(self, gateway: str, janus_base: str | None = None, flux_base: str | None = None) -> None:
        self.gateway = gateway
        self.janus_base = janus_base or f"{gateway}/roxky-janus-pro-7b.hf.space"
        self.flux_base = flux_base or f"{gateway}/roxky-flux-1-dev.hf.space"
        self.session = aiohttp.ClientSession()

    async def _queued(self, base: str, data: list[Any], fn_index: int, trigger: int) -> None:
        """Join, then read the event's stream to its end: the queue API's round trips and nothing else."""
        sh = uuid.uuid4().hex[:12]
        body = {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": trigger, "session_hash": sh}
        async with self.session.post(f"{base}/gradio_api/queue/join", json=body, headers=HEADERS) as r:
            await r.read()
        decoder = SSEDecoder()
        async with self.session.get(f"{base}/gradio_api/queue/data?session_hash={sh}") as r:
            async for chunk in r.content.iter_any():
                for ev in decoder.feed(chunk):
                    if json.loads(ev.data).get("msg") == "close_stream":
                        return

    def call(self, model: str) -> Call:
        predict = f"{self.gateway}/roxky-g4f-flux.hf.space/run/predict"

        async def queue() -> None:  # Janus text-to-image, fn 3
            await self._queued(self.janus_base, [PROMPT, 7, 5, 1], 3, 20)

        async def chat() -> None:  # Janus chat, fn 2, text only
            await self._queued(self.janus_base, [None, PROMPT, 7, 0.95, 0.1], 2, 10)

        async def flux() -> None:  # FLUX.1-dev's infer, fn 2, at the size every client is given
            await self._queued(self.flux_base, [PROMPT, 7, False, 256, 256, 3.5, 4], 2, 4)

        async def run_predict() -> None:
            body = {"data": [PROMPT, 7, 1024, 1024, True, 1], "event_data": None, "fn_index": 3,
                    "session_hash": uuid.uuid4().hex[:10], "trigger_id": 10}
            async with self.session.post(predict, json=body, headers=HEADERS) as r:
                await r.json()

        return {"janus-pro-7b-image": queue, "janus-pro-7b": chat, "flux": flux}.get(model, run_predict)

    async def close(self) -> None:
        await self.session.close()


def upstream_provider(gateway: str, janus_base: str | None = None, flux_base: str | None = None) -> Any:
    """gpt4free's G4F with its URLs moved to the gateway (its hub address is hard-coded: rewritten)."""
    import importlib

    # the package re-exports classes under their modules' names: take the modules themselves
    importlib.import_module("g4f.Provider.hf_space.G4F")
    janus_module = sys.modules["g4f.Provider.hf_space.DeepseekAI_JanusPro7b"]
    g4f_module = sys.modules["g4f.Provider.hf_space.G4F"]
    Upstream = g4f_module.G4F
    original = getattr(janus_module, "_unpatched_get_zerogpu_token", janus_module.get_zerogpu_token)
    janus_module._unpatched_get_zerogpu_token = original  # each gateway wraps the original once

    class Rewriting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def get(self, url: str, **kwargs: Any) -> Any:
            return self.inner.get(url.replace("https://huggingface.co", f"{gateway}/huggingface.co"), **kwargs)

    async def get_zerogpu_token(space: str, session: Any, conversation: Any, cookies: Any = None) -> Any:
        return await original(space, Rewriting(session), conversation, cookies or {})

    janus_module.get_zerogpu_token = get_zerogpu_token
    g4f_module.get_zerogpu_token = get_zerogpu_token

    g4f_module.FluxDev.url = flux_base or f"{gateway}/roxky-flux-1-dev.hf.space"  # the module's own class

    class Up(Upstream):
        api_url = janus_base or f"{gateway}/roxky-janus-pro-7b.hf.space"
        referer = f"{api_url}?__theme=light"
        url_flux = f"{gateway}/roxky-g4f-flux.hf.space/run/predict"

    return Up


def upstream(provider: Any, model: str, token: str | None = "bench-token") -> Call:
    async def call() -> None:
        # width/height given: upstream's /run/predict path crashes on its own None default
        async for _ in provider.create_async_generator(model, [{"role": "user", "content": PROMPT}], api_key=token,
                                                       seed=7, width=1024, height=1024):
            pass
    return call


__all__ = ["ours", "Floor", "upstream_provider", "upstream", "gradio_client_call", "ROUTES", "aclose"]
