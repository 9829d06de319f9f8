"""The providers: ``DeepseekAI_JanusPro7b``, ``FluxDev`` and ``G4F``, with g4f's class interface.

Routing is an explicit table (``G4F.routes``), not substring tests. Class attributes hold the
endpoints so that subclassing works as in g4f; per-call keywords and ``G4F_MAGIC_ENDPOINT`` override
them (see :mod:`g4f_magic.spaces.endpoints`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from typing import Any, AsyncIterator, ClassVar, Mapping

from ..errors import G4FError, InvalidOption
from ..events import Event, ImagePreview, ImageResponse, Reasoning
from ..http.session import Deadline, get_session
from .endpoints import (
    HUB_URL,
    PREDICT_PATH,
    SPACE_CONCURRENCY,
    Endpoints,
    check_base_url,
    gateway_from_env,
    space_name,
    space_root,
    through_gateway,
    without_login,
)
from .flows import FLOWS, Call
from .identity import HFToken, find_hf_token, is_hf_token
from .mirrors import OFFICIAL, Mirror, flow_of, hands_over
from .models import Model, describe, unknown_model
from .prompts import Messages
from .request import DEFAULT_TIMEOUT, Access, Request, check_number

__all__ = ["DeepseekAI_JanusPro7b", "FluxDev", "G4F", "DEFAULT_TIMEOUT", "ANSWER_WITHIN", "model_info"]

# seconds a Space may leave a join (or its event) without a word while another Space could take the run: a hung
# mirror in a pool costs its items this, not the whole timeout, and is benched like a paused one
ANSWER_WITHIN = 30.0

_ACCESS = {"timeout", "endpoint", "hub_url", "flux_dev_url", "hf_token", "send_hf_token_to", "mirrors",
           "space_concurrency"}  # create_async_generator's keywords that say where and as whom
_EXTRA = {"media", "images", "conversation", "return_conversation", "guidance_scale", "num_inference_steps",
          "stream", *_ACCESS}


_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def _check_header(name: str, value: Any) -> None:
    """A value sent as a header (never echoed: it may be a secret) must be text on one line."""
    if value is not None and (not isinstance(value, str) or _CONTROLS.search(value)):
        raise InvalidOption(f"{name} must be text with no line breaks or control characters")


def _hf_token(given: Any, api_key: str | None) -> tuple[HFToken | None, str | None]:
    """(the account's HF token, the ZeroGPU token). ``hf_token``: a token or an ``HFToken``; ``False``
    for none; not given, as the Hugging Face tools find it. An ``api_key`` of the ``hf_…`` kind is an
    account token (g4f users pass theirs there), not the ZeroGPU JWT ``x-zerogpu-token`` carries."""
    if api_key is not None and is_hf_token(api_key):
        return HFToken(api_key, "api_key"), None
    if given is False or given == "":
        return None, api_key
    if isinstance(given, HFToken):
        _check_header("hf_token", given.value)
        return given, api_key
    if given is not None:
        _check_header("hf_token", given)
        return HFToken(given, "hf_token"), api_key
    return find_hf_token(), api_key


def _defining_class(cls: type, attr: str) -> type:
    return next(k for k in cls.__mro__ if attr in vars(k))


class FluxDev:
    """FLUX.1-dev on the Gradio queue API."""

    label = "FLUX.1-dev"
    space = "roxky/FLUX.1-dev"
    url = "https://roxky-flux-1-dev.hf.space"
    default_model = "flux-dev"
    models: ClassVar[list[str]] = ["flux-dev"]
    image_models: ClassVar[list[str]] = ["flux-dev"]


class DeepseekAI_JanusPro7b:
    """Janus-Pro-7B: text and vision chat, and text-to-image, on the Gradio queue API."""

    label = "DeepSeek Janus-Pro-7B"
    space = "deepseek-ai/Janus-Pro-7B"
    url = f"https://huggingface.co/spaces/{space}"
    api_url = "https://deepseek-ai-janus-pro-7b.hf.space"
    referer = f"{api_url}?__theme=light"
    hub_url = HUB_URL
    url_flux: ClassVar[str | None] = None
    flux_space: ClassVar[str | None] = None
    flux_dev_provider: ClassVar[type[FluxDev]] = FluxDev

    working = True
    supports_stream = True
    supports_system_message = True
    supports_message_history = True

    default_model = "janus-pro-7b"
    default_image_model = "janus-pro-7b-image"
    default_vision_model = default_model
    model_aliases: ClassVar[dict[str, str]] = {}
    models: ClassVar[list[str]] = [default_model, default_image_model]
    image_models: ClassVar[list[str]] = [default_image_model]
    vision_models: ClassVar[list[str]] = [default_model]
    routes: ClassVar[dict[str, str]] = {"janus-pro-7b": "janus_chat", "janus-pro-7b-image": "janus_image"}

    @classmethod
    def route(cls, model: str) -> str:
        """Which wire flow serves ``model``; an unknown name is ``ModelNotFound`` with a hint."""
        if not isinstance(model, str) or model not in cls.routes:
            raise unknown_model(model, cls.models)
        return cls.routes[model]

    @classmethod
    def get_model(cls, model: str) -> str:
        cls.route(model)
        return cls.model_aliases.get(model, model)

    @classmethod
    def endpoints(
        cls,
        endpoint: str | None = None,
        hub_url: str | None = None,
        api_url: str | None = None,
        flux_dev_url: str | None = None,
        url_flux: str | None = None,
    ) -> Endpoints:
        """Class attributes, then the gateway (per call, else the env variable), then explicit URLs."""
        gateway = check_base_url(endpoint) if endpoint else gateway_from_env()
        # A subclass that moved api_url without restating referer gets a referer that follows it.
        referer = cls.referer
        if _defining_class(cls, "api_url") is not _defining_class(cls, "referer") and issubclass(
            _defining_class(cls, "api_url"), _defining_class(cls, "referer")
        ):
            referer = f"{cls.api_url}?__theme=light"
        janus = through_gateway(cls.api_url, gateway)
        if gateway:
            referer = f"{janus}?__theme=light"
        if api_url:
            janus = check_base_url(api_url, "api_url")
            referer = f"{janus}?__theme=light"
        predict = cls.url_flux or f"{cls.api_url}{PREDICT_PATH}"
        flux_dev = check_base_url(flux_dev_url, "flux_dev_url") if flux_dev_url else None
        flux_predict = check_base_url(url_flux, "url_flux") if url_flux else None
        own = {u for u in (janus if api_url else None, flux_dev, flux_predict) if u}
        public = {}
        if gateway:  # each Space reached through the gateway, by its own address (not one set by hand)
            for original, by_hand in ((cls.api_url, api_url), (cls.flux_dev_provider.url, flux_dev_url),
                                      (space_root(predict), url_flux),
                                      *((m.base, None) for ms in OFFICIAL.values() for m in ms)):
                if not by_hand:
                    public[through_gateway(original.rstrip("/"), gateway)] = original.rstrip("/")
        return Endpoints(
            hub=check_base_url(hub_url, "hub_url") if hub_url else through_gateway(cls.hub_url, gateway),
            janus=janus,
            flux_dev=flux_dev or through_gateway(cls.flux_dev_provider.url, gateway).rstrip("/"),
            flux_predict=flux_predict or through_gateway(predict, gateway),
            referer=referer,
            tokenless=frozenset() if hub_url else frozenset(own),
            public=public,
            chosen=frozenset(own),
            gateway=gateway,
        )

    @classmethod
    def mirrors(cls, route: str, ends: Endpoints, extra: Mapping[str, Any] | None = None) -> list[Mirror]:
        """The Spaces that serve ``route``, in order: the seed's (or the URL set by hand), then the official
        ones (not when the route's URL was set by hand: the user chose where it goes), then the user's own
        servers and duplicates for the model (``mirrors={"flux": [url, …]}``)."""
        first = {"janus_chat": ends.janus, "janus_image": ends.janus, "flux_dev": ends.flux_dev,
                 "run_predict": ends.flux_predict}[route]
        space = {"flux_dev": cls.flux_dev_provider.space, "run_predict": cls.flux_space}.get(route, cls.space)
        found = [Mirror(first, space, route)]
        if first not in ends.chosen:
            found += [Mirror(through_gateway(m.base, ends.gateway), m.space, m.flow) for m in OFFICIAL[route]]
        for model, urls in (extra or {}).items():
            if cls.route(model) != route:  # an unknown model is ModelNotFound here, before any request
                continue
            for url in [urls] if isinstance(urls, str) else urls:
                url = check_base_url(url, f"mirrors[{model!r}]")
                found.append(Mirror(url, None, flow_of(route, url), own=True))
        unique: dict[str, Mirror] = {}
        for m in found:
            unique.setdefault(m.base, m)
        return list(unique.values())

    @classmethod
    def model(cls, name: str) -> Model:
        """What ``name`` takes and makes; an unknown name is ``ModelNotFound`` with a hint."""
        return describe(name, cls.route(name))

    @classmethod
    def access(
        cls,
        model: Model,
        *,
        proxy: str | None = None,
        cookies: Mapping[str, str] | None = None,
        api_key: str | None = None,
        zerogpu_uuid: str | None = "[object Object]",
        hf_token: Any = None,
        send_hf_token_to: Any = None,
        endpoint: str | None = None,
        hub_url: str | None = None,
        api_url: str | None = None,
        flux_dev_url: str | None = None,
        url_flux: str | None = None,
        mirrors: Any = None,
        timeout: Any = DEFAULT_TIMEOUT,
        space_concurrency: Any = SPACE_CONCURRENCY,
    ) -> Access:
        """Where a request for ``model`` goes and as whom, every part checked before any request."""
        if timeout is not None:
            timeout = check_number("timeout", timeout, 0.001, 86400)
        if proxy is not None:
            check_base_url(proxy, "proxy", show=False)
        _check_header("api_key", api_key)
        _check_header("zerogpu_uuid", zerogpu_uuid)
        account, api_key = _hf_token(hf_token, api_key)
        hf_token_to = frozenset(space_root(check_base_url(u, "send_hf_token_to")) for u in send_hf_token_to or ())
        if mirrors is not None and not isinstance(mirrors, Mapping):
            raise InvalidOption("mirrors must map a model to its extra Space URLs, e.g. {'flux': ['https://…']}")
        if isinstance(space_concurrency, bool) or not isinstance(space_concurrency, int) \
                or not 1 <= space_concurrency <= 64:
            raise InvalidOption(f"space_concurrency must be a whole number from 1 to 64; got {space_concurrency!r}")
        ends = cls.endpoints(endpoint, hub_url, api_url, flux_dev_url, url_flux)
        logins: dict[str, tuple[str, str]] = {}  # one's own server behind basic auth: by origin, out of its URLs
        found = tuple(replace(m, base=without_login(m.base, logins)) for m in cls.mirrors(model.route, ends, mirrors))
        return Access(ends.bare(logins), found, proxy=proxy, cookies=cookies, api_key=api_key,
                      zerogpu_uuid=zerogpu_uuid, hf_token=account,
                      hf_token_to=frozenset(without_login(u, logins) for u in hf_token_to),
                      timeout=timeout, concurrency=space_concurrency, logins=tuple(logins.items()))

    @classmethod
    async def create_async_generator(
        cls,
        model: str,
        messages: Messages,
        proxy: str | None = None,
        prompt: str | None = None,
        aspect_ratio: str = "1:1",
        width: int | None = None,
        height: int | None = None,
        seed: int | None = None,
        cookies: Mapping[str, str] | None = None,
        api_key: str | None = None,
        zerogpu_uuid: str | None = "[object Object]",
        api_url: str | None = None,
        url_flux: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Event]:
        """Stream one generation's events (g4f's interface). Every option is checked before any request:
        the keywords become the same :class:`Request` and :class:`Access` the engine hands to :meth:`run`."""
        unknown = sorted(set(kwargs) - _EXTRA)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(_EXTRA), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InvalidOption(f"unknown option {unknown[0]!r}{hint}")
        described = cls.model(model)
        request = Request.make(
            described, messages, prompt=prompt, seed=seed, aspect_ratio=aspect_ratio, width=width, height=height,
            steps=kwargs.get("num_inference_steps"), guidance=kwargs.get("guidance_scale"),
            media=kwargs.get("media", kwargs.get("images")), conversation=kwargs.get("conversation"))
        access = cls.access(
            described, proxy=proxy, cookies=cookies, api_key=api_key, zerogpu_uuid=zerogpu_uuid, api_url=api_url,
            url_flux=url_flux, **{k: v for k, v in kwargs.items() if k in _ACCESS})
        async for event in cls.run(request, access):
            yield event

    @classmethod
    async def run(cls, request: Request, access: Access, deadline: Deadline | None = None) -> AsyncIterator[Event]:
        """Stream one generation's events: the Spaces of ``access`` in order, the next one taking over
        when one is gone, paused, asleep or full before it answered. Nothing is checked again here.
        ``deadline``: the run's own, when what follows (the image downloads) must fit in it too."""
        mirrors = access.mirrors
        session = await get_session()
        for url, (user, password) in access.logins:
            session.login(space_root(url), user, password)
        call = Call(
            session=session, endpoints=access.endpoints, public=access.endpoints.public,
            deadline=deadline or Deadline(access.timeout), proxy=access.proxy, cookies=access.cookies, api_key=access.api_key,
            zerogpu_uuid=access.zerogpu_uuid, hf_token=access.hf_token, hf_token_to=access.hf_token_to,
            own=access.own, concurrency=access.concurrency,
        )
        tried: list[str] = []
        for i, mirror in enumerate(mirrors):
            call.answer_within = ANSWER_WITHIN if i + 1 < len(mirrors) else None  # the last one has the run's time
            gen = FLOWS[mirror.flow](call, mirror, request)
            answered = False
            where = space_name(mirror.base)  # each status line says which Space it came from
            tried.append(where)
            try:
                async for event in gen:
                    answered = answered or isinstance(event, (str, ImagePreview, ImageResponse))
                    yield replace(event, space=where) if isinstance(event, Reasoning) and event.space is None \
                        else event
                return
            except G4FError as exc:
                why = hands_over(exc)
                if why is None or answered or i + 1 == len(mirrors):
                    exc.spaces = tuple(tried)
                    raise
                following = mirrors[i + 1]
                yield Reasoning(f"{mirror.label} is {why}; trying {following.label}", "mirror",
                                elapsed=call.elapsed(), space=where)
            finally:
                await gen.aclose()


class G4F(DeepseekAI_JanusPro7b):
    """The G4F framework Spaces: FLUX (queue API and legacy /run/predict) plus Janus-Pro-7B."""

    label = "G4F framework"
    space = "roxky/Janus-Pro-7B"
    url = "https://huggingface.co/spaces/roxky/g4f-space"
    api_url = "https://roxky-janus-pro-7b.hf.space"
    url_flux = "https://roxky-g4f-flux.hf.space/run/predict"
    referer = f"{api_url}?__theme=light"
    flux_space = "roxky/g4f-flux"

    default_model = "flux"
    model_aliases: ClassVar[dict[str, str]] = {"flux-schnell": default_model}
    image_models: ClassVar[list[str]] = [
        DeepseekAI_JanusPro7b.default_image_model, default_model, "flux-dev", *model_aliases.keys()
    ]
    models: ClassVar[list[str]] = [DeepseekAI_JanusPro7b.default_model, *image_models]
    # Upstream sends "flux" and "flux-dev" to FluxDev before its alias check, so only the spelling
    # "flux-schnell" reaches url_flux's /run/predict. Kept, but said here rather than implied.
    routes: ClassVar[dict[str, str]] = {
        **DeepseekAI_JanusPro7b.routes,
        "flux": "flux_dev",
        "flux-dev": "flux_dev",
        "flux-schnell": "run_predict",
    }


def model_info(provider: type[DeepseekAI_JanusPro7b] = G4F) -> list[dict[str, str]]:
    """One row per model: kind, Space and route, for ``%g4f models`` and the panel."""
    spaces = {
        "janus_chat": provider.space, "janus_image": provider.space,
        "flux_dev": provider.flux_dev_provider.space, "run_predict": provider.flux_space or "",
    }
    rows = []
    for name in provider.models:
        route = provider.routes[name]
        kind = "text+vision" if name in provider.vision_models else "image"
        rows.append({"model": name, "kind": kind, "space": spaces[route], "route": route})
    return rows
