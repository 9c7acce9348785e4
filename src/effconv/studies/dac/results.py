"""Chapter 4 (DAC): the stored results the chapter reads, as frames in percent.

The trained VGG-16 baselines of ``dac_runs`` and the sweeps stored with them (one ``seed`` column per
training seed); ``dac_report`` turns them into the chapter's tables and figures, ``dac_claims`` grades
them. A run that is not stored gives an empty frame or a ``Baseline`` that says "not run".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from effconv.experiments import ResultStore, StoredRuns, analysis, results_table
from effconv.studies.dac import plan

ACCURACY_COLUMNS = ("accuracy", "baseline_accuracy", "accuracy_drop")


FULL_TEST_SET = 10_000


def layer_order(names: Sequence[str]) -> list[str]:
    """``conv2d_i`` names sorted by ``i`` (conv2d_10 after conv2d_9)."""
    return sorted(set(names), key=lambda name: int(name.rsplit("_", 1)[1]))


def n_test_images(result: dict[str, Any] | None) -> int:
    """How many test images a stored run evaluated on (the smoke profile uses a slice)."""
    if result is None:
        return FULL_TEST_SET
    subset = result.get("provenance", {}).get("data", {}).get("subset") or {}
    return int(subset.get("test") or FULL_TEST_SET)


def baseline_table(specs: Sequence, results: Sequence[dict | None]) -> pd.DataFrame:
    """One row per trained VGG-16 baseline (stored or not run), accuracies in %."""
    table = results_table(specs, results)
    table["test_acc_%"] = 100 * table["test_acc"]
    table["best_acc_%"] = 100 * table["best_acc"]
    table["test_images"] = [n_test_images(r) if r is not None else math.nan for r in results]
    columns = ["name", "profile", "seed", "width", "epochs_planned", "status", "test_acc_%", "best_acc_%",
               "test_images", "params", "macs", "minutes", "data", "device"]
    for column in columns:
        if column not in table:
            table[column] = math.nan
    return table[columns]


@dataclass(frozen=True)
class Baseline:
    """The baseline accuracy the sweeps start from (mean over stored seeds)."""

    profile: str
    seeds: int
    accuracy: float | None  # %
    std: float | None  # % over seeds (None for one seed)
    n_test: int
    setting: str = ""  # how the stored baseline differs from the paper's (width, epochs)

    @property
    def stored(self) -> bool:
        return self.accuracy is not None

    def text(self) -> str:
        if self.accuracy is None:
            return "not run"
        spread = f" ± {self.std:.2f}" if self.std is not None else ""
        return f"{self.accuracy:.2f}{spread}% ({self.seeds} random seed{'s' if self.seeds != 1 else ''})"


def baseline_summary(profile: str, results: Sequence[dict | None]) -> Baseline:
    stored = [r for r in results if r is not None]
    if not stored:
        return Baseline(profile, 0, None, None, FULL_TEST_SET)
    accs = [100 * r["metrics"]["final"]["test_acc"] for r in stored]
    mean = float(np.mean(accs))
    std = float(np.std(accs, ddof=1)) if len(accs) > 1 else None
    n_test = min(n_test_images(r) for r in stored)
    spec = stored[0].get("spec", {})
    setting = (f"VGG-16 at width {spec.get('model_kwargs', {}).get('width', 1.0):g}, "
               f"{spec.get('recipe', {}).get('epochs', '?')} epochs (paper: full width, full schedule)")
    return Baseline(profile, len(stored), mean, std, n_test, setting)


def sweep_frame(specs: Sequence, results: Sequence[dict | None], name: str) -> pd.DataFrame:
    """A stored sweep of every seed stacked (``seed`` column), accuracies in %; empty if none stored."""
    frames = []
    for spec, result in zip(specs, results):
        records = analysis(result, name)
        if records:
            frame = pd.DataFrame(records).assign(seed=spec.seed)
            for column in ACCURACY_COLUMNS:
                if column in frame:
                    frame[column] = 100 * frame[column]
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def seed_mean(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Accuracy and drop averaged over seeds per configuration, with their seed std and the seed count."""
    if frame.empty:
        return pd.DataFrame()
    grouped = frame.groupby(list(keys), sort=False)
    out = grouped.agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                      accuracy_drop=("accuracy_drop", "mean"), drop_std=("accuracy_drop", "std"),
                      macs_saved_pct=("macs_saved_pct", "first"), macs=("macs", "first"),
                      seeds=("seed", "nunique")).reset_index()
    return out


def stored_seeds(profile: str) -> list[int]:
    """Every seed at which the planned baseline of ``profile`` is stored, in this chapter's plan or not.

    Chapter 5 trains the same baseline spec at more seeds than this chapter plans; a stored file counts
    only when its content is the planned spec at that seed (the store checks the key), so a run with any
    other recipe, width or code version is never read as one of ours.
    """
    store = ResultStore.for_profile(profile)
    named = {int(result["spec"]["seed"]) for _, result in store.results(plan.CHAPTER)
             if result.get("spec", {}).get("name") == "vgg16-baseline" and result["spec"].get("profile") == profile}
    return sorted(seed for seed in named if store.load(plan.baseline_spec(profile, seed)) is not None)


def load_runs(profile: str = "best", *, run_missing: bool = False, log=print) -> StoredRuns:
    """The baseline runs of ``profile`` (``best``: the best committed one), None where not run: the plan's
    seeds, then every other seed at which the same baseline spec is stored (``stored_seeds``), so that every
    stored run of the planned arm is read, here and in chapter 5 alike."""
    runs = StoredRuns.load(plan.experiments, profile, run_missing=run_missing, log=log)
    planned = {spec.seed for spec in runs.specs}
    store = ResultStore.for_profile(runs.profile)
    extra = [plan.baseline_spec(runs.profile, seed) for seed in stored_seeds(runs.profile) if seed not in planned]
    return StoredRuns(runs.profile, runs.specs + extra, runs.results + [store.load(spec) for spec in extra])
