"""Many tests, one threshold: the Holm step-down adjustment over a chapter's trained tests.

Each statistical rule in ``effconv.claims.rules`` decides at 95% on its own. A chapter that runs m such
tests expects some "decided" verdicts by chance alone, so beside each raw verdict the ledger can carry a
Holm-adjusted one: the raw verdict when its Holm-adjusted p is below ``ALPHA``, else "inconclusive". Holm
controls the chance of any false decision among the m tests at ``ALPHA`` without assuming they are
independent (the rows of one chapter share seeds and baselines, so they are not).

>>> holm_adjust([0.01, 0.04, 0.03])     # doctest: +SKIP
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Hashable

from effconv.claims.rules import Grade, paired_differences, t_p_value
from effconv.claims.verdicts import INCONCLUSIVE, NOT_REPRODUCED, PARTLY, REPRODUCED
from effconv.errors import EffconvError
from effconv.wording import plural

#: the family-wise level, the same as the rules' 95% intervals
ALPHA = 0.05
DECIDED = (REPRODUCED, PARTLY, NOT_REPRODUCED)        # verdicts a test decided; the others never change


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given: sorted ascending, the i-th smallest (from 0) is multiplied
    by m - i, capped at 1, and never below an adjusted value before it (the step-down)."""
    values = [float(p) for p in p_values]
    for p in values:
        if math.isnan(p) or not 0.0 <= p <= 1.0:
            raise EffconvError(f"a p-value must lie in [0, 1], got {p!r}; pass the p of each test (Grade.p).")
    m = len(values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=values.__getitem__)):
        running = max(running, min(1.0, (m - rank) * values[index]))
        adjusted[index] = running
    return adjusted


def holm_verdict(verdict: str, p_holm: float | None, alpha: float = ALPHA) -> str:
    """The Holm-adjusted verdict: a decided verdict stands when ``p_holm`` < ``alpha`` and becomes
    inconclusive otherwise; a verdict no test decided (inconclusive, not run, counted) is left as it is."""
    if p_holm is None or verdict not in DECIDED:
        return verdict
    return verdict if p_holm < alpha else INCONCLUSIVE


@dataclass(frozen=True)
class Adjusted:
    """One test of a family: its raw p, its Holm-adjusted p, the raw and the adjusted verdict."""
    p: float
    p_holm: float
    raw: str
    verdict: str
    tests: int            # m: how many tests the family holds


def holm_grades(grades: Mapping[Hashable, Grade], alpha: float = ALPHA) -> dict[Hashable, Adjusted]:
    """Holm over every grade that ran a test (``Grade.p`` not None); grades without one (too few pairs, not
    run, counted values) are no tests, are not counted in m and are absent from the result."""
    tested = {key: grade for key, grade in grades.items() if grade.p is not None}
    adjusted = holm_adjust([grade.p for grade in tested.values()])
    return {key: Adjusted(grade.p, p_holm, grade.verdict, holm_verdict(grade.verdict, p_holm, alpha), len(tested))
            for (key, grade), p_holm in zip(tested.items(), adjusted)}


def paired_p_values(samples: Mapping[Hashable, tuple[Mapping, Mapping]]) -> dict[Hashable, float]:
    """The paired t test's p of each (treatment, control) pair of seed -> value maps, as ``grade_effect``
    computes it; a pair with fewer than two shared seeds is no test and is refused."""
    out = {}
    for key, (treatment, control) in samples.items():
        diffs = paired_differences(treatment, control)
        if len(diffs) < 2:
            raise EffconvError(f"test {key!r} has {plural(len(diffs), 'seed')} run in both arms; a paired t test needs at "
                               "least two: leave it out of the family until its seeds are run.")
        out[key] = t_p_value(diffs)
    return out
