"""gpt4free's own clients drive ``g4f_magic.gpt4free`` against the local Space.

The client here is the real ``g4f`` package: the newest in the test venv, 0.5.4.5 in its own venv
(``make g4f05``). Nothing of g4f is patched: a result reaches the test only if g4f's client kept it, and
g4f keeps only its own response classes.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from g4f import errors as g4f_errors
from g4f.client import AsyncClient
from g4f.providers import response as g4f_response
from g4f.providers.base_provider import AsyncGeneratorProvider, ProviderModelMixin
from g4f.providers.retry_provider import IterListProvider
from leakscan import TOKEN
from PIL import Image
from support.helpers import FLUX_DEV, HUB, JANUS, PREDICT, ROUTER

from g4f_magic import errors, gpt4free
from g4f_magic.gpt4free import G4F, DeepseekAI_JanusPro7b, FluxDev
from g4f_magic.localspace import LocalSpace
from g4f_magic.media import image_mime
from g4f_magic.spaces import providers as core

IMAGE_MODELS = ["flux", "flux-dev", "flux-schnell", "janus-pro-7b-image"]
HOST_OF = {"flux": FLUX_DEV, "flux-dev": FLUX_DEV, "flux-schnell": PREDICT, "janus-pro-7b-image": JANUS}


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, "PNG")
    return out.getvalue()


def header(request: Any, name: str) -> str | None:
    return next((v for k, v in request.headers.items() if k.lower() == name), None)


def g4f_own(chunk: Any) -> bool:
    """A chunk g4f's client can read: text, or an instance of one of g4f's own response classes."""
    return isinstance(chunk, str) or type(chunk).__module__.startswith("g4f.")


class Answering(AsyncGeneratorProvider, ProviderModelMixin):
    """A second provider for g4f's IterListProvider to fall back to (a g4f provider of the test's own)."""

    working = True
    url = "http://127.0.0.1:9/answering"
    default_model = "flux"
    models = ["flux", "janus-pro-7b"]

    @classmethod
    async def create_async_generator(cls, model: str, messages: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if model == "janus-pro-7b":
            yield "answered by the next provider"
        else:
            yield g4f_response.ImageResponse(["http://127.0.0.1:9/next.png"], "next provider")


@pytest.mark.parametrize("model", IMAGE_MODELS)
@pytest.mark.parametrize("response_format", ["url", "b64_json"])
async def test_images_generate_through_gpt4free(space: LocalSpace, endpoint: str, model: str,
                                                response_format: str) -> None:
    result = await AsyncClient().images.generate(prompt="a red bicycle", model=model, provider=G4F,
                                                 response_format=response_format)
    assert (result.model, result.provider) == (model, "G4F")
    assert len(result.data) == (5 if model == "janus-pro-7b-image" else 1)  # Janus draws a gallery of five
    image = result.data[0]
    if response_format == "url":
        assert HOST_OF[model] in image.url
    else:
        assert image_mime(base64.b64decode(image.b64_json)) is not None
    assert image.revised_prompt == "a red bicycle"  # g4f's "Generate a image: " prefix is not in the prompt
    [join] = [r for r in space.received if r.method == "POST" and r.host == HOST_OF[model]
              and r.path.endswith(("/queue/join", "/run/predict"))]
    assert join.body["data"][0] == "a red bicycle"


async def test_the_seeds_example_prints_g4fs_familiar_chunks(space: LocalSpace, endpoint: str) -> None:
    chunks = [c async for c in G4F.create_async_generator(
        model="flux", messages=[{"role": "user", "content": "a lighthouse"}], seed=7, aspect_ratio="16:9")]
    assert all(g4f_own(c) for c in chunks), [type(c) for c in chunks if not g4f_own(c)]
    status = [str(c) for c in chunks if isinstance(c, g4f_response.Reasoning)]
    assert any(s.startswith("In queue: position") for s in status) and status[-1].startswith("Finished")
    # previews where g4f's images.generate leaves them out of the result (8.x), none where it would keep them
    assert any(isinstance(c, g4f_response.ImagePreview) for c in chunks) is gpt4free.PREVIEWS
    [image] = [c for c in chunks if type(c) is g4f_response.ImageResponse]
    assert image.options == {"model": "flux", "seed": 7, "width": 1360, "height": 760}
    assert image.alt == "a lighthouse" and FLUX_DEV in image.get_list()[0]
    assert image.get_list()[0] in str(image)  # Markdown on 0.5.x, g4f's <a><img> once it has a size on 8.x


async def test_a_seed_and_size_reach_the_space_through_images_generate(space: LocalSpace, endpoint: str) -> None:
    await AsyncClient().images.generate(prompt="a red bicycle", model="flux", provider=G4F,
                                        response_format="url", seed=1234, size="832x480")
    [join] = [r for r in space.received if r.path.endswith("/queue/join")]
    assert join.body["data"][1:5] == [1234, False, 832, 480]


async def test_chat_plain_streamed_and_continued(space: LocalSpace, endpoint: str) -> None:
    client = AsyncClient()
    first = await client.chat.completions.create(model="janus-pro-7b", provider=G4F,
                                                 messages=[{"role": "user", "content": "what is a lighthouse?"}])
    answer = first.choices[0].message.content
    assert answer.startswith("Local stand-in reply") and "what is a lighthouse?" in answer
    history = [{"role": "user", "content": "what is a lighthouse?"}, {"role": "assistant", "content": answer},
               {"role": "user", "content": "and a harbour?"}]
    chunks = [c async for c in client.chat.completions.create(
        model="janus-pro-7b", provider=G4F, messages=history, stream=True, conversation=first.conversation)]
    text = "".join(c.choices[0].delta.content for c in chunks if isinstance(c.choices[0].delta.content, str))
    assert "and a harbour?" in text and "2 user turns" in text
    assert len([c for c in chunks if isinstance(c.choices[0].delta.content, str)]) > 3  # word by word
    joins = [r for r in space.received if r.path.endswith("/queue/join")]
    assert len(joins) == 2
    assert joins[1].body["session_hash"] == joins[0].body["session_hash"]  # the same conversation


async def test_a_question_about_an_image(space: LocalSpace, endpoint: str) -> None:
    reply = await AsyncClient().chat.completions.create(
        model="janus-pro-7b", provider=G4F, messages="what is in this picture?", image=png(), image_name="red.png")
    assert "40x30 PNG image named red.png" in reply.choices[0].message.content
    data_uri = "data:image/png;base64," + base64.b64encode(png(20, 10)).decode()
    parts = [{"type": "text", "text": "and this one?"}, {"type": "image_url", "image_url": {"url": data_uri}}]
    reply = await AsyncClient().chat.completions.create(
        model="janus-pro-7b", provider=DeepseekAI_JanusPro7b, messages=[{"role": "user", "content": parts}])
    assert "20x10 PNG" in reply.choices[0].message.content


async def test_errors_are_g4fs_own_with_our_words(space: LocalSpace, endpoint: str) -> None:
    with pytest.raises(g4f_errors.ModelNotFoundError, match="unknown model 'flux-pro'; did you mean"):
        await AsyncClient().images.generate(prompt="x", model="flux-pro", provider=G4F)
    with pytest.raises(g4f_errors.ModelNotFoundError, match="known models: flux-dev"):
        await AsyncClient().images.generate(prompt="x", model="janus-pro-7b-image", provider=FluxDev)
    space.arm("quota_new")  # type: ignore[attr-defined]
    with pytest.raises(g4f_errors.RateLimitError, match=r"^You have exceeded your GPU quota \(60s requested vs"):
        await AsyncClient().images.generate(prompt="x", model="flux", provider=G4F)
    with pytest.raises(g4f_errors.ResponseError, match="unknown option 'guidence_scale'; did you mean"):
        await AsyncClient().images.generate(prompt="x", model="flux", provider=G4F, guidence_scale=2)
    assert not [r for r in space.received if r.path.endswith("/queue/join") and r.body["data"][0] == "x"][1:]


async def test_iterlistprovider_moves_past_a_quota_refusal(space: LocalSpace, endpoint: str) -> None:
    space.arm("quota_new", times=2)  # type: ignore[attr-defined]
    both = IterListProvider([G4F, Answering], shuffle=False)
    result = await AsyncClient().images.generate(prompt="a red bicycle", model="flux", provider=both,
                                                 response_format="url")
    assert result.data[0].url == "http://127.0.0.1:9/next.png"
    reply = await AsyncClient().chat.completions.create(model="janus-pro-7b", provider=both, messages="hello")
    assert reply.choices[0].message.content == "answered by the next provider"


async def test_the_hf_token_goes_to_the_spaces_and_the_hub_only(space: LocalSpace, endpoint: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    client = AsyncClient(api_key=TOKEN)
    for model in IMAGE_MODELS:
        await client.images.generate(prompt="a red bicycle", model=model, provider=G4F, response_format="b64_json")
    await client.chat.completions.create(model="janus-pro-7b", provider=G4F, messages="hello")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    await AsyncClient().chat.completions.create(model="janus-pro-7b", provider=G4F, messages="hello again")
    bearer = [r for r in space.received if header(r, "authorization") == f"Bearer {TOKEN}"]
    assert {r.host for r in bearer} >= {FLUX_DEV, PREDICT, JANUS}
    for r in space.received:
        text = json.dumps([r.path, r.query, r.headers, r.body], default=str)
        if TOKEN in text:
            assert r in bearer and (r.host in {FLUX_DEV, PREDICT, JANUS} or (r.host == HUB and r.path.endswith("/jwt")))
    downloads = [r for r in space.received if "file=" in r.path]
    assert downloads and all(TOKEN not in json.dumps(r.headers) for r in downloads)  # g4f fetches b64_json bare


def test_a_conversation_handed_back_carries_no_token() -> None:
    from g4f_magic import events

    out = gpt4free._translated(events.JsonConversation("abc", "uuid-1", "secret.jwt.token"))
    assert type(out) is g4f_response.JsonConversation
    assert out.get_dict() == {"session_hash": "abc", "zerogpu_uuid": "uuid-1"}


def test_the_seed_attributes_are_exact() -> None:
    seed = ("label", "space", "url", "api_url", "url_flux", "referer")  # their values: tests/unit/spaces
    assert [getattr(G4F, a) for a in seed] == [getattr(core.G4F, a) for a in seed]
    assert G4F.label == "G4F framework" and G4F.space == "roxky/Janus-Pro-7B"
    assert G4F.default_model == "flux" and G4F.model_aliases == {"flux-schnell": "flux"}
    assert G4F.image_models == ["janus-pro-7b-image", "flux", "flux-dev", "flux-schnell"]
    assert G4F.models == ["janus-pro-7b", "janus-pro-7b-image", "flux", "flux-dev", "flux-schnell"]
    assert G4F.__bases__ == (DeepseekAI_JanusPro7b,)
    assert issubclass(G4F, AsyncGeneratorProvider) and issubclass(G4F, ProviderModelMixin)
    assert G4F.get_dict() == {"name": "G4F", "url": G4F.url, "label": "G4F framework"}
    assert G4F.get_models() == G4F.models and G4F.needs_auth is False and G4F.working is True
    assert G4F.get_model("flux-schnell") == "flux" and FluxDev.get_model("flux") == "flux-dev"
    assert (DeepseekAI_JanusPro7b.space, DeepseekAI_JanusPro7b.default_model) == (
        "deepseek-ai/Janus-Pro-7B", "janus-pro-7b")
    assert (FluxDev.space, FluxDev.url) == ("roxky/FLUX.1-dev", core.FluxDev.url)


def test_the_sync_client_in_a_script(thread_space: LocalSpace, tmp_path: Any) -> None:
    """gpt4free's ``Client`` runs ``asyncio.run`` per call: a script, not a notebook's running loop."""
    thread_space.reset()
    (tmp_path / "red.png").write_bytes(png(64, 48))
    script = textwrap.dedent(f"""
        import base64, os
        os.environ["G4F_MAGIC_ENDPOINT"] = {thread_space.url!r}
        from g4f.client import Client
        from g4f_magic.gpt4free import G4F
        client = Client()
        for model in {IMAGE_MODELS!r}:
            print(client.images.generate(prompt="a red bicycle", model=model, provider=G4F,
                                         response_format="url").data[0].url)
            b64 = client.images.generate(prompt="a red bicycle", model=model, provider=G4F,
                                         response_format="b64_json").data[0].b64_json
            print(len(base64.b64decode(b64)))
        reply = client.chat.completions.create(model="janus-pro-7b", provider=G4F, messages="hello")
        print(reply.choices[0].message.content)
        words = [c.choices[0].delta.content for c in client.chat.completions.create(
            model="janus-pro-7b", provider=G4F, messages="hi there", stream=True)]
        print(sum(isinstance(w, str) for w in words))
        seen = client.chat.completions.create(model="janus-pro-7b", provider=G4F, messages="what is it?",
                                              image="red.png")
        print(seen.choices[0].message.content)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    *images, answer, words, seen = lines[-11:]
    for model, url, size in zip(IMAGE_MODELS, images[::2], images[1::2]):
        assert HOST_OF[model] in url and int(size) > 1000
    assert answer.endswith("You asked: hello") and int(words) >= 5
    assert seen.endswith("I see a 64x48 PNG image named red.png.")
    assert "Unclosed" not in out.stderr and "Task was destroyed" not in out.stderr


