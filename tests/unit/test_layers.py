"""The layers one way down, and no cycle among the package's modules, counting every import: those inside
functions and under ``TYPE_CHECKING`` too (grimp reads them all)."""

from __future__ import annotations

import contextlib
import io
import os

import grimp
import pytest
from support.helpers import ROOT

LAYERS = ["g4f_magic.notebook", "g4f_magic.engine", "g4f_magic.spaces", "g4f_magic.gradio", "g4f_magic.http"]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("g4f_magic", cache_dir=None)


def test_import_linter_keeps_every_contract_with_no_exception_listed() -> None:
    from importlinter import configuration
    from importlinter.application.use_cases import lint_imports

    configuration.configure()  # what its command line does, without its logging setup (it mutes every logger)

    text = (ROOT / "pyproject.toml").read_text()
    assert "ignore_imports" not in text and "[[tool.importlinter.contracts]]" in text
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)  # import-linter reads pyproject.toml where it runs
    try:
        with contextlib.redirect_stdout(out):
            kept = lint_imports(cache_dir=None, no_logo=True)
    finally:
        os.chdir(cwd)
    assert kept, out.getvalue()
    assert "6 kept, 0 broken" in out.getvalue()


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan), over all the imports grimp saw."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_cycle_among_the_modules_counting_every_import(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


def test_the_cycle_finder_sees_a_lazy_import(graph: grimp.ImportGraph) -> None:
    """The check above would notice a function-level import that closes a loop."""
    graph.add_import(importer="g4f_magic.http.session", imported="g4f_magic.notebook.magic", line_number=1,
                     line_contents="    from ..notebook.magic import G4FMagics")
    assert any("g4f_magic.http.session" in group for group in _cycles(graph))
    graph.remove_import(importer="g4f_magic.http.session", imported="g4f_magic.notebook.magic")


def test_each_layer_imports_only_the_layers_below(graph: grimp.ImportGraph) -> None:
    for i, layer in enumerate(LAYERS):
        for above in LAYERS[:i]:
            assert not graph.chain_exists(importer=layer, imported=above, as_packages=True), (layer, above)


def test_nothing_in_the_package_imports_the_package_face(graph: grimp.ImportGraph) -> None:
    """``g4f_magic/__init__.py`` hands names on (lazily); a module importing it would close a loop."""
    assert graph.find_modules_that_directly_import("g4f_magic") == set()


def test_the_local_space_names_the_clients_variable_without_importing_it() -> None:
    from g4f_magic.localspace.__main__ import CLIENT_ENV_VAR
    from g4f_magic.spaces.endpoints import ENV_VAR

    assert CLIENT_ENV_VAR == ENV_VAR
