"""gpt4free's own client, through ``g4f_magic.gpt4free``, against real Gradio servers.

One user of each kind: images by URL keyword, a chat on one's own server named by subclassing (as g4f
users configure a provider), and ZeroGPU's own quota refusal reaching g4f as its ``RateLimitError``.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from g4f import errors as g4f_errors
from g4f.client import AsyncClient
from PIL import Image
from servers import Server, urls

from g4f_magic.gpt4free import G4F


def own(server: Server) -> Any:
    class Mine(G4F):
        api_url = server.url

    return Mine


@pytest.mark.gradio("queue")
async def test_flux_and_janus_through_gpt4free(gradio: dict[str, Server]) -> None:
    client = AsyncClient()
    result = await client.images.generate(prompt="a lighthouse", model="flux", provider=G4F, response_format="b64_json",
                                          seed=42, aspect_ratio="16:9", num_inference_steps=4,
                                          **urls(gradio["flux_dev_tls"], "flux_dev"))
    with Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json))) as img:
        assert (img.format, img.size) == ("WEBP", (1360, 760))
    reply = await client.chat.completions.create(model="janus-pro-7b", provider=own(gradio["janus"]), seed=7,
                                                 messages=[{"role": "user", "content": "what is a lighthouse?"}])
    assert reply.choices[0].message.content == "Contract app answer (seed 7). You asked: what is a lighthouse?"
    with pytest.raises(g4f_errors.RateLimitError, match=r"^You have exceeded your GPU quota \(60s requested vs"):
        await client.images.generate(prompt="quota", model="janus-pro-7b-image", provider=own(gradio["janus"]))


@pytest.mark.gradio("predict")
async def test_flux_schnell_on_run_predict_through_gpt4free(gradio: dict[str, Server]) -> None:
    result = await AsyncClient().images.generate(prompt="a red bicycle", model="flux-schnell", provider=G4F,
                                                 response_format="url", width=256, height=256,
                                                 **urls(gradio["predict"], "predict"))
    assert result.data[0].url.startswith(gradio["predict"].url)
