"""A batch on Hugging Face Inference Providers (issue #34): a 100-item FLUX batch on the local Space's fal-ai
stand-in, each call taking LATENCY seconds at the provider, through huggingface_hub's own InferenceClient in
every column: our batch (``--provider fal-ai``), a naive loop of ``InferenceClient.text_to_image`` calls, and
a thread pool of them (what a user who knows to parallelise would write).

    python -m benchmarks.providers          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.pool import batch_seconds
from benchmarks.sections import cli
from g4f_magic.inference.client import REPOS, WORKERS, _point_at
from g4f_magic.localspace import LocalSpace, Pace, in_thread

SECTION = "## 18. A batch on Inference Providers, against huggingface_hub's client used directly"
TOKEN = "hf_benchmarkbenchmarkbenchmark"


def ours(url: str, items: int) -> float:
    return batch_seconds({"default_model": "flux", "endpoint": url, "provider": "fal-ai", "replay": False}, items)


def one(seed: int) -> None:
    from huggingface_hub import InferenceClient

    InferenceClient(provider="fal-ai", api_key=TOKEN).text_to_image(
        f"a harbour, {seed}", model=REPOS["flux"], seed=seed, width=1024, height=1024)


def naive(items: int) -> float:
    started = time.perf_counter()
    for i in range(items):
        one(i)
    return time.perf_counter() - started


def pooled(items: int, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(items)))
    return time.perf_counter() - started


def figures(items: int, latency: float, threads: int) -> list[str]:
    rows = ["| client | wall time | images/s | × the naive loop |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as store:
        os.environ["G4F_MAGIC_CACHE"] = store
        os.environ["HF_TOKEN"] = TOKEN
        os.environ.pop("G4F_MAGIC_ENDPOINT", None)
        space = LocalSpace(pace=Pace.fast(0.001))
        space.providers.latency = latency
        with in_thread(space) as url:
            _point_at(url)  # huggingface_hub at the stand-in for the direct columns too, as our client points it
            times = {"naive `text_to_image` loop": naive(items),
                     f"thread pool of {threads} `text_to_image` calls": pooled(items, threads),
                     f"g4f_magic batch, `--provider fal-ai` ({WORKERS} in flight)": ours(url, items)}
    base = times["naive `text_to_image` loop"]
    for name, wall in times.items():
        rows.append(f"| {name} | {wall:.1f} s | {items / wall:.1f} | **{base / wall:.1f}×** |")
    return [f"{items} FLUX images on the local Space's fal-ai stand-in, {latency:g} s at the provider per call, through "
            "huggingface_hub's InferenceClient in every row (our rows add the batch: progress, manifest, files).",
            "", *rows]


def main(argv: list[str] | None = None) -> int:
    return cli("providers", __doc__, SECTION, figures, [("items", 100, "images in the batch"),
               ("latency", 0.5, "seconds each provider call takes"),
               ("threads", 16, "threads in the hand-written pool")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
