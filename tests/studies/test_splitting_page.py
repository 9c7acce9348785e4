"""Chapter 1's page (``effconv.studies.splitting.load``): every number the prose cites is formatted text on
the page, every figure it places is drawn, the claims are the ledger plus live rows, and the notebook only
loads and shows."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest

from effconv.errors import EffconvError
from effconv.studies import splitting
from effconv.studies.splitting import page as splitting_page
from notebook_cells import pandas_work

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "01_splitting.ipynb"
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]+)`")
GLUE_FIGURE = re.compile(r"```\{glue:figure\}\s+(\S+)")
TABLES = ["formulas", "inception", "mobilenet", "shares", "reference", "fire", "octave", "latency", "claims"]
# the numbers read off the live latency table (and the claims counted with its rows): they change per run
LIVE = {"latency_device", "dws_flop_ratio", "dws_time_ratio", "n_claims", "n_live", "verdict_counts"}


def _markdown() -> str:
    return "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "markdown")


@pytest.fixture(scope="module")
def page():
    page = splitting.load("best", latency_repeats=1, log=lambda *_: None)  # three rounds of one call each
    yield page
    for fig in page.figures.values():
        plt.close(fig)


def test_every_number_the_prose_cites_is_text_on_the_page(page):
    assert page.chapter == "splitting" and page.profile == "best"
    assert all(isinstance(text, str) and text for text in page.numbers.values())
    assert set(GLUE_TEXT.findall(_markdown())) == set(page.numbers)  # each cited, none computed for nothing
    assert set(GLUE_FIGURE.findall(_markdown())) == set(page.figures)
    assert all(isinstance(fig, plt.Figure) for fig in page.figures.values())
    # values the paper prints exactly, and the derived ones the prose argues from
    assert page.numbers["xception_params"] == "22,855,952"
    assert page.numbers["n_exact"] == "7 of 7"
    assert (page.numbers["share_printed"], page.numbers["share_corrected"]) == ("1.19", "1.91")
    assert page.numbers["squeeze_cost_word"] in {"more", "fewer"}


def test_tables_are_display_ready(page):
    assert list(page.tables) == TABLES
    for name in TABLES:
        assert "<table" in page.show(name).to_html()
    with pytest.raises(EffconvError, match="no table 'cifar10'"):
        page.show("cifar10")


def test_claims_are_the_ledger_plus_live_rows(page, tmp_path, monkeypatch):
    table = page.claims.frame()
    committed = splitting.ledger("best").frame()
    assert table[table["kind"] != "live"].reset_index(drop=True).equals(committed)
    live = table[table["kind"] == "live"]
    assert len(live) == int(page.numbers["n_live"]) and len(table) == int(page.numbers["n_claims"])
    assert page.machine == page.numbers["latency_device"]
    monkeypatch.setenv("EFFCONV_LIVE_DIR", str(tmp_path))
    page.keep_live()
    assert len((tmp_path / "splitting.csv").read_text().splitlines()) == 1 + len(live)


def test_numbers_are_the_pages_and_leave_no_figure_open(page, monkeypatch):
    tiny = functools.partial(splitting_page.report.latency_table, channels=16, sizes=(8,), batches=(1,),
                             groups=(2,), warmup=0)
    monkeypatch.setattr(splitting_page.report, "latency_table", tiny)
    open_before = plt.get_fignums()
    got = splitting.numbers("best")
    assert plt.get_fignums() == open_before
    assert set(got) == set(page.numbers)
    assert {k: v for k, v in got.items() if k not in LIVE} == {k: v for k, v in page.numbers.items() if k not in LIVE}


def test_bad_input_names_the_problem():
    with pytest.raises(EffconvError, match="unknown profile 'bst'"):
        splitting.load("bst")
    with pytest.raises(EffconvError, match="latency_rounds=0"):
        splitting.load("best", latency_rounds=0)


def test_notebook_only_loads_and_shows():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    work = {i: pandas_work(c.source) for i, c in enumerate(notebook.cells) if c.cell_type == "code"}
    assert not any(work.values()), {i: w for i, w in work.items() if w}
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "from effconv.studies import splitting" in code and "splitting.load(profile" in code
    assert "page.glue()" in code and "page.keep_live()" in code and 'page.show("claims")' in code


def test_notebook_is_stored_without_outputs_and_follows_the_conventions():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"] == {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                            "language": "python"}
    assert nb["metadata"]["language_info"] == {"name": "python"}
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None
    first_md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "".join(first_md["source"]).startswith("# 1. Splitting and grouping convolutions")
    params = code[0]
    assert "parameters" in params["metadata"].get("tags", [])
    source = "".join(params["source"])
    assert 'profile = "best"' in source and "run_missing = False" in source
    setup = "".join(code[1]["source"])
    assert "hide-input" in code[1]["metadata"].get("tags", []) and "splitting.load(profile" in setup
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert ".write(" not in text and "build_claims" not in text  # rendering never writes the ledger
    assert "{glue:text}" in text and "{cite}" in text
