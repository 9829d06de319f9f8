"""The providers as gpt4free's own: ``from g4f_magic.gpt4free import G4F`` and pass it as ``provider=``.

gpt4free's client keeps only its own classes (``images.generate`` keeps instances of g4f's
``MediaResponse``; chat reads ``get_dict``, ``live``, ``needs_auth`` on the provider class), so these are
real subclasses of g4f's ``AsyncGeneratorProvider`` and ``ProviderModelMixin`` that yield g4f's response
types and raise g4f's errors. Underneath is the same request path as :class:`g4f_magic.G4F`: its keywords
become the same checked request, and its events are translated here, one to one. Needs the ``g4f``
extra; nothing else in the package imports g4f.
"""

from __future__ import annotations

import base64
import io
import os
from contextlib import aclosing
from typing import Any, AsyncGenerator, AsyncIterator, Mapping, cast

try:
    from g4f import errors as g4f_errors
    from g4f.providers.base_provider import AsyncGeneratorProvider, ProviderModelMixin
    from g4f.providers.response import HiddenResponse, ImagePreview, ImageResponse, JsonConversation, Reasoning
    from g4f.tools.media import merge_media
except ImportError:  # pragma: no cover - the message is the test
    raise ImportError("g4f_magic.gpt4free needs gpt4free: pip install 'g4f_magic[g4f]'") from None

from . import errors, events
from .inference import SPACES, ProvidersClient
from .spaces import providers as core
from .spaces.client import Target
from .spaces.identity import HFToken, is_hf_token
from .spaces.models import unknown_model
from .spaces.request import DEFAULT_TIMEOUT, Request

__all__ = ["DeepseekAI_JanusPro7b", "FluxDev", "G4F", "G4F_KEYWORDS", "translate_error"]

# What gpt4free's clients pass to every provider, or take from OpenAI's API, that a Space has no use for:
# accepted and left out, as g4f's own providers do. Any other unknown keyword is an error.
G4F_KEYWORDS = frozenset({
    "stream", "max_tokens", "stop", "base_url", "download_media", "ignore_stream", "stream_timeout",
    "temperature", "top_p", "presence_penalty", "frequency_penalty", "user", "web_search", "tools",
    "tool_choice", "parallel_tool_calls", "reasoning_effort", "response_format", "extra_body", "n",
    "image_name", "return_conversation", "provider",
})
# g4f 0.5's images.generate keeps every ImageResponse, previews included (its ImagePreview is not hidden):
# there a preview would come back as one more result, so none is yielded
PREVIEWS = issubclass(ImagePreview, HiddenResponse)


def _g4f_error(name: str, fallback: type[Exception]) -> type[Exception]:
    """g4f's class of that name (0.5.4.5 lacks some of 8.x's), else the nearest it has."""
    found = getattr(g4f_errors, name, fallback)
    return found if isinstance(found, type) and issubclass(found, Exception) else fallback


_HTTP = {401: "MissingAuthError", 403: "MissingAuthError", 402: "PaymentRequiredError", 429: "RateLimitError"}


def translate_error(exc: errors.G4FError) -> Exception:
    """g4f's own class for one of ours, with our one-line message: g4f's retries and ``IterListProvider``
    read the class (a quota refusal is a rate limit: try the next provider)."""
    response_error = _g4f_error("ResponseError", Exception)
    status_error = _g4f_error("ResponseStatusError", response_error)
    if isinstance(exc, errors.ModelNotFound):
        cls = _g4f_error("ModelNotFoundError", response_error)
    elif isinstance(exc, errors.InvalidOption):
        cls = _g4f_error("BadRequestError", response_error)
    elif isinstance(exc, (errors.QuotaExceeded, errors.GPUBusy)):
        cls = _g4f_error("RateLimitError", status_error)
    elif isinstance(exc, errors.ResponseStatusError):
        cls = _g4f_error(_HTTP.get(exc.status or 0, "ResponseStatusError"), status_error)
    elif isinstance(exc, errors.ConnectionFailed):
        cls = _g4f_error("ProviderNotWorkingError", response_error)
    elif isinstance(exc, errors.G4FTimeout):
        cls = _g4f_error("TimeoutError", response_error)
    else:
        cls = response_error
    return cls(str(exc))


def _bytes(item: Any) -> Any:
    """One of gpt4free's media values as what :func:`g4f_magic.media.load_media` reads: bytes, a path
    (read and size-checked there), a data URI decoded, a PIL image as PNG, a file object read."""
    if isinstance(item, Mapping) and "url" in item:  # an image_url part as g4f 0.5 hands it on
        item = item["url"]
    if isinstance(item, str) and item.startswith("data:"):
        head, _, data = item.partition(",")
        if not head.endswith(";base64"):
            raise errors.InvalidOption("an image data URI must be base64")
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            raise errors.InvalidOption("the image data URI is not valid base64") from None
    if isinstance(item, str) and item.startswith(("http://", "https://")):
        raise errors.InvalidOption("an image URL is not fetched for a Space: pass its bytes or a file path")
    if isinstance(item, (str, os.PathLike, bytes, bytearray, memoryview)):
        return item
    if hasattr(item, "save") and hasattr(item, "mode"):  # a PIL image
        out = io.BytesIO()
        item.save(out, "PNG")
        return out.getvalue()
    if hasattr(item, "read"):
        return item.read()
    raise errors.InvalidOption(f"media must be bytes, a path, a data URI or an image; got {type(item).__name__}")


