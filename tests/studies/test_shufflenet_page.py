"""Chapter 2's page: ``load`` gives every table, figure and number the notebook shows, and the notebook only
shows them (parameters, one import, one load, then show cells)."""

import re
from pathlib import Path

import matplotlib
import nbformat
import pytest

matplotlib.use("Agg")

from notebook_cells import pandas_work  # noqa: E402
from effconv.errors import EffconvError  # noqa: E402
from effconv.studies import shufflenet  # noqa: E402
from effconv.studies.page import Page  # noqa: E402
from effconv.studies.shufflenet import page as page_module  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[2] / "chapters" / "02_shufflenet.ipynb"


def _cells(kind: str) -> list[str]:
    return [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == kind]


def _cited(role: str) -> set[str]:
    """The keys the notebook's prose cites with ``{glue:<role>}`` (a figure directive names its key after it)."""
    text = "\n".join(_cells("markdown"))
    pattern = r"\{glue:text\}`([^`]+)`" if role == "text" else r"```\{glue:figure\} (\S+)"
    return set(re.findall(pattern, text))


@pytest.fixture(scope="module")
def page() -> Page:
    return shufflenet.load("best", latency_repeats=1)  # one timed call each: the numbers' form, not their value


@pytest.mark.slow
def test_every_cited_number_and_figure_is_on_the_page(page):
    assert page.chapter == "shufflenet" and page.numbers
    assert all(isinstance(v, str) and v for v in page.numbers.values())
    assert set(page.numbers) == _cited("text")  # nothing the prose cites is missing, nothing is computed unread
    assert set(page.figures) == _cited("figure") and all(f is not None for f in page.figures.values())


@pytest.mark.slow
def test_every_table_the_notebook_shows_is_on_the_page(page):
    shown = set(re.findall(r'page\.show\("([^"]+)"\)', "\n".join(_cells("code"))))
    assert shown == set(page.tables)
    with pytest.raises(EffconvError, match="no table 'nope'.*table2"):
        page.show("nope")


@pytest.mark.slow
def test_numbers_read_as_the_notebook_printed_them(page):
    # formats the prose relies on (values move with the stored runs and the machine, forms do not)
    assert re.fullmatch(r"\d+ of \d+", page.numbers["t2_stored"])
    assert re.fullmatch(r"[+-]\d+\.\d", page.numbers["scaled_worst"])
    assert re.fullmatch(r"-?\d+\.\d to -?\d+\.\d", page.numbers["shuffle_alone"])
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", page.numbers["table1_params"])
    assert page.numbers["lat_repeats"] == "1" and page.numbers["cpu_epochs"].isdigit()
    assert page.numbers["unshuffle_ok"] == "yes"


@pytest.mark.slow
def test_claims_carry_the_live_rows_for_keep_live(page):
    frame = page.claims.frame()
    assert "live" in set(frame["kind"]) and page.machine == page.numbers["lat_device"]
    assert page.numbers["n_claims"] == str(len(frame))


@pytest.mark.slow
def test_glue_hands_on_every_number_as_text_and_every_figure(page, monkeypatch):
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: seen.update({key: (value, display)}))
    page.glue()
    assert set(seen) == _cited("text") | _cited("figure")
    assert not any(display for _, display in seen.values())


def test_numbers_is_the_pages_numbers(monkeypatch):
    stub = Page("shufflenet", "best", numbers={"n_claims": "3"}, figures={"fig-x": None})
    monkeypatch.setattr(page_module, "load", lambda profile: stub)
    assert shufflenet.numbers("best") == {"n_claims": "3"}


@pytest.mark.parametrize("repeats", [0, -1, 2.5, True])
def test_bad_latency_repeats_are_refused(repeats):
    with pytest.raises(EffconvError, match="latency_repeats"):
        shufflenet.load("best", latency_repeats=repeats)


def test_the_notebook_only_shows():
    code = _cells("code")
    assert {i: pandas_work(c) for i, c in enumerate(code) if pandas_work(c)} == {}
    setup = next(c for c in code if "load(" in c)
    assert "from effconv.studies import shufflenet" in setup and "page.glue()" in setup
    assert "shufflenet.load(profile, run_missing=run_missing, latency_repeats=latency_repeats)" in setup
    assert any("page.keep_live()" in c and 'page.show("claims")' in c for c in code)


def test_holm_note_and_power_pairs_read_as_sentences():
    import pandas as pd

    frame = pd.DataFrame({"verdict": ["reproduced", "inconclusive", "reproduced", "not run"],
                          "verdict_holm": ["inconclusive", "inconclusive", "", ""]})
    assert page_module.holm_note(frame) == ("one of them decides its claim at 95% on its own, but not after the "
                                            "adjustment")
    frame["verdict_holm"] = ["reproduced", "inconclusive", "", ""]
    assert page_module.holm_note(frame).endswith("and keeps its verdict after the adjustment")
    frame["verdict_holm"] = ["reproduced", "inconclusive", "inconclusive", ""]
    assert page_module.holm_note(frame) == ("2 of them decide their claims at 95% on their own, and 1 still does "
                                            "after the adjustment")
    frame["verdict_holm"] = ["", "inconclusive", "", ""]
    assert page_module.holm_note(frame) == "none of them decides its claim, so the adjustment changes no verdict"
    assert page_module.power_pairs("cpu") == ("22 pairs at 0.25x (first stage 5) and 6 at 0.5x (first stage 3); "
                                              "the cpu budget trains 5 of those at 0.25x")
    assert page_module.power_pairs("full") == "the full profile plans no contrast by power"


def test_power_tested_says_which_planned_contrast_has_all_its_pairs():
    import pandas as pd

    frame = pd.DataFrame({"claim": ["CIFAR-10 Table 2, 0.25x: g = 8 has lower error than g = 1 (gain, pp)",
                                    "CIFAR-10 Table 2, 0.5x: g = 8 has lower error than g = 1 (gain, pp)"],
                          "n": [5, 6], "planned": [22, 6], "verdict": ["inconclusive", "reproduced"]})
    assert page_module.power_tested(frame, "cpu") == (
        "at 0.25x, 5 of its 22 pairs are stored, so it is not among them yet; "
        "at 0.5x, all 6 pairs are stored and it is among them")
    frame["n"] = [5, 3]
    assert page_module.power_tested(frame, "cpu").endswith("at 0.5x, 3 of its 6 pairs are stored, so it is not "
                                                           "among them yet")
    assert page_module.power_tested(frame, "full") == "the full profile plans no contrast by power"


def test_the_technique_cell_writes_the_shuffle_and_checks_it():
    cell = next(c for c in nbformat.read(NOTEBOOK, as_version=4).cells if "technique" in c.metadata.get("tags", []))
    assert "hide-input" not in cell.metadata["tags"] and "transpose(1, 2)" in cell.source
    assert "assert_close(mine, channel_shuffle(x, 3))" in cell.source
    exec(compile(cell.source, "technique", "exec"), {})  # noqa: S102 -- our own notebook cell: it runs, its check holds
