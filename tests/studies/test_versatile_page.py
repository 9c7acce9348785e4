"""Chapter 5 page: ``load`` gives every table, figure and number the notebook cites, and the notebook only
shows them (parameters, one import, one load, then show cells)."""

import ast
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nbformat
import pytest

from effconv.claims.live import ENV
from effconv.errors import EffconvError
from effconv.studies import versatile
from effconv.studies.page import Page
from effconv.studies.versatile import page as versatile_page
from notebook_cells import pandas_work

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "05_versatile.ipynb"
GLUE = re.compile(r"\{glue:text\}`([^`]+)`")
FIGURE = re.compile(r"```\{glue:figure\}\s+(\S+)")


def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def markdown(kind: re.Pattern) -> set[str]:
    return {key for cell in notebook().cells if cell.cell_type == "markdown" for key in kind.findall(cell.source)}


def shown() -> list[str]:
    """The table names the notebook's show cells ask for."""
    return [node.args[0].value for cell in notebook().cells if cell.cell_type == "code"
            for node in ast.walk(ast.parse(cell.source))
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "show"]


@pytest.fixture(scope="module")
def page():
    loaded = versatile.load("best", latency_repeats=3)  # fewer timing calls: the timings are not checked here
    yield loaded
    plt.close("all")


@pytest.mark.slow  # load() grades the ledger and counts the ImageNet networks
def test_every_number_is_text_and_every_cited_key_is_on_the_page(page):
    assert page.chapter == "versatile" and page.profile in ("cpu", "full")
    assert page.numbers and all(isinstance(v, str) and v for v in page.numbers.values())
    assert markdown(GLUE) <= set(page.numbers), f"cited but not on the page: {markdown(GLUE) - set(page.numbers)}"
    assert markdown(FIGURE) == set(page.figures) and all(fig is not None for fig in page.figures.values())
    assert shown() and set(shown()) <= set(page.tables)
    assert page.numbers["profile_used"] == page.profile


@pytest.mark.slow  # load() grades the ledger and counts the ImageNet networks
def test_the_page_quotes_the_ledger(page):
    table = page.claims.frame().set_index("claim")
    assert table.equals(versatile.ledger(page.profile).frame().set_index("claim"))
    assert page.numbers["v_v2_gflops"] == table.loc["Versatile-v2 ResNet-50 GFLOPs", "verdict"]
    assert page.numbers["n_claims"] == str(len(table))
    assert page.machine == page.numbers["lat_device"] and "1 thread" in page.machine


@pytest.mark.slow  # load() grades the ledger and counts the ImageNet networks
def test_keep_live_writes_nothing_outside_the_book(page, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    page.keep_live()  # run alone, a page leaves no live rows


@pytest.mark.slow  # load() grades the ledger and counts the ImageNet networks
def test_unknown_table_names_the_known_ones(page):
    with pytest.raises(EffconvError, match="tables: spatial"):
        page.show("cifar100")


def test_numbers_are_the_pages(monkeypatch):
    stub = Page("versatile", "cpu", numbers={"width": "0.25"})
    monkeypatch.setattr(versatile_page, "load", lambda profile="best": stub)
    assert versatile_page.numbers("cpu") == {"width": "0.25"}


def test_the_notebook_only_shows():
    cells = [c for c in notebook().cells if c.cell_type == "code"]
    assert {i: pandas_work(c.source) for i, c in enumerate(cells) if pandas_work(c.source)} == {}
    code = "\n".join(c.source for c in cells)
    assert code.count("versatile.load(") == 1 and code.count("page.glue()") == 1
    assert "from effconv.studies import versatile" in code and "page.keep_live()" in code
    assert 'page.show("claims")' in code  # the chapter ends with its ledger