def _media(media: Any, messages: Any) -> list[Any] | None:
    """gpt4free's ``media`` (``image=`` becomes ``[(image, name)]``) and the images in the last user
    message's parts, as ``(bytes or path, name)`` pairs."""
    if media is None or isinstance(media, list):
        given = media
    else:
        given = list(media) if isinstance(media, tuple) and not _is_pair(media) else [media]
    listed = messages if isinstance(messages, list) and all(isinstance(m, Mapping) for m in messages) else []
    items = []
    for item in merge_media(given, listed):
        value, name = item if _is_pair(item) else (item, None)
        value = _bytes(value)
        items.append(value if name is None else (value, str(name)))
    return items or None


def _is_pair(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and (item[1] is None or isinstance(item[1], str))


def _conversation(given: Any) -> events.JsonConversation | None:
    """The conversation gpt4free hands back (its ``JsonConversation``, or the dict a response carries)."""
    if given is None or isinstance(given, events.JsonConversation):
        return given
    fields = given if isinstance(given, Mapping) else getattr(given, "__dict__", {})
    session_hash = fields.get("session_hash")
    if not isinstance(session_hash, str):
        return None  # another provider's conversation: this one starts its own
    return events.JsonConversation(session_hash, fields.get("zerogpu_uuid"))


def _size(size: Any) -> tuple[int, int] | None:
    """OpenAI's ``size="1024x768"``, which gpt4free's ``images.generate`` passes on."""
    if size is None:
        return None
    w, sep, h = str(size).lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise errors.InvalidOption(f"size must be WIDTHxHEIGHT, e.g. '1024x768'; got {size!r}")
    return int(w), int(h)


def _translated(event: events.Event) -> Any:
    """One of our events as g4f's type of the same name. The conversation leaves the ZeroGPU token out:
    gpt4free prints and serialises it with the response; a token is fetched (or reused) per turn."""
    if isinstance(event, events.Reasoning):
        return Reasoning(status=event.status)
    if isinstance(event, events.ImagePreview):
        return ImagePreview(list(event.urls), event.alt) if PREVIEWS else None
    if isinstance(event, events.ImageResponse):
        options = {"model": event.model, "seed": event.seed, "width": event.width, "height": event.height}
        return ImageResponse(list(event.urls), event.alt, {k: v for k, v in options.items() if v is not None})
    if isinstance(event, events.JsonConversation):
        return JsonConversation(session_hash=event.session_hash, zerogpu_uuid=event.zerogpu_uuid)
    return event


async def _on_providers(provider: str, model: str, messages: Any, *, prompt: str | None, aspect_ratio: str,
                        width: int | None, height: int | None, seed: int | None, api_key: str | None,
                        **kwargs: Any) -> AsyncGenerator[events.Event, None]:
    """One image on Hugging Face Inference Providers (``inference_provider="fal-ai"``, ``"auto"``): the same client
    the magic uses, paid by the ``hf_…`` token given as ``api_key`` (else the one the Hugging Face tools find).
    The image goes to gpt4free as a data URI: it was made by the provider, and fetched once already."""
    token = HFToken(api_key, "api_key") if api_key and is_hf_token(api_key) else None
    client = ProvidersClient(Target(hf_token=token, timeout=kwargs.get("timeout") or DEFAULT_TIMEOUT), provider)
    request = Request.make(client.model(model), messages, prompt=prompt, seed=seed, aspect_ratio=aspect_ratio,
                           width=width, height=height, steps=kwargs.get("num_inference_steps"),
                           guidance=kwargs.get("guidance_scale"))
    async for event in client.images(request, client.deadline()):
        if isinstance(event, events.Fetched):
            made, [(data, mime, _)] = event.response, event.images
            yield events.ImageResponse((f"data:{mime};base64,{base64.b64encode(data).decode()}",), made.alt,
                                       made.model, made.seed, made.width, made.height)
        else:
            yield event


class _Face(AsyncGeneratorProvider, ProviderModelMixin):
    """g4f's provider interface over one of :mod:`g4f_magic.spaces.providers`' classes (``_core``), for the
    models this class lists (the core routes each name as written: ``flux-schnell`` is not ``flux``)."""

    _core: type[core.DeepseekAI_JanusPro7b] = core.DeepseekAI_JanusPro7b
    _renames = False  # whether an alias is this face's own name for a core model (FluxDev's "flux")
    needs_auth = False  # an HF token helps (the account's quota); nothing needs one

    @classmethod
    def _model(cls, model: str | None) -> str:
        name = model or cls.default_model
        if name not in cls.models and name not in cls.model_aliases:
            raise unknown_model(name, cls.models)
        return name

    @classmethod
    def get_model(cls, model: str, **kwargs: Any) -> str:
        try:
            name = cls._model(model)
        except errors.G4FError as exc:
            raise translate_error(exc) from exc
        return cls.model_aliases.get(name, name)

    @classmethod
    async def create_async_generator(  # type: ignore[override]
        cls,
        model: str,
        messages: Any,
        proxy: str | None = None,
        prompt: str | None = None,
        aspect_ratio: str = "1:1",
        width: int | None = None,
        height: int | None = None,
        seed: int | None = None,
        cookies: Mapping[str, str] | None = None,
        api_key: str | None = None,
        zerogpu_uuid: str | None = "[object Object]",
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """g4f's entry point: the keywords gpt4free passes, ours (``media``, ``conversation``, ``timeout``,
        …), events in g4f's types, errors as g4f's classes."""
        try:
            name = cls._model(model)
            if kwargs.get("n") not in (None, 1):
                raise errors.InvalidOption(f"{cls.__name__} makes one image per call; got n={kwargs['n']!r}")
            size = _size(kwargs.pop("size", None))
            if size and width is None and height is None:
                width, height = size
            media = _media(kwargs.pop("media", None), messages)
            conversation = _conversation(kwargs.pop("conversation", None))
            place = kwargs.pop("inference_provider", None) or SPACES  # gpt4free's own keyword is "provider"
            if place != SPACES:
                gen = _on_providers(place, name, messages, prompt=prompt, aspect_ratio=aspect_ratio, width=width,
                                    height=height, seed=seed, api_key=api_key, **kwargs)
                async with aclosing(gen):
                    async for event in gen:
                        chunk = _translated(event)
                        if chunk is not None:
                            yield chunk
                return
            ours: dict[str, Any] = {k: v for k, v in kwargs.items() if k not in G4F_KEYWORDS}
            if media:
                ours["media"] = media
            if conversation:
                ours["conversation"] = conversation
            # a subclass that moved a Space (api_url = one's own server) sends that route there
            ours.update({k: getattr(cls, k) for k in ("api_url", "url_flux")
                         if getattr(cls, k, None) not in (None, getattr(cls._core, k, None))})
            gen = cast(AsyncGenerator[events.Event, None], cls._core.create_async_generator(
                cls.model_aliases.get(name, name) if cls._renames else name, messages, proxy=proxy,
                prompt=prompt, aspect_ratio=aspect_ratio, width=width, height=height, seed=seed, cookies=cookies,
                api_key=api_key, zerogpu_uuid=zerogpu_uuid, **ours))
            async with aclosing(gen):
                async for event in gen:
                    chunk = _translated(event)
                    if chunk is not None:
                        yield chunk
        except errors.G4FError as exc:
            raise translate_error(exc) from exc


class FluxDev(_Face):
    """FLUX.1-dev on the Gradio queue API (the G4F framework's copy), as g4f's ``FluxDev``."""

    _core = core.G4F
    _renames = True
    label = core.FluxDev.label
    space = core.FluxDev.space
    url = core.FluxDev.url
    working = True
    default_model = core.FluxDev.default_model
    model_aliases = {"flux": default_model}
    models = list(core.FluxDev.models)
    image_models = list(core.FluxDev.image_models)


class DeepseekAI_JanusPro7b(_Face):
    """Janus-Pro-7B: text and vision chat, and text-to-image."""

    _core = core.DeepseekAI_JanusPro7b
    label = core.DeepseekAI_JanusPro7b.label
    space = core.DeepseekAI_JanusPro7b.space
    url = core.DeepseekAI_JanusPro7b.url
    api_url = core.DeepseekAI_JanusPro7b.api_url
    referer = core.DeepseekAI_JanusPro7b.referer
    url_flux = core.DeepseekAI_JanusPro7b.url_flux
    working = core.DeepseekAI_JanusPro7b.working
    supports_stream = core.DeepseekAI_JanusPro7b.supports_stream
    supports_system_message = core.DeepseekAI_JanusPro7b.supports_system_message
    supports_message_history = core.DeepseekAI_JanusPro7b.supports_message_history
    default_model = core.DeepseekAI_JanusPro7b.default_model
    default_image_model = core.DeepseekAI_JanusPro7b.default_image_model
    default_vision_model = core.DeepseekAI_JanusPro7b.default_vision_model
    model_aliases = dict(core.DeepseekAI_JanusPro7b.model_aliases)
    models = list(core.DeepseekAI_JanusPro7b.models)
    image_models = list(core.DeepseekAI_JanusPro7b.image_models)
    vision_models = list(core.DeepseekAI_JanusPro7b.vision_models)


class G4F(DeepseekAI_JanusPro7b):
    """The G4F framework Spaces: FLUX (queue API and legacy /run/predict) plus Janus-Pro-7B."""

    _core = core.G4F
    label = core.G4F.label
    space = core.G4F.space
    url = core.G4F.url
    api_url = core.G4F.api_url
    url_flux = core.G4F.url_flux
    referer = core.G4F.referer
    default_model = core.G4F.default_model
    model_aliases = dict(core.G4F.model_aliases)
    image_models = list(core.G4F.image_models)
    models = list(core.G4F.models)
