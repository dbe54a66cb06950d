"""The engine's layout: modules import one way, stay small and share no private names."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "autograd_lite"
MODULES = {path.stem: ast.parse(path.read_text()) for path in sorted(PACKAGE.glob("*.py"))}


def _imports(tree):
    """(node, engine module imported, names taken from it) for every import in `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("autograd_lite"):
                    yield node, alias.name.partition(".")[2] or "__init__", []
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograd_lite"):
            module = node.module.partition(".")[2]
            names = [a.name for a in node.names]
            if module:
                yield node, module, names
            else:  # from autograd_lite import nn, optim: the submodules themselves
                for name in names:
                    yield node, name if name in MODULES else "__init__", []


def _graph():
    return {name: {m for _, m, _ in _imports(tree)} for name, tree in MODULES.items()}


def test_no_import_cycle_between_engine_modules():
    graph = _graph()
    done, path = set(), []

    def visit(name):
        if name in path:
            cycle = path[path.index(name):] + [name]
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        if name in done:
            return
        path.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_tensor_does_not_import_the_public_functions():
    assert "ops" not in _graph()["tensor"]


def test_no_private_name_is_imported_across_modules():
    private = [f"{name}: {module}.{n}" for name, tree in MODULES.items()
               for _, module, names in _imports(tree) for n in names if n.startswith("_")]
    assert private == []


def test_imports_are_at_module_level():
    nested = []
    for name, tree in MODULES.items():
        top = {id(node) for node in tree.body}
        nested += [f"{name}:{node.lineno}" for node in ast.walk(tree)
                   if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top]
    assert nested == []


def test_no_engine_module_is_over_500_lines():
    long = {p.name: n for p in PACKAGE.glob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}


def test_every_vjp_rule_names_its_backend_bk():
    table = MODULES["table"]
    rules = [n for n in ast.walk(table) if isinstance(n, (ast.Lambda, ast.FunctionDef))
             and n.args.args and n.args.args[0].arg in ("B", "bk") and len(n.args.args) >= 3]
    assert rules and all(r.args.args[0].arg == "bk" for r in rules)
