"""Chapter 3 (ACNet): the stored runs of the chapter's comparisons, and the names every table shares.

``Runs`` is one comparison (a profile, its specs, their results, None where not run); ``load`` resolves a
comparison of the chapter's plan and ``merge`` joins several, each run once. The labels and tolerances here are
the ones the tables (``acnet_report``, ``acnet_skeleton``), the figures and the claims all use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from effconv.experiments import ExperimentSpec, StoredRuns, results_table
from effconv.studies.acnet import plan as runs

FUSION_TOLERANCE = 1e-5       # float32, max|fused - unfused| / max|unfused|: what "same output" means
FLOAT64_TOLERANCE = 1e-12

#: the paper's CIFAR-10 table, in its order, with our zoo names and the paper-value keys
PAPER_FAMILIES = {"cifar_quick": ("Cifar-quick", "cifar_quick"), "vgg16_cifar": ("VGG-16", "vgg16"),
                  "resnet56": ("ResNet-56", "resnet56"), "wrn16_8": ("WRN-16-8", "wrn16_8"),
                  "densenet40": ("DenseNet-40", "densenet40")}
MODEL_LABELS = {**{k: v[0] for k, v in PAPER_FAMILIES.items()}, "resnet20": "ResNet-20"}
VARIANT_LABELS = {
    "base": "base", "hor": "square + hor", "ver": "square + ver", "sum-bn": "ACB, BN after sum",
    "acnet": "ACB", "border": "ACB on the border",
}
CONDITIONS = {"original": "original", "rot90_ccw": "90° ccw", "rot180": "180°", "flip_ud": "up-down flip"}


def is_missing(value: Any) -> bool:
    """None or NaN: a value that was not run."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: Any, digits: int = 2, *, signed: bool = False, unit: str = "") -> str:
    """A number for prose and tables; "not run" for a missing one."""
    if is_missing(value):
        return "not run"
    value = round(float(value), digits) + 0.0   # a value that rounds to zero never prints as -0.00
    return f"{value:+.{digits}f}{unit}" if signed else f"{value:.{digits}f}{unit}"


class Runs(StoredRuns):
    """One ACNet comparison (``StoredRuns``), with the variant of each run and per-run lookup."""

    def table(self) -> pd.DataFrame:
        """``results_table`` plus ``variant`` and accuracies in percent (``acc_pct``)."""
        table = results_table(self.specs, self.results)
        table.insert(2, "variant", [variant_of(s) for s in self.specs])
        table["acc_pct"] = 100 * table["test_acc"]
        return table

    def result(self, model: str, variant: str, seed: int | None = None) -> dict[str, Any] | None:
        """The stored result of (model, variant[, seed]); the first seed when ``seed`` is None."""
        for spec, result in zip(self.specs, self.results):
            if spec.model == model and variant_of(spec) == variant and (seed is None or spec.seed == seed):
                if result is not None or seed is not None:
                    return result
        return None


def variant_of(spec: ExperimentSpec) -> str:
    """The ACNet variant of a chapter spec: its name without the model prefix ("resnet20-border" -> "border")."""
    prefix = spec.model.replace("_", "-") + "-"
    return spec.name[len(prefix):] if spec.name.startswith(prefix) else spec.name


def load(spec_fn: Callable[[str], list[ExperimentSpec]], profile: str = "best", run_missing: bool = False,
         log=print) -> Runs:
    """``resolve`` a comparison (``plan.table_specs`` ...) into ``Runs``."""
    return Runs.load(spec_fn, profile, run_missing=run_missing, log=log)


def merge(first: Runs, *others: Runs) -> Runs:
    """Several comparisons of one profile as one, each experiment once."""
    return first.merge(*others)


@dataclass
class ChapterRuns:
    """The chapter's three comparisons as stored for one profile (``load_runs``)."""

    table: Runs       # Table 1: base vs ACNet per model, every seed
    ablation: Runs    # the branch ablation on Cifar-quick
    skeleton: Runs    # base, ACNet and border of the skeleton model (importance, pruning)

    @property
    def profile(self) -> str:
        return self.table.profile

    def every(self) -> list[Runs]:
        """The comparisons of the table's profile (each run once when merged)."""
        return [c for c in (self.table, self.ablation, self.skeleton) if c.profile == self.table.profile]

    def merged(self) -> Runs:
        return merge(*self.every())


def load_runs(profile: str = "best", run_missing: bool = False, log: Callable = print) -> ChapterRuns:
    """The stored runs of every comparison of the chapter (training the missing ones with ``run_missing``)."""
    return ChapterRuns(load(runs.table_specs, profile, run_missing, log=log),
                       load(runs.ablation_specs, profile, run_missing, log=log),
                       load(runs.skeleton_specs, profile, run_missing, log=log))
