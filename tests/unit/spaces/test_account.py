"""Where an account's Hugging Face token is found: the environment first, then what hf auth login stored."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from leakscan import TOKEN, secret

from g4f_magic.spaces.identity import HFToken, find_hf_token


def test_hf_token_from_the_environment_first(monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_hf_token() is None  # conftest: no token of the machine's
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", secret("old"))
    assert find_hf_token() == HFToken(secret("old"), "$HUGGING_FACE_HUB_TOKEN")
    monkeypatch.setenv("HF_TOKEN", f"  {TOKEN}\n")
    found = find_hf_token()
    assert found == HFToken(TOKEN, "$HF_TOKEN") and TOKEN not in repr(found)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")  # the HF tools' own off switch
    assert find_hf_token() is None


def test_the_token_hf_auth_login_stored(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    stored = tmp_path / "token"
    stored.write_text(TOKEN + "\n")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(stored))  # read at its import
    found = find_hf_token()
    assert found is not None and found.value == TOKEN and found.source.startswith("huggingface_hub")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not installed: the file, as it would read it
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    found = find_hf_token()
    assert found is not None and found.value == TOKEN and str(stored) in found.source
    other = tmp_path / "elsewhere"
    other.write_text(secret("path"))
    monkeypatch.setenv("HF_TOKEN_PATH", str(other))
    assert find_hf_token().value == secret("path")  # type: ignore[union-attr]
    other.write_text("  \n")
    assert find_hf_token() is None
