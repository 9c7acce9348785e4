"""Notebook sources follow the chapter conventions (stored stripped, parameters cell, kernelspec, title)."""

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
PAGES = sorted((ROOT / "book" / "pages").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS + PAGES, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs: strip them"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["language_info"]["name"] == "python"
    first = next(c for c in notebook.cells if c.cell_type == "markdown")
    assert first.source.startswith("# "), f"{path.name} must start with its title"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    values = {t.id: ast.literal_eval(v) for node in ast.parse(tagged[0].source).body
              if isinstance(node, ast.Assign) for t in node.targets for v in [node.value]}
    assert values.get("profile") == "best" and values.get("run_missing") is False


def test_every_chapter_is_in_the_book():
    toc = (ROOT / "_toc.yml").read_text()
    for path in CHAPTERS + PAGES:
        assert f"book/_generated/{path.stem}" in toc, f"{path.stem} is missing from _toc.yml"


def _h2(cell) -> list[str]:
    return [line[3:].strip() for line in cell.source.splitlines() if line.startswith("## ")] \
        if cell.cell_type == "markdown" else []


SKELETON = ["Findings", "Where our setting differs", "Method", "Results", "Claims"]


def _section(notebook, title: str) -> str:
    """The markdown of the h2 section ``title`` (up to the next h2), code cells left out."""
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_skeleton(path):
    """Every chapter: opening, findings, where our setting differs, method, results, claims (in that order);
    the topic sections are h3s under Method (derive, count, explain) or Results (trained runs)."""
    notebook = nbformat.read(path, as_version=4)
    headings = [h for cell in notebook.cells for h in _h2(cell)]
    assert headings == SKELETON, f"{path.name}: h2s {headings}, expected {SKELETON}"
    method, results = _section(notebook, "Method"), _section(notebook, "Results")
    assert "\n### " in "\n" + method, f"{path.name}: Method has no topic sections (### ...)"
    assert "\n### " in "\n" + results or len(results.strip()) > 40, \
        f"{path.name}: Results has neither topic sections nor a sentence saying the chapter trains nothing"
    at = next(i for i, c in enumerate(notebook.cells) if "Findings" in _h2(c))
    box = notebook.cells[at + 1]
    assert box.cell_type == "code" and f'findings_box("{path.stem.split("_", 1)[1]}")' in box.source
    assert "remove-input" in box.metadata.get("tags", [])


def _glue_only(cell) -> bool:
    """A code cell that shows nothing: every statement is an assignment, an import or a glue(...) call."""
    if "plot" in cell.source or "fig" in cell.source:  # a figure shows itself
        return False
    body = ast.parse(cell.source).body

    def quiet(node):
        if isinstance(node, (ast.Assign, ast.Import, ast.ImportFrom)):
            return True
        return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", "") == "glue")
    return bool(body) and all(quiet(n) for n in body) and any(
        isinstance(n, ast.Expr) for n in body)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_plumbing_cells_are_hidden(path):
    """Glue-only cells show no source; the parameters cell is folded (its values stay one click away)."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags:
            assert "hide-input" in tags or "remove-input" in tags, f"{path.name}: fold the parameters cell"
        elif _glue_only(cell):
            assert "remove-input" in tags, f"{path.name}: glue-only cell {cell.id} should be tagged remove-input"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_chapter_code_cells_only_load_and_show(path):
    """No code cell filters a frame, computes or formats a number: the chapter's ``load`` does, once."""
    from notebook_cells import pandas_work

    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    found = {i: pandas_work(c.source) for i, c in enumerate(cells) if TECHNIQUE not in c.metadata.get("tags", [])}
    assert not any(found.values()), {i: f for i, f in found.items() if f}


TECHNIQUE = "technique"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_technique_cells_teach_with_torch_and_check_against_the_library(path):
    """A cell tagged ``technique`` writes the chapter's operation in a few visible lines, then checks it
    against the library; it may compute (that is its point) but never with pandas, and never glues."""
    from notebook_cells import FORBIDDEN_CALLS, FORBIDDEN_MODULES

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or TECHNIQUE not in cell.metadata.get("tags", []):
            continue
        tree = ast.parse(cell.source)
        modules = {(n.module or "") if isinstance(n, ast.ImportFrom) else a.name
                   for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                   for a in getattr(n, "names", [])}
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not {m.split(".")[0] for m in modules} & (FORBIDDEN_MODULES - {"numpy"}), cell.source
        assert not calls & FORBIDDEN_CALLS, cell.source
        assert len([line for line in cell.source.splitlines() if line.strip()]) <= 20, "a technique cell stays short"
        assert "assert" in cell.source or "assert_close" in cell.source, "a technique cell checks itself against the library"


def test_the_cell_rule_sees_pandas_work():
    from notebook_cells import pandas_work

    assert pandas_work('page = acnet.load(profile, run_missing=run_missing)\npage.glue()\npage.show("cifar10")') == []
    for code in ('table[table["verdict"] == "reproduced"]', 'glue("n", f"{x:.2f}")', "import pandas as pd",
                 "frame.groupby('model').mean()", "a / b"):
        assert pandas_work(code), code
