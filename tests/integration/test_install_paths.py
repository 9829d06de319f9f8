"""Issue #36, item 5: the README's JupyterLab path installs what it runs, by its own target, not as a side effect."""

from __future__ import annotations

import subprocess

import tomllib
from support.helpers import ROOT


def test_the_jupyterlab_path_installs_jupyterlab_and_the_local_space_needs_no_test_tools() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("jupyterlab") for d in extras["lab"])
    plan = subprocess.run(["make", "-n", "-B", "lab", "space"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "pip install -q -e '.[lab]'" in plan.stdout and "jupyter lab notebooks" in plan.stdout
    assert "'.[test]'" not in plan.stdout  # make space no longer installs the whole test extra
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "pip install -e '.[lab]'" in readme
