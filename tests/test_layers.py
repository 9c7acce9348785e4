"""Imports go one way: a module may import its own layer or a lower one, never a higher one."""

import ast
from pathlib import Path

import effconv

# Lowest first. Modules are placed by their first dotted name under effconv, unless named exactly here.
LAYERS = [
    {"errors", "paths", "io", "checks", "provenance"},   # leaf helpers
    {"ops"},
    {"models"},
    {"data", "analysis"},
    {"train"},
    {"experiments"},
    {"claims"},
    {"studies"},
    {"plan", "window", "book", "cli", "__init__"},  # the top: resolves the chapters' plans, builds, commands
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