def test_without_g4f_the_import_says_which_extra(tmp_path: Any) -> None:
    code = "import sys; sys.modules['g4f'] = None\ntry:\n import g4f_magic.gpt4free\nexcept ImportError as e: print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "g4f_magic.gpt4free needs gpt4free: pip install 'g4f_magic[g4f]'"


@pytest.mark.parametrize(("ours", "theirs"), [
    (errors.ResponseStatusError("Response 401: Invalid credentials", 401), "MissingAuthError"),
    (errors.ResponseStatusError("Response 402: Payment required", 402), "PaymentRequiredError"),
    (errors.ResponseStatusError("Response 429: Too many requests", 429), "RateLimitError"),
    (errors.SpaceUnavailable("the Space is sleeping", 503), "ResponseStatusError"),
    (errors.GPUBusy("No GPU was available"), "RateLimitError"),
    (errors.ConnectionFailed("cannot connect to the Space"), "ProviderNotWorkingError"),
    (errors.G4FTimeout("no result within timeout=5s"), "TimeoutError"),
    (errors.StreamError("the stream ended before the result"), "ResponseError"),
])
def test_each_error_becomes_g4fs_class_with_our_words(ours: errors.G4FError, theirs: str) -> None:
    translated = gpt4free.translate_error(ours)
    assert type(translated) is getattr(g4f_errors, theirs) and str(translated) == str(ours)


