"""Chapter 3 (ACNet): the kernel-skeleton study as tables, from stored runs.

How important each kernel position is (the average relative importance of the 3x3 positions, per variant)
and what pruning a region does to accuracy (corners, skeleton, border, top-left square, global). Nothing
here decides a verdict: ``acnet_skeleton_claims`` grades these with ``effconv.claims.rules``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from effconv.experiments import analysis
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet.results import VARIANT_LABELS, Runs, is_missing, variant_of
from effconv.studies.acnet.probes import importance_at_init, importance_summary, region_mask

DESTROYED_PCT = 20.0          # "destroyed": accuracy at most twice chance (10 classes)
REGION_ORDER = ("corners", "skeleton", "global", "border", "top_left")


def importance_matrices(comparison: Runs) -> dict[str, pd.DataFrame | None]:
    """The stored 3x3 average relative importance of each skeleton-model variant (None if not run)."""
    out: dict[str, pd.DataFrame | None] = {}
    for spec, result in zip(comparison.specs, comparison.results):
        stored = analysis(result, "acnet.importance")
        out[variant_of(spec)] = None if stored is None else pd.DataFrame(stored["matrix"])
    return out


def skeleton_setting(profile: str) -> tuple[str, float]:
    """The skeleton model of a profile and its width (cpu: ResNet-20; full: ResNet-56)."""
    model = runs.SKELETON_MODEL[profile]
    return model, runs.TABLE[profile][model]["width"]


def init_importance(profile: str, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Live: the importance matrices of the profile's skeleton models (base, ACNet, border) before training."""

    model, width = skeleton_setting(profile)
    return importance_at_init(model, {v: dict(runs.VARIANTS[v]) for v in ("base", "acnet", "border")},
                              width=width, seed=seed)


def region_mean(matrix: pd.DataFrame | None, region: str) -> float:
    """Mean importance over a kernel region (see ``effconv.studies.acnet.probes.region_mask``)."""

    if matrix is None:
        return math.nan
    values = matrix.to_numpy()
    return float(values[region_mask(region, values.shape[0]).numpy()].mean())


def importance_summary_table(matrices: dict[str, pd.DataFrame | None], profile: str) -> pd.DataFrame:
    """Corner max, skeleton min, centre, and region means per variant."""

    rows = []
    for variant, matrix in matrices.items():
        row: dict[str, Any] = {"profile": profile, "variant": VARIANT_LABELS.get(variant, variant), "key": variant}
        if matrix is None:
            row.update(status="not run")
        else:
            row.update(importance_summary(matrix), status="stored")
            for region in ("corners", "skeleton", "border", "top_left"):
                row[f"mean_{region}"] = region_mean(matrix, region)
        rows.append(row)
    columns = ["profile", "variant", "key", "corner_max", "skeleton_min", "centre", "mean_corners", "mean_skeleton",
               "mean_border", "mean_top_left", "status"]
    return pd.DataFrame(rows).reindex(columns=columns)


def importance_display(*tables: pd.DataFrame) -> pd.DataFrame:
    """Importance summaries (``importance_summary_table``) as text, stacked."""
    table = pd.concat(tables, ignore_index=True)

    def col(values: pd.Series) -> list[str]:
        return [f"{v:.3f}" if not is_missing(v) else "not run" for v in values]

    return pd.DataFrame({
        "models": table["profile"], "variant": table["variant"], "largest corner": col(table["corner_max"]),
        "smallest skeleton": col(table["skeleton_min"]), "centre": col(table["centre"]),
        "skeleton − corners (means)": col(table["mean_skeleton"] - table["mean_corners"]),
        "border − top-left (means)": col(table["mean_border"] - table["mean_top_left"]),
    })


def skeleton_gap(matrix: pd.DataFrame | None) -> float:
    """Mean skeleton importance minus mean corner importance."""
    return region_mean(matrix, "skeleton") - region_mean(matrix, "corners")


