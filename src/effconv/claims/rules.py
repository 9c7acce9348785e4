"""Every verdict in the book is decided here, by one of seven small rules.

A chapter chooses a rule and its inputs (which runs, which printed figure, which direction the paper
claims); it never writes a rule of its own. Each rule returns a ``Grade``: the verdict, our value, the
delta to the paper, and for statistical rules the 95% interval and the number of pairs or rounds.

- ``grade_count``: a number we count (MACs, parameters, a cost ratio) against a printed one.
- ``grade_bound``: a number we count against a printed inequality ("< 1/32", "no case fails").
- ``grade_effect``: "A beats B" from paired seeds (same seed in both arms), with a t interval.
- ``grade_equivalence``: "A is about the same as B" from paired runs, within a margin the chapter states.
- ``grade_change``: a property that may already hold at initialisation, graded on what training changed.
- ``grade_timing``: a live timing against a threshold, from repeated rounds.
- ``grade_setting``: an absolute number from a setting unlike the paper's: "not comparable".

``combine`` folds the grades of a claim that covers several cases (every g, every width) into one.
"""

from __future__ import annotations

import math
import operator
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from effconv.checks import check_positive
from effconv.claims.verdicts import (INCONCLUSIVE, NOT_COMPARABLE, NOT_REPRODUCED, NOT_RUN, PARTLY, REPRODUCED,
                                     check_verdict)
from effconv.errors import EffconvError

COUNT_TOLERANCE = 0.005   # a counted value within 0.5% of the printed one is the printed one
COUNT_PARTLY = 0.05       # within 5%: close, but not the same number
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


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def grade_count(ours: float | None, paper: float, *, decimals: int | None = None) -> Grade:
    """A counted value against a printed one: reproduced when it rounds to the printed figure (to
    ``decimals`` places) or lies within 0.5% of it; partly within 5%; else not reproduced."""
    if _missing(ours):
        return Grade(NOT_RUN, rule="not counted")
    delta = ours - paper
    gap = abs(delta) / abs(paper) if paper else abs(delta)
    rounds = decimals is not None and round(ours, decimals) == round(paper, decimals)
    if rounds or gap <= COUNT_TOLERANCE:
        verdict = REPRODUCED
    elif gap <= COUNT_PARTLY:
        verdict = PARTLY
    else:
        verdict = NOT_REPRODUCED
    how = "rounds to the printed figure" if rounds else f"{gap:.2%} from the printed figure"
    return Grade(verdict, ours=ours, delta=delta, rule=f"counted: {how} (tolerance 0.5%, partly within 5%)")


def grade_bound(ours: float | None, bound: float, side: str) -> Grade:
    """A counted value against a printed inequality ``ours <side> bound`` (``side`` one of <, <=, >, >=):
    reproduced when it holds; partly when it misses by at most 5% of the bound (the counted rule's "near
    but not at the printed figure"); not reproduced beyond, so a bound of 0 ("no case fails") allows no miss."""
    if side not in BOUNDS:
        raise EffconvError(f"a bound's side must be one of {', '.join(BOUNDS)}, got {side!r}.")
    if _missing(ours):
        return Grade(NOT_RUN, rule="not counted")
    delta = ours - bound
    if BOUNDS[side](ours, bound):
        return Grade(REPRODUCED, ours=ours, delta=delta, rule=f"bound: {ours:.4g} {side} {bound:.4g} holds")
    miss = abs(delta)
    verdict = PARTLY if miss <= COUNT_PARTLY * abs(bound) else NOT_REPRODUCED
    share = f" ({miss / abs(bound):.2%} of it)" if bound else ""
    return Grade(verdict, ours=ours, delta=delta,
                 rule=f"bound: {ours:.4g} misses {side} {bound:.4g} by {miss:.4g}{share}; partly within 5% of the bound")


def _paired(treatment: Mapping, control: Mapping) -> list[float]:
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
                 rule=f"{len(values)} {unit}; at least {min_pairs} are needed to decide")


