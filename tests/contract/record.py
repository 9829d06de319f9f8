"""Record real Gradio's queue streams for each scenario into ``recorded/gradio-X.Y/``.

``G4F_GRADIO_PYTHON=.venv-gradio5/bin/python .venv/bin/python tests/contract/record.py`` (default: this
interpreter's Gradio). ``tests/test_recorded.py`` checks the local Space against these files; when
Gradio changes, re-recording shows the difference in ``git diff``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
from scenarios import SCENARIOS, capture, normalised
from servers import Server, gradio_version, running

OUT = Path(__file__).parent / "recorded"


async def record(servers: dict[str, Server]) -> dict[str, list]:
    out = {}
    async with aiohttp.ClientSession() as http:
        for name, sc in SCENARIOS.items():
            out[name] = normalised(await capture(http, servers[sc.app].url, sc, sc.real_prompt))
    return out


def main() -> None:
    version = ".".join(map(str, gradio_version()))
    if gradio_version() < (5,):
        sys.exit(f"gradio {version}: the queue API under /gradio_api needs Gradio 5 or later")
    with running({app: Server(app) for app in {sc.app for sc in SCENARIOS.values()}}) as servers:
        streams = asyncio.run(record(servers))
    folder = OUT / f"gradio-{'.'.join(version.split('.')[:2])}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, messages in streams.items():
        (folder / f"{name}.json").write_text(json.dumps(messages, indent=1) + "\n")
    print(f"recorded {len(streams)} scenarios from gradio {version} into {folder}")


if __name__ == "__main__":
    main()
