"""The %g4f line grammar without a shell: subcommands are exactly one word, and the cell
transformer leaves help and other magics alone."""

from __future__ import annotations

from g4f_magic.notebook.magic import async_cell, subcommand


def test_the_transformer_leaves_help_and_other_magics_alone() -> None:
    for text in ("%%g4f?\n", "%%g4f??\n", "%%g4fx\nbody\n", "%%g4f?\nbody\n", "%g4f models\n"):
        assert async_cell([text]) == [text], text
    [code] = async_cell(["%%g4f -s 1\na cat\n"])
    assert code.startswith("await get_ipython().find_cell_magic('g4f')")
    [code] = async_cell(["%g4f history of rome\n"])  # a prompt, not the history subcommand
    assert "run_async('history of rome', None)" in code


def test_a_subcommand_is_exactly_one_word() -> None:
    assert [subcommand(t) for t in ("models", " help ", "history of rome", "-- models", "panel now", "")] == [
        "models", "help", None, None, None, None]
