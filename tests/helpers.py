"""Shared test helpers."""

from __future__ import annotations

from typing import Any


async def collect(model: str, prompt: Any = "a lighthouse in a storm", **kwargs: Any) -> list[Any]:
    from g4f_magic import G4F

    return [ev async for ev in G4F.create_async_generator(model, prompt, **kwargs)]
