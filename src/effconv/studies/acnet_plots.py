"""Chapter 3 (ACNet): the figures (rotation bars, importance heat maps, pruning curves, branch fusion,
exactness). Each draws a "not run yet" panel where its runs are missing."""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from effconv.studies import acnet_runs as runs
from effconv.studies.acnet_report import (CONDITIONS, FLOAT64_TOLERANCE, FUSION_TOLERANCE, MODEL_LABELS,
                                          REGION_ORDER, VARIANT_LABELS)


def plot_rotation(rotation: pd.DataFrame, profile: str) -> plt.Figure:
    """Grouped bars: accuracy per test condition and variant (first seed); a note when nothing is stored."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    first = rotation[(rotation["seed"] == rotation["seed"].min())] if len(rotation) else rotation
    long = first.melt(id_vars=["variant"], value_vars=list(CONDITIONS), var_name="condition",
                      value_name="accuracy").dropna(subset=["accuracy"])
    if long.empty:
        _not_run(ax, f"rotation accuracies: not run yet ({profile} profile)")
    else:
        long["condition"] = long["condition"].map(CONDITIONS)
        sns.barplot(data=long, x="condition", y="accuracy", hue="variant", ax=ax, palette="colorblind")
        ax.set(ylabel="test accuracy (%)", xlabel="", ylim=(0, max(100.0, long["accuracy"].max() + 5)))
        ax.legend(title="variant", fontsize=7, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"Rotated and flipped test sets ({MODEL_LABELS[runs.ABLATION_MODEL]}, {profile} profile)")
    fig.tight_layout()
    return fig


def _not_run(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, color="grey", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_importance(matrices: dict[str, pd.DataFrame | None], profile: str, model: str,
                    at_init: dict[str, pd.DataFrame] | None = None) -> plt.Figure:
    """The paper's Fig. 6: one annotated 3x3 heat map per variant after training ("not run" panels where
    missing), with a first row of the same models at initialisation when ``at_init`` is given."""
    names = list(matrices) or ["base", "acnet", "border"]
    grid = ([("at initialisation (live)", at_init)] if at_init else []) + [(f"trained ({profile} profile)", matrices)]
    fig, axes = plt.subplots(len(grid), len(names), figsize=(3.0 * len(names), 3.0 * len(grid)), squeeze=False)
    for (label, source), row in zip(grid, axes):
        for ax, name in zip(row, names):
            matrix = source.get(name)
            if matrix is None:
                _not_run(ax, "not run yet")
            else:
                sns.heatmap(pd.DataFrame(np.asarray(matrix, dtype=float)), annot=True, fmt=".3f", cmap="Blues",
                            vmin=0, vmax=1, cbar=False, square=True, ax=ax, xticklabels=False, yticklabels=False)
            ax.set_title(f"{VARIANT_LABELS.get(name, name)}\n{label}", fontsize=8)
    fig.suptitle(f"Average relative importance of 3x3 kernel positions ({MODEL_LABELS.get(model, model)}, "
                 "BN and branches folded)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_pruning(rows: pd.DataFrame, profile: str, model: str,
                 variants: Sequence[str] = ("base", "acnet", "border")) -> plt.Figure:
    """The paper's Fig. 5: accuracy vs global sparsity, mean ± std over the repeats, one panel per variant."""
    fig, axes = plt.subplots(1, len(variants), figsize=(4.0 * len(variants), 3.4), sharey=True)
    palette = dict(zip(REGION_ORDER, sns.color_palette("colorblind", len(REGION_ORDER))))
    for ax, variant in zip(np.atleast_1d(axes), variants):
        part = rows[rows["variant"] == variant] if len(rows) else rows
        if part.empty:
            _not_run(ax, "not run yet")
        else:
            part = part.assign(sparsity_pct=100 * part["sparsity"])
            sns.lineplot(data=part, x="sparsity_pct", y="accuracy", hue="region", errorbar="sd", marker="o",
                         markersize=4, palette=palette, ax=ax)
            ax.axhline(10, ls=":", color="grey", lw=1)
            ax.set(xlabel="global sparsity of the 3x3 kernels (%)", ylabel="test accuracy (%)", ylim=(0, 100))
            ax.legend(fontsize=7, title="pruned region", title_fontsize=7)
        ax.set_title(VARIANT_LABELS.get(variant, variant), fontsize=9)
    fig.suptitle(f"Pruning random weights by kernel region ({MODEL_LABELS.get(model, model)}, fused, "
                 f"{profile} profile; dotted: chance)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_branch_fusion(kernels: dict[str, Any]) -> plt.Figure:
    """square + horizontal + vertical (each with its BN folded) = the fused kernel, as heat maps."""
    names = list(kernels)
    values = [np.asarray(kernels[n], dtype=float) for n in names]
    limit = max(abs(v).max() for v in values)
    fig, axes = plt.subplots(1, len(names), figsize=(2.3 * len(names), 2.6))
    titles = {"square": "3x3 (BN folded)", "hor": "+ 1x3 (BN folded)", "ver": "+ 3x1 (BN folded)", "fused": "= fused 3x3"}
    for ax, name, value in zip(axes, names, values):
        sns.heatmap(value, annot=True, fmt=".2f", cmap="RdBu_r", vmin=-limit, vmax=limit, cbar=False, square=True,
                    ax=ax, xticklabels=False, yticklabels=False, annot_kws={"fontsize": 7})
        ax.set_title(titles.get(name, name), fontsize=9)
    fig.suptitle("Branch fusion of one ACB kernel slice (random weights and BN statistics)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_exactness(blocks: pd.DataFrame) -> plt.Figure:
    """Relative error of every random block, float32 and float64, against the tolerances."""
    long = pd.concat([
        pd.DataFrame({"precision": "float32", "error": blocks["max_rel"], "stride": blocks["stride"]}),
        pd.DataFrame({"precision": "float64", "error": blocks["max_rel_float64"], "stride": blocks["stride"]}),
    ], ignore_index=True)
    long["error"] = long["error"].clip(lower=1e-18)  # an exact zero would vanish from a log axis
    long["stride"] = "stride " + long["stride"].astype(str)
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    sns.stripplot(data=long, x="error", y="precision", hue="stride", dodge=True, ax=ax, palette="colorblind",
                  log_scale=True, size=4)
    ax.axvline(FUSION_TOLERANCE, ls="--", color="grey", lw=1)
    ax.axvline(FLOAT64_TOLERANCE, ls=":", color="grey", lw=1)
    ax.set(xlabel="max |fused − unfused| / max |unfused|", ylabel="")
    ax.set_title(f"{len(blocks)} random ACBs fused (dashed: 1e-5, dotted: 1e-12)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig

