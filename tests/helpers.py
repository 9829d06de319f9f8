"""Shared test helpers."""

from __future__ import annotations

from typing import Any


async def collect(model: str, prompt: Any = "a lighthouse in a storm", **kwargs: Any) -> list[Any]:
    from g4f_magic import G4F

    return [ev async for ev in G4F.create_async_generator(model, prompt, **kwargs)]


def fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter (a clean ``sys.modules``); return its stdout, stripped."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
