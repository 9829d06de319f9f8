"""Prompts from g4f-style message lists."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence, Union

from ..errors import InvalidOption

__all__ = ["Messages", "normalize_messages", "chat_prompt", "image_prompt", "drop_controls"]

Messages = Union[str, Sequence[str], Sequence[Mapping[str, Any]]]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def drop_controls(text: str) -> str:
    """Drop control characters (terminal escapes, NUL) but keep newlines and tabs."""
    return _CONTROL.sub("", text)


def _content(value: Any) -> str:
    if isinstance(value, str):
        return drop_controls(value)
    if isinstance(value, list):  # OpenAI-style parts: keep the text ones
        return drop_controls("\n".join(
            p.get("text", "") for p in value if isinstance(p, Mapping) and p.get("type") == "text"
        ))
    if value is None:
        return ""
    raise InvalidOption(f"message content must be text; got {type(value).__name__}")


def normalize_messages(messages: Messages) -> list[dict[str, str]]:
    """A string, a list of strings (user turns) or role/content dicts → role/content dicts."""
    if isinstance(messages, str):
        return [{"role": "user", "content": drop_controls(messages)}]
    if not isinstance(messages, Sequence):
        raise InvalidOption("messages must be a string or a list of messages")
    out = []
    for m in messages:
        if isinstance(m, str):
            out.append({"role": "user", "content": drop_controls(m)})
        elif isinstance(m, Mapping) and "content" in m:
            out.append({"role": str(m.get("role") or "user"), "content": _content(m["content"])})
        else:
            raise InvalidOption("each message must be a string or a {'role', 'content'} dict")
    return out


def chat_prompt(messages: Messages) -> str:
    """One message as is; several as ``Role: content`` lines ending with ``Assistant:``."""
    msgs = normalize_messages(messages)
    if len(msgs) == 1:
        prompt = msgs[0]["content"]
    else:
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in msgs if m["content"].strip()]
        prompt = "\n".join(lines) + "\nAssistant:" if lines else ""
    if not prompt.strip():
        raise InvalidOption("the prompt is empty")
    return prompt


def image_prompt(messages: Messages, prompt: str | None = None) -> str:
    """``prompt`` if given, else the trailing run of user messages, stripped, one per line."""
    if prompt is None:
        run: list[str] = []
        for m in reversed(normalize_messages(messages)):
            if m["role"] != "user":
                break
            run.append(m["content"].strip())
        prompt = "\n".join(reversed([r for r in run if r]))
    if not isinstance(prompt, str) or not drop_controls(prompt).strip():
        raise InvalidOption("the prompt is empty")
    return drop_controls(prompt).strip()
