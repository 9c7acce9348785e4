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


def test_the_design_table_keeps_the_ratios_in_view_and_folds_the_counts(page):
    """The design table fits the text column: ratios, closed form and check stay; the counts fold under each
    design, printed as counts ("52,584,448"), the same numbers as before."""
    html = page.show("formulas").to_html()
    header = re.findall(r"<th [^>]*>([^<]*)</th>", html)
    assert header == ["design", "MACs ratio", "params ratio", "formula (what it evaluates)", "formula",
                      "counted = formula"]
    assert html.count('class="effconv-detail"') == 7
    assert "<dt>dense MACs</dt><dd>462,422,016</dd>" in html and "<dd>0.1137</dd>" not in html
    assert ">0.1137</td>" in html

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


def _technique(cell) -> bool:
    return "technique" in cell.metadata.get("tags", [])


def test_notebook_only_loads_and_shows():
    # the one cell tagged technique writes the operation in torch (tests/test_notebooks.py holds it to that)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    work = {i: pandas_work(c.source) for i, c in enumerate(notebook.cells) if c.cell_type == "code"
            and not _technique(c)}
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


def test_method_opens_with_the_operation_in_visible_torch_checked_against_the_library():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    method = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown" and "## Method" in c.source)
    cell = notebook.cells[method + 1]
    assert _technique(cell) and not {"hide-input", "remove-input"} & set(cell.metadata.get("tags", []))
    assert "DepthwiseSeparableConv" in cell.source and "grouped_conv" in cell.source
    assert cell.source.count("assert_close") == 2 and "count_flops" in cell.source
    assert all(len(line) <= 88 for line in cell.source.splitlines()), "a visible line is never cut"
    namespace: dict = {}
    exec(compile(cell.source, "technique", "exec"), namespace)   # its checks pass against the library
    assert namespace["macs"]["pair"] / namespace["macs"]["dense"] == 1 / 64 + 1 / 9


def test_the_block_figure_is_drawn_from_the_layers_shapes(page):
    fig = page.figures["fig-split-blocks"]
    lines = [sum(len(c.get_segments()) for c in ax.collections if hasattr(c, "get_segments")) for ax in fig.axes]
    # dense 32x64 pairs; depthwise 32 + pointwise 32x64; 4 groups of 8x16
    assert lines == [32 * 64, 32 + 32 * 64, 4 * 8 * 16]
    assert [ax.get_title() for ax in fig.axes] == ["dense 3x3 conv", "depthwise-separable pair",
                                                   "grouped 3x3 conv, g = 4"]
    assert (page.numbers["block_in"], page.numbers["block_out"], page.numbers["block_size"]) == ("32", "64", "112x112")
    assert page.numbers["block_sep_ratio"] == "0.127" and page.numbers["block_grouped_ratio"] == "0.250"
    assert page.numbers["trained_tests"] == "no trained test"


def test_figure_legends_name_every_kind_of_mark_and_titles_no_code(page):
    ratio = page.figures["fig-separable-ratio"].axes[0]
    labels = [t.get_text() for t in ratio.get_legend().get_texts()]
    assert labels == ["3x3 kernel", "5x5 kernel", "counted layer", "$1/N + 1/D_k^2$", "floor $1/D_k^2$"]
    assert len(ratio.get_lines()) == 2 + 2   # two formula curves, two dotted floors: each has its entry
    latency = page.figures["fig-splitting-latency"].axes[0]
    labels = [t.get_text() for t in latency.get_legend().get_texts()]
    assert {"time = FLOPs", "dense conv's time"} <= set(labels)
    for fig in page.figures.values():
        titles = [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]
        assert not any("_" in re.sub(r"\$[^$]*\$", "", title) for title in titles), titles   # math may subscript
