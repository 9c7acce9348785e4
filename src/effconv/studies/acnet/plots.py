"""Chapter 3 (ACNet): the figures (rotation gaps, importance heat maps, pruning curves, branch fusion,
exactness). Each draws a "not run yet" panel where its runs are missing."""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from effconv.analysis.plots import cell_labels
from effconv.claims.rules import mean_interval
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet.results import (CONDITIONS, FLOAT64_TOLERANCE, FUSION_TOLERANCE, MODEL_LABELS,
                                           VARIANT_LABELS)
from effconv.studies.acnet.skeleton import REGION_ORDER

# The rotation claims compare two variants on the same transformed test set, paired by seed.
ROTATION_PAIRS = (("hor", "base"), ("ver", "base"), ("hor", "ver"), ("acnet", "base"))


def rotation_gap_points(rotation: pd.DataFrame) -> pd.DataFrame:
    """Per test condition and compared pair (a − b), the paired per-seed gaps (pp), their mean and 95% t
    interval (the shared rule's, where two or more seeds pair), and the seed noise band: ±2 sd of the base
    model's accuracy over its seeds on that condition."""
    rows = []
    stored = rotation.dropna(subset=list(CONDITIONS), how="all") if len(rotation) else rotation
    for condition, label in CONDITIONS.items():
        base = stored.loc[stored["variant"] == "base", condition].dropna() if len(stored) else pd.Series(dtype=float)
        noise = 2 * float(base.std()) if len(base) >= 2 else math.nan
        for a, b in ROTATION_PAIRS:
            first = stored[stored["variant"] == a].set_index("seed")[condition].dropna() if len(stored) else {}
            second = stored[stored["variant"] == b].set_index("seed")[condition].dropna() if len(stored) else {}
            seeds = sorted(set(first.index) & set(second.index)) if len(first) and len(second) else []
            gaps = [float(first[s] - second[s]) for s in seeds]
            mean, low, high = mean_interval(gaps) if len(gaps) >= 2 else (
                (gaps[0], math.nan, math.nan) if gaps else (math.nan,) * 3)
            rows.append({"condition": condition, "label": label,
                         "pair": f"{VARIANT_LABELS.get(a, a)} − {VARIANT_LABELS.get(b, b)}",
                         "seeds": seeds, "gaps": gaps, "n": len(gaps), "mean_pp": mean, "low_pp": low,
                         "high_pp": high, "noise_pp": noise, "noise_seeds": len(base)})
    return pd.DataFrame(rows)


