"""Structural guards on the package layout (docs/architecture.md): imports point down,
no function-local import of a jaxpg module, short functions and modules, and the
name vocabularies in config agree with the registries that implement them."""

import ast
import os
import subprocess
import sys

from jaxpg import config, networks
from jaxpg.algos import ALGORITHMS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "jaxpg")
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 80, 500


def _modules() -> dict[str, ast.Module]:
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                with open(path) as fh:
                    out[name] = ast.parse(fh.read())
    return out


def _imported(node) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module == "jaxpg":
        # ``from jaxpg import envs`` imports the submodule; any other name is the public
        # API of jaxpg/__init__.py, which modules of the package must not import.
        return [f"jaxpg.{a.name}" for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return []


def _functions(tree):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _import_graph(modules) -> dict[str, set[str]]:
    def owner(name):  # the module a dotted import name lives in
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    return {
        m: {owner(t) for node in ast.walk(tree) for t in _imported(node) if t.startswith("jaxpg")} - {m, ""}
        for m, tree in modules.items()
    }


def test_no_function_local_import_of_a_jaxpg_module():
    local = [
        (m, f.name, node.lineno)
        for m, tree in _modules().items()
        for f in _functions(tree)
        for node in ast.walk(f)
        if any(t.startswith("jaxpg") for t in _imported(node))
    ]
    assert local == []


def test_no_import_cycles():
    graph = _import_graph(_modules())  # function-local imports count too
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            assert state.get(t) != 1, f"import cycle: {' -> '.join(path + [t])}"
            if t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_functions_and_modules_are_short():
    modules = _modules()
    long_functions = [
        (m, f.name, f.end_lineno - f.lineno + 1)
        for m, tree in modules.items()
        for f in _functions(tree)
        if f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long_functions == []
    long_modules = [(m, t.body[-1].end_lineno) for m, t in modules.items() if t.body and t.body[-1].end_lineno > MAX_MODULE_LINES]
    assert long_modules == []


def test_config_vocabularies_match_their_registries():
    assert set(config.ALGOS) == set(ALGORITHMS)
    assert set(config.ACTIVATIONS) == set(networks.ACTIVATION_FNS)


def test_jaxpg_train_does_not_load_rlhf():
    code = "import sys, jaxpg.cli.train; print(any(m.startswith('jaxpg.rlhf') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
