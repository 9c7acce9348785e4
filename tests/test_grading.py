"""The shared grading rules at their edges: every verdict in the book comes from these."""

import math
import statistics

import pytest

from effconv.claims import (DEFINITIONS, DIRECTION, SIZE, VERDICTS, ClaimsTable, combine, grade_bound, grade_change,
                            grade_count, grade_effect, grade_equivalence, grade_setting, grade_timing, mean_interval,
                            paired_differences, round_half_away, t_p_value)
from effconv.claims.rules import ABOUT_TOLERANCE, COUNT_PARTLY, COUNT_TOLERANCE, Grade, t_quantile
from effconv.errors import EffconvError


def test_six_verdicts_each_defined_once():
    assert VERDICTS == ("reproduced", "partly", "not reproduced", "inconclusive", "not comparable", "not run")
    assert set(DEFINITIONS) == set(VERDICTS)
    with pytest.raises(EffconvError, match="verdict must be one of"):
        Grade("repro")


@pytest.mark.parametrize("ours, paper, decimals, verdict", [
    (137.46, 138, 0, "reproduced"),       # 0.39% off: within the book's 0.5% (the old rule said not reproduced)
    (137.4, 138, None, "reproduced"),     # 0.43%
    (137.0, 138, None, "partly"),         # 0.72%: close, not the same number
    (524.4, 524, 0, "reproduced"),        # rounds to the printed whole number
    (131.0, 138, None, "not reproduced"),  # 5.1%
    (None, 138, None, "not run"),
    (float("nan"), 138, None, "not run"),
])
def test_counted_values(ours, paper, decimals, verdict):
    grade = grade_count(ours, paper, decimals=decimals)
    assert grade.verdict == verdict
    if ours is not None and not math.isnan(ours):
        assert grade.delta == pytest.approx(ours - paper)


@pytest.mark.parametrize("ours, bound, side, verdict", [
    (32.69, 32, ">", "reproduced"),      # "less than 1/32 of the params": at least 32x fewer
    (32.0, 32, ">=", "reproduced"),      # on the bound, and the bound allows it
    (32.0, 32, ">", "partly"),           # on the bound, which it must pass: a miss of 0
    (19.0, 20, ">", "partly"),           # misses by exactly 5% of the bound
    (18.99, 20, ">", "not reproduced"),  # just beyond the band
    (0.0312, 1 / 32, "<", "reproduced"),
    (0.0328, 1 / 32, "<", "partly"),     # 4.96% above
    (0, 0, "<=", "reproduced"),          # no case fails
    (1, 0, "<=", "not reproduced"),      # a bound of 0 leaves no band: one failure is a contradiction
    (None, 32, ">", "not run"),
    (float("nan"), 0, "<=", "not run"),
])
def test_printed_bounds(ours, bound, side, verdict):
    grade = grade_bound(ours, bound, side)
    assert grade.verdict == verdict
    if verdict != "not run":
        assert grade.delta == pytest.approx(ours - bound) and grade.rule.startswith("bound:")


def test_a_bound_needs_a_known_side():
    with pytest.raises(EffconvError, match="side must be one of"):
        grade_bound(1.0, 2.0, "=<")


def _pairs(diffs, base=36.0):
    """Two conditions measured on the same runs whose paired differences are ``diffs``."""
    return {k: base + d for k, d in enumerate(diffs)}, {k: base for k in range(len(diffs))}


@pytest.mark.parametrize("diffs, verdict", [
    ([0.1, -0.1, 0.05, 0.0], "reproduced"),          # interval well inside +-0.5
    ([0.3, 0.4, 0.35], "reproduced"),                # off zero, yet within the margin: about the same
    ([0.2, 0.6, 0.4], "inconclusive"),               # the interval crosses +0.5
    ([1.5, -1.5, 0.0], "inconclusive"),              # too noisy to tell: crosses both edges
    ([0.9, 1.0, 1.1], "not reproduced"),             # wholly above the margin
    ([-1.1, -0.9, -1.0], "not reproduced"),          # wholly below
    ([0.0, 0.01], "inconclusive"),                   # two pairs cannot decide
    ([], "not run"),
])
def test_about_the_same_within_a_margin(diffs, verdict):
    a, b = _pairs(diffs)
    grade = grade_equivalence(a, b, margin=0.5)
    assert grade.verdict == verdict and grade.n == len(diffs)
    if len(diffs) >= 3:
        assert grade.low <= grade.ours <= grade.high and "margin +-0.5" in grade.rule


