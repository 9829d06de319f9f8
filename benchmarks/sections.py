"""One section of benchmarks/RESULTS.md, replaced in place (or appended): the benchmarks that run after
``benchmarks.run`` (which writes the file anew) add their own sections this way."""

from __future__ import annotations

from pathlib import Path


def write_section(out: Path, section: str, lines: list[str]) -> None:
    text = out.read_text() if out.exists() else ""
    body = f"{section}\n" + "\n".join(lines) + "\n"
    if section in text:
        head, rest = text.split(section, 1)
        tail = rest.split("\n## ", 1)
        text = head + body + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + body
    out.write_text(text)