def pruning_rows(comparison: Runs) -> pd.DataFrame:
    """Every stored pruned evaluation, accuracy in %: variant, the training seed (``run_seed``), region,
    sparsity, repeat (``seed`` is the pruning draw's), accuracy."""
    frames = []
    for spec, result in zip(comparison.specs, comparison.results):
        stored = analysis(result, "acnet.pruning")
        if stored:
            frame = pd.DataFrame(stored)
            frame.insert(0, "variant", variant_of(spec))
            frame.insert(1, "run_seed", spec.seed)
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["variant", "run_seed", "region", "sparsity", "repeat", "seed", "pruned",
                                     "accuracy"])
    rows = pd.concat(frames, ignore_index=True)
    rows["accuracy"] = 100 * rows["accuracy"]
    return rows


def pruning_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (over the repeats) of accuracy per variant, region and sparsity."""
    if rows.empty:
        return pd.DataFrame(columns=["variant", "region", "sparsity", "mean", "std", "repeats"])
    summary = (rows.groupby(["variant", "region", "sparsity"])["accuracy"]
               .agg(["mean", "std", "count"]).reset_index().rename(columns={"count": "repeats"}))
    return summary


def pruning_wide(summary: pd.DataFrame, variant: str) -> pd.DataFrame:
    """One variant's curves as a sparsity x region table of "mean ± std" strings."""
    part = summary[summary["variant"] == variant]
    if part.empty:
        return pd.DataFrame()
    text = part.assign(cell=[f"{m:.1f} ± {s:.1f}" if not is_missing(s) else f"{m:.1f}"
                             for m, s in zip(part["mean"], part["std"])])
    wide = text.pivot(index="sparsity", columns="region", values="cell")
    wide = wide[[r for r in REGION_ORDER if r in wide.columns]].fillna("–")
    wide.index = [f"{100 * s:.0f}%" for s in wide.index]
    wide.index.name = "sparsity"
    return wide


def curve_gap(summary: pd.DataFrame, variant: str, a: str, b: str) -> tuple[float, float]:
    """Mean over the shared sparsities (> 0) of mean(a) - mean(b), and the pooled repeat std there."""
    part = summary[(summary["variant"] == variant) & (summary["sparsity"] > 0)]
    left = part[part["region"] == a].set_index("sparsity")
    right = part[part["region"] == b].set_index("sparsity")
    shared = left.index.intersection(right.index)
    if not len(shared):
        return math.nan, math.nan
    gap = float((left.loc[shared, "mean"] - right.loc[shared, "mean"]).mean())
    spread = float(pd.concat([left.loc[shared, "std"], right.loc[shared, "std"]]).mean())
    return gap, spread


def destroyed_at(summary: pd.DataFrame, variant: str, region: str = "skeleton",
                 threshold: float = DESTROYED_PCT) -> float:
    """Global sparsity (%) where the mean curve first falls to ``threshold``% accuracy, linearly
    interpolated between grid points; NaN if it never does, if the unpruned model is already there,
    or if the curve is missing."""
    part = summary[(summary["variant"] == variant) & (summary["region"] == region)].sort_values("sparsity")
    if part.empty:
        return math.nan
    xs, ys = (100 * part["sparsity"]).to_numpy(), part["mean"].to_numpy()
    if ys[0] <= threshold:  # already at chance before pruning: there is no collapse to locate
        return math.nan
    for i in range(1, len(xs)):
        if ys[i] <= threshold:
            return float(xs[i - 1] + (ys[i - 1] - threshold) / (ys[i - 1] - ys[i]) * (xs[i] - xs[i - 1]))
    return math.nan


def accuracy_at(summary: pd.DataFrame, variant: str, region: str, sparsity: float | None = None) -> float:
    """Mean accuracy at ``sparsity`` (default: the region's last point)."""
    part = summary[(summary["variant"] == variant) & (summary["region"] == region)].sort_values("sparsity")
    if part.empty:
        return math.nan
    if sparsity is None:
        return float(part["mean"].iloc[-1])
    match = part[np.isclose(part["sparsity"], sparsity)]
    return float(match["mean"].iloc[0]) if len(match) else math.nan
