"""What the benchmarks run after ``benchmarks.run`` share: their command line, and one section of
benchmarks/RESULTS.md replaced in place (or appended), since ``benchmarks.run`` writes the file anew."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


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


def cli(module: str, doc: str | None, section: str, figures: Callable[..., list[str]],
        options: list[tuple[str, Any, str]], argv: list[str] | None = None) -> int:
    """``python -m benchmarks.MODULE [--NAME VALUE…] [--out FILE]``: run ``figures(**options)``, print the
    lines and put them in their section. ``options`` are (name, default, help); the type is the default's."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{module}", description=doc)
    for name, default, help_ in options:
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default, help=help_)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    lines = figures(**args)
    print("\n".join(lines))
    write_section(out, section, lines)
    return 0