def grade_effect(treatment: Mapping[int, float], control: Mapping[int, float], *, direction: int = 1,
                 paper: float | None = None, min_pairs: int = MIN_PAIRS) -> Grade:
    """Does ``treatment`` beat ``control`` in the paper's ``direction`` (+1: higher, -1: lower)?

    Both map seed -> value; only seeds present in both arms count (paired). The effect is the mean
    paired difference with its 95% t interval: reproduced when the interval excludes 0 on the paper's
    side, not reproduced when it excludes 0 on the other side, inconclusive when it contains 0 or when
    fewer than ``min_pairs`` pairs exist (not run when there are none).
    """
    if direction not in (1, -1):
        raise EffconvError(f"direction must be +1 or -1, got {direction!r}.")
    diffs = _paired(treatment, control)
    undecided = _undecided(diffs, paper, min_pairs, none="no seed run in both arms", unit="paired seed(s)")
    if undecided:
        return undecided
    mean, low, high = mean_interval(diffs)
    signed_low, signed_high = sorted((direction * low, direction * high))
    if signed_low > 0:
        verdict = REPRODUCED
    elif signed_high < 0:
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    side = "above" if direction > 0 else "below"
    return Grade(verdict, ours=mean, delta=None if paper is None else mean - paper, low=low, high=high, n=len(diffs),
                 rule=f"paired effect over {len(diffs)} seeds, 95% t interval; the paper says {side} 0")


def grade_equivalence(a: Mapping, b: Mapping, *, margin: float, paper: float | None = None,
                      min_pairs: int = MIN_PAIRS) -> Grade:
    """Is ``a`` about the same as ``b``, as the paper says? Both map a run (a seed, or any key) to a value;
    the mean paired difference a - b with its 95% t interval (as in ``grade_effect``): reproduced when the
    whole interval lies within +-``margin`` (the chapter's stated choice), not reproduced when it lies wholly
    outside, inconclusive when it crosses a margin's edge or fewer than ``min_pairs`` pairs exist (not run
    when there are none)."""
    check_positive("the equivalence margin", margin)
    diffs = _paired(a, b)
    undecided = _undecided(diffs, paper, min_pairs, none="no run measured in both conditions", unit="pair(s)")
    if undecided:
        return undecided
    mean, low, high = mean_interval(diffs)
    if -margin <= low and high <= margin:
        verdict = REPRODUCED
    elif low > margin or high < -margin:
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    return Grade(verdict, ours=mean, delta=None if paper is None else mean - paper, low=low, high=high, n=len(diffs),
                 rule=f"equivalence over {len(diffs)} pairs, 95% t interval against the margin +-{margin:g}")


def grade_change(initial: Mapping[int, float], trained: Mapping[int, float], *, direction: int = 1,
                 paper: float | None = None) -> Grade:
    """A property that may already hold before training: graded on what training changed (trained minus
    initial, paired by seed), never on its absolute value."""
    grade = grade_effect(trained, initial, direction=direction, paper=paper)
    return Grade(grade.verdict, ours=grade.ours, delta=grade.delta, low=grade.low, high=grade.high, n=grade.n,
                 rule="change from initialisation: " + grade.rule)


def grade_timing(rounds: Sequence[float], threshold: float, *, direction: int = 1,
                 paper: float | None = None) -> Grade:
    """A live timing (for example a speed-up ratio per round) against ``threshold``: reproduced when the
    95% interval over rounds lies on the claim's side, not reproduced when on the other, inconclusive
    when it straddles the threshold or fewer than 3 rounds exist."""
    values = [float(v) for v in rounds if not _missing(v)]
    undecided = _undecided(values, paper, MIN_PAIRS, none="not timed", unit="timing round(s)")
    if undecided:
        return undecided
    mean, low, high = mean_interval(values)
    signed = sorted((direction * (low - threshold), direction * (high - threshold)))
    verdict = REPRODUCED if signed[0] > 0 else NOT_REPRODUCED if signed[1] < 0 else INCONCLUSIVE
    return Grade(verdict, ours=mean, delta=None if paper is None else mean - paper, low=low, high=high,
                 n=len(values), rule=f"{len(values)} timing rounds, 95% t interval against {threshold:g}")


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
