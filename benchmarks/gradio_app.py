"""Real Gradio apps with the Spaces' function indexes, so the clients can be measured on Gradio's own
server: the Janus Space (fn 2: chat, fn 3: text-to-image gallery), and with ``flux`` the FLUX.1-dev
Space (fn 2: ``infer``, a generator that yields a preview, then the image and its seed); with ``capacity N WORK``
the Janus app whose chat takes WORK seconds and runs N at once (``concurrency_limit``).
``python -m benchmarks.gradio_app PORT [flux | capacity N WORK]``."""

from __future__ import annotations

import sys
import time

import gradio as gr
from PIL import Image


def chat(image: object, question: str, seed: float, top_p: float, temperature: float) -> str:
    return f"stand-in answer to: {question}"


def janus_image(prompt: str, seed: float, guidance: float, temperature: float) -> list[Image.Image]:
    return [Image.new("RGB", (64, 64), (int(seed) % 256, 40 * i, 150)) for i in range(5)]


def build(capacity: int = 1, work: float = 0.0) -> gr.Blocks:
    def working(image: object, question: str, seed: float, top_p: float, temperature: float) -> str:
        time.sleep(work)  # in Gradio's worker thread, as a model's forward pass would be
        return chat(image, question, seed, top_p, temperature)

    with gr.Blocks() as demo:
        image, question = gr.Image(type="filepath"), gr.Textbox()
        seed, top_p, temperature = gr.Number(), gr.Number(), gr.Number()
        answer = gr.Textbox()
        for i in range(2):  # fn 0 and fn 1, so that the real Space's indexes line up
            gr.Button(f"noop {i}").click(lambda: None, None, None)
        gr.Button("chat").click(working if work else chat, [image, question, seed, top_p, temperature], answer,
                                concurrency_limit=capacity)  # fn 2
        prompt, seed2, guidance, temperature2 = gr.Textbox(), gr.Number(), gr.Number(), gr.Number()
        gallery = gr.Gallery()
        gr.Button("image").click(janus_image, [prompt, seed2, guidance, temperature2], gallery)  # fn 3
    return demo


def infer(prompt: str, seed: float, randomize: bool, width: float, height: float, guidance: float, steps: float,
          progress: gr.Progress = gr.Progress()) -> object:
    w, h, n = int(width), int(height), int(steps)
    for i in range(n):
        progress((i, n), desc="Sampling", unit="steps")
        if i == n // 2:
            yield Image.new("RGB", (max(32, w // 4), max(32, h // 4)), (90, 90, 90)), int(seed)
    yield Image.new("RGB", (w, h), (int(seed) % 256, 120, 200)), int(seed)


def build_flux() -> gr.Blocks:
    with gr.Blocks() as demo:
        box = gr.Textbox(visible=False)
        for i in range(2):  # fn 0 and fn 1, as gr.Examples registers them on the Space
            gr.Button(f"example {i}", visible=False).click(lambda x: x, box, box)
        prompt, seed, randomize = gr.Textbox(), gr.Number(), gr.Checkbox()
        width, height, guidance, steps = gr.Number(), gr.Number(), gr.Number(), gr.Number()
        result = gr.Image()
        gr.Button("Run").click(infer, [prompt, seed, randomize, width, height, guidance, steps], [result, seed],
                               api_name="infer")  # fn 2
    return demo


if __name__ == "__main__":
    if sys.argv[2:3] == ["capacity"]:
        app = build(int(sys.argv[3]), float(sys.argv[4]))
    else:
        app = build_flux() if sys.argv[2:] == ["flux"] else build()
    app.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
