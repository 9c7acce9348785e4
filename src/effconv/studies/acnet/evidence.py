"""Chapter 3 (ACNet): what the claims read from the stored runs, one value per training seed.

``load_runs`` gathers the chapter's three comparisons (``ChapterRuns``); ``per_seed`` turns a stored run into
{seed: value} with one of the readers here (accuracy, rotated accuracy, an importance-matrix statistic) or
with the pruning helpers; ``setting`` and ``stand_in`` word how our runs differ from the paper's. The rules
in ``effconv.claims`` then grade these values (``acnet_claims``, ``acnet_skeleton_claims``).
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from effconv.analysis.kernel_contrast import standardised
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet.results import ChapterRuns, at_epochs, MODEL_LABELS, Runs, variant_of
from effconv.studies.acnet.plan import CHAPTER
from effconv.studies.acnet.skeleton import destroyed_at, pruning_summary
from effconv.studies.paper import paper_value
from effconv.train.recipes import recipe_for

Seeds = dict[int, float]


def ref(key: str):
    """The chapter's published value ``key`` (``effconv.studies.paper``)."""
    return paper_value(CHAPTER, key)


def quiet(*_args: Any, **_kwargs: Any) -> None:
    return None


def per_seed(comparisons: Iterable[Runs], model: str, variant: str,
             value: Callable[[dict[str, Any]], float | None]) -> Seeds:
    """{seed: value(result)} over the stored runs of (model, variant); each seed once, NaN/None left out."""
    out: Seeds = {}
    for comparison in comparisons:
        for spec, result in zip(comparison.specs, comparison.results):
            if result is None or spec.model != model or variant_of(spec) != variant or spec.seed in out:
                continue
            number = value(result)
            if number is not None and not (isinstance(number, float) and math.isnan(number)):
                out[spec.seed] = float(number)
    return dict(sorted(out.items()))


def accuracy(result: dict[str, Any]) -> float:
    return 100 * result["metrics"]["final"]["test_acc"]


def rotated(condition: str) -> Callable[[dict[str, Any]], float | None]:
    def value(result: dict[str, Any]) -> float | None:
        stored = (result.get("analyses") or {}).get("acnet.rotation") or {}
        return 100 * stored[condition] if condition in stored else None
    return value


def matrix_value(fn: Callable[[pd.DataFrame], float]) -> Callable[[dict[str, Any]], float | None]:
    def value(result: dict[str, Any]) -> float | None:
        stored = (result.get("analyses") or {}).get("acnet.importance")
        return None if stored is None else fn(pd.DataFrame(stored["matrix"]))
    return value


def centre(matrix: pd.DataFrame) -> float:
    k = matrix.shape[0] // 2
    return float(matrix.to_numpy()[k, k])


def centre_lead(matrix: pd.DataFrame) -> float:
    """The centre minus the largest other position, on the map divided by its own mean (as the within-model
    contrasts are): positive when the centre is the largest position, 0 for a flat map."""
    values = standardised(matrix)
    k = values.shape[0] // 2
    others = np.delete(values.ravel(), k * values.shape[0] + k)
    return float(values[k, k] - others.max())


def difference(a: Seeds, b: Seeds) -> Seeds:
    """{seed: a - b} over the seeds both have."""
    return {s: a[s] - b[s] for s in sorted(set(a) & set(b))}


def pruning_mean(rows: pd.DataFrame, variant: str, region: str, *, last: bool = False) -> Seeds:
    """{training seed: mean pruned accuracy of ``region``}: at the region's last point (``last``: all of the
    region pruned), or averaged over the sparsities > 0 that every region of the run shares."""
    out: Seeds = {}
    part = rows[rows["variant"] == variant] if len(rows) else rows
    for seed, group in (part.groupby("run_seed") if len(part) else []):
        summary = pruning_summary(group.drop(columns="run_seed"))
        curve = summary[summary["region"] == region].sort_values("sparsity")
        if curve.empty:
            continue
        if last:
            out[int(seed)] = float(curve["mean"].iloc[-1])
        else:
            shared = set(summary.loc[summary["sparsity"] > 0, "sparsity"])
            for other in set(summary["region"]):
                shared &= set(summary.loc[summary["region"] == other, "sparsity"])
            points = curve[curve["sparsity"].isin(shared)]
            if len(points):
                out[int(seed)] = float(points["mean"].mean())
    return out


