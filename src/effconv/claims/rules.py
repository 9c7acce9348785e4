"""Every verdict in the book is decided here, by one of seven small rules.

A chapter chooses a rule and its inputs (which runs, which printed figure, which direction the paper
claims); it never writes a rule of its own. Each rule returns a ``Grade``: the verdict, our value, the
delta to the paper, and for statistical rules the 95% interval and the number of pairs or rounds.

- ``grade_count``: a number we count (MACs, parameters, a cost ratio) against a printed one.
- ``grade_bound``: a number we count, or the values of repeated runs, against a printed inequality ("< 1/32",
  "no case fails", "stays above 60%", "drops 0.7 pp").
- ``grade_effect``: "A beats B" from paired seeds (same seed in both arms), with a t interval.
- ``grade_equivalence``: "A is about the same as B" from paired runs, within a margin the chapter states.
- ``grade_change``: a property that may already hold at initialisation, graded on what training changed.
- ``grade_timing``: a live timing against a threshold, from repeated rounds.
- ``grade_setting``: an absolute number from a setting unlike the paper's: "not comparable".

``combine`` folds the grades of a claim that covers several cases (every g, every width) into one.

A statistical rule can say what it grades (``scope``): the direction only (``DIRECTION``: our setting differs
from the paper's, so the size is shown but not graded) or the size too (``SIZE``: same setting, so "partly"
when the direction holds but the paper's value lies outside our interval). Its ``Grade`` also carries the
p-value of the t test behind the verdict (``t_p_value``), which ``effconv.claims.multiplicity`` adjusts for
the number of tests a chapter runs.
"""

from __future__ import annotations

import math
import operator
import statistics
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Mapping, Sequence

from effconv.checks import check_number, check_positive
from effconv.claims.verdicts import (INCONCLUSIVE, NOT_COMPARABLE, NOT_REPRODUCED, NOT_RUN, PARTLY, REPRODUCED,
                                     check_verdict)
from effconv.errors import EffconvError
from effconv.wording import plural

COUNT_TOLERANCE = 0.005   # a counted value within 0.5% of the printed one is the printed one
COUNT_PARTLY = 0.05       # within 5%: close, but not the same number
ABOUT_TOLERANCE = 0.05    # a figure the paper itself calls approximate ("about 1/9") is met within 5%
#: a rule's ``scope``: the direction only (settings differ; the size is shown, not graded)
DIRECTION = "direction"
#: a rule's ``scope``: the size too (same setting; "partly" when the paper's value lies outside our interval)
SIZE = "size"
MIN_PAIRS = 3             # fewer paired seeds (or timing rounds) than this cannot decide an effect
BOUNDS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}  # printed inequalities

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (standard tables); from 31 on the
# normal 1.96 is within 2% of t, which is all an interval over a handful of seeds can carry.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


@dataclass(frozen=True)
class Grade:
    """What a rule decided: the verdict, our value, its difference from the paper's, the interval and the rule."""

    verdict: str
    ours: float | None = None
    delta: float | None = None
    low: float | None = None       # 95% interval of ``ours`` (statistical rules)
    high: float | None = None
    n: int = 0                     # pairs of seeds or timing rounds behind ``ours``
    rule: str = ""                 # one line: how the verdict was reached
    p: float | None = None         # two-sided p of the t test the verdict rests on (None: no test was run)

    def __post_init__(self) -> None:
        check_verdict(self.verdict)

    @property
    def interval(self) -> str:
        """The 95% interval as text (``"[low, high]"``), empty when the rule has none."""
        return "" if self.low is None else f"[{self.low:.3g}, {self.high:.3g}]"


