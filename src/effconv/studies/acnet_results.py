"""Chapter 3 (ACNet): the stored runs of the chapter's comparisons, and the names every table shares.

``Runs`` is one comparison (a profile, its specs, their results, None where not run); ``load`` resolves a
comparison of ``acnet_runs`` and ``merge`` joins several, each run once. The labels and tolerances here are
the ones the tables (``acnet_report``, ``acnet_skeleton``), the figures and the claims all use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from effconv.errors import EffconvError
from effconv.experiments import ExperimentSpec, resolve, results_table

CHAPTER = "acnet"
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
    return f"{value:+.{digits}f}{unit}" if signed else f"{value:.{digits}f}{unit}"


@dataclass
class Runs:
    """One comparison: the profile it shows, its specs and their results (None where not run)."""

    profile: str
    specs: list[ExperimentSpec]
    results: list[dict[str, Any] | None]

    @property
    def stored(self) -> int:
        return sum(r is not None for r in self.results)

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
    """``resolve`` a comparison (``acnet_runs.table_specs`` ...) into ``Runs``."""
    used, specs, results = resolve(spec_fn, profile, run_missing=run_missing, log=log)
    return Runs(used, specs, results)


def merge(*comparisons: Runs) -> Runs:
    """Several comparisons of one profile as one, each experiment once."""
    profiles = {c.profile for c in comparisons}
    if len(profiles) != 1:
        raise EffconvError(f"cannot merge comparisons of different profiles {sorted(profiles)}; load them with one profile.")
    seen: dict[str, tuple[ExperimentSpec, Any]] = {}
    for comparison in comparisons:
        for spec, result in zip(comparison.specs, comparison.results):
            seen.setdefault(spec.key, (spec, result))
    specs, results = zip(*seen.values()) if seen else ((), ())
    return Runs(profiles.pop(), list(specs), list(results))
