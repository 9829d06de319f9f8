"""The panel without a kernel: it needs a running loop, and its prompt box's front end is a file."""

from __future__ import annotations

import pytest

from g4f_magic.notebook.panel import Panel


def test_panel_needs_a_kernel_loop() -> None:
    from g4f_magic import InvalidOption

    with pytest.raises(InvalidOption, match="needs a running event loop"):
        Panel()


def test_the_prompt_box_front_end_is_a_file_with_a_cleanup() -> None:
    from pathlib import Path

    import g4f_magic
    from g4f_magic.notebook.panel import PromptBox

    box = PromptBox()
    esm = box.get_state()["_esm"]
    assert esm == (Path(g4f_magic.__file__).parent / "notebook" / "prompt_box.js").read_text()
    assert 'model.off("change:value", onValue)' in esm  # listeners go with the view, not the model
    box.close()
