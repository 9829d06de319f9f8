"""Offline demo: start the local Space, run every route, save the images. ``python -m g4f_magic.demo``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from . import G4F, ImageResponse, JsonConversation, Reasoning, fetch_image
from .endpoints import ENV_VAR
from .localspace import LocalSpace, serve
from .media import EXTENSIONS

RUNS = [
    ("flux", "a lighthouse in a storm, oil painting", {"aspect_ratio": "16:9", "seed": 42}),
    ("flux-schnell", "a red fox in the snow", {"aspect_ratio": "1:1", "seed": 12345}),
    ("janus-pro-7b-image", "a watercolor hummingbird", {"seed": 2024}),
    ("janus-pro-7b", "Describe a lighthouse in one sentence.", {}),
]


async def run(out: Path, endpoint: str | None) -> int:
    server = None
    if endpoint is None:
        server = serve(LocalSpace(step_delay=0.02))
        endpoint = await server.__anext__()
        print(f"local Space (a stand-in, not a model) on {endpoint}")
    out.mkdir(parents=True, exist_ok=True)
    try:
        for model, prompt, options in RUNS:
            print(f"\n== {model}: {prompt}")
            async for ev in G4F.create_async_generator(model, prompt, endpoint=endpoint, **options):
                if isinstance(ev, Reasoning):
                    print(f"   [{ev.kind}] {ev.status}")
                elif isinstance(ev, ImageResponse):
                    for i, url in enumerate(ev.urls):
                        data, mime = await fetch_image(url)
                        path = out / f"{model}-{ev.seed}-{i}.{EXTENSIONS[mime]}"
                        path.write_bytes(data)
                        size = f", {ev.width}x{ev.height}" if ev.width and ev.height else ""
                        print(f"   saved {path} ({len(data)} bytes, {mime}{size}, seed {ev.seed})")
                elif isinstance(ev, str) and not isinstance(ev, JsonConversation):
                    print(ev, end="", flush=True)
            print()
    finally:
        if server is not None:
            await server.aclose()
    print(f"\nimages in {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m g4f_magic.demo", description=__doc__)
    parser.add_argument("--out", default="build/demo", help="folder for the images")
    parser.add_argument("--endpoint", default=os.environ.get(ENV_VAR) or None,
                        help=f"gateway URL (default: ${ENV_VAR}, else a local Space started here)")
    args = parser.parse_args(argv)
    from .errors import G4FError

    try:
        return asyncio.run(run(Path(args.out), args.endpoint))
    except G4FError as exc:
        print(f"demo: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