def destroyed_by_seed(rows: pd.DataFrame, variant: str) -> Seeds:
    part = rows[rows["variant"] == variant] if len(rows) else rows
    out = {int(seed): destroyed_at(pruning_summary(group.drop(columns="run_seed")), variant)
           for seed, group in (part.groupby("run_seed") if len(part) else [])}
    return {s: v for s, v in out.items() if not math.isnan(v)}


def mean_of(values: Seeds) -> float | None:
    return statistics.fmean(values.values()) if values else None


def seeds_text(values: Seeds) -> str:
    """"random seeds 0, 1, 2" (one: "random seed 0"; none: "no runs")."""
    return f"random seed{'s' if len(values) != 1 else ''} {', '.join(map(str, values))}" if values else "no runs"


def setting(comparison: Runs, model: str) -> str:
    """Our setting of ``model`` in words, for evidence and not-comparable rows."""
    specs = [s for s in comparison.specs if s.model == model]
    if not specs:
        return f"not in the {comparison.profile} profile"
    spec = specs[0]
    width = spec.model_kwargs.get("width", 1.0)
    return (f"{MODEL_LABELS.get(model, model)} at width {width:g}, {spec.recipe.epochs} epochs, "
            "JPEG CIFAR-10 (quality 75)")


def standing_in(model: str) -> str:
    return "" if model == "resnet56" else ", standing in for ResNet-56"


def stand_in(model: str, profile: str, paper_model: str = "resnet56") -> str:
    """How a claim about the paper's ``paper_model`` names the model that stands in for it in ``profile``: ""
    when it is the paper's model at full width (or the profile does not train it), else its name and width."""
    width = runs.TABLE.get(profile, {}).get(model, {}).get("width", 1.0)
    if model == paper_model:
        return "" if width == 1 else f" (at width {width:g}, a narrow stand-in)"
    return f" ({MODEL_LABELS.get(model, model)} at width {width:g} stands in for {MODEL_LABELS.get(paper_model, paper_model)})"


def schedule_arms(chapter: ChapterRuns) -> list[tuple[int, int, Seeds, Seeds]]:
    """The schedule model's base and ACNet accuracies per training length: (epochs, seeds planned, {seed: ACNet
    accuracy}, {seed: base accuracy}), Table 1's schedule first, then each longer one the profile plans."""
    model, profile = runs.SCHEDULE_MODEL, chapter.profile
    cfg = runs.TABLE.get(profile, {}).get(model)
    if cfg is None:
        return []
    planned = len(runs.table_seeds(profile, model))
    rows = [(recipe_for(profile, **cfg["recipe"]).epochs, planned, per_seed([chapter.table], model, "acnet", accuracy),
             per_seed([chapter.table], model, "base", accuracy))]
    for epochs in runs.LONGER_EPOCHS.get(profile, ()):
        longer = at_epochs(chapter.schedule, epochs) if chapter.schedule is not None else None
        arms = [per_seed([longer], model, v, accuracy) if longer is not None else {} for v in ("acnet", "base")]
        rows.append((epochs, len(cfg["seeds"]), *arms))
    return rows


def longest_complete(arms: list[tuple[int, int, Seeds, Seeds]]) -> tuple[int, int, Seeds, Seeds] | None:
    """The longest schedule whose planned pairs are all stored (the one the paper's claim is graded at)."""
    complete = [a for a in arms if len(set(a[2]) & set(a[3])) >= a[1]]
    return max(complete, key=lambda a: a[0]) if complete else None


def graded_table(chapter: ChapterRuns) -> Runs:
    """Table 1's runs with the schedule model's taken at the schedule its claim is graded at (the longest whose
    planned pairs are all stored), so the table, the prose and the ledger cite the same runs."""
    arms = schedule_arms(chapter)
    chosen = longest_complete(arms)
    if chosen is None or chapter.schedule is None or chosen[0] == arms[0][0]:
        return chapter.table
    longer = at_epochs(chapter.schedule, chosen[0])
    kept = [(s, r) for s, r in zip(chapter.table.specs, chapter.table.results) if s.model != runs.SCHEDULE_MODEL]
    return Runs(chapter.table.profile, [s for s, _ in kept] + longer.specs, [r for _, r in kept] + longer.results)