def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise EffconvError(f"a t interval needs at least 1 degree of freedom, got {df}.")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95% t interval of ``values`` (at least two)."""
    values = [float(v) for v in values]
    if len(values) < 2:
        raise EffconvError(f"an interval needs at least two values, got {len(values)}.")
    mean = statistics.fmean(values)
    half = t_quantile(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def _t_two_sided(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom: exact for df <= 30 (the finite series of
    the t distribution for whole df), the normal beyond, as ``t_quantile`` does, so that p < 0.05 exactly
    when the 95% interval excludes the null (up to the 3 decimals of the quantile table)."""
    t = abs(t)
    if math.isinf(t):
        return 0.0
    if df > len(_T975):
        return math.erfc(t / math.sqrt(2.0))
    theta = math.atan(t / math.sqrt(df))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    term, total = 1.0, 1.0
    if df % 2:   # odd df: an arctangent plus a finite sum
        for k in range(1, (df - 1) // 2):
            term *= cos2 * (2 * k) / (2 * k + 1)
            total += term
        inside = 2.0 / math.pi * (theta + (sin * math.cos(theta) * total if df > 1 else 0.0))
    else:        # even df: a finite sum alone
        for k in range(1, df // 2):
            term *= cos2 * (2 * k - 1) / (2 * k)
            total += term
        inside = sin * total
    return min(1.0, max(0.0, 1.0 - inside))


def t_p_value(values: Sequence[float], null: float = 0.0) -> float:
    """Two-sided p of the one-sample t test "the mean of ``values`` is ``null``" (at least two values),
    with the mean, standard deviation and degrees of freedom of ``mean_interval``: paired differences give
    the paired t test behind ``grade_effect``."""
    values = [float(v) for v in values]
    if len(values) < 2:
        raise EffconvError(f"a t test needs at least two values, got {len(values)}.")
    mean, spread = statistics.fmean(values), statistics.stdev(values)
    if spread == 0:   # identical values: decided exactly, as the interval [mean, mean] is
        return 1.0 if mean == null else 0.0
    return _t_two_sided((mean - null) * math.sqrt(len(values)) / spread, len(values) - 1)


def _decision_p(values: Sequence[float], edge: float, side: int) -> float:
    """The p of deciding that the mean lies beyond ``edge`` on ``side`` (+1 above, -1 below): the two-sided p
    at ``edge`` when the mean is on that side, else 1 (no test can decide it)."""
    return t_p_value(values, edge) if side * (statistics.fmean(values) - edge) > 0 else 1.0


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def round_half_away(value: float, decimals: int = 0) -> float:
    """``value`` rounded to ``decimals`` places (negative: tens, hundreds), halves away from zero as on paper
    (18.5 -> 19, -0.125 -> -0.13), not to even like ``round``; the value is read as Python prints it, so
    2.675 rounds to 2.68 although its binary double lies just below."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise EffconvError(f"decimals must be a whole number of places (e.g. 0, 2 or -1), got {decimals!r}.")
    if not math.isfinite(value):
        raise EffconvError(f"only a finite number can be rounded, got {value!r}; grade a missing count as not run.")
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _pct(share: float) -> str:
    return f"{share * 100:g}%"


def grade_count(ours: float | None, paper: float, *, decimals: int | None = None, about: bool = False) -> Grade:
    """A counted value against a printed one: reproduced when it rounds to the printed figure (to
    ``decimals`` places, halves away from zero) or lies within 0.5% of it; partly within 5%; else not
    reproduced. ``about``: the paper calls its figure approximate ("about 1/9", "~50x"), so it is met
    within ``ABOUT_TOLERANCE`` (5%) and missed beyond, with no "partly" band. The rule text names the
    tolerance that decided."""
    if _missing(ours):
        return Grade(NOT_RUN, rule="not counted")
    delta = ours - paper
    gap = abs(delta) / abs(paper) if paper else abs(delta)
    rounds = decimals is not None and round_half_away(ours, decimals) == round_half_away(paper, decimals)
    how = "rounds to the printed figure" if rounds else f"{gap:.2%} from the printed figure"
    if about:
        verdict = REPRODUCED if rounds or gap <= ABOUT_TOLERANCE else NOT_REPRODUCED
        return Grade(verdict, ours=ours, delta=delta,
                     rule=f"counted: {how}, which the paper gives as approximate (tolerance {_pct(ABOUT_TOLERANCE)})")
    if rounds or gap <= COUNT_TOLERANCE:
        verdict = REPRODUCED
    elif gap <= COUNT_PARTLY:
        verdict = PARTLY
    else:
        verdict = NOT_REPRODUCED
    return Grade(verdict, ours=ours, delta=delta,
                 rule=f"counted: {how} (tolerance {_pct(COUNT_TOLERANCE)}, partly within {_pct(COUNT_PARTLY)})")


def grade_bound(ours: float | None | Mapping | Sequence[float], bound: float, side: str, *,
                margin: float | None = None, paper: float | None = None) -> Grade:
    """A printed inequality ``ours <side> bound`` (``side`` one of <, <=, >, >=): "< 1/32", "stays above 60%",
    "drops at most 0.7 pp" (a drop <= 0.7), or a direction ("fewer": a difference < 0).

    ``ours`` a counted number: reproduced when it holds; partly when it misses by at most 5% of the bound
    (the counted rule's "near but not at the printed figure"); not reproduced beyond, so a bound of 0 ("no
    case fails") allows no miss.

    ``ours`` the values of repeated runs (seed -> value, or a sequence; at least 3): their mean and 95% t
    interval against the bound, with ``margin`` (the chapter's stated miss that a setting unlike the paper's
    could explain, in the claim's units, >= 0). Reproduced when the whole interval lies on the bound's side;
    not reproduced when it is *clearly* violated: the whole interval lies beyond the bound by more than
    ``margin``; inconclusive otherwise (it straddles the bound, or misses by less than the margin).
    ``paper`` (the printed value, if any) only fills ``delta``.
    """
    if side not in BOUNDS:
        raise EffconvError(f"a bound's side must be one of {', '.join(BOUNDS)}, got {side!r}.")
    if isinstance(ours, (Mapping, list, tuple)):
        return _bound_runs(ours, bound, side, margin, paper)
    if margin is not None:
        raise EffconvError("a margin applies to the values of repeated runs; pass them as a seed -> value mapping "
                           "or a list, or leave margin out for a counted number.")
    if _missing(ours):
        return Grade(NOT_RUN, rule="not counted")
    delta = ours - bound
    if BOUNDS[side](ours, bound):
        return Grade(REPRODUCED, ours=ours, delta=delta, rule=f"bound: {ours:.4g} {side} {bound:.4g} holds")
    miss = abs(delta)
    verdict = PARTLY if miss <= COUNT_PARTLY * abs(bound) else NOT_REPRODUCED
    share = f" ({miss / abs(bound):.2%} of it)" if bound else ""
    return Grade(verdict, ours=ours, delta=delta, rule=f"bound: {ours:.4g} misses {side} {bound:.4g} by {miss:.4g}"
                                                       f"{share}; partly within {_pct(COUNT_PARTLY)} of the bound")


def _bound_runs(runs: Mapping | Sequence[float], bound: float, side: str, margin: float | None,
                paper: float | None) -> Grade:
    """``grade_bound`` over the values of repeated runs (see there)."""
    if margin is None:
        raise EffconvError("a bound over repeated runs needs margin=: the largest miss (in the claim's units) that "
                           "the difference of setting could explain; 0 makes any clear miss a contradiction.")
    check_number("the bound's margin", margin, low=0)
    values = [float(v) for v in (runs.values() if isinstance(runs, Mapping) else runs) if not _missing(v)]
    undecided = _undecided(values, paper, MIN_PAIRS, none="no run measured", unit="run")
    if undecided:
        return undecided
    mean, low, high = mean_interval(values)
    up = 1 if side in (">", ">=") else -1         # the side the claim puts the values on
    far = bound - up * margin                      # beyond this edge the bound is clearly violated
    holds = BOUNDS[side](low if up > 0 else high, bound)
    violated = (high < far) if up > 0 else (low > far)
    if holds:
        verdict, p = REPRODUCED, _decision_p(values, bound, up)
    elif violated:
        verdict, p = NOT_REPRODUCED, _decision_p(values, far, -up)
    else:
        verdict = INCONCLUSIVE
        p = _decision_p(values, bound, up) if up * (mean - bound) > 0 else _decision_p(values, far, -up)
    return Grade(verdict, ours=mean, delta=None if paper is None else mean - paper, low=low, high=high,
                 n=len(values), p=p, rule=f"bound over {len(values)} runs, 95% t interval against {side} {bound:g}; "
                                       f"clearly violated beyond {far:g} (margin {margin:g})")


def paired_differences(treatment: Mapping, control: Mapping) -> list[float]:
    """``treatment - control`` for every key (seed) present and measured in both, in key order."""
    keys = sorted(set(treatment) & set(control))
    return [float(treatment[k]) - float(control[k]) for k in keys
            if not (_missing(treatment[k]) or _missing(control[k]))]


def _undecided(values: Sequence[float], paper: float | None, min_pairs: int, *, none: str, unit: str) -> Grade | None:
    """The grade of too little evidence: not run without values, inconclusive with fewer than ``min_pairs``."""
    if not values:
        return Grade(NOT_RUN, rule=none)
    if len(values) >= min_pairs:
        return None
    mean = statistics.fmean(values)
    return Grade(INCONCLUSIVE, ours=mean, delta=None if paper is None else mean - paper, n=len(values),
                 rule=f"{plural(len(values), unit)}; at least {min_pairs} are needed to decide")


def _scoped(grade: Grade, scope: str | None, paper: float | None) -> Grade:
    """``grade`` stated as what it grades. ``DIRECTION``: the verdict is on the direction alone and the rule
    text says so. ``SIZE``: the paper's value must also lie inside our 95% interval, else a direction that
    holds is only "partly". None: the rule text as before scopes existed (until every chapter states one)."""
    if scope is None:
        return grade
    if scope == DIRECTION:
        return replace(grade, rule=f"direction only (settings differ: the size is shown, not graded): {grade.rule}")
    if scope != SIZE:
        raise EffconvError(f"scope must be {DIRECTION!r}, {SIZE!r} or None, got {scope!r}.")
    if paper is None or _missing(paper):
        raise EffconvError("a rule that grades the size needs the paper's value (paper=); without one, grade the "
                           f"direction only (scope={DIRECTION!r}).")
    rule = f"direction and size (same setting): {grade.rule}"
    if grade.low is None:
        return replace(grade, rule=rule)
    inside = grade.low <= paper <= grade.high
    rule += f"; the paper's {paper:g} lies {'inside' if inside else 'outside'} our interval"
    verdict = PARTLY if grade.verdict == REPRODUCED and not inside else grade.verdict
    return replace(grade, verdict=verdict, rule=rule)


def grade_effect(treatment: Mapping[int, float], control: Mapping[int, float], *, direction: int = 1,
                 paper: float | None = None, min_pairs: int = MIN_PAIRS, scope: str | None = None,
                 planned: int | None = None) -> Grade:
    """Does ``treatment`` beat ``control`` in the paper's ``direction`` (+1: higher, -1: lower)?

    Both map seed -> value; only seeds present in both arms count (paired). The effect is the mean
    paired difference with its 95% t interval: reproduced when the interval excludes 0 on the paper's
    side, not reproduced when it excludes 0 on the other side, inconclusive when it contains 0 or when
    fewer than ``min_pairs`` pairs exist (not run when there are none). ``scope``: ``DIRECTION`` or
    ``SIZE`` (``paper`` then required), see ``_scoped``; the grade's ``p`` is the paired t test's.
    ``planned``: the pairs a power calculation fixed before the runs (``effconv.claims.power``): the effect is
    graded on the first ``planned`` paired seeds only, and stays inconclusive until all of them are stored,
    so that no interval is read early.
    """
    if direction not in (1, -1):
        raise EffconvError(f"direction must be +1 or -1, got {direction!r}.")
    first_stage = False
    if planned is not None:
        check_number("planned", planned, low=MIN_PAIRS, integer=True)
        seeds = sorted(set(treatment) & set(control))
        first_stage = len(seeds) < planned
        kept = set(seeds[:planned])
        treatment = {s: v for s, v in treatment.items() if s in kept}
        control = {s: v for s, v in control.items() if s in kept}
    diffs = paired_differences(treatment, control)
    undecided = _undecided(diffs, paper, min_pairs, none="no seed run in both arms", unit="paired seed")
    if undecided:
        return _scoped(undecided, scope, paper)
    mean, low, high = mean_interval(diffs)
    signed_low, signed_high = sorted((direction * low, direction * high))
    if signed_low > 0:
        verdict = REPRODUCED
    elif signed_high < 0:
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    side = "above" if direction > 0 else "below"
    grade = Grade(verdict, ours=mean, delta=None if paper is None else mean - paper, low=low, high=high,
                  n=len(diffs), p=t_p_value(diffs),
                  rule=f"paired effect over {len(diffs)} seeds, 95% t interval; the paper says {side} 0")
    if first_stage:   # the interval is shown, never read: the verdict waits for the planned pairs
        grade = replace(grade, verdict=INCONCLUSIVE, p=None, rule=f"first stage, {len(diffs)} of the {planned} pairs planned "
                                                          f"by power (graded when all are stored): {grade.rule}")
    return _scoped(grade, scope, paper)


def grade_equivalence(a: Mapping, b: Mapping, *, margin: float, paper: float | None = None,
                      min_pairs: int = MIN_PAIRS) -> Grade:
    """Is ``a`` about the same as ``b``, as the paper says? Both map a run (a seed, or any key) to a value;
    the mean paired difference a - b with its 95% t interval (as in ``grade_effect``): reproduced when the
    whole interval lies within +-``margin`` (the chapter's stated choice), not reproduced when it lies wholly
    outside, inconclusive when it crosses a margin's edge or fewer than ``min_pairs`` pairs exist (not run
    when there are none). The grade's ``p`` is that of the edge(s) the interval must clear for the verdict
    its mean points to (both edges for "about the same")."""
    check_positive("the equivalence margin", margin)
    diffs = paired_differences(a, b)
    undecided = _undecided(diffs, paper, min_pairs, none="no run measured in both conditions", unit="pair")
    if undecided:
        return undecided
    mean, low, high = mean_interval(diffs)
    if -margin <= low and high <= margin:
        verdict = REPRODUCED
    elif low > margin or high < -margin:
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    if abs(mean) < margin:
        p = max(_decision_p(diffs, -margin, 1), _decision_p(diffs, margin, -1))
    else:
        p = _decision_p(diffs, math.copysign(margin, mean), 1 if mean > 0 else -1)
    return Grade(verdict, ours=mean, delta=None if paper is None else mean - paper, low=low, high=high, n=len(diffs),
                 p=p, rule=f"equivalence over {len(diffs)} pairs, 95% t interval against the margin +-{margin:g}")


def grade_change(initial: Mapping[int, float], trained: Mapping[int, float], *, direction: int = 1,
                 paper: float | None = None, scope: str | None = None) -> Grade:
    """A property that may already hold before training: graded on what training changed (trained minus
    initial, paired by seed), never on its absolute value. ``scope`` as in ``grade_effect``."""
    grade = grade_effect(trained, initial, direction=direction, paper=paper)
    return _scoped(replace(grade, rule="change from initialisation: " + grade.rule), scope, paper)


def grade_timing(rounds: Sequence[float], threshold: float, *, direction: int = 1,
                 paper: float | None = None, scope: str | None = None) -> Grade:
    """A live timing (for example a speed-up ratio per round) against ``threshold``: reproduced when the
    95% interval over rounds lies on the claim's side, not reproduced when on the other, inconclusive
    when it straddles the threshold or fewer than 3 rounds exist. ``scope`` as in ``grade_effect`` (the
    size is the paper's ratio, ``paper``)."""
    values = [float(v) for v in rounds if not _missing(v)]
    undecided = _undecided(values, paper, MIN_PAIRS, none="not timed", unit="timing round")
    if undecided:
        return _scoped(undecided, scope, paper)
    mean, low, high = mean_interval(values)
    signed = sorted((direction * (low - threshold), direction * (high - threshold)))
    verdict = REPRODUCED if signed[0] > 0 else NOT_REPRODUCED if signed[1] < 0 else INCONCLUSIVE
    grade = Grade(verdict, ours=mean, delta=None if paper is None else mean - paper, low=low, high=high,
                  n=len(values), p=t_p_value(values, threshold),
                  rule=f"{len(values)} timing rounds, 95% t interval against {threshold:g}")
    return _scoped(grade, scope, paper)


def grade_setting(ours: float | None, paper: float | None, setting: str) -> Grade:
    """An absolute number (an accuracy) from a setting unlike the paper's (narrower, shorter, JPEG data,
    CIFAR for ImageNet): shown with its setting, never graded as a failure."""
    if _missing(ours):
        return Grade(NOT_RUN, rule="not run")
    return Grade(NOT_COMPARABLE, ours=ours, delta=None if paper is None else ours - paper,
                 rule=f"different setting: {setting}")


def combine(grades: Iterable[Grade]) -> str:
    """One verdict for a claim over several cases: reproduced when every case is; not reproduced when any
    case contradicts it; partly when some cases hold and the rest are undecided; inconclusive when none
    holds and none contradicts; not run when no case was run. Never reproduced from an empty set."""
    verdicts = [g.verdict for g in grades if g.verdict not in (NOT_RUN, NOT_COMPARABLE)]
    if not verdicts:
        return NOT_RUN
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if any(v in (REPRODUCED, PARTLY) for v in verdicts):
        return PARTLY
    return INCONCLUSIVE
