"""A real Gradio app with the Janus Space's function indexes (fn 2: chat, fn 3: text-to-image
gallery), so the clients can be measured on Gradio's own server. ``python -m benchmarks.gradio_app PORT``."""

from __future__ import annotations

import sys

import gradio as gr
from PIL import Image


def chat(image: object, question: str, seed: float, top_p: float, temperature: float) -> str:
    return f"stand-in answer to: {question}"


def janus_image(prompt: str, seed: float, guidance: float, temperature: float) -> list[Image.Image]:
    return [Image.new("RGB", (64, 64), (int(seed) % 256, 40 * i, 150)) for i in range(5)]


def build() -> gr.Blocks:
    with gr.Blocks() as demo:
        image, question = gr.Image(type="filepath"), gr.Textbox()
        seed, top_p, temperature = gr.Number(), gr.Number(), gr.Number()
        answer = gr.Textbox()
        for i in range(2):  # fn 0 and fn 1, so that the real Space's indexes line up
            gr.Button(f"noop {i}").click(lambda: None, None, None)
        gr.Button("chat").click(chat, [image, question, seed, top_p, temperature], answer)  # fn 2
        prompt, seed2, guidance, temperature2 = gr.Textbox(), gr.Number(), gr.Number(), gr.Number()
        gallery = gr.Gallery()
        gr.Button("image").click(janus_image, [prompt, seed2, guidance, temperature2], gallery)  # fn 3
    return demo


if __name__ == "__main__":
    build().queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
