"""The book's one table style (effconv.claims.style): names, numbers, verdict colours, no truncation."""

import re

import numpy as np
import pandas as pd
import pytest

from effconv.claims.style import VERDICT_COLOURS, VERDICTS, human_name, set_display_options, styled
from effconv.errors import EffconvError

OPTIONS = ["display.max_rows", "display.max_columns", "display.max_colwidth", "display.width",
           "styler.render.max_rows", "styler.render.max_columns", "styler.render.max_elements"]


@pytest.fixture
def restore_options():
    saved = {name: pd.get_option(name) for name in OPTIONS}
    for name in OPTIONS:   # start from pandas' defaults, whatever an earlier test (a chapter's load) set
        pd.reset_option(name)
    yield
    for name, value in saved.items():
        pd.set_option(name, value)


def cells(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", html, flags=re.S)


def headers(html: str) -> list[str]:
    return [h.strip() for h in re.findall(r"<th [^>]*>(.*?)</th>", html, flags=re.S)]


@pytest.mark.parametrize("column, expected", [
    ("ours_Mmacs", "ours (M MACs)"),
    ("paper_params_%", "paper params (%)"),
    ("test_acc_%", "test accuracy (%)"),
    ("delta_pp", "delta (pp)"),
    ("median_ms", "median (ms)"),
    ("memory_MB", "memory (MB)"),
    ("max_rel_error", "max rel. error"),
    ("verdict", "verdict"),
    ("macs", "MACs"),
    ("ours (M MACs)", "ours (M MACs)"),
])
def test_human_names(column, expected):
    assert human_name(column) == expected


def test_units_argument_adds_a_unit():
    assert human_name("latency", {"latency": "ms"}) == "latency (ms)"


def test_no_index_and_reader_names():
    html = styled(pd.DataFrame({"ours_Mmacs": [1.5], "verdict": ["reproduced"]})).to_html()
    assert headers(html) == ["ours (M MACs)", "verdict"]
    assert "row_heading" not in html and "blank" not in html  # the 0..n-1 index is not shown


def test_meaningful_index_becomes_a_column():
    table = pd.DataFrame({"macs": [10, 20]}, index=pd.Index(["g=1", "g=2"], name="groups"))
    html = styled(table).to_html()
    assert headers(html) == ["groups", "MACs"]
    assert cells(html)[:2] == ["g=1", "10"]


def test_numbers_rounded_right_aligned_with_separators():
    table = pd.DataFrame({"params": [2_359_296, 11], "acc_%": [93.4123, 91.2], "ms": [5.7612, 12.0],
                          "rel_error": [4e-7, 1.2e-3], "gap": [np.nan, 1.5]})
    styler = styled(table)
    html = styler.to_html()
    values = cells(html)
    assert values[:5] == ["2,359,296", "93.41", "5.76", "4.0e-07", "–"]
    assert values[5:] == ["11", "91.20", "12.00", "0.0012", "1.50"]
    # every numeric column is right-aligned in tabular figures, and the cells are padded
    for index in range(5):
        assert re.search(rf"\.col{index} {{\s*text-align: right;", html), f"column {index} is not right-aligned"
    assert "font-variant-numeric: tabular-nums" in html
    assert re.search(r"#T_\w+ td {\s*padding: 0\.3em 0\.45em", html)


def test_decimals_override():
    html = styled(pd.DataFrame({"acc": [93.41]}), decimals={"acc": 1}).to_html()
    assert cells(html) == ["93.4"]


def test_text_is_whole_wrapped_and_escaped():
    long = "a claim whose text runs well past ninety characters, " * 3 + "<b>not markup</b>"
    with pd.option_context("display.max_colwidth", 20):
        html = styled(pd.DataFrame({"claim": [long], "paper": [1.0]})).to_html()
    assert "&lt;b&gt;not markup&lt;/b&gt;" in html
    assert "ninety characters, a claim" in html and "..." not in html
    assert re.search(r"td\.col0 {\s*min-width: 6em;\s*white-space: normal", html)


def test_mixed_column_with_sentences_wraps_and_numbers_do_not_break():
    table = pd.DataFrame({"ours": [142.5, 140.0, "worst rel. error 4.0e-07 (float32), 8.9e-16 (float64)"]})
    html = styled(table).to_html()
    assert re.search(r"td\.col0 {[^}]*white-space: normal", html)  # the sentence wraps
    assert not re.search(r"\.col0 {\s*text-align: right", html)
    assert re.search(r"_row0_col0, #T_\w+_row1_col0 {\s*white-space: nowrap", html)  # numbers stay whole


def test_each_verdict_has_its_own_colour():
    assert VERDICTS == ("reproduced", "partly", "not reproduced", "inconclusive", "not comparable", "not run")
    assert set(VERDICT_COLOURS) == set(VERDICTS)
    assert len({background for background, _ in VERDICT_COLOURS.values()}) == len(VERDICTS)
    html = styled(pd.DataFrame({"claim": list("abcdef"), "verdict": list(VERDICTS)})).to_html()
    for row, verdict in enumerate(VERDICTS):
        background = VERDICT_COLOURS[verdict][0]
        assert re.search(rf"_row{row}_col1 {{\s*background-color: {background};", html), verdict
    plain = styled(pd.DataFrame({"claim": ["a"], "verdict": ["unheard of"]})).to_html()
    assert "background-color" not in plain


def test_set_display_options_stops_truncation(restore_options):
    table = pd.DataFrame({"claim": [f"claim {i} " + "x" * 120 for i in range(67)], "verdict": ["partly"] * 67})
    assert "rows ×" in table._repr_html_()  # pandas' defaults cut this table: the check below can fail
    set_display_options()
    html = table._repr_html_()
    assert "rows ×" not in html and "..." not in html
    assert html.count("<tr") == 68 and "x" * 120 in html


def test_big_styled_table_is_not_cut(restore_options):
    set_display_options()
    table = pd.DataFrame({"x": range(3000), "y": range(3000)})
    assert len(cells(styled(table).to_html())) == 6000


def test_bad_input():
    with pytest.raises(EffconvError, match="DataFrame"):
        styled(pd.Series([1, 2]))
    with pytest.raises(EffconvError, match="ours \\(M MACs\\)"):
        styled(pd.DataFrame({"ours_Mmacs": [1], "ours (M MACs)": [2]}))


def test_a_ledger_shows_the_values_and_folds_the_rest_under_the_claim():
    from effconv.claims.style import DETAIL_CLASS, styled_ledger

    frame = pd.DataFrame([{"evidence": "counted <8 layers>", "verdict": "reproduced", "claim": "x & y", "ours": "1",
                           "paper": "1", "interval": "", "kind": "counted", "source": "paper Table 1", "extra": "z"}])
    styler = styled_ledger(frame)
    assert list(styler.data.columns) == ["claim", "paper", "ours", "interval", "verdict"]
    html = styler.to_html()
    claim = re.search(r'<td[^>]*col0[^>]*>(.*?)</td>', html, re.S).group(1)
    assert claim.startswith("x &amp; y") and f'<details class="{DETAIL_CLASS}">' in claim
    # folded in order, escaped, every other column after the ledger's own
    assert re.findall(r"<dt>(.*?)</dt>", claim) == ["kind", "source", "evidence", "extra"]
    assert "counted &lt;8 layers&gt;" in claim and "<8" not in claim
    assert re.search(r"td\.col0 {[^}]*min-width: 14em", html)


def test_folding_leaves_out_empty_details_and_refuses_unknown_columns():
    from effconv.claims.style import detail_html, styled_folded

    assert detail_html("run", {"device": "", "seed": None}) == "run"          # nothing to open: no empty box
    assert "<dd>3</dd>" in detail_html("run", {"seed": 3})
    with pytest.raises(EffconvError, match="no column"):
        styled_folded(pd.DataFrame({"a": [1]}), shown=["a"], into="b")


def test_per_column_formats_and_missing_text():
    table = pd.DataFrame({"gain_pp": [0.5, -1.234, np.nan], "params": [1_531_936, 66_358, 12],
                          "share": [0.123, 0.5, 1.0], "note": ["a", "b", "c"]})
    html = styled(table, formats={"gain_pp": "{:+.2f}", "params": "{:,}", "share": lambda v: f"{v:.0%}"},
                  na_rep="not run").to_html()
    assert cells(html) == ["+0.50", "1,531,936", "12%", "a", "-1.23", "66,358", "50%", "b",
                           "not run", "12", "100%", "c"]
    assert headers(html) == ["gain (pp)", "params", "share", "note"]


def test_formats_leave_text_cells_alone_and_refuse_a_bad_format():
    table = pd.DataFrame({"delta_pp": [1.5, "not run"]})
    html = styled(table, formats={"delta_pp": "{:+.1f}", "absent": "{:,}"}).to_html()
    assert cells(html) == ["+1.5", "not run"]
    with pytest.raises(EffconvError, match="format string"):
        styled(pd.DataFrame({"a": [1]}), formats={"a": 3})


def test_na_rep_applies_to_rounded_columns():
    assert cells(styled(pd.DataFrame({"acc_%": [93.41, np.nan]}), na_rep="not run").to_html()) == ["93.41", "not run"]


def test_pivot_columns_read_as_words():
    long = pd.DataFrame({"g": [1, 1, 2, 2], "width": ["0.25x", "0.5x"] * 2, "vs_g3_%": [1.0, 2.0, 3.0, -4.0],
                         "mflops_32": [3.257, 11.491, 3.341, 11.585]})
    pivot = long.pivot_table(index="g", columns="width", values=["vs_g3_%", "mflops_32"], sort=False)
    html = styled(pivot, formats={"vs_g3_%": "{:+.1f}"}, decimals={"mflops_32": 2}).to_html()
    assert headers(html) == ["g", "vs g3 (%), width 0.25x", "vs g3 (%), width 0.5x",
                             "MFLOPs 32, width 0.25x", "MFLOPs 32, width 0.5x"]
    assert cells(html)[:5] == ["1", "+1.0", "+2.0", "3.26", "11.49"]
    # one value, one column level: the level's values are the headers
    single = long.pivot_table(index="g", columns="width", values="mflops_32", sort=False)
    assert headers(styled(single).to_html()) == ["g", "0.25x", "0.5x"]
    assert not any("_" in h for h in headers(html))


def test_row_numbers_are_dropped_and_unnamed_row_labels_get_no_header():
    filtered = pd.DataFrame({"g": [1, 2, 3], "macs": [5, 6, 7]}).iloc[[2, 0]]
    html = styled(filtered).to_html()
    assert headers(html) == ["g", "MACs"] and cells(html) == ["3", "7", "1", "5"]
    labelled = pd.DataFrame({"slot 1": ["a1", "c2"]}, index=["new group 1", "new group 2"])
    html = styled(labelled).to_html()
    assert headers(html) == ["", "slot 1"] and cells(html)[:2] == ["new group 1", "a1"]


def test_pivot_top_level_can_be_renamed():
    pivot = pd.DataFrame({"g": [1, 2], "w": ["a", "a"], "x_pp": [1.0, 2.0]}).pivot_table(index="g", columns="w",
                                                                                      values=["x_pp"])
    assert headers(styled(pivot, names={"x_pp": "gain (pp)"}).to_html()) == ["g", "gain (pp), w a"]


def test_one_decimals_for_all_leaves_integer_columns_whole():
    html = styled(pd.DataFrame({"out_channels": [16, 512], "ratio": [0.17361, 1.5]}), decimals=3).to_html()
    assert cells(html) == ["16", "0.174", "512", "1.500"]


def test_na_rep_per_column():
    table = pd.DataFrame({"acc_%": [np.nan], "std_%": [np.nan], "gap": [np.nan]})
    assert cells(styled(table, na_rep={"acc_%": "not run", "std_%": "-"}).to_html()) == ["not run", "-", "–"]


def test_a_ledger_delta_reads_at_the_values_precision():
    from effconv.claims.style import ledger_delta

    assert ledger_delta("0.18", "0.18", "4.701e-05") == "0.00"      # not 4.701e-05
    assert ledger_delta("1.32", "1.32", "-0.000352") == "0.00"      # not -0.000
    assert ledger_delta("0.67", "0.648", "-0.022") == "-0.022"
    assert ledger_delta("3", "3.167", "0.167") == "+0.167"
    assert ledger_delta("38", "37.59-40.47", "worst +6.5% (g=8)") == "worst +6.5% (g=8)"
    assert ledger_delta("70.6", "", "") == ""
