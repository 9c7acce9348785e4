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
    cells = [c for c in notebook().cells if c.cell_type == "code" and "technique" not in c.metadata.get("tags", [])]
    assert {i: pandas_work(c.source) for i, c in enumerate(cells) if pandas_work(c.source)} == {}
    code = "\n".join(c.source for c in cells)
    assert code.count("versatile.load(") == 1 and code.count("page.glue()") == 1
    assert "from effconv.studies import versatile" in code and "page.keep_live()" in code
    assert 'page.show("claims")' in code  # the chapter ends with its ledger


def test_method_opens_with_the_operation_in_visible_torch_checked_against_the_library():
    cells = notebook().cells
    method = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and "\n## Method" in "\n" + c.source)
    first_code = next(c for c in cells[method:] if c.cell_type == "code")
    assert first_code.metadata.get("tags") == ["technique"]  # not hidden: the reader sees it
    assert "VersatileConv2d" in first_code.source and first_code.source.count("assert_close") == 2
    namespace: dict = {}
    exec(compile(first_code.source, "technique", "exec"), namespace)  # runs, and its checks pass
    assert tuple(namespace["weight"].shape) == (64, 3, 7, 7)


def test_cited_sections_and_figures_exist():
    text = "\n".join(c.source for c in notebook().cells if c.cell_type == "markdown")
    for label in re.findall(r"\{ref\}`([^`<]+)`", text):
        assert f"({label})=" in text, label
    figures = set(FIGURE.findall(text))
    assert set(re.findall(r"\{numref\}`([^`]+)`", text)) <= figures
    assert "seed(s)" not in text and "seed text" not in text and "`grade_" not in text


@pytest.mark.slow  # load() grades the ledger and counts the ImageNet networks
def test_prose_numbers_are_labelled_and_free_of_template_noise(page):
    numbers = page.numbers
    assert numbers["n_tests"] == str(page.claims.tests) == "5"
    assert numbers["v_r50_counts"] == "all three reproduced"
    assert numbers["cost_not_run"] == "Every variant has stored runs, so all are drawn."
    # nine shares, each named by its variant and random seed
    for variant in ("learned masks (a): ", "learned masks (b): ", "learned masks (b), lambda = 0: "):
        assert variant + "0." in numbers["masks_changed"]
    assert numbers["masks_changed"].count("(random seeds 0, 1 and 2)") == 3
    assert all("seed(s)" not in v and "-0.000" not in v for v in numbers.values())
    assert "2 of them" in numbers["holm_changed"] and "v1 beats v2" in numbers["holm_changed"]
