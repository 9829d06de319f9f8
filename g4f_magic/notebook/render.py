"""Text → safe HTML: the one place the magic and the panel escape network and user text."""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any, Iterable

__all__ = ["escape", "markdown_html", "status_html", "line_html", "log_html", "error_html", "status_line", "COLOURS"]

# readable on JupyterLab's light and dark themes alike
COLOURS = {"running": "#777", "done": "#2a7", "error": "#d33", "cancelled": "#c80"}


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # html=False: raw HTML in an answer is shown as text; markdown-it also refuses javascript: links.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown_html(text: str) -> str:
    return _markdown().render(text)


def status_line(model: str, status: str, elapsed: float | None) -> str:
    tail = f" · {elapsed:.1f}s" if elapsed is not None else ""
    return f"{model} · {status}{tail}"


def status_html(model: str, status: str, elapsed: float | None, state: str = "running") -> str:
    return line_html(status_line(model, status, elapsed), state)


def line_html(line: str, state: str = "running") -> str:
    """A run's one status line; its colour says how the run ended."""
    colour = COLOURS.get(state, COLOURS["running"])
    return (f'<div class="g4f-status" data-state="{escape(state)}" style="font-family:monospace;color:{colour};'
            f'overflow-wrap:anywhere">{escape(line)}</div>')


def log_html(lines: Iterable[str], open_: bool = False) -> str:
    items = list(lines)
    if not items:
        return ""
    body = "\n".join(escape(line) for line in items)
    return (f'<details{" open" if open_ else ""}><summary>log ({len(items)})</summary>'
            f'<pre style="white-space:pre-wrap;margin:0">{body}</pre></details>')


def error_html(message: str) -> str:
    return f'<div class="g4f-error" style="color:{COLOURS["error"]};font-family:monospace">{escape(message)}</div>'
