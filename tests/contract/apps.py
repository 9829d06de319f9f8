"""Real Gradio apps shaped like the Spaces the provider calls (run with any Gradio 4.44 – 6.x).

``python apps.py SPACE PORT [--root-path URL] [--show-error] [--auth USER:PASS] [--queue-max N]``

Each app reproduces its Space's function indexes, arities and output types, as the Spaces' public
sources define them: ``janus`` (fn 2 ``multimodal_understanding``, a generator here so chat streams;
fn 3 ``generate_image``, a 5-image gallery), ``flux_dev`` (fn 2 ``infer``, a generator yielding a
preview then the final image with the seed, with ``gr.Progress``) and ``predict`` (the legacy
``/run/predict`` Space, fn 3). ``moved`` is the Janus Space with two more functions registered first,
so its indexes have moved (``predict_moved`` likewise); ``changed`` is FLUX.1-dev whose ``infer`` takes
one more input. Prompts steer the error paths: ``gr.Error``, ``plain exception``,
``warn``, ``info``, ``slow``, ``quota``, ``big``, and ``zerogpu:<scenario>``: the function asks for a GPU
through the ``spaces`` package's own ``schedule()`` against the device API stand-in of
``zerogpu_device.py`` (``zerogpu:<scenario>/N@app``: N times, then a GPU is
granted; only in that app), so ZeroGPU's refusals and toasts are worded and raised by its own code. This file
imports only Gradio, Pillow and ``spaces``: it runs in the venv of the Gradio version under test, never in
the project's.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import tempfile
import time
from typing import Any, Iterator

import gradio as gr
from PIL import Image, ImageDraw

QUOTA = ("You have exceeded your GPU quota (60s requested vs. 41s left). "
         "<a style='color:red' href='https://billing.example.invalid/settings/billing'>Subscribe to Pro</a>")


def picture(seed: int, width: int, height: int, label: str) -> Image.Image:
    """A deterministic picture with enough texture that WebP/PNG encode to realistic sizes."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    tint = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    img = Image.blend(Image.blend(base, tint, 0.5), noise, 0.3)
    ImageDraw.Draw(img).text((8, 8), f"contract app: {label} seed {seed}", fill=(255, 255, 255))
    stamp(img, seed)
    return img


