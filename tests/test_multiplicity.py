"""The Holm step-down over a chapter's trained tests, and the opt-in ledger columns that carry it."""

import pytest

from effconv.claims import (COLUMNS, HOLM_COLUMNS, ClaimsTable, Grade, grade_count, grade_effect, holm_adjust,
                            holm_grades, holm_verdict, paired_differences, paired_p_values, t_p_value)
from effconv.errors import EffconvError


def test_holm_on_a_known_set_worked_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04, raised to the 0.06 before it
    assert holm_adjust(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Bonferroni would multiply every p by 4 (0.04 -> 0.16); Holm is never larger
    assert all(h <= min(1.0, 4 * raw) for h, raw in zip(holm_adjust(p), p))


def test_holm_caps_at_one_keeps_ties_and_a_single_test():
    assert holm_adjust([0.6, 0.7]) == [1.0, 1.0]            # 0.6 x 2 capped; 0.7 may not fall below it
    assert holm_adjust([0.02, 0.02]) == pytest.approx([0.04, 0.04])
    assert holm_adjust([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm_adjust([0.03]) == [0.03] and holm_adjust([]) == []
    with pytest.raises(EffconvError, match="must lie in"):
        holm_adjust([0.2, 1.5])
    with pytest.raises(EffconvError, match="must lie in"):
        holm_adjust([float("nan")])


@pytest.mark.parametrize("verdict, p_holm, adjusted", [
    ("reproduced", 0.049, "reproduced"),
    ("reproduced", 0.05, "inconclusive"),       # the interval is 95%: a decision needs p below 0.05
    ("not reproduced", 0.2, "inconclusive"),
    ("partly", 0.2, "inconclusive"),            # a size miss rests on the direction's test
    ("inconclusive", 0.001, "inconclusive"),    # never upgraded
    ("not run", None, "not run"),
])
def test_adjusted_verdicts_only_ever_step_down(verdict, p_holm, adjusted):
    assert holm_verdict(verdict, p_holm) == adjusted


def test_holm_over_grades_counts_only_tests_that_ran():
    control = {0: 70.0, 1: 70.0, 2: 70.0}
    grades = {
        "clear": grade_effect({0: 72.0, 1: 72.1, 2: 71.9}, control),      # p about 0.0008
        "marginal": grade_effect({0: 71.0, 1: 70.5, 2: 70.75}, control),   # decided alone (p about 0.035), not at x 2
        "two seeds": grade_effect({0: 71.0, 1: 72.0}, control),           # no test: too few pairs
        "counted": grade_count(137.46, 138, decimals=0),                  # no test
    }
    assert grades["marginal"].verdict == "reproduced" and 0.025 < grades["marginal"].p < 0.05
    adjusted = holm_grades(grades)
    assert set(adjusted) == {"clear", "marginal"} and adjusted["clear"].tests == 2
    assert adjusted["clear"].verdict == "reproduced"
    assert adjusted["marginal"].p_holm == pytest.approx(grades["marginal"].p)   # the larger p keeps x 1 ...
    assert adjusted["marginal"].verdict == "reproduced"
    grades["another"] = grade_effect({0: 70.9, 1: 70.2, 2: 70.6}, control)    # ... until a third test joins
    adjusted = holm_grades(grades)
    assert adjusted["marginal"].raw == "reproduced" and adjusted["marginal"].verdict == "inconclusive"


def test_p_values_from_paired_samples_are_the_rules():
    treatment, control = {0: 72.0, 1: 72.1, 2: 71.9, 9: 50.0}, {0: 70.0, 1: 70.3, 2: 70.0}
    p = paired_p_values({"a": (treatment, control)})
    assert p["a"] == grade_effect(treatment, control).p == t_p_value(paired_differences(treatment, control))
    with pytest.raises(EffconvError, match="at least two"):
        paired_p_values({"lonely": ({0: 1.0}, {0: 0.0, 1: 0.0})})


def _chapter(holm: bool) -> ClaimsTable:
    table = ClaimsTable("demo", holm=holm)
    control = {0: 70.0, 1: 70.0, 2: 70.0}
    table.grade("counted", grade_count(137.46, 138, decimals=0), kind="counted", source="paper", paper=138,
                profile="counted", evidence="count")
    for name, treatment in (("clear", {0: 72.0, 1: 72.1, 2: 71.9}), ("marginal", {0: 71.0, 1: 70.5, 2: 70.75}),
                            ("another", {0: 70.9, 1: 70.2, 2: 70.6})):
        table.grade(name, grade_effect(treatment, control), kind="trained", source="paper", paper="> 0",
                    profile="cpu", evidence="seeds 0-2")
    table.grade("live", Grade("reproduced", p=0.001), kind="live", source="paper", paper="> 1", profile="live",
                evidence="this machine")
    return table


def test_ledger_columns_are_opt_in_and_unchanged_without():
    plain, holm = _chapter(holm=False), _chapter(holm=True)
    assert list(plain.frame().columns) == COLUMNS and "p_holm" not in plain.csv().splitlines()[0]
    assert list(holm.frame().columns) == COLUMNS + HOLM_COLUMNS
    assert holm.frame()[COLUMNS].equals(plain.frame())        # the eleven columns are the same either way
    assert plain.tests == holm.tests == 3                     # trained rows with a test; live rows are no part


def test_ledger_rows_carry_the_adjusted_verdict_beside_the_raw_one():
    frame = _chapter(holm=True).frame().set_index("claim")
    assert frame.loc["counted", "p_holm"] == "" and frame.loc["counted", "verdict_holm"] == ""
    assert frame.loc["live", "verdict_holm"] == ""
    assert frame.loc["marginal", "verdict"] == "reproduced" and frame.loc["marginal", "verdict_holm"] == "inconclusive"
    assert frame.loc["clear", "verdict_holm"] == "reproduced"
    assert float(frame.loc["marginal", "p_holm"]) > float(frame.loc["marginal", "p"])
    with pytest.raises(EffconvError, match="p-value"):
        ClaimsTable("demo").add("x", kind="trained", source="", paper=1, ours=1, verdict="reproduced", profile="",
                                evidence="", p=1.2)
