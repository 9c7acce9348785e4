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
                                       label="±2 sd of the base over random seeds" if x == 0 else None))
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
                    # the cut end: an arrowhead on the axis edge, its value written level beside the bar,
                    # inside the axes so that nothing is clipped or overprinted by the bar
                    ax.plot([at], [edge * 0.985], marker="^" if edge > 0 else "v", color=colours[row.pair],
                            markersize=5, zorder=5, clip_on=False)
                    ax.text(at + 0.025, edge * 0.9, f"{end:+.1f}", ha="left", va=va, fontsize=7,
                            color=colours[row.pair], zorder=6,
                            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85})
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(CONDITIONS)), list(CONDITIONS.values()))
    ax.set_xlim(-0.5, len(CONDITIONS) - 0.5)
    ax.set_ylabel("accuracy difference (pp)")
    ax.set_title(f"Rotated and flipped test sets: paired gaps ({MODEL_LABELS[runs.ABLATION_MODEL]}, "
                 f"{profile} profile)", fontsize=10)
    # the legend under the axes, so the four groups keep the page's width
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False,
              title="a − b (◆ mean of the paired random seeds, | their 95% interval)", title_fontsize=9)
    fig.tight_layout()
    return fig


def _not_run(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, color="grey", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_importance(matrices: dict[str, pd.DataFrame | None], profile: str, model: str,
                    at_init: dict[str, pd.DataFrame | None] | None = None) -> plt.Figure:
    """The paper's Fig. 6: one annotated 3x3 heat map per variant after training, each the mean over its random
    seeds ("not run" panels where missing), with a first row of the same models at initialisation (the same
    random seeds) when ``at_init`` is given."""
    names = list(matrices) or ["base", "acnet", "border"]
    grid = ([("at initialisation", at_init)] if at_init else []) + [(f"trained ({profile} profile)", matrices)]
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
    fig.suptitle(f"Relative importance of 3x3 kernel positions, mean over random seeds "
                 f"({MODEL_LABELS.get(model, model)}, folded)", fontsize=10)
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
    # one entry per region drawn in any panel (the border variant prunes two regions the others do not)
    drawn: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            drawn.setdefault(label, handle)
    if drawn:
        labels = [r for r in REGION_ORDER if r in drawn] + [r for r in drawn if r not in REGION_ORDER]
        fig.legend([drawn[r] for r in labels], [r.replace("_", "-") for r in labels], title="pruned region",
                   fontsize=8, title_fontsize=8, loc="lower center", ncol=len(labels), frameon=False)
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



_BRANCH_TITLES = {"square": "square", "hor": "horizontal", "ver": "vertical"}


def plot_acb_block(shapes: dict[str, Any]) -> plt.Figure:
    """The ACB as trained and as deployed, drawn from the real layer shapes (``checks.block_shapes``): the input
    read by three branches (kxk, 1xk, kx1 conv, each followed by its BN), their sum, and the one kxk conv with
    bias the block folds into."""
    def shape(dims: Sequence[int]) -> str:
        return " × ".join(str(d) for d in dims)

    fig, ax = plt.subplots(figsize=(7.5, 3.9))
    ax.set(xlim=(0, 10.4), ylim=(0.4, 5.8))
    ax.axis("off")
    colours = dict(zip(shapes["branches"], sns.color_palette("colorblind", len(shapes["branches"]))))

    def box(x: float, y: float, text: str, colour: Any = "0.92", w: float = 2.3, h: float = 0.78) -> None:
        ax.add_patch(plt.Rectangle((x - w / 2, y - h / 2), w, h, facecolor=colour, edgecolor="0.3", lw=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5)

    def arrow(x0: float, y0: float, x1: float, y1: float, style: str = "-|>") -> None:
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": style, "color": "0.3", "lw": 0.8})

    box(1.1, 3.1, f"input\n{shape(shapes['input'][1:])}", w=1.8)
    rows = dict(zip(shapes["branches"], (5.1, 3.1, 1.1)))
    for name, branch in shapes["branches"].items():
        y, kernel = rows[name], branch["kernel"]
        arrow(2.0, 3.1, 2.9, y)
        box(4.0, y, f"{_BRANCH_TITLES.get(name, name)} conv {kernel[2]}x{kernel[3]}\nweight {shape(kernel)}",
            colour=(*colours[name], 0.35), w=2.2)
        end = 5.1
        if branch["bn"]:
            arrow(5.1, y, 5.35, y)
            box(6.3, y, f"BN ({branch['bn']} channels)\nout {shape(branch['output'][1:])}", w=1.9,
                colour=(*colours[name], 0.2))
            end = 7.25
        arrow(end, y, 7.8, 3.1 + 0.2 * (y - 3.1) / 2.0)
    ax.add_patch(plt.Circle((8.0, 3.1), 0.25, facecolor="white", edgecolor="0.3", lw=0.8))
    ax.text(8.0, 3.1, "+", ha="center", va="center", fontsize=11)
    arrow(8.25, 3.1, 8.75, 3.1)
    ax.text(9.5, 3.1, f"output\n{shape(shapes['output'][1:])}", ha="center", va="center", fontsize=7.5)
    fused = shapes["fused"]
    ax.text(9.3, 5.0, f"after training, all of it\nfolds into one {fused[2]}x{fused[3]} conv\nwith bias: weight "
                      f"{shape(fused)},\nstride {shapes['stride']}, padding {shapes['padding']}", ha="center",
            va="center", fontsize=7, bbox={"facecolor": "0.95", "edgecolor": "0.3", "lw": 0.8, "boxstyle": "round"})
    ax.set_title(f"The first asymmetric convolution block of {MODEL_LABELS.get(shapes['model'], shapes['model'])} "
                 "(one image)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_base_peaks(maps: dict[int, pd.DataFrame], peaks: pd.DataFrame, model: str) -> plt.Figure:
    """The base model's trained importance map of each random seed, divided by its own mean (1 = the map's
    average position), with its largest position outlined and the centre marked."""
    seeds = sorted(maps)
    fig, axes = plt.subplots(1, max(1, len(seeds)), figsize=(7.5, 2.4), squeeze=False)
    if not seeds:
        _not_run(axes[0][0], "base model: not run yet")
        fig.tight_layout()
        return fig
    values = {s: np.asarray(maps[s], dtype=float) / np.asarray(maps[s], dtype=float).mean() for s in seeds}
    spread = max(abs(v - 1).max() for v in values.values())
    where = peaks.set_index("seed")
    for ax, seed in zip(axes[0], seeds):
        sns.heatmap(values[seed], annot=cell_labels(values[seed], ".3f"), fmt="", cmap="RdBu_r", vmin=1 - spread,
                    vmax=1 + spread, cbar=False, square=True, ax=ax, xticklabels=False, yticklabels=False,
                    annot_kws={"fontsize": 7})
        row, col = int(where.loc[seed, "row"]), int(where.loc[seed, "col"])
        ax.add_patch(plt.Rectangle((col, row), 1, 1, fill=False, edgecolor="black", lw=2.2))
        ax.add_patch(plt.Rectangle((1.08, 1.08), 0.84, 0.84, fill=False, edgecolor="0.4", lw=1, ls="--"))
        ax.set_title(f"random seed {seed}\npeak: {where.loc[seed, 'position']}", fontsize=8)
    fig.suptitle(f"Base {MODEL_LABELS.get(model, model)}: trained importance over its own mean (box: largest "
                 "position; dashed: centre)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_gain_vs_epochs(gains: pd.DataFrame, paper: float, paper_label: str) -> plt.Figure:
    """The ACNet gain (mean and 95% interval over paired random seeds) against the training length, with the
    published gain as a reference line; a length not yet run is marked as such on the axis."""
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axhline(paper, color="tab:green", ls="--", lw=1.0, label=paper_label)
    run = gains.dropna(subset=["gain_pp"])
    if not run.empty:
        has_interval = run.dropna(subset=["low"])
        ax.errorbar(has_interval["epochs"], has_interval["gain_pp"],
                    yerr=[has_interval["gain_pp"] - has_interval["low"], has_interval["high"] - has_interval["gain_pp"]],
                    fmt="o", color="tab:blue", capsize=4, label="ours: mean and 95% interval over paired random seeds")
    for _, row in run.iterrows():   # a length still short of its planned pairs is shown, and says so
        ax.annotate(f"{int(row['pairs'])} of {int(row['planned'])} pairs", (row["epochs"], row["gain_pp"]),
                    textcoords="offset points", xytext=(8, -3), fontsize=8, color="0.35")
    for _, row in gains[gains["gain_pp"].isna()].iterrows():
        ax.annotate(f"{row['epochs']} epochs:\nnot run yet", (row["epochs"], 0), textcoords="offset points",
                    xytext=(0, 8), ha="center", fontsize=8, color="0.35")
    ax.set_xticks(list(gains["epochs"]))
    ax.set_xlim(min(gains["epochs"]) - 5, max(gains["epochs"]) + 5)
    ax.set(xlabel="training epochs", ylabel="ACNet − base accuracy (pp)",
           title=f"The ACNet gain against training length ({gains['model'].iloc[0] if len(gains) else ''})")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
