"""The house rules, measured from the source: small modules, imports one way, no cycles, imports
at the top outside the CLI layer, and cell names listed only by the registry."""

import ast
import pathlib

import pytest

from rnn.cells import cell_names

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = sorted([*(ROOT / "rnn").rglob("*.py"), *(ROOT / "autograd_lite").rglob("*.py")])
TREES = {path: ast.parse(path.read_text(encoding="utf-8")) for path in FILES}
# The CLI layer: it imports the library lazily so that `rnn-lab --help` stays fast.
CLI = {ROOT / "rnn/cli.py", ROOT / "rnn/__main__.py", *(ROOT / "rnn/commands").glob("*.py")}
# Function-level imports outside the CLI layer, each with its reason.
LAZY_ALLOWED = {
    "torch": "an optional dependency, imported only where it is used",
    "rnn.torch_engine.cells": "needs torch (optional): interop imports it where torch is used",
    "rnn.cells": "argtypes' lazy --cell choices, so that building the parser imports nothing",
    "rnn.symbolic.report": "Derivation's display hooks: report imports derive",
    "rnn.kernels.jit": "imports numba (optional, slow to import): only when the numba path runs",
}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in FILES}


def imports(tree, top_level_only: bool):
    """(node, imported module) for each import of a project module in `tree`."""
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{node.module}.{alias.name}"
                yield node, sub if sub in MODULES else node.module


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in FILES
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}


def test_no_import_cycle_between_modules():
    graph = {name: {m for _, m in imports(TREES[path], True) if m in MODULES and m != name}
             for name, path in MODULES.items()}
    done, path = set(), []

    def visit(name):
        if name in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(name):] + [name]))
        if name not in done:
            path.append(name)
            for dep in sorted(graph[name]):
                visit(dep)
            path.pop()
            done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_library_never_imports_the_cli():
    bad = [f"{p.relative_to(ROOT)}:{node.lineno} {m}" for p, tree in TREES.items()
           if p not in CLI for node, m in imports(tree, False)
           if m == "rnn.cli" or m.startswith("rnn.commands")]
    assert bad == []


def test_imports_are_at_the_top_outside_the_cli_layer():
    found = []
    for path, tree in TREES.items():
        if path in CLI:
            continue
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        mod = node.module if isinstance(node, ast.ImportFrom) else \
                            node.names[0].name
                        if mod not in LAZY_ALLOWED:
                            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {mod}")
    assert found == []


def test_cell_names_are_listed_only_by_the_registry():
    # a tuple, list or set literal naming three or more registered cells is a hand-kept list
    names = set(cell_names())
    lists = []
    for path, tree in TREES.items():
        if (ROOT / "rnn/cells") in path.parents:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                strings = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if len(strings & names) >= 3:
                    lists.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert lists == []
