"""Seeds planned by power: the pairs an effect needs, and a planned effect graded at its n only."""

import math

import pytest

from effconv.claims import grade_effect
from effconv.claims.power import PowerPlan, paired_sd, pairs_for_power, power
from effconv.errors import EffconvError


def test_power_grows_with_pairs_and_effect():
    assert power(3, 1.0, 1.0) < power(10, 1.0, 1.0) < power(30, 1.0, 1.0)
    assert power(10, 1.0, 0.5) < power(10, 1.0, 1.0)
    assert power(10, 1.0, 0.0) == pytest.approx(0.025, abs=1e-3)   # no effect: only the one-sided false alarm


def test_pairs_for_power_against_the_textbook_figure():
    # a standardised effect of 1 needs about 10 pairs for 80% power in a paired t test (two-sided 5%)
    assert pairs_for_power(1.0, 1.0) == 10
    n = pairs_for_power(1.59, 1.0)
    assert power(n, 1.59, 1.0) >= 0.8 > power(n - 1, 1.59, 1.0)
    normal = ((1.96 + 0.8416) * 1.59) ** 2        # the normal approximation is a little optimistic
    assert math.ceil(normal) <= n <= math.ceil(normal) + 3


def test_bad_input():
    for call in (lambda: pairs_for_power(0, 1), lambda: pairs_for_power(1, 0), lambda: pairs_for_power(1, 1, 1.2),
                 lambda: pairs_for_power(100, 0.01), lambda: paired_sd({0: 1.0}, {0: 2.0})):
        with pytest.raises(EffconvError):
            call()


def test_a_plan_never_asks_for_fewer_pairs_than_its_first_stage():
    plan = PowerPlan("x", first_stage=8, sd=0.1, effect=1.0, effect_source="test")
    assert pairs_for_power(0.1, 1.0) == 3 and plan.pairs == 8 and "first stage of 8" in plan.text()


def test_a_budget_short_of_the_plan_trains_fewer_pairs_but_keeps_the_planned_n():
    plan = PowerPlan("x", first_stage=5, sd=1.59, effect=1.0, effect_source="test", budget=5)
    assert plan.pairs == 22 and plan.trained_pairs == 5 and not plan.funded
    assert "graded at 22 pairs only" in plan.text() and "budget trains 5 of them" in plan.text()
    roomy = PowerPlan("x", first_stage=5, sd=1.59, effect=1.0, effect_source="test", budget=40)
    assert roomy.trained_pairs == 22 and roomy.funded and "budget" not in roomy.text()
    for bad in (dict(budget=4), dict(budget=5.5), dict(first_stage=2)):   # below the first stage, not a count
        with pytest.raises(EffconvError):
            PowerPlan("x", **{**dict(first_stage=5, sd=1.0, effect=1.0, effect_source="t"), **bad})


def test_a_planned_effect_waits_for_its_pairs_and_then_uses_only_them():
    clear = {s: 2.0 + 0.1 * (s % 3) for s in range(10)}
    zero = {s: 0.0 for s in range(10)}
    early = grade_effect({s: clear[s] for s in range(4)}, zero, planned=6)
    assert early.verdict == "inconclusive" and early.n == 4 and early.p is None and "4 of the 6" in early.rule
    assert early.low is not None                 # the first stage's interval is shown, never read
    done = grade_effect(clear, zero, planned=6)
    assert done.verdict == "reproduced" and done.n == 6    # seeds 6-9 are not used: the plan said 6
    assert grade_effect({}, {}, planned=6).verdict == "not run"
    with pytest.raises(EffconvError, match="planned"):
        grade_effect(clear, zero, planned=2)
