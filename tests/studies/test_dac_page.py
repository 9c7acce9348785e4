"""Chapter 4 page: ``dac.load`` gives every number and figure the notebook's prose cites, as text, and the
notebook only shows what it returns (one load, then show cells)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from IPython.display import Markdown  # noqa: E402

from effconv.errors import EffconvError  # noqa: E402
from effconv.studies import dac  # noqa: E402
from notebook_cells import pandas_work  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "04_dac.ipynb"
# measured on the machine that builds the page: they change from run to run
LIVE = {"latency_device", "r1_time", "r4_time", "dw_slowdown", "verdict_tally"}
QUICK = {"latency_repeats": 1, "latency_rounds": 1}  # one timing per variant: the numbers, not their precision


def _notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def _cited(role: str) -> set[str]:
    text = "\n".join(c.source for c in _notebook().cells if c.cell_type == "markdown")
    if role == "text":
        return set(re.findall(r"\{glue:text\}`([^`]+)`", text))
    return set(re.findall(r"```\{glue:figure\} (\S+)", text))


@pytest.fixture(scope="module")
def page():
    loaded = dac.load("best", **QUICK)
    yield loaded
    plt.close("all")


def test_every_cited_number_is_text_and_every_cited_figure_is_drawn(page):
    assert page.numbers and all(isinstance(v, str) for v in page.numbers.values())
    assert _cited("text") and _cited("text") <= set(page.numbers), sorted(_cited("text") - set(page.numbers))
    assert _cited("figure") and _cited("figure") <= set(page.figures), sorted(_cited("figure") - set(page.figures))
    assert page.profile == page.numbers["profile_used"] != "best"  # the profile shown, not the one asked for


def test_tables_claims_and_the_machine_for_keep_live(page):
    code = "\n".join(c.source for c in _notebook().cells if c.cell_type == "code")
    shown = set(re.findall(r'page\.show\("([^"]+)"\)', code))
    assert shown and shown <= set(page.tables), sorted(shown - set(page.tables))
    frame = page.claims.frame()
    assert (frame["kind"] == "live").any() and page.machine == page.numbers["latency_device"]
    assert page.numbers["n_claims"] == str(len(frame))
    with pytest.raises(EffconvError, match="no table"):
        page.show("no such table")
    assert page.note("first_last") is None  # stored: the figure, no note


def _technique(notebook) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and "technique" in c.metadata.get("tags", [])]


def test_the_notebook_only_shows():
    notebook = _notebook()
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    shows = [c for c in cells if c not in _technique(notebook)]  # the technique cell computes: that is its point
    assert [(i, pandas_work(c.source)) for i, c in enumerate(shows) if pandas_work(c.source)] == []
    setup = cells[1].source  # after the parameters cell: the one import, the one load, one glue
    assert "from effconv.studies import dac" in setup and "page.glue()" in setup
    assert "dac.load(profile, run_missing=run_missing, latency_repeats=latency_repeats," in setup
    assert "page.keep_live()" in cells[-1].source and "hide-input" in cells[1].metadata.get("tags", [])


def test_numbers_are_the_page_numbers(page):
    before = set(plt.get_fignums())   # other tests may leave figures open; numbers() must add none
    again = dac.numbers("best", **QUICK)
    assert set(plt.get_fignums()) - before <= {f.number for f in page.figures.values() if f}
    assert set(again) == set(page.numbers)
    assert {k: v for k, v in again.items() if k not in LIVE} == {k: v for k, v in page.numbers.items() if k not in LIVE}


def test_nothing_stored_shows_notes_and_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFCONV_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    page = dac.load("cpu", **QUICK)
    plt.close("all")
    assert page.numbers["n_seeds"] == "0" and page.numbers["baseline_acc"] == "not run"
    assert page.numbers["versus"] == page.numbers["same_saving"] == "not run"
    for name in ("single_layer", "pareto"):
        assert isinstance(page.show(name), Markdown) and "not run yet" in page.show(name).data
    for name in ("first_last", "equal_flops"):
        assert isinstance(page.note(name), Markdown)
    assert page.figures["fig-dac-single-layer"] is None and "not run yet" in page.missing["fig-dac-single-layer"]


@pytest.mark.parametrize("option", ["latency_repeats", "latency_rounds", "threads"])
def test_bad_options_name_the_problem(option):
    with pytest.raises(EffconvError, match=option):
        dac.load("best", **{option: 0})


def test_the_technique_cell_opens_the_method_and_agrees_with_the_library():
    """The DAC split written in plain torch is visible, sits at the top of Method, and its own check passes."""
    notebook = _notebook()
    [cell] = _technique(notebook)
    assert "hide-input" not in cell.metadata.get("tags", []) and "remove-input" not in cell.metadata.get("tags", [])
    assert max(len(line) for line in cell.source.splitlines()) <= 88  # no visible line is cut
    method = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown" and "\n## Method" in "\n" + c.source)
    assert notebook.cells[method + 1] is cell
    assert "```{glue:figure} fig-dac-block" in notebook.cells[method + 2].source
    exec(compile(cell.source, "technique", "exec"), {})  # raises if the pair differs from effconv.ops.dac


def test_the_block_diagram_draws_the_table_layer(page):
    """The block figure is drawn from the anatomy table: its real channel counts and the rank appear in it."""
    fig = page.figures["fig-dac-block"]
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "3x3 conv, 64 → 128" in texts and "depthwise 3x3, 64 → 192" in texts and "pointwise 1x1, 192 → 128" in texts
    assert "3 filters per channel" in texts and "73,728 weights" in texts


def test_claims_say_how_many_trained_tests_and_the_baseline_is_chapter_5s(page):
    from effconv.experiments import StoredRuns
    from effconv.studies.dac.results import baseline_summary, load_runs
    from effconv.studies.versatile import plan as versatile_plan

    assert page.numbers["n_tests"] == f"{page.claims.tests} trained tests" and page.claims.tests >= 5
    ours = load_runs(page.profile, log=lambda *a, **k: None)
    theirs = StoredRuns.load(versatile_plan.experiments, page.profile, log=lambda *a, **k: None)
    shared = [(s.key, r) for s, r in zip(theirs.specs, theirs.results) if s.name == "vgg16-baseline" and r]
    assert {s.key for s, r in zip(ours.specs, ours.results) if r} >= {key for key, _ in shared}  # every stored seed
    mean = baseline_summary(page.profile, [r for _, r in shared]).text()
    assert baseline_summary(page.profile, ours.results).text() == mean  # one arm, one mean, in both chapters
    row = dac.ledger("best").frame().set_index("claim").loc["CIFAR-VGG baseline accuracy (%)"]
    assert f"{len(shared)} stored random seeds" in row["evidence"]


def test_wide_tables_fold_or_turn_to_fit_the_column(page):
    """The checks, allocations and baselines keep their compared columns in view and fold the rest under each
    row; the break-even table is turned on its side (one column per width N), its numbers as before."""
    from effconv.ops import dac as ops

    for name, kept in {"checks": ["layer", "rel. output error, float32", "monotone"],
                       "allocations": ["allocation", "ranks per layer", "MACs saved (%)"],
                       "baselines": ["seed", "test accuracy (%)", "minutes"]}.items():
        shown = page.tables[name]
        assert set(kept) <= set(shown.data.columns) and len(shown.data.columns) <= 6, (name, list(shown.data.columns))
        assert 'class="effconv-detail"' in shown.to_html(), name
    grid = page.tables["break_even"].data.set_index("")
    assert list(grid.columns) == [f"N = {n}" for n in (16, 32, 64, 128, 256, 512)]
    assert grid.loc["break-even rank", "N = 64"] == f"{ops.break_even_rank(64):.3f}" == "7.890"
    assert grid.loc["max saving rank", "N = 16"] == "5" and grid.loc["cost ratio, rank 1", "N = 16"] == "0.174"
    assert "kernel area 9" in page.tables["break_even"].caption