def test_equivalence_edges_pair_by_key_and_check_the_margin():
    # the interval's edges on the margin count as inside it
    mean, low, high = mean_interval([0.0, 0.1, 0.2])
    a, b = _pairs([0.0, 0.1, 0.2], base=0.0)
    assert grade_equivalence(a, b, margin=max(-low, high)).verdict == "reproduced"
    assert grade_equivalence(a, b, margin=max(-low, high) * 0.99).verdict == "inconclusive"
    # any key pairs: (variant, seed) runs; a run measured in one condition only is left out
    turned = {("base", 0): 35.0, ("hor", 0): 38.0, ("hor", 1): 38.2, ("ver", 0): 37.0}
    flipped = {("base", 0): 35.1, ("hor", 0): 38.1, ("hor", 1): 38.1}
    grade = grade_equivalence(turned, flipped, margin=0.5)
    assert grade.n == 3 and grade.ours == pytest.approx(-0.1 / 3)
    with pytest.raises(EffconvError, match="equivalence margin"):
        grade_equivalence(turned, flipped, margin=0)


def test_t_interval_matches_the_tables():
    assert t_quantile(2) == pytest.approx(4.303) and t_quantile(4) == pytest.approx(2.776)
    assert t_quantile(200) == 1.96
    mean, low, high = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and high - mean == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    with pytest.raises(EffconvError):
        mean_interval([1.0])


def test_effect_inside_noise_is_inconclusive_not_a_failure():
    # -0.3 pp mean within seed noise: the old ShuffleNet rule called any effect <= 0 "not reproduced"
    treatment = {0: 70.1, 1: 70.9, 2: 70.2}
    control = {0: 70.6, 1: 70.5, 2: 71.0}
    grade = grade_effect(treatment, control)
    assert grade.ours == pytest.approx(-0.3) and grade.n == 3
    assert grade.low < 0 < grade.high and grade.verdict == "inconclusive"


def test_effect_with_the_wrong_sign_is_not_reproduced():
    # a consistent -0.5 pp (the paper claims a gain): the old ACNet rule called such rows "partly"
    treatment = {s: 80.0 - 0.5 + 0.02 * s for s in range(4)}
    control = {s: 80.0 for s in range(4)}
    assert grade_effect(treatment, control).verdict == "not reproduced"
    assert grade_effect(treatment, control, direction=-1).verdict == "reproduced"


def test_effect_pairs_by_seed_and_needs_three_pairs():
    treatment = {0: 71.0, 1: 72.0, 7: 90.0}      # seed 7 has no partner: left out
    control = {0: 70.0, 1: 70.5, 2: 10.0}
    grade = grade_effect(treatment, control, paper=2.8)
    assert grade.n == 2 and grade.ours == pytest.approx(1.25) and grade.verdict == "inconclusive"
    assert grade.delta == pytest.approx(1.25 - 2.8) and grade.low is None
    assert grade_effect({}, control).verdict == "not run"
    big = grade_effect({0: 72.0, 1: 72.1, 2: 71.9}, {0: 70.0, 1: 70.0, 2: 70.0})
    assert big.verdict == "reproduced" and big.low > 0


def test_change_from_initialisation_ignores_the_absolute_value():
    # a criterion that already holds at initialisation (0.369 < 0.400) and that training did not move
    initial = {0: 0.369, 1: 0.371, 2: 0.368}
    trained = {0: 0.370, 1: 0.369, 2: 0.369}
    assert grade_change(initial, trained, direction=-1).verdict == "inconclusive"
    assert grade_change(initial, {0: 0.30, 1: 0.31, 2: 0.29}, direction=-1).verdict == "reproduced"


def test_timing_straddling_the_threshold_is_inconclusive():
    assert grade_timing([1.9, 2.1, 2.0, 2.05], 1.5).verdict == "reproduced"
    assert grade_timing([1.2, 1.8, 1.4, 1.7], 1.5).verdict == "inconclusive"
    assert grade_timing([1.1, 1.2, 1.15], 1.5).verdict == "not reproduced"
    assert grade_timing([3.0, 2.9], 1.5).verdict == "inconclusive"
    assert grade_timing([], 1.5).verdict == "not run"


def test_other_setting_is_not_comparable():
    grade = grade_setting(83.2, 93.6, "VGG-16 at 0.25 width, 15 epochs, JPEG CIFAR-10")
    assert grade.verdict == "not comparable" and grade.delta == pytest.approx(-10.4)
    assert grade_setting(None, 93.6, "x").verdict == "not run"