def stamp(img: Image.Image, seed: int) -> None:
    """The seed in 32 black or white 8-px squares along the bottom edge (``fronts.seed_in`` reads it back):
    each run's image says which run it belongs to, through lossy WebP and any proxy."""
    if img.width < 128 or img.height < 32:
        return
    draw = ImageDraw.Draw(img)
    for bit in range(32):
        x, y = (bit % 16) * 8, img.height - 16 + (bit // 16) * 8
        draw.rectangle((x, y, x + 7, y + 7), fill=(255, 255, 255) if seed >> bit & 1 else (0, 0, 0))


def big(width: int = 2048, height: int = 1792) -> str:
    """Random pixels do not compress: about 11 MB as PNG, returned as a file so Gradio serves it as is."""
    path = os.path.join(tempfile.gettempdir(), f"contract-big-{os.getpid()}.png")
    if not os.path.exists(path):
        img = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
        img.save(path, "PNG", compress_level=1)
    return path


_device: list[Any] = []
_asked: dict[str, int] = {}
_app = [""]  # the app this server runs (main sets it)


class _Headers(dict):  # spaces reads request.headers through .get and insists on a __dict__
    pass


class _Request:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = _Headers(headers)


def zerogpu(prompt: str, request: gr.Request | None) -> None:
    """``zerogpu:<scenario>``: schedule a GPU as a ZeroGPU Space does, with the device API answering as the
    scenario says. The edge's X-IP-Token (minted from the caller's identity) is stood in for here."""
    m = re.search(r"zerogpu:([a-z-]+)(?:/(\d+))?(?:@(\w+))?", prompt)
    if m is None or m.group(3) not in (None, _app[0]):  # "@flux_dev": only that app refuses
        return
    from spaces.config import Config
    from spaces.zero import client
    from zerogpu_device import SCENARIOS, Device, ip_token

    if not _device:
        _device.append(Device())
        Config.zero_device_api_url = _device[0].url
    scenario = m.group(1)
    if m.group(2) is not None:  # "quota-pro/1": refused that many times for this prompt, then granted
        seen = _asked[prompt] = _asked.get(prompt, 0) + 1
        scenario = scenario if seen <= int(m.group(2)) else "granted"
    _device[0].scenario = scenario
    headers = {k.lower(): v for k, v in (dict(request.headers) if request is not None else {}).items()}
    headers.pop("x-ip-token", None)
    if SCENARIOS[scenario][3]:
        headers["x-ip-token"] = ip_token("Invalid credentials in Authorization header"
                                         if scenario == "ip-fallback" else None)
    client.schedule(task_id=0, request=_Request(headers))  # type: ignore[arg-type]
    if scenario == "queued":
        client.duration_warning()


def steer(prompt: str, request: gr.Request | None = None) -> None:
    """The error paths the prompts name."""
    if "zerogpu:" in prompt:
        zerogpu(prompt, request)
        return
    if "gr.Error" in prompt:
        raise gr.Error("CUDA out of memory <b>on the contract app</b>")
    if "quota" in prompt:
        raise gr.Error(QUOTA)
    if "plain exception" in prompt:
        raise RuntimeError("the model crashed with a plain exception")
    if "warn" in prompt:
        gr.Warning("the contract app warns <i>you</i>")
    if "info" in prompt:
        gr.Info("the contract app says hello")
    if "slow" in prompt:
        time.sleep(1.5)


def multimodal_understanding(image: Any, question: str, seed: float, top_p: float,
                             temperature: float, request: gr.Request) -> Iterator[str]:
    steer(question, request)
    answer = f"Contract app answer (seed {int(seed)}). You asked: {question.rsplit('User:', 1)[-1].strip()}"
    if image is not None:
        answer += f" I see a {image.width}x{image.height} image."
    text = ""
    for word in answer.split(" "):
        text = f"{text} {word}" if text else word
        yield text


def generate_image(prompt: str, seed: float, guidance: float, t2i_temperature: float,
                   request: gr.Request) -> list[Image.Image]:
    steer(prompt, request)
    return [picture(int(seed) + i, 384, 384, f"janus #{i + 1}") for i in range(5)]


def infer(prompt: str, seed: float, randomize_seed: bool, width: float, height: float, guidance_scale: float,
          num_inference_steps: float, request: gr.Request = None,  # type: ignore[assignment]
          progress: gr.Progress = gr.Progress(track_tqdm=False)) -> Iterator[Any]:
    steer(prompt, request)
    seed = random.randint(0, 2147483647) if randomize_seed else int(seed)
    w, h = int(width), int(height)
    steps = int(num_inference_steps)
    for i in range(steps):
        progress((i, steps), desc="Sampling", unit="steps")
        if i == steps // 2:
            yield picture(seed, max(32, w // 4), max(32, h // 4), "preview"), seed
    yield (big() if "big" in prompt else picture(seed, w, h, "flux-dev")), seed


def predict(prompt: str, seed: float, width: float, height: float, randomize_seed: bool,
            num_inference_steps: float, request: gr.Request) -> tuple[Image.Image, int]:
    steer(prompt, request)
    seed = random.randint(0, 2**32 - 1) if randomize_seed else int(seed)
    return (big() if "big" in prompt else picture(seed, int(width), int(height), "flux-schnell")), seed


def _examples_events() -> None:
    """Two listeners registered first, as ``gr.Examples`` does on the Spaces: fn 0 and fn 1."""
    box = gr.Textbox(visible=False)
    gr.Button("example 1", visible=False).click(lambda x: x, box, box)
    gr.Button("example 2", visible=False).click(lambda x: x, box, box)


def janus(moved: bool = False) -> gr.Blocks:
    with gr.Blocks(title="Janus-Pro-7B (contract app)") as demo:
        if moved:  # a Space whose author added functions above the ones clients call
            _examples_events()
        _examples_events()
        image_input = gr.Image(type="pil")
        question_input = gr.Textbox(label="Question")
        und_seed_input = gr.Number(label="Seed", precision=0, value=42)
        top_p = gr.Slider(minimum=0, maximum=1, value=0.95, step=0.05, label="top_p")
        temperature = gr.Slider(minimum=0, maximum=1, value=0.1, step=0.05, label="temperature")
        understanding_button = gr.Button("Chat")
        understanding_output = gr.Textbox(label="Response")
        cfg_weight_input = gr.Slider(minimum=1, maximum=10, value=5, step=0.5, label="CFG Weight")
        t2i_temperature = gr.Slider(minimum=0, maximum=1, value=1.0, step=0.05, label="temperature")
        prompt_input = gr.Textbox(label="Prompt")
        seed_input = gr.Number(label="Seed (Optional)", precision=0, value=1234)
        generation_button = gr.Button("Generate Images")
        image_output = gr.Gallery(label="Generated Images", columns=2, rows=2, height=300)
        understanding_button.click(multimodal_understanding,
                                   inputs=[image_input, question_input, und_seed_input, top_p, temperature],
                                   outputs=understanding_output)
        generation_button.click(fn=generate_image, inputs=[prompt_input, seed_input, cfg_weight_input,
                                                           t2i_temperature], outputs=image_output)
    return demo


def infer_v2(prompt: str, seed: float, randomize_seed: bool, width: float, height: float, guidance_scale: float,
             num_inference_steps: float, scheduler: str) -> Iterator[Any]:
    yield from infer(prompt, seed, randomize_seed, width, height, guidance_scale, num_inference_steps)


def flux_dev(changed: bool = False) -> gr.Blocks:
    with gr.Blocks(title="FLUX.1 [dev] (contract app)") as demo:
        _examples_events()
        prompt = gr.Text(label="Prompt", max_lines=1)
        run_button = gr.Button("Run", scale=0)
        result = gr.Image(label="Result", show_label=False)
        seed = gr.Slider(label="Seed", minimum=0, maximum=2147483647, step=1, value=0)
        randomize_seed = gr.Checkbox(label="Randomize seed", value=True)
        width = gr.Slider(label="Width", minimum=256, maximum=2048, step=8, value=1024)
        height = gr.Slider(label="Height", minimum=256, maximum=2048, step=8, value=1024)
        guidance_scale = gr.Slider(label="Guidance Scale", minimum=1, maximum=15, step=0.1, value=3.5)
        num_inference_steps = gr.Slider(label="Number of inference steps", minimum=1, maximum=50, step=1, value=28)
        inputs = [prompt, seed, randomize_seed, width, height, guidance_scale, num_inference_steps]
        if changed:  # the Space's author added an input: same index, another arity
            inputs.append(gr.Dropdown(["euler", "dpm"], value="euler", label="Scheduler"))
        gr.on(triggers=[run_button.click, prompt.submit], fn=infer_v2 if changed else infer, inputs=inputs,
              outputs=[result, seed], api_name="infer")
    return demo


def predict_space(moved: bool = False) -> gr.Blocks:
    with gr.Blocks(title="FLUX.1 [schnell] (contract app)") as demo:
        if moved:
            _examples_events()
        _examples_events()
        gr.Button("noop").click(lambda: None, None, None)
        prompt = gr.Text(label="Prompt")
        seed = gr.Number(label="Seed", value=0)
        width, height = gr.Number(label="Width", value=1024), gr.Number(label="Height", value=1024)
        randomize = gr.Checkbox(label="Randomize seed", value=True)
        steps = gr.Number(label="Steps", value=1)
        result = gr.Image(label="Result", format="png")
        gr.Button("Run").click(predict, [prompt, seed, width, height, randomize, steps], [result, seed],
                               api_name="infer")
    return demo


def schnell(prompt: str, seed: float, randomize_seed: bool, width: float, height: float,
            num_inference_steps: float, request: gr.Request) -> tuple[Image.Image, int]:
    steer(prompt, request)
    seed = random.randint(0, 2**31 - 1) if randomize_seed else int(seed)
    return picture(seed, int(width), int(height), "official flux-schnell"), seed


def schnell_official() -> gr.Blocks:
    """The official FLUX.1-schnell Space on the queue API: ``infer`` (6 inputs, api_name "infer") after the
    examples' listeners, so its index is not the legacy Space's."""
    with gr.Blocks(title="FLUX.1 [schnell] official (contract app)") as demo:
        _examples_events()
        prompt = gr.Text(label="Prompt", max_lines=1)
        run_button = gr.Button("Run", scale=0)
        result = gr.Image(label="Result", show_label=False)
        seed = gr.Slider(label="Seed", minimum=0, maximum=2**31 - 1, step=1, value=0)
        randomize_seed = gr.Checkbox(label="Randomize seed", value=True)
        width = gr.Slider(label="Width", minimum=256, maximum=2048, step=32, value=1024)
        height = gr.Slider(label="Height", minimum=256, maximum=2048, step=32, value=1024)
        num_inference_steps = gr.Slider(label="Number of inference steps", minimum=1, maximum=50, step=1, value=4)
        gr.on(triggers=[run_button.click, prompt.submit], fn=schnell,
              inputs=[prompt, seed, randomize_seed, width, height, num_inference_steps], outputs=[result, seed],
              api_name="infer")
    return demo


APPS = {"janus": janus, "schnell_official": schnell_official, "moved": lambda: janus(moved=True), "flux_dev": flux_dev, "predict": predict_space,
        "predict_moved": lambda: predict_space(moved=True), "changed": lambda: flux_dev(changed=True)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("space", choices=sorted(APPS))
    parser.add_argument("port", type=int)
    parser.add_argument("--root-path", default="")
    parser.add_argument("--show-error", action="store_true")
    parser.add_argument("--auth", default=None)
    parser.add_argument("--queue-max", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=1, help="events of a function run at once")
    args = parser.parse_args()
    _app[0] = args.space
    demo = APPS[args.space]()
    demo.queue(max_size=args.queue_max, default_concurrency_limit=args.concurrency)
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    print(f"gradio {gr.__version__} {args.space} on {args.port}", flush=True)
    demo.launch(server_name="127.0.0.1", server_port=args.port, root_path=args.root_path,
                show_error=args.show_error, auth=auth, quiet=True)


if __name__ == "__main__":
    main()
