"""Chapter 5 (versatile filters): the figures: accuracy against cost, the concentric masks, the mask
statistics over training and the CIFAR-10 accuracy curves.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import NullFormatter

from effconv.ops.versatile import concentric_masks, num_secondary
from effconv.studies.versatile.results import MASKED, VARIANTS

# (column of the CIFAR table, axis label): the two costs the paper trades accuracy against
COSTS = (("params_M", "parameters (M, counted)"), ("MFLOPs", "multiply-adds (M, paper convention)"))


def plot_accuracy_cost(table: pd.DataFrame, profile: str) -> plt.Figure:
    """Test accuracy (mean over stored seeds; bar: ±1 sd where several) against parameters and against
    multiply-adds, log x axes, each point labelled with its variant. ``table`` is
    ``versatile_report.cifar_table``; variants without a stored run are left out (see ``not_run_variants``)."""
    fig, axes = plt.subplots(1, len(COSTS), figsize=(7.5, 3.8), sharey=True)
    stored = table[table["test_acc_%"].notna()] if len(table) else table
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {v: palette[i % len(palette)] for i, v in enumerate(table["variant"])} if len(table) else {}
    for ax, (column, label) in zip(axes, COSTS):
        for _, row in stored.iterrows():
            x, y, sd = row[column], row["test_acc_%"], row["std_%"]
            ax.errorbar([x], [y], yerr=[0.0 if pd.isna(sd) else sd], marker="o", ms=6, color=colours[row["variant"]],
                        capsize=3)
            ax.annotate(row["variant"], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
        ax.set_xscale("log")
        # ticks at the drawn costs: a log axis this short would otherwise print crowded 10^x labels
        ticks = []
        for x in sorted({float(f"{x:.3g}") for x in stored[column]}):
            if not ticks or x / ticks[-1] > 1.15:  # neighbours closer than this would print over each other
                ticks.append(x)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xlabel(label)
        ax.margins(x=0.3, y=0.15)
        ax.grid(True, which="both", lw=0.3, alpha=0.5)
        if stored.empty:
            ax.text(0.5, 0.5, f"not run yet\n(profile {profile})", ha="center", va="center", transform=ax.transAxes,
                    fontsize=10, color="grey")
    axes[0].set_ylabel("CIFAR-10 test accuracy (%)")
    fig.suptitle(f"Accuracy against cost, CIFAR-10 VGG-16 variants (profile {profile})", fontsize=10)
    fig.tight_layout()
    return fig


def not_run_variants(table: pd.DataFrame) -> list[str]:
    """The variants of ``cifar_table`` with no stored run (the scatter leaves them out; the caption names them)."""
    return [v for v, acc in zip(table["variant"], table["test_acc_%"]) if pd.isna(acc)]


def plot_concentric_masks(sizes: Sequence[int] = (3, 5, 7)) -> plt.Figure:
    """The concentric masks of each kernel size: one row per ``d``, one panel per secondary filter."""
    cols = max(num_secondary(d) for d in sizes)
    fig, axes = plt.subplots(len(sizes), cols, figsize=(1.6 * cols + 0.6, 1.6 * len(sizes)), squeeze=False)
    for r, d in enumerate(sizes):
        masks = concentric_masks(d)
        for i in range(cols):
            ax = axes[r][i]
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= masks.shape[0]:
                ax.axis("off")
                continue
            ax.imshow(masks[i].numpy(), cmap="Greys", vmin=0, vmax=1.4)
            ax.set_xticks([x - 0.5 for x in range(1, d)], minor=True)
            ax.set_yticks([x - 0.5 for x in range(1, d)], minor=True)
            ax.grid(which="minor", color="white", linewidth=0.8)
            ax.tick_params(which="minor", length=0)
            ax.set_title(f"d={d}, i={i + 1}: {d - 2 * i}x{d - 2 * i}", fontsize=8)
    fig.suptitle("Concentric masks: secondary i keeps the centre (d - 2(i-1)) x (d - 2(i-1)) window", fontsize=9)
    fig.tight_layout()
    return fig


STAT_TITLES = {"density": "density (share of ones)", "changed_from_init": "changed from the concentric init",
               "pairwise_hamming": "Hamming distance of a primary's masks",
               "all_equal_fraction": "primaries with identical masks", "ortho_loss": "orthogonal loss (unweighted)"}


def plot_mask_curves(curves: pd.DataFrame, profile: str, *, optimum: dict[str, float] | None = None) -> plt.Figure:
    """Mask statistics per epoch for strategies a and b; dotted lines: the orthogonal loss's relaxed optimum.

    When no learned-mask run is stored, each panel says so (the figure is still drawn).
    """
    stats = ("density", "pairwise_hamming", "changed_from_init", "ortho_loss")
    # two rows of two: four panels side by side would shrink their text at the page width
    fig, grid = plt.subplots(2, 2, figsize=(7.5, 5.6))
    axes = list(grid.flat)
    targets = {} if optimum is None else {"density": optimum.get("relaxed_density"),
                                          "pairwise_hamming": optimum.get("relaxed_hamming"),
                                          "ortho_loss": optimum.get("relaxed_loss")}
    for ax, stat in zip(axes, stats):
        data = curves[curves["statistic"] == stat] if not curves.empty else curves
        if target := targets.get(stat):
            ax.axhline(target, color="grey", linestyle=":", linewidth=1)
        if data is not None and not data.empty:
            sns.lineplot(data=data, x="epoch", y="value", hue="variant", hue_order=list(MASKED), style="variant",
                         style_order=list(MASKED), markers=True, markersize=5, ax=ax, legend=stat == stats[0],
                         errorbar=None)
        else:
            ax.text(0.5, 0.5, f"not run yet\n(profile {profile})", ha="center", va="center", transform=ax.transAxes,
                    color="grey")
            ax.set_xlabel("epoch")
        ax.set_title(STAT_TITLES[stat], fontsize=9)
        ax.set_ylabel("")
    handles, labels = axes[0].get_legend_handles_labels()
    if axes[0].get_legend() is not None:
        axes[0].get_legend().remove()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"Learned masks during training (profile {profile}; epoch 0 = initialisation)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05 if handles else 0, 1, 1))
    return fig


def plot_cifar(table: pd.DataFrame, curves: pd.DataFrame, profile: str) -> plt.Figure:
    """Left: parameters, memory and FLOPs (paper convention and executed) relative to the baseline (counted);
    right: test accuracy per epoch of the stored runs (or a "not run yet" note)."""
    # one panel a row: the variant names and the legends need the page's width
    fig, (left, right) = plt.subplots(2, 1, figsize=(7.5, 7.0))
    ratios = table.melt(id_vars="variant", value_vars=["params_ratio", "memory_ratio", "FLOPs_ratio",
                                                       "executed_ratio"], var_name="quantity", value_name="ratio")
    ratios["quantity"] = ratios["quantity"].map({"params_ratio": "parameters", "memory_ratio": "memory",
                                                 "FLOPs_ratio": "FLOPs (paper)", "executed_ratio": "FLOPs (executed)"})
    sns.barplot(data=ratios, x="variant", y="ratio", hue="quantity", ax=left)
    left.axhline(1.0, color="black", linewidth=0.8)
    left.set_xlabel("")
    left.set_ylabel("relative to the baseline")
    left.tick_params(axis="x", labelrotation=15, labelsize=9)
    left.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    left.set_title(f"Complexity, CIFAR-10 VGG-16 (profile {profile})", fontsize=10)
    if curves.empty:
        right.text(0.5, 0.5, f"no stored run yet (profile {profile})", ha="center", va="center",
                   transform=right.transAxes, color="grey")
    else:
        present = [v for v in VARIANTS.values() if v in set(curves["variant"])]
        sns.lineplot(data=curves, x="epoch", y="test_acc_%", hue="variant", hue_order=present, ax=right, marker="o",
                     markersize=4, errorbar=("pi", 100) if curves["seed"].nunique() > 1 else None)
        right.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy (%)")
    right.set_title(f"Test accuracy per epoch (profile {profile})", fontsize=10)
    fig.tight_layout()
    return fig