def test_combine_is_never_reproduced_from_nothing():
    r, n, i = Grade("reproduced"), Grade("not reproduced"), Grade("inconclusive")
    assert combine([]) == "not run"
    assert combine([Grade("not run"), Grade("not comparable")]) == "not run"
    assert combine([r, r]) == "reproduced"
    assert combine([r, i]) == "partly"
    assert combine([r, n]) == "not reproduced"
    assert combine([i, i]) == "inconclusive"


def test_ledger_keeps_live_rows_out_of_the_committed_file(tmp_path):
    table = ClaimsTable("demo")
    table.grade("counted claim", grade_count(137.46, 138, decimals=0), kind="counted", source="paper Table 1",
                paper=138, profile="counted", evidence="ShuffleNet 1x g=3")
    table.add("live claim", kind="live", source="paper", paper=2.0, ours=1.7, verdict="inconclusive",
              profile="live", evidence="this machine")
    assert len(table.frame()) == 2
    written = (tmp_path / "demo" / "claims.csv")
    table.write(tmp_path)
    text = written.read_text()
    assert "counted claim" in text and "live claim" not in text
    with pytest.raises(EffconvError, match="claim kind"):
        table.add("x", kind="guess", source="", paper=1, ours=1, verdict="reproduced", profile="", evidence="")


def test_ledgers_stack_in_book_order_and_refuse_malformed_files(tmp_path):
    from effconv.claims import COLUMNS, load_ledger

    for chapter in ("b", "a"):
        table = ClaimsTable(chapter)
        table.grade(f"{chapter} claim", grade_count(568.7, 569), kind="counted", source="paper", paper=569,
                    profile="counted", evidence="count_flops")
        table.write(tmp_path)
    ledger = load_ledger(tmp_path, chapters=("b", "a", "missing"))
    assert list(ledger.columns) == ["chapter", *COLUMNS] and ledger["chapter"].tolist() == ["b", "a"]
    assert ledger.loc[0, "delta"] == "-0.3" and ledger.loc[0, "verdict"] == "reproduced"
    (tmp_path / "a" / "claims.csv").write_text("claim,verdict\nx,reproduced\n")
    with pytest.raises(EffconvError, match="effconv claims"):
        load_ledger(tmp_path)


# ----------------------------------------------------------------------------- issue 31: rounding, bounds, scope


@pytest.mark.parametrize("value, decimals, expected", [
    (18.5, 0, 19.0),       # Python's round gives 18 (half to even)
    (142.5, 0, 143.0),
    (-2.5, 0, -3.0),       # away from zero on both sides
    (0.125, 2, 0.13),      # round(0.125, 2) == 0.12
    (2.675, 2, 2.68),      # read as printed, although the double lies just below 2.675
    (60.97, -1, 60.0),     # to the tens
    (45, -1, 50.0),
    (18.49, 0, 18.0),
])
def test_rounding_is_half_away_from_zero(value, decimals, expected):
    assert round_half_away(value, decimals) == expected


def test_rounding_refuses_bad_places_and_non_numbers():
    with pytest.raises(EffconvError, match="whole number of places"):
        round_half_away(1.5, 0.5)
    with pytest.raises(EffconvError, match="finite number"):
        round_half_away(math.inf)


def test_a_half_rounds_up_to_the_printed_figure():
    # 18.5 vs a printed 19 rounds to it (half to even said 18: 2.6% off, partly) ...
    assert grade_count(18.5, 19, decimals=0).verdict == "reproduced"
    # ... and no longer to a printed 18: 2.8% off, partly (the ShuffleNet 0.5x speed-up row)
    grade = grade_count(18.5, 18, decimals=0)
    assert grade.verdict == "partly" and "2.78% from the printed figure" in grade.rule


def test_the_counted_tolerance_is_stated_in_every_rule_text():
    stated = f"tolerance {COUNT_TOLERANCE * 100:g}%, partly within {COUNT_PARTLY * 100:g}%"
    for ours in (137.46, 137.0, 131.0, 142.5):
        assert stated in grade_count(ours, 138, decimals=0).rule
    assert stated == "tolerance 0.5%, partly within 5%"   # the text the committed ledgers carry


@pytest.mark.parametrize("ours, paper, verdict", [
    (0.1121, 1 / 9, "reproduced"),    # "about 1/9": 0.89% off, partly without "about"
    (48.83, 50, "reproduced"),        # "about 1/50": 2.3% off
    (52.5, 50, "reproduced"),         # exactly at the 5% edge
    (46.0, 50, "not reproduced"),     # 8% off: no partly band for an approximate figure
])
def test_a_figure_the_paper_calls_approximate(ours, paper, verdict):
    grade = grade_count(ours, paper, about=True)
    assert grade.verdict == verdict
    assert f"approximate (tolerance {ABOUT_TOLERANCE * 100:g}%)" in grade.rule
    assert grade_count(0.1121, 1 / 9).verdict == "partly"