def plot_rotation(rotation: pd.DataFrame, profile: str) -> plt.Figure:
    """Rotation result as gaps: per transformed test set, the paired accuracy difference of each compared
    pair of variants (pp; one dot per seed, a bar for the 95% interval where seeds allow), against the shaded
    band of seed-to-seed noise (±2 sd of the base model over its seeds)."""
    points = rotation_gap_points(rotation)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    if points.empty or points["n"].sum() == 0:
        _not_run(ax, f"rotation accuracies: not run yet ({profile} profile)")
        ax.set_title(f"Rotated and flipped test sets ({MODEL_LABELS[runs.ABLATION_MODEL]}, {profile} profile)",
                     fontsize=10)
        fig.tight_layout()
        return fig
    pairs = list(dict.fromkeys(points["pair"]))
    colours = dict(zip(pairs, sns.color_palette("colorblind", len(pairs))))
    width = 0.8 / len(pairs)
    for x, (condition, label) in enumerate(CONDITIONS.items()):
        here = points[points["condition"] == condition]
        noise = here["noise_pp"].iloc[0]
        if not math.isnan(noise):
            ax.add_patch(plt.Rectangle((x - 0.45, -noise), 0.9, 2 * noise, color="0.85", zorder=0, lw=0,
                                       label="±2 sd of the base over seeds" if x == 0 else None))
        for k, row in enumerate(here.itertuples()):
            at = x - 0.4 + width * (k + 0.5)
            if row.n:
                ax.scatter([at] * row.n, row.gaps, s=14, color=colours[row.pair], alpha=0.6, zorder=3)
                ax.scatter([at], [row.mean_pp], s=46, marker="D", color=colours[row.pair], zorder=4,
                           label=row.pair if x == 0 else None)
            if not math.isnan(row.low_pp):
                ax.plot([at, at], [row.low_pp, row.high_pp], color=colours[row.pair], lw=2, zorder=2)
    # The axis follows the gaps and the noise band; an interval from very few seeds (two seeds: t = 12.7) can
    # run far past them, and its end is then written at the edge rather than squeezing everything else.
    reach = [abs(v) for v in points["noise_pp"].tolist() + [g for gaps in points["gaps"] for g in gaps]
             if not math.isnan(v)]
    limit = 1.5 * max(reach + [0.5])
    ax.set_ylim(-limit, limit)
    for x, (condition, _) in enumerate(CONDITIONS.items()):
        for k, row in enumerate(points[points["condition"] == condition].itertuples()):
            at = x - 0.4 + width * (k + 0.5)
            for end, edge, va in ((row.high_pp, limit, "top"), (row.low_pp, -limit, "bottom")):
                if not math.isnan(end) and abs(end) > limit:
                    ax.text(at, edge * 0.97, f"{end:+.1f}", ha="center", va=va, fontsize=8, rotation=90,
                            color=colours[row.pair], bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(CONDITIONS)), list(CONDITIONS.values()))
    ax.set_xlim(-0.5, len(CONDITIONS) - 0.5)
    ax.set_ylabel("accuracy difference (pp)")
    ax.set_title(f"Rotated and flipped test sets: paired gaps ({MODEL_LABELS[runs.ABLATION_MODEL]}, "
                 f"{profile} profile)", fontsize=10)
    # the legend under the axes, so the four groups keep the page's width
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False,
              title="a − b (◆ mean of the paired seeds, | their 95% interval)", title_fontsize=9)
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
    fig, axes = plt.subplots(len(grid), len(names), figsize=(min(7.5, 2.5 * len(names)), 2.7 * len(grid)),
                             squeeze=False)
    for (label, source), row in zip(grid, axes):
        for ax, name in zip(row, names):
            matrix = source.get(name)
            if matrix is None:
                _not_run(ax, "not run yet")
            else:
                sns.heatmap(pd.DataFrame(np.asarray(matrix, dtype=float)), annot=cell_labels(matrix, ".3f"), fmt="",
                            cmap="Blues",
                            vmin=0, vmax=1, cbar=False, square=True, ax=ax, xticklabels=False, yticklabels=False)
            ax.set_title(f"{VARIANT_LABELS.get(name, name)}\n{label}", fontsize=9)
    fig.suptitle(f"Average relative importance of 3x3 kernel positions ({MODEL_LABELS.get(model, model)}, "
                 "BN and branches folded)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_pruning(rows: pd.DataFrame, profile: str, model: str,
                 variants: Sequence[str] = ("base", "acnet", "border")) -> plt.Figure:
    """The paper's Fig. 5: accuracy vs global sparsity, mean ± std over the repeats, one panel per variant."""
    # panels side by side at the page width; one legend under them instead of one per panel
    fig, axes = plt.subplots(1, len(variants), figsize=(7.5, 3.6), sharey=True, squeeze=False)
    palette = dict(zip(REGION_ORDER, sns.color_palette("colorblind", len(REGION_ORDER))))
    for ax, variant in zip(axes[0], variants):
        part = rows[rows["variant"] == variant] if len(rows) else rows
        if part.empty:
            _not_run(ax, "not run yet")
        else:
            part = part.assign(sparsity_pct=100 * part["sparsity"])
            sns.lineplot(data=part, x="sparsity_pct", y="accuracy", hue="region", errorbar="sd", marker="o",
                         markersize=4, palette=palette, ax=ax)
            ax.axhline(10, ls=":", color="grey", lw=1)
            ax.set(xlabel="sparsity of 3x3 kernels (%)", ylabel="test accuracy (%)", ylim=(0, 100))
            ax.get_legend().remove()
        ax.set_title(VARIANT_LABELS.get(variant, variant), fontsize=9)
    fig.suptitle(f"Pruning random weights by kernel region ({MODEL_LABELS.get(model, model)}, fused, "
                 f"{profile} profile; dotted: chance)", fontsize=10)
    shown = [ax for ax in axes[0] if ax.get_legend_handles_labels()[0]]
    if shown:
        handles, labels = shown[0].get_legend_handles_labels()
        fig.legend(handles, labels, title="pruned region", fontsize=8, title_fontsize=8, loc="lower center",
                   ncol=len(labels), frameon=False)
        fig.tight_layout(rect=(0, 0.1, 1, 1))
    else:
        fig.tight_layout()
    return fig


def plot_branch_fusion(kernels: dict[str, Any]) -> plt.Figure:
    """square + horizontal + vertical (each with its BN folded) = the fused kernel, as heat maps."""
    names = list(kernels)
    values = [np.asarray(kernels[n], dtype=float) for n in names]
    limit = max(abs(v).max() for v in values)
    fig, axes = plt.subplots(1, len(names), figsize=(min(7.5, 1.9 * len(names)), 2.4))
    titles = {"square": "3x3 (BN folded)", "hor": "+ 1x3 (BN folded)", "ver": "+ 3x1 (BN folded)", "fused": "= fused 3x3"}
    for ax, name, value in zip(axes, names, values):
        sns.heatmap(value, annot=cell_labels(value, ".2f"), fmt="", cmap="RdBu_r", vmin=-limit, vmax=limit, cbar=False, square=True,
                    ax=ax, xticklabels=False, yticklabels=False, annot_kws={"fontsize": 8})
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

