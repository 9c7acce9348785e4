"""Chapter 5 (versatile filters): the figures: accuracy against cost, the concentric masks, the mask
statistics over training and the CIFAR-10 accuracy curves.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle
from matplotlib.ticker import NullFormatter

from effconv.errors import EffconvError
from effconv.ops.versatile import VersatileConv2d, concentric_masks, num_secondary
from effconv.studies.versatile.results import MASKED, VARIANTS

# (column of the CIFAR table, axis label): the two costs the paper trades accuracy against
COSTS = (("params_M", "parameters (M, counted)"), ("MFLOPs", "multiply-adds (M, paper convention)"))


MARKERS = ("o", "s", "^", "D", "v", "P")  # one per variant: points that share a cost stay apart by shape too
DODGE = 1.06   # points on about one cost are drawn this factor apart on the log axis (the caption says so)
NEAR = 1.05    # costs within this factor of their neighbour count as one


def dodged(costs: Sequence[float]) -> list[float]:
    """Where to draw each of ``costs`` on a log axis: costs within ``NEAR`` of a neighbour form one group,
    spread in cost order ``DODGE`` apart around the group's geometric mean, so that their points and error
    bars do not cover one another; a cost with no near neighbour stays where it is."""
    order = sorted(range(len(costs)), key=lambda k: costs[k])
    groups: list[list[int]] = []
    for k in order:
        if groups and costs[k] / costs[groups[-1][-1]] < NEAR:
            groups[-1].append(k)
        else:
            groups.append([k])
    out = [0.0] * len(costs)
    for group in groups:
        centre = math.prod(costs[k] for k in group) ** (1 / len(group))
        for rank, k in enumerate(group):
            out[k] = centre * DODGE ** (rank - (len(group) - 1) / 2) if len(group) > 1 else costs[k]
    return out


def plot_accuracy_cost(table: pd.DataFrame, profile: str) -> plt.Figure:
    """Test accuracy (mean over stored random seeds; bar: ±1 sd where several) against parameters and against
    multiply-adds, log x axes. Each variant has its own colour and marker, named in one legend below the panels
    (labels beside the points would print over each other where variants share a cost); variants that share
    about one cost are spread apart (``dodged``). ``table`` is ``report.cifar_table``; variants without a stored run
    are left out (see ``not_run_variants``)."""
    fig, axes = plt.subplots(1, len(COSTS), figsize=(7.5, 4.2), sharey=True)
    stored = table[table["test_acc_%"].notna()].reset_index(drop=True) if len(table) else table
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    style = {v: (palette[i % len(palette)], MARKERS[i % len(MARKERS)])
             for i, v in enumerate(table["variant"])} if len(table) else {}
    for ax, (column, label) in zip(axes, COSTS):
        xs = dodged([float(x) for x in stored[column]])
        for x, (_, row) in zip(xs, stored.iterrows()):
            colour, marker = style[row["variant"]]
            sd = 0.0 if pd.isna(row["std_%"]) else row["std_%"]
            ax.errorbar([x], [row["test_acc_%"]], yerr=[sd], marker=marker, ms=6, color=colour, capsize=3,
                        linestyle="none", label=row["variant"])
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
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"Accuracy against cost, CIFAR-10 VGG-16 variants (profile {profile})", fontsize=10)
    fig.tight_layout(rect=(0, 0.12 if handles else 0, 1, 1))
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


RING_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")  # secondary i = 1..4 (a 7x7 primary has 4)
FILTER_SIDE = 1.6   # drawn side of every d x d face, whatever d: the cells shrink instead


def _filter(ax, x: float, y: float, d: int, keep: int | None, colour: str, depth: float = 0.45) -> None:
    """A d x d x c filter drawn as an oblique box whose front face is the d x d grid; ``keep``: the side of the
    centre window that is kept (None: all of it), the rest drawn as empty cells."""
    cell = FILTER_SIDE / d
    lo = 0 if keep is None else (d - keep) // 2
    for p in range(d):
        for q in range(d):
            kept = keep is None or (lo <= p < lo + keep and lo <= q < lo + keep)
            ax.add_patch(Rectangle((x + q * cell, y + (d - 1 - p) * cell), cell, cell, facecolor=colour if kept
                                   else "white", edgecolor="black", linewidth=0.4, alpha=0.9 if kept else 1.0))
    top = [(x, y + FILTER_SIDE), (x + depth, y + FILTER_SIDE + depth), (x + FILTER_SIDE + depth, y + FILTER_SIDE + depth),
           (x + FILTER_SIDE, y + FILTER_SIDE)]
    side = [(x + FILTER_SIDE, y), (x + FILTER_SIDE + depth, y + depth), (x + FILTER_SIDE + depth, y + FILTER_SIDE + depth),
            (x + FILTER_SIDE, y + FILTER_SIDE)]
    for face in (top, side):
        ax.add_patch(Polygon(face, closed=True, facecolor="#e8e8e8", edgecolor="black", linewidth=0.6))


def _block_row(ax, title: str, layer: VersatileConv2d) -> None:
    """One versatile layer: its primary filter, the secondary filters cut from it, the output channels they fill."""
    d, c, s = layer.kernel_size, layer.c_hat, layer.s
    _filter(ax, 0.0, 0.0, d, None, "#8c8c8c")
    ax.text(0.8, -0.35, f"primary\n{d}×{d}×{c}", ha="center", va="top", fontsize=8)
    ax.text(0.8, 2.35, f"{layer.primaries} primaries stored", ha="center", va="bottom", fontsize=8)
    start, first = 0, 3.0
    for k, (i, _, used) in enumerate(layer.blocks):
        x, side = first + 2.45 * k, d - 2 * i
        _filter(ax, x, 0.0, d, side, RING_COLOURS[i % len(RING_COLOURS)])
        ax.text(x + 0.8, -0.35, f"secondary {i + 1}\n{side}×{side}×{c}", ha="center", va="top", fontsize=8)
        ax.text(x + 0.8, 2.35, f"channels {start}–{start + used - 1}", ha="center", va="bottom", fontsize=8)
        start += used
    ax.add_patch(FancyArrowPatch((2.15, 0.8), (first - 0.1, 0.8), arrowstyle="-|>", mutation_scale=10, lw=0.8))
    ax.text((2.15 + first) / 2, 0.95, "masks", ha="center", va="bottom", fontsize=7)
    # the output: one block of channels per secondary filter, stacked as the layer concatenates them
    x0, bottom, height = first + 2.45 * len(layer.blocks) + 0.3, -0.3, 2.6
    ax.add_patch(FancyArrowPatch((x0 - 0.75, 0.8), (x0 - 0.05, 0.8), arrowstyle="-|>", mutation_scale=10, lw=0.8))
    top = bottom + height
    for i, _, used in layer.blocks:
        h = height * used / layer.out_channels
        ax.add_patch(Rectangle((x0, top - h), 0.4, h, facecolor=RING_COLOURS[i % len(RING_COLOURS)],
                               edgecolor="black", linewidth=0.5))
        top -= h
    ax.text(x0 + 0.2, bottom - 0.1, f"{layer.out_channels}\noutputs", ha="center", va="top", fontsize=8)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlim(-0.3, x0 + 0.9)
    ax.set_ylim(-1.3, 2.8)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_versatile_block(layers: Sequence[tuple[str, VersatileConv2d]]) -> plt.Figure:
    """One row per (title, layer): the layer's primary filter (d x d x c, and how many are stored), the
    ``s`` secondary filters its concentric masks cut from it (grey: kept entries) and the output channels
    each fills, drawn from the layer's real shapes (``VersatileConv2d.blocks``)."""
    if not layers:
        raise EffconvError("plot_versatile_block needs at least one (title, layer) pair to draw.")
    widest = max(layer.s for _, layer in layers)
    fig, axes = plt.subplots(len(layers), 1, figsize=(7.5, 2.3 * len(layers)), squeeze=False)
    for ax, (title, layer) in zip(axes[:, 0], layers):
        _block_row(ax, title, layer)
        ax.set_xlim(-0.3, 3.0 + 2.45 * widest + 1.2)
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