def test_fewer_under_every_convention_is_a_bound_at_zero():
    # "Xception has fewer params than Inception V3", one count per counting convention
    xception = [22_855_952, 22_910_480, 20_806_952, 20_861_480]
    inception = [23_626_728, 23_834_568, 23_800_136, 27_161_264]
    grades = [grade_bound(x - i, 0, "<") for x, i in zip(xception, inception)]
    assert combine(grades) == "reproduced"
    assert combine([*grades, grade_bound(23_900_000 - 23_800_136, 0, "<")]) == "not reproduced"


@pytest.mark.parametrize("runs, bound, side, margin, verdict", [
    ({0: 18.1, 1: 17.6, 2: 18.3}, 60, ">", 5, "not reproduced"),    # "stays above 60%", ours 18%: far below
    ([15.2, 16.7, 15.9], 0.7, "<=", 2, "not reproduced"),           # "drops 0.7 pp", ours 16 pp
    ([64.0, 65.1, 63.7], 60, ">", 5, "reproduced"),                 # the whole interval above the bound
    ([58.0, 63.0, 61.0], 60, ">", 5, "inconclusive"),               # the interval straddles the bound
    ([57.0, 57.4, 56.8], 60, ">", 5, "inconclusive"),               # below, but by less than the margin
    ([57.0, 57.4, 56.8], 60, ">", 0, "not reproduced"),             # no margin: any clear miss contradicts
    ([0.45, 0.5, 0.4], 0.7, "<=", 2, "reproduced"),
    ([17.0, 18.0], 60, ">", 5, "inconclusive"),                     # two runs cannot decide
    ({}, 60, ">", 5, "not run"),
])
def test_a_bound_over_runs(runs, bound, side, margin, verdict):
    grade = grade_bound(runs, bound, side, margin=margin)
    assert grade.verdict == verdict
    if verdict in ("reproduced", "not reproduced"):
        assert grade.p < 0.05 and grade.n == len(runs) and grade.low <= grade.ours <= grade.high
        assert grade.rule.startswith("bound over") and f"margin {margin:g}" in grade.rule


def test_a_bound_over_runs_states_its_margin_and_a_counted_bound_takes_none():
    with pytest.raises(EffconvError, match="needs margin="):
        grade_bound([1.0, 2.0, 3.0], 60, ">")
    with pytest.raises(EffconvError, match="margin must be a number >= 0"):
        grade_bound([1.0, 2.0, 3.0], 60, ">", margin=-1)
    with pytest.raises(EffconvError, match="margin applies to the values of repeated runs"):
        grade_bound(18.0, 60, ">", margin=5)
    assert grade_bound([18.1, 17.6, 18.3], 60, ">", margin=5, paper=60).delta == pytest.approx(18.0 - 60)


def test_t_p_value_by_hand_and_against_the_interval_table():
    # [1, 2, 3] against 0: t = 2 / (1 / sqrt 3) with 2 df, whose two-sided tail is 1 - t / sqrt(2 + t^2)
    t = 2 * math.sqrt(3)
    assert t_p_value([1.0, 2.0, 3.0]) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-12)
    assert t_p_value([1.0, 2.0, 3.0], null=2.0) == pytest.approx(1.0)
    # one df is Cauchy: P(|T| >= 1) = 1/2
    assert t_p_value([0.0, 2.0], null=-0.0) == pytest.approx(0.5)
    # at each tabled 95% quantile the p is 0.05 (to the table's 3 decimals), so p < 0.05 <=> the interval excludes 0
    for df in range(1, 31):
        q = t_quantile(df)
        values = [1.0, -1.0] + [0.0] * (df - 1)   # df + 1 values with some spread, shifted to q standard errors
        se = statistics.stdev(values) / math.sqrt(len(values))
        shifted = [v - statistics.fmean(values) + q * se for v in values]
        assert t_p_value(shifted) == pytest.approx(0.05, abs=2e-4)
    assert t_p_value([0.0] * 40 + [1.0] * 40, null=0.5 - 1.96 * statistics.stdev([0.0] * 40 + [1.0] * 40)
                     / math.sqrt(80)) == pytest.approx(0.05, abs=1e-4)   # beyond 30 df: the normal, as the interval
    assert t_p_value([2.0, 2.0, 2.0]) == 0.0 and t_p_value([0.0, 0.0]) == 1.0
    with pytest.raises(EffconvError, match="at least two values"):
        t_p_value([1.0])


