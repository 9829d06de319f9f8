"""SPEC §1 identity in a fresh interpreter: the core imports nothing from IPython."""

from __future__ import annotations

import pytest
from support.helpers import fresh_python


def test_core_imports_no_ipython_and_package_import_is_lazy() -> None:
    code = (
        "import sys, g4f_magic\n"
        "assert 'aiohttp' not in sys.modules, 'import g4f_magic loaded aiohttp'\n"
        "from g4f_magic import G4F\n"
        "import g4f_magic.localspace\n"
        "bad = [m for m in ('IPython', 'ipywidgets', 'nest_asyncio') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    assert fresh_python(code) == "ok"


@pytest.mark.slow  # twenty fresh interpreters
def test_each_module_imports_alone_and_the_panel_does_not_import_the_magic() -> None:
    """No import cycle: every module of the package, first in a fresh interpreter (all at once)."""
    import pkgutil
    import subprocess
    import sys

    import g4f_magic

    names = [m.name for m in pkgutil.walk_packages(g4f_magic.__path__, "g4f_magic.") if not m.name.endswith("__main__")]
    code = "import importlib, sys; importlib.import_module(sys.argv[1]); print('g4f_magic.notebook.magic' in sys.modules)"
    procs = {n: subprocess.Popen([sys.executable, "-c", code, n], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for n in names}
    results = {n: p.communicate(timeout=120) + (p.returncode,) for n, p in procs.items()}
    failed = {n: err.strip().splitlines()[-1:] for n, (_, err, rc) in results.items() if rc != 0}
    assert failed == {} and len(names) > 15
    assert results["g4f_magic.notebook.panel"][0].strip() == "False"  # only the magic imports the panel
    assert results["g4f_magic.notebook.settings"][0].strip() == "False"
