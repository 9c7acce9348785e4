"""How many paired seeds a trained contrast needs, fixed before the runs that use the number.

A contrast graded by the paired rule (``grade_effect``) is decided when its 95% t interval clears 0 on the
paper's side. With a first stage of a few pairs run, the spread of the paired differences is known; the
number of pairs that would decide an effect of a given size with 80% probability follows from it. A chapter
records that number with the spread and the effect it came from (``PowerPlan``) and grades at that n only:
stopping the first time an interval clears 0 would make "reproduced" more likely than the rule says.

The power is the usual shifted-t approximation of the non-central t: the chance that the mean of ``n``
differences lies more than ``t_(n-1) * sd / sqrt(n)`` above 0 when the true mean is ``effect``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Mapping

from effconv.checks import check_number
from effconv.claims.rules import MIN_PAIRS, _t_two_sided, t_quantile
from effconv.errors import EffconvError

TARGET_POWER = 0.8
MAX_PAIRS = 1000   # beyond this an effect is too small for seeds to show: say so instead of planning it


def _t_above(x: float, df: int) -> float:
    """P(T > x) for Student's t with ``df`` degrees of freedom."""
    tail = _t_two_sided(x, df) / 2
    return tail if x >= 0 else 1.0 - tail


def power(pairs: int, sd: float, effect: float) -> float:
    """The chance that ``pairs`` paired differences of spread ``sd`` and true mean ``effect`` give a 95%
    interval wholly above 0 (the paired rule's "reproduced" for an effect in the paper's direction)."""
    if pairs < 2:
        raise EffconvError(f"a paired interval needs at least 2 pairs, got {pairs}.")
    check_number("sd", sd, low=0, low_open=True)
    return _t_above(t_quantile(pairs - 1) - effect * math.sqrt(pairs) / sd, pairs - 1)


def pairs_for_power(sd: float, effect: float, target: float = TARGET_POWER) -> int:
    """The fewest pairs (at least ``MIN_PAIRS``) whose power to decide ``effect`` reaches ``target``."""
    check_number("effect", effect, low=0, low_open=True)
    check_number("target", target, low=0, high=1, low_open=True, high_open=True)
    for pairs in range(MIN_PAIRS, MAX_PAIRS + 1):
        if power(pairs, sd, effect) >= target:
            return pairs
    raise EffconvError(f"an effect of {effect:g} with paired spread {sd:g} needs more than {MAX_PAIRS} pairs; "
                       "state a larger minimal effect of interest, or report the contrast as not decidable by seeds.")


def paired_sd(treatment: Mapping[int, float], control: Mapping[int, float]) -> float:
    """The standard deviation of the per-seed differences ``treatment - control`` (seeds in both, at least 2)."""
    seeds = sorted(set(treatment) & set(control))
    if len(seeds) < 2:
        raise EffconvError(f"a paired spread needs at least 2 seeds in both arms, got {len(seeds)}.")
    return statistics.stdev(treatment[s] - control[s] for s in seeds)


@dataclass(frozen=True)
class PowerPlan:
    """The pairs one contrast is planned to, and where that number came from (kept in the chapter's plan)."""

    contrast: str          # what is compared, in words
    first_stage: int       # the pairs stored when the number was set
    sd: float              # their paired spread (the contrast's unit)
    effect: float          # the effect the number resolves (the same unit)
    effect_source: str     # why that effect: the paper's, or the chapter's minimal effect of interest
    # The pairs the profile's compute budget trains, where that is fewer than planned (None: all of them).
    # The plan keeps the number power asks for, so the contrast stays at its first stage, inconclusive,
    # instead of being graded at a smaller n than the one fixed.
    budget: int | None = None

    def __post_init__(self):
        check_number("first_stage", self.first_stage, low=MIN_PAIRS, integer=True)
        if self.budget is not None:
            check_number("budget", self.budget, low=self.first_stage, integer=True)

    @property
    def pairs(self) -> int:
        """The planned number of pairs: at least the first stage, and enough for 80% power."""
        return max(self.first_stage, pairs_for_power(self.sd, self.effect))

    @property
    def trained_pairs(self) -> int:
        """The pairs the profile trains: the planned number, or fewer where the budget stops short."""
        return self.pairs if self.budget is None else min(self.pairs, self.budget)

    @property
    def funded(self) -> bool:
        """Whether the budget trains every planned pair."""
        return self.trained_pairs == self.pairs

    def text(self) -> str:
        """One sentence for the chapter: the number, how it was set, and what the budget trains of it."""
        planned = (f"{self.pairs} pairs, set after a first stage of {self.first_stage}: their paired spread "
                   f"{self.sd:.2f} gives 80% power to resolve {self.effect:g} ({self.effect_source}); graded at "
                   f"{self.pairs} pairs only")
        if self.funded:
            return planned
        return (f"{planned}; the compute budget trains {self.trained_pairs} of them, so the contrast stays at "
                f"that stage, inconclusive, until the rest are run")
