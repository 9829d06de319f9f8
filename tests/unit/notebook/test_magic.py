"""The magic's own documentation: the options table in docs/notebook.md is generated from its parser."""

from __future__ import annotations

from helpers import ROOT


def test_the_options_table_is_generated_from_the_parser() -> None:
    from g4f_magic.notebook.magic import options_markdown

    page = (ROOT / "docs" / "notebook.md").read_text()
    block = page.split("<!-- options:", 1)[1].split("-->", 1)[1].split("<!-- /options -->", 1)[0]
    assert block.strip() == options_markdown()
