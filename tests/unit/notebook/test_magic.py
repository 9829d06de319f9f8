"""The magic's own documentation: the options table in docs/notebook.md is generated from its parser."""

from __future__ import annotations

from support.helpers import ROOT


def test_the_options_table_is_generated_from_the_parser() -> None:
    from g4f_magic.notebook.magic import options_markdown

    page = (ROOT / "docs" / "notebook.md").read_text()
    block = page.split("<!-- options:", 1)[1].split("-->", 1)[1].split("<!-- /options -->", 1)[0]
    assert block.strip() == options_markdown()


def test_every_subcommand_has_its_own_handler() -> None:
    """``%g4f NAME`` dispatches to ``handle_NAME`` (one short method each, as jupyter-ai's ``handle_*``): a
    subcommand that completion offers and nothing handles is caught here, not by a user."""
    from g4f_magic.notebook.completion import SUBCOMMANDS
    from g4f_magic.notebook.magic import G4FMagics, subcommand

    for name in SUBCOMMANDS:
        assert subcommand(name) == name
        assert callable(getattr(G4FMagics, "handle_" + name.replace(" ", "_"))), name
    assert sorted(n[len("handle_"):].replace("_", " ") for n in dir(G4FMagics) if n.startswith("handle_")) == sorted(
        SUBCOMMANDS)
