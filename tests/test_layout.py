"""The layout's rules, read from the source (README "Layout"): imports point down the folder list,
no cycles, nothing imports train/, the library never imports torch or bridge/, bridge/ imports only
JAX-free modules of mjx_gr00t, and modules and signatures stay small."""

import ast
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("mjx_gr00t", "bridge", "train", "benchmarks", "envs_xml")
MAX_LINES = 420          # "about 400"
MAX_PARAMETERS = 8
JAX_FAMILY = ("jax", "jaxlib", "brax", "flax", "optax", "orbax", "mujoco")


def _modules() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    found[module.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(path: str, module: str, top_level_only: bool = False) -> set[str]:
    """Modules `module` imports (any depth of the file, or only at its top level)."""
    tree = ast.parse(open(path).read())
    nodes = tree.body if top_level_only else ast.walk(tree)
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _project(names: set[str]) -> set[str]:
    return {n for n in names if n in MODULES}


GRAPH = {m: _project(_imports(p, m)) - {m} for m, p in MODULES.items()}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if m.startswith(n + "."):      # a package's __init__ runs before its modules: not a cycle
                continue
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(GRAPH):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycles():
    cycle = _cycle()
    assert cycle is None, " -> ".join(cycle)


def test_nothing_imports_train():
    offenders = sorted(f"{m} imports {n}" for m, deps in GRAPH.items() for n in deps if n.split(".")[0] == "train")
    assert not offenders, offenders


def test_library_never_imports_torch_or_bridge():
    offenders = sorted(f"{m}: {n}" for m, p in MODULES.items() if m.startswith("mjx_gr00t")
                       for n in _imports(p, m) if n.split(".")[0] in ("torch", "bridge", "train"))
    assert not offenders, offenders


def _jax_closure(module: str, seen: set[str] | None = None) -> set[str]:
    """Third-party JAX-family modules `module` loads at import time, through the project's modules."""
    seen = set() if seen is None else seen
    if module in seen:
        return set()
    seen.add(module)
    names = _imports(MODULES[module], module, top_level_only=True)
    heavy = {n.split(".")[0] for n in names if n.split(".")[0] in JAX_FAMILY}
    parent = module.rsplit(".", 1)[0] if "." in module else None
    for n in _project(names) | ({parent} if parent in MODULES else set()):
        heavy |= _jax_closure(n, seen)
    return heavy


def test_bridge_imports_only_jax_free_library_modules():
    offenders = []
    for m, p in MODULES.items():
        if m.startswith("bridge"):
            for n in _project(_imports(p, m, top_level_only=True)):
                if n.startswith("mjx_gr00t.") and (heavy := _jax_closure(n)):
                    offenders.append(f"{m} imports {n}, which loads {sorted(heavy)}")
    assert not offenders, offenders


def test_modules_are_small():
    long = sorted(f"{m}: {sum(1 for _ in open(p))} lines" for m, p in MODULES.items()
                  if sum(1 for _ in open(p)) > MAX_LINES)
    assert not long, long


def test_public_functions_take_at_most_eight_parameters():
    wide = []
    for m, p in MODULES.items():
        for node in ast.walk(ast.parse(open(p).read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                a = node.args
                names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
                if len(names) > MAX_PARAMETERS:
                    wide.append(f"{m}.{node.name}: {len(names)}")
    assert not wide, wide


def test_no_reexport_layers():
    """`noqa: F401` only marks `import mjx_gr00t` (it sets the CPU XLA flags before JAX loads)."""
    offenders = []
    for m, p in MODULES.items():
        for i, line in enumerate(open(p), 1):
            if "F401" in line and line.strip() != "import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)" \
                    and not line.strip().startswith("import mjx_gr00t  # noqa: F401"):
                offenders.append(f"{m}:{i}: {line.strip()}")
    assert not offenders, offenders