@pytest.mark.parametrize("treatment", [
    {0: 72.0, 1: 72.1, 2: 71.9}, {0: 70.1, 1: 70.9, 2: 70.2}, {0: 69.0, 1: 69.4, 2: 69.1, 3: 69.3},
])
def test_effect_p_matches_its_verdict(treatment):
    control = {0: 70.6, 1: 70.5, 2: 71.0, 3: 70.0}
    grade = grade_effect(treatment, control)
    assert grade.p == pytest.approx(t_p_value(paired_differences(treatment, control)))
    assert (grade.p < 0.05) == (grade.verdict != "inconclusive")
    assert grade_effect({0: 1.0, 1: 2.0}, {0: 0.0, 1: 0.0}).p is None       # too few pairs: no test run


def test_equivalence_p_is_that_of_the_edges_it_must_clear():
    a, b = _pairs([0.1, -0.1, 0.05, 0.0])
    grade = grade_equivalence(a, b, margin=0.5)
    assert grade.verdict == "reproduced" and grade.p < 0.05
    diffs = [0.1, -0.1, 0.05, 0.0]
    assert grade.p == pytest.approx(max(t_p_value(diffs, -0.5), t_p_value(diffs, 0.5)))
    a, b = _pairs([0.2, 0.6, 0.4])
    assert grade_equivalence(a, b, margin=0.5).p > 0.05


def test_direction_only_says_so_and_keeps_its_verdict():
    treatment, control = {0: 72.0, 1: 72.1, 2: 71.9}, {0: 70.0, 1: 70.0, 2: 70.0}
    plain = grade_effect(treatment, control, paper=1.1)
    scoped = grade_effect(treatment, control, paper=1.1, scope=DIRECTION)
    assert scoped.verdict == plain.verdict == "reproduced" and "direction" not in plain.rule
    assert scoped.rule.startswith("direction only") and scoped.rule.endswith(plain.rule)
    assert "direction only" in grade_effect({0: 1.0}, {0: 0.0}, scope=DIRECTION).rule   # undecided rows too
    change = grade_change({0: 0.1, 1: 0.1, 2: 0.1}, {0: 0.3, 1: 0.31, 2: 0.29}, scope=DIRECTION)
    assert change.verdict == "reproduced" and change.rule.startswith("direction only")
    assert "change from initialisation" in change.rule


def test_size_too_is_partly_when_the_paper_lies_outside_our_interval():
    # v2 loses 3.5 pp where the paper says 1.1 pp: the direction holds, the size does not
    base, v2 = {0: 80.0, 1: 80.2, 2: 79.9}, {0: 76.5, 1: 76.6, 2: 76.5}
    outside = grade_effect(v2, base, direction=-1, paper=-1.1, scope=SIZE)
    assert outside.verdict == "partly" and "outside our interval" in outside.rule
    inside = grade_effect(v2, base, direction=-1, paper=-3.5, scope=SIZE)
    assert inside.verdict == "reproduced" and "inside our interval" in inside.rule
    # a contradicted or undecided direction is what it was, whatever the size
    assert grade_effect(base, v2, direction=-1, paper=3.5, scope=SIZE).verdict == "not reproduced"
    # 2.3x faster than AlexNet where the paper says 13x
    assert grade_timing([2.2, 2.3, 2.4, 2.3], 1.0, paper=13.0, scope=SIZE).verdict == "partly"
    assert grade_timing([12.5, 13.2, 13.6, 12.9], 1.0, paper=13.0, scope=SIZE).verdict == "reproduced"
    with pytest.raises(EffconvError, match="needs the paper's value"):
        grade_effect(v2, base, direction=-1, scope=SIZE)
    with pytest.raises(EffconvError, match="scope must be"):
        grade_effect(v2, base, direction=-1, scope="sign")


def test_a_claim_across_datasets_shows_both_numbers_and_no_delta():
    from effconv.claims import ClaimsTable

    table = ClaimsTable("versatile")
    table.add("ImageNet vs CIFAR-10", kind="trained", source="paper: test", paper=71.5, ours=83.3, verdict="not comparable",
              profile="cpu", evidence="test", same_dataset=False)
    table.add("same dataset", kind="trained", source="paper: test", paper=71.5, ours=83.3, verdict="not comparable",
              profile="cpu", evidence="test")
    frame = table.frame()
    assert list(frame["delta"]) == ["", "11.8"] and list(frame["paper"]) == ["71.5", "71.5"]
