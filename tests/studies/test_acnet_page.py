"""Chapter 3 page: ``load`` gives every number and figure the notebook's prose cites, as text, and the
notebook only loads and shows (no pandas work in a code cell)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest
from notebook_cells import pandas_work

from effconv.studies import acnet
from effconv.studies.page import Page

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "03_acnet.ipynb"


def _markdown() -> str:
    return "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "markdown")


@pytest.fixture(scope="module")
def page():
    """The smoke profile's page (the fewest stored runs; two latency rounds keep the live timing short)."""
    loaded = acnet.load("smoke", latency_rounds=2)
    yield loaded
    for fig in loaded.figures.values():
        if fig is not None:
            plt.close(fig)


@pytest.mark.slow
def test_the_page_has_every_cited_number_and_figure(page):
    assert isinstance(page, Page) and page.chapter == "acnet" and page.profile == "smoke"
    assert page.numbers and all(isinstance(text, str) for text in page.numbers.values())
    text = _markdown()
    quoted = set(re.findall(r"\{glue:text\}`([^`]+)`", text))
    figures = set(re.findall(r"```\{glue:figure\} (\S+)", text))
    assert quoted and quoted <= set(page.numbers), sorted(quoted - set(page.numbers))
    assert figures and figures <= set(page.figures), sorted(figures - set(page.figures))
    shown = set(re.findall(r'page\.show\("([^"]+)"\)', "\n".join(
        c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code")))
    assert shown == set(page.tables), sorted(shown ^ set(page.tables))
    # the claims table carries the live rows; the committed ledger never does
    kinds = set(page.claims.frame()["kind"])
    assert "live" in kinds and page.machine == page.numbers["lat_device"]
    assert page.numbers["n_claims"] == str(len(page.claims.frame()))


def test_the_notebook_only_loads_and_shows():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # a cell tagged technique writes the operation in torch on purpose (tests/test_notebooks.py checks it)
    work = [(i, pandas_work(c.source)) for i, c in enumerate(notebook.cells) if c.cell_type == "code"
            and "technique" not in c.metadata.get("tags", []) and pandas_work(c.source)]
    assert not work, work
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert code.count("acnet.load(") == 1 and code.count("page.glue()") == 1
    assert notebook.cells[0].source.startswith("# 3. ACNet")
    # rendering never writes tracked files: the ledger is written by `effconv claims acnet` only
    assert ".write(" not in code and "claims.csv" not in code


def test_the_package_hands_on_the_page():
    assert acnet.__all__ == ["CHAPTER", "experiments", "ledger", "live_claims", "load", "numbers"]
