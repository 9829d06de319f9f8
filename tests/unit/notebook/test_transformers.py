"""The cell transformers that make a %%g4f cell one awaited call."""

from __future__ import annotations


def test_cell_transformers() -> None:
    from g4f_magic.notebook.magic import async_cell, sync_cell

    [code] = async_cell(["%%g4f -m flux -s 42\n", "a 'quoted' \"prompt\"\n"])
    # the ";": the run's own output shows the result, so the cell does not show it again
    assert code == ("await get_ipython().find_cell_magic('g4f').__self__.run_async("
                    "'-m flux -s 42', 'a \\'quoted\\' \"prompt\"\\n');\n")
    assert sync_cell(["%g4f -m janus-pro-7b what is a lighthouse?"]) == [
        "get_ipython().find_cell_magic('g4f').__self__.g4f('-m janus-pro-7b what is a lighthouse?', None);\n"]
    assert async_cell(["%g4f models\n"]) == ["%g4f models\n"]  # subcommands stay synchronous
    assert async_cell(["x = %g4f a cat\n"]) == ["x = %g4f a cat\n"]  # inside code: the sync path
