"""From specs to the tables chapters show: pick the profile, fetch (or train) results, flatten them."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import pandas as pd

from effconv.errors import EffconvError
from effconv.experiments.runner import choose_profile, run_all
from effconv.experiments.spec import ExperimentSpec
from effconv.provenance import machine
from effconv.train.recipes import check_profile

SpecFunction = Callable[[str], list[ExperimentSpec]]
Loaded = TypeVar("Loaded", bound="StoredRuns")


def resolve(spec_fn: SpecFunction, profile: str = "best", *, run_missing: bool = False,
            log=print) -> tuple[str, list[ExperimentSpec], list[dict[str, Any] | None]]:
    """The profile a comparison shows, its specs and their results (None where not run).

    ``spec_fn(profile)`` lists the comparison's experiments. ``profile="best"`` picks the best committed
    profile (never mixing profiles). With ``run_missing`` the missing experiments are trained first.
    """
    check_profile(profile, allow_best=True)  # one clear line, not a KeyError deep in a chapter
    if profile == "best":
        profile = choose_profile({p: spec_fn(p) for p in ("cpu", "full")})
    try:
        specs = spec_fn(profile)
    except KeyError as err:
        if err.args != (profile,):
            raise
        raise EffconvError(f"this comparison defines no experiments for profile {profile!r}; use best, cpu or "
                           "full.") from None
    results = run_all(specs, run_missing=run_missing, log=log)
    return profile, specs, results


@dataclass
class StoredRuns:
    """One comparison of a chapter as stored for one profile: its specs and their results (None where not run).

    Every chapter loads its runs through ``load`` and reads them from here; a chapter subclasses it only to
    add the frames its tables need.
    """

    profile: str
    specs: list[ExperimentSpec]
    results: list[dict[str, Any] | None]

    @classmethod
    def load(cls: type[Loaded], spec_fn: SpecFunction, profile: str = "best", *, run_missing: bool = False,
             log=print) -> Loaded:
        """``resolve`` the comparison ``spec_fn`` lists (training the missing runs with ``run_missing``)."""
        used, specs, results = resolve(spec_fn, profile, run_missing=run_missing, log=log)
        return cls(used, list(specs), list(results))

    @property
    def stored(self) -> int:
        """How many of the planned runs are stored."""
        return sum(r is not None for r in self.results)

    def merge(self: Loaded, *others: "StoredRuns") -> Loaded:
        """This comparison and ``others`` (one profile) as one, each experiment once."""
        profiles = {c.profile for c in (self, *others)}
        if len(profiles) != 1:
            raise EffconvError(f"cannot merge comparisons of different profiles {sorted(profiles)}; "
                               "load them with one profile.")
        seen: dict[str, tuple[ExperimentSpec, Any]] = {}
        for comparison in (self, *others):
            for spec, result in zip(comparison.specs, comparison.results):
                seen.setdefault(spec.key, (spec, result))
        return type(self)(self.profile, [s for s, _ in seen.values()], [r for _, r in seen.values()])


def _flat_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    flat = {}
    for key, value in kwargs.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": (tuple(v) if isinstance(v, list) else v) for k, v in value.items()})
        else:
            flat[key] = tuple(value) if isinstance(value, list) else value
    return flat


def results_table(specs: Sequence[ExperimentSpec], results: Sequence[dict[str, Any] | None]) -> pd.DataFrame:
    """One row per experiment: spec fields, final/best test accuracy, epochs, time, size, or ``not run``."""
    rows = []
    for spec, result in zip(specs, results):
        row: dict[str, Any] = {"name": spec.name, "model": spec.model, "profile": spec.profile, "seed": spec.seed,
                               **_flat_kwargs(dict(spec.model_kwargs)), "epochs_planned": spec.recipe.epochs}
        if result is None:
            row.update(status="not run", test_acc=math.nan, best_acc=math.nan, epochs=0)
        else:
            curve = result.get("curve", [])
            seconds = [r["seconds"] for r in curve if "seconds" in r]
            prov = result["provenance"]
            row.update(
                status="stored", test_acc=result["metrics"]["final"].get("test_acc", math.nan),
                best_acc=result["metrics"]["best"].get("test_acc", math.nan), epochs=len(curve),
                seconds_per_epoch=statistics.median(seconds) if seconds else math.nan,
                minutes=prov.get("wall_seconds", math.nan) / 60, params=result.get("model", {}).get("params"),
                macs=result.get("model", {}).get("macs"), device=machine(prov),
                data=prov.get("data", {}).get("source"), file=spec.filename,
            )
        rows.append(row)
    return pd.DataFrame(rows)


def seed_summary(table: pd.DataFrame, by: Sequence[str], value: str = "test_acc") -> pd.DataFrame:
    """Mean, standard deviation (over seeds; NaN for one seed) and count of ``value`` per group."""
    stored = table[table["status"] == "stored"]
    summary = stored.groupby(list(by))[value].agg(["mean", "std", "count"]).reset_index()
    return summary.rename(columns={"mean": f"{value}_mean", "std": f"{value}_std", "count": "seeds"})


def analysis(result: dict[str, Any] | None, name: str) -> Any:
    """A stored analysis of a result, or None when the run (or that analysis) is missing."""
    return None if result is None else result.get("analyses", {}).get(name)