@pytest.mark.parametrize("provider", ["fal-ai", "auto"])
async def test_gpt4free_sends_flux_to_inference_providers_when_asked(space: LocalSpace, endpoint: str,
                                                                     provider: str) -> None:
    """``inference_provider=`` (gpt4free's own keyword is ``provider``): the same client the magic uses, paid by
    the ``hf_…`` token given as ``api_key``; the image comes back as a data URI (the provider's own URL is not
    given out by huggingface_hub), with the asked seed. (gpt4free's b64_json re-downloads a URL over HTTP, which
    a data URI is not: ``url`` is the format for it.)"""
    result = await AsyncClient(api_key=TOKEN).images.generate(
        prompt="a red bicycle", model="flux", provider=G4F, response_format="url", seed=7, size="832x480",
        inference_provider=provider)
    head, _, data = result.data[0].url.partition(",")
    assert head == "data:image/jpeg;base64"  # the bytes the provider served
    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        assert im.size == (832, 480)
    assert space.providers.served == {"fal-ai": 1} and not [r for r in space.received if r.host.endswith(".hf.space")]
    [call] = [r for r in space.received if r.host == ROUTER]
    assert call.body["seed"] == 7 and call.headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(Exception, match="^janus-pro-7b-image is served by no Inference Provider"):  # g4f's class
        await AsyncClient(api_key=TOKEN).images.generate(prompt="x", model="janus-pro-7b-image", provider=G4F,
                                                         inference_provider=provider)
