"""G4F_MAGIC_ENDPOINT must be a URL."""

from __future__ import annotations

import pytest

import g4f_magic
from g4f_magic import G4F


def test_env_var_must_be_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", "localhost:7860")
    with pytest.raises(g4f_magic.InvalidOption, match="G4F_MAGIC_ENDPOINT must be an http"):
        G4F.endpoints()
