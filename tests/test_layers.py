"""Imports go one way: a module may import its own layer or a lower one, never a higher one."""

import ast
from pathlib import Path

import effconv

# Lowest first. Modules are placed by their first dotted name under effconv, unless named exactly here.
LAYERS = [
    {"errors", "paths", "io", "checks", "provenance", "wording"},   # leaf helpers
    {"ops"},
    {"models"},
    {"data", "analysis", "deploy"},
    {"train"},
    {"experiments"},
    {"claims"},
    {"studies"},
    {"plan", "trained", "window", "book", "api_reference", "cli", "__init__"},  # the top: resolves the chapters' plans, builds, commands
]


def _rank(module: str) -> int:
    for name in (module, module.split(".")[0]):
        for rank, layer in enumerate(LAYERS):
            if name in layer:
                return rank
    raise AssertionError(f"effconv.{module} is in no layer; add it to LAYERS")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("effconv."):
            found.add(node.module.removeprefix("effconv."))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("effconv.") for a in node.names if a.name.startswith("effconv.")}
    return found


def test_no_backward_imports():
    root = Path(effconv.__file__).parent
    backward = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for target in _imports(path):
            if _rank(target) > _rank(module):
                backward.append(f"effconv.{module} imports effconv.{target}")
    assert not backward, "imports against the layers:\n" + "\n".join(backward)


def test_the_rule_sees_a_backward_import(tmp_path):
    assert _rank("ops.acb") < _rank("models.registry") < _rank("studies.acnet") < _rank("cli")
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from effconv.studies import CHAPTERS\n")
    assert "studies" in _imports(sample)  # imports inside functions count too


def _module_graph(root: Path) -> dict[str, set[str]]:
    """effconv module -> the effconv modules it imports (anywhere in the file), a submodule named in
    ``from package import submodule`` counted as that submodule."""
    def exists(name: str) -> bool:
        base = root.joinpath(*name.split("."))
        return base.with_suffix(".py").exists() or (base / "__init__.py").exists()

    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("effconv."):
                base = node.module.removeprefix("effconv.")
                subs = {f"{base}.{a.name}" for a in node.names if exists(f"{base}.{a.name}")}
                edges |= subs if len(subs) == len(node.names) else subs | {base}
            elif isinstance(node, ast.ImportFrom) and node.module == "effconv":
                edges |= {a.name for a in node.names if exists(a.name)}
            elif isinstance(node, ast.Import):
                edges |= {a.name.removeprefix("effconv.") for a in node.names if a.name.startswith("effconv.")}
        edges.discard(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    cycles = _cycles(_module_graph(Path(effconv.__file__).parent))
    assert not cycles, "modules that import each other in a circle:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_rule_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
