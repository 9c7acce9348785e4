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

from effconv.analysis.kernel_contrast import CONTRASTS, region_contrast
from effconv.experiments import analysis
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet.results import VARIANT_LABELS, ChapterRuns, Runs, is_missing, merge, variant_of
from effconv.studies.acnet.probes import importance_summary

DESTROYED_PCT = 20.0          # "destroyed": accuracy at most twice chance (10 classes)
REGION_ORDER = ("corners", "skeleton", "global", "border", "top_left")


def skeleton_runs(chapter: ChapterRuns) -> Runs:
    """Every stored run of the skeleton model in the skeleton comparison's profile: its side arms and the
    CIFAR-10 table's base and ACNet runs (more random seeds), each once."""
    profile = chapter.skeleton.profile
    model = runs.SKELETON_MODEL[profile]
    merged = merge(*[c for c in (chapter.skeleton, chapter.table) if c.profile == profile])
    kept = [i for i, spec in enumerate(merged.specs) if spec.model == model]
    return Runs(merged.profile, [merged.specs[i] for i in kept], [merged.results[i] for i in kept])


def importance_by_seed(comparison: Runs) -> dict[str, dict[int, pd.DataFrame]]:
    """{variant: {random seed: stored 3x3 importance map}} of the skeleton-model runs (variants with no
    stored map are absent)."""
    out: dict[str, dict[int, pd.DataFrame]] = {variant_of(spec): {} for spec in comparison.specs}
    for spec, result in zip(comparison.specs, comparison.results):
        stored = analysis(result, "acnet.importance")
        if stored is not None:
            out[variant_of(spec)][spec.seed] = pd.DataFrame(stored["matrix"])
    return out


def mean_maps(by_seed: dict[str, dict[int, pd.DataFrame]]) -> dict[str, pd.DataFrame | None]:
    """Each variant's importance map averaged over its random seeds (None where none is stored)."""
    return {variant: (sum(maps.values()) / len(maps) if maps else None) for variant, maps in by_seed.items()}


POSITIONS = (("top-left", "top-middle", "top-right"), ("left-middle", "centre", "right-middle"),
             ("bottom-left", "bottom-middle", "bottom-right"))


def peak_positions(maps: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Where each random seed's 3x3 map peaks: seed, row, col, position (in words) and whether it is the centre."""
    rows = []
    for seed, matrix in sorted(maps.items()):
        values = matrix.to_numpy()
        row, col = np.unravel_index(int(values.argmax()), values.shape)
        rows.append({"seed": seed, "row": int(row), "col": int(col), "position": POSITIONS[row][col],
                     "centre": bool(row == col == values.shape[0] // 2)})
    return pd.DataFrame(rows, columns=["seed", "row", "col", "position", "centre"])


def skeleton_setting(profile: str) -> tuple[str, float]:
    """The skeleton model of a profile and its width (cpu: ResNet-20; full: ResNet-56)."""
    model = runs.SKELETON_MODEL[profile]
    return model, runs.TABLE[profile][model]["width"]


def importance_summary_table(by_seed: dict[str, dict[int, pd.DataFrame]], label: str) -> pd.DataFrame:
    """Per variant: the paper's three numbers on the map averaged over random seeds (largest corner, smallest
    skeleton position, centre), and the two within-model contrasts averaged over the seeds' own maps."""
    rows = []
    for variant, maps in by_seed.items():
        row: dict[str, Any] = {"profile": label, "variant": VARIANT_LABELS.get(variant, variant), "key": variant,
                               "seeds": len(maps)}
        if not maps:
            row.update(status="not run")
        else:
            row.update(importance_summary(sum(maps.values()) / len(maps)), status="stored")
            for name, pair in CONTRASTS.items():
                row[f"{name}_contrast"] = float(np.mean([region_contrast(m, *pair) for m in maps.values()]))
        rows.append(row)
    columns = ["profile", "variant", "key", "seeds", "corner_max", "skeleton_min", "centre", "skeleton_contrast",
               "border_contrast", "status"]
    return pd.DataFrame(rows).reindex(columns=columns)


def importance_display(*tables: pd.DataFrame) -> pd.DataFrame:
    """Importance summaries (``importance_summary_table``) as text, stacked."""
    table = pd.concat(tables, ignore_index=True)

    def col(values: pd.Series, spec: str = ".3f") -> list[str]:
        return [format(v, spec) if not is_missing(v) else "not run" for v in values]

    return pd.DataFrame({
        "models": table["profile"], "variant": table["variant"], "random seeds": table["seeds"].astype(int),
        "largest corner": col(table["corner_max"]), "smallest skeleton": col(table["skeleton_min"]),
        "centre": col(table["centre"]), "skeleton − corners (contrast)": col(table["skeleton_contrast"], "+.3f"),
        "border − top-left (contrast)": col(table["border_contrast"], "+.3f"),
    })


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
