"""Tab on a ``%g4f`` / ``%%g4f`` line: the magic's own words only, each with its kind.

IPython's ``complete_command`` hook cannot hold back the other completers: after ``%%g4f -m `` Jedi's
Python keywords came first (``and`` selected, so Tab then Enter typed ``and``) and the models followed
typed ``<unknown>``. A matcher of IPython's Matcher API v2 (IPython ≥ 8.6) asks for the others to be
suppressed and gives each completion a type, which JupyterLab shows beside it ("model", "ratio",
"option", "subcommand"). The prompt after ``--`` and the cell's body are the user's text: only the word
as typed is offered there (a completion that changes nothing), Python names least of all.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["completions", "matcher", "SUBCOMMANDS"]

SUBCOMMANDS = ("models", "help", "config", "history", "login", "logout", "whoami", "quota", "panel", "cache",
               "cache clear")
_MODEL_OPTIONS = ("-m", "--model", "--fallback")
_RATIO_OPTIONS = ("-a", "--aspect-ratio")


def completions(magics: Any, text: str) -> list[tuple[str, str]]:
    """(word, kind) for what may come next on a ``%g4f`` / ``%%g4f`` line ending in ``text``, the options
    read from ``magics`` (the ``G4FMagics``, which imports this module); not yet filtered by what is typed."""
    from ..spaces.providers import G4F
    from ..spaces.sizes import COMMON_RATIOS

    words = text.split()
    line_magic = bool(words) and not words[0].startswith("%%")
    ended = text[-1:].isspace()
    before = words[1:] if ended else words[1:-1]
    current = "" if ended or len(words) < 2 else words[-1]
    previous = before[-1] if before else None
    if "--" in before:  # the rest is the prompt
        return []
    if previous in _MODEL_OPTIONS:
        return [(m, "model") for m in G4F.models]
    if previous in _RATIO_OPTIONS:
        return [(r, "ratio") for r in COMMON_RATIOS]
    options = [(o, "option") for a in magics.g4f.parser._actions for o in a.option_strings  # type: ignore[attr-defined]
               if o.startswith("--")]
    if current.startswith("-"):
        return options
    if line_magic and not before:
        return [*((s, "subcommand") for s in SUBCOMMANDS if " " not in s), *options]
    if line_magic and before == ["cache"]:
        return [("clear", "subcommand")]
    return []


def _magic_line(line: int, until_cursor: str) -> bool:
    """Whether the cursor is on a ``%g4f`` line past the magic's name (its name itself is IPython's to
    complete): a line magic on any line, the cell magic on the cell's first line only."""
    stripped = until_cursor.lstrip()
    if stripped.startswith("%%g4f"):
        return line == 0 and stripped[5:6].isspace()
    return stripped.startswith("%g4f") and stripped[4:5].isspace()


def _in_g4f_cell(full_text: str, line: int) -> bool:
    return line > 0 and full_text.lstrip().startswith("%%g4f") and full_text.lstrip()[5:6].isspace()


def matcher(magics: Any) -> Callable[[Any], dict[str, Any]]:
    """The IPython matcher for ``magics``: on a ``%g4f`` line its words, typed, and nothing else."""
    from IPython.core.completer import SimpleCompletion, context_matcher

    @context_matcher()  # type: ignore[misc]
    def g4f_matcher(context: Any) -> dict[str, Any]:
        until = context.text_until_cursor
        token = context.token  # IPython's own word may stop short of ours (at the ":" of "16:9")
        if _in_g4f_cell(context.full_text, context.cursor_line):  # the prompt: the user's words
            return _nothing_else(token)
        if not _magic_line(context.cursor_line, until):
            return {"completions": [], "suppress": False}
        current = "" if until[-1:].isspace() else until.split()[-1]
        cut = len(current) - len(token) if current.endswith(token) else 0
        found = [SimpleCompletion(word[cut:], type=kind)
                 for word, kind in completions(magics, until) if word.startswith(current)]
        if not found:  # a prompt's word, a seed: nothing to offer, and nobody else's words either
            return _nothing_else(token)
        return {"completions": found, "suppress": True, "ordered": True}

    def _nothing_else(token: str) -> dict[str, Any]:
        """IPython suppresses the other matchers only for a matcher that found something: the word as
        typed, a completion that changes nothing, holds back Jedi's Python names and the magics' names."""
        return {"completions": [SimpleCompletion(token, type="text")] if token else [], "suppress": True}

    return g4f_matcher  # type: ignore[no-any-return]
