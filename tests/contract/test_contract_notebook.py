"""``%%g4f`` in a real kernel and the panel, against real Gradio servers behind the TLS proxy.

This is the path of a user who duplicated a Space or runs their own Gradio server: the magic's
``api_url`` / ``flux_dev_url`` / ``url_flux`` settings name each server, no gateway is involved.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kernels import run_notebook, shown_images, widget_values
from servers import Server

from g4f_magic.notebook.panel import Panel


def settings(gradio: dict[str, Server], names: dict[str, str]) -> list[str]:
    lines = []
    for key, name in names.items():
        url = gradio[name].url + ("/run/predict" if key == "url_flux" else "")
        lines.append(f"%config G4FMagics.{key} = {url!r}")
    return lines


@pytest.mark.gradio("queue")
@pytest.mark.timeout(180)
def test_queue_routes_in_a_real_kernel(gradio: dict[str, Server], own_server_env: None, tmp_path: Any) -> None:
    sources = [
        "%load_ext g4f_magic",
        "\n".join(settings(gradio, {"flux_dev_url": "flux_dev_tls", "api_url": "janus_tls"})),
        "%%g4f -m flux -a 16:9 -s 42 -o pic\na lighthouse in a storm",
        "%%g4f -m janus-pro-7b-image -s 1234\na red bicycle",
        "%%g4f -m janus-pro-7b --new\nwhat is a lighthouse",
        "print(pic.seed, pic.width, pic.height, pic.image.mime)",
        "%%g4f -m flux -s 1\ngr.Error please",
    ]
    nb = run_notebook(sources, tmp_path / "real.ipynb", allow_errors=True, timeout=150)
    assert [mime for mime, _ in shown_images(nb.cells[2])] == ["image/webp"]  # as Gradio served it
    janus = shown_images(nb.cells[3])
    assert len(janus) == 5, (nb.cells[3].outputs, gradio["janus_tls"].proxy.errors)
    [answer] = [o for o in nb.cells[4].outputs if o.output_type == "display_data"]
    answer_html = answer["data"]["text/html"]
    assert "Contract app answer" in answer_html and "what is a lighthouse" in answer_html
    assert nb.cells[5].outputs[0].text == "42 1360 760 image/webp\n"
    settled = " ".join(o.get("data", {}).get("text/html", "") for o in nb.cells[2].outputs)
    assert "flux · done · seed 42 · 1360x760" in settled + " ".join(widget_values(nb))
    error = [o for o in nb.cells[6].outputs if o.output_type == "error"]
    text = " ".join(o.get("data", {}).get("text/html", "") for o in nb.cells[6].outputs) + str(error)
    assert "CUDA out of memory on the contract app" in text and "<b>on the contract app" not in text


@pytest.mark.gradio("queue")
@pytest.mark.timeout(180)
def test_one_question_over_a_folder_of_images_in_a_real_kernel(gradio: dict[str, Server], own_server_env: None,
                                                              tmp_path: Any) -> None:
    """Issue #25: Janus asked the same question about three images, through a real Gradio app behind TLS:
    three conversations, each answer about its own image, and a table of thumbnail and answer."""
    from kernels import html_images

    from g4f_magic.localspace.images import placeholder

    photos = tmp_path / "photos"
    photos.mkdir()
    for side in (64, 80, 96):
        (photos / f"{side}.png").write_bytes(placeholder("a photo", side, side, side, "PNG"))
    sources = [
        "%load_ext g4f_magic",
        "\n".join(settings(gradio, {"api_url": "janus_tls"})),
        f"%%g4f -m janus-pro-7b --image {photos} -o labels\nhow big is this picture?",
        "print([(e.source.rsplit('/', 1)[-1], e.result.text) for e in labels.items])",
    ]
    nb = run_notebook(sources, tmp_path / "questions.ipynb", timeout=150)
    printed = nb.cells[3].outputs[0].text
    import re

    for side in (64, 80, 96):  # each answer about its own image
        assert re.search(rf"\('{side}\.png', '[^']*how big is this picture\? I see a {side}x{side} image\.'\)", printed), printed
    html = " ".join(o.get("data", {}).get("text/html", "") for o in nb.cells[2].outputs)
    assert html.count("<tr>") == 3 and len(html_images(html)) == 3
    assert html.count("You asked: how big is this picture?") == 3


@pytest.mark.gradio("predict")
@pytest.mark.timeout(180)
def test_run_predict_in_a_real_kernel(gradio: dict[str, Server], own_server_env: None, tmp_path: Any) -> None:
    sources = [
        "%load_ext g4f_magic",
        "\n".join(settings(gradio, {"url_flux": "predict_tls"})),
        "%%g4f -m flux-schnell -W 256 -H 192 -o pic\na lighthouse",
        "print(pic.width, pic.height, pic.image.mime)",
    ]
    nb = run_notebook(sources, tmp_path / "real.ipynb", timeout=150)
    assert [mime for mime, _ in shown_images(nb.cells[2])] == ["image/png"]
    assert nb.cells[3].outputs[0].text == "256 192 image/png\n"


async def _panel_run(panel: Panel, prompt: str, model: str) -> None:
    panel.model.value = model
    panel.prompt.value = prompt
    panel.random_seed.value = False
    panel.seed.value = 1234
    panel.generate_button.click()
    await asyncio.gather(*list(panel.tasks), return_exceptions=True)


@pytest.mark.gradio("queue")
async def test_the_panel_against_real_gradio(gradio: dict[str, Server], own_server_env: None) -> None:
    panel = Panel(flux_dev_url=gradio["flux_dev_tls"].url, api_url=gradio["janus_tls"].url, image_dir="imgs")
    await _panel_run(panel, "a lighthouse", "flux")
    assert len(panel.results) == 1 and panel.results[0].seed == 1234
    assert bytes(panel.large.value) == panel.results[0].image.data and panel.large.format == "webp"  # as served
    await _panel_run(panel, "a red bicycle", "janus-pro-7b-image")
    assert len(panel.results) == 6
    await _panel_run(panel, "what is a lighthouse?", "janus-pro-7b")
    assert "Contract app answer" in panel.transcript.value and "what is a lighthouse?" in panel.transcript.value


@pytest.mark.gradio("predict")
async def test_the_panel_against_gradio_4_run_predict(gradio: dict[str, Server], own_server_env: None) -> None:
    panel = Panel(url_flux=gradio["predict_tls"].url + "/run/predict", image_dir="imgs")
    await _panel_run(panel, "a lighthouse", "flux-schnell")
    assert len(panel.results) == 1 and panel.results[0].image.mime == "image/png"
