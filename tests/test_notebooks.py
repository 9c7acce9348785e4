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
