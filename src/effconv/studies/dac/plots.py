"""Chapter 4 (DAC): the figures, from the seed-averaged tables of ``report``: the sweeps, the Pareto
front, the reconstruction errors, the cost break-even and the latency. A figure whose runs are not
stored is ``None``, and ``not_run_note`` says so in the page.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown

from effconv.analysis.plots import cell_labels
from effconv.studies.dac.results import Baseline, layer_order
from effconv.studies.paper import paper_value
from effconv.studies.dac.plan import CHAPTER
from effconv.studies.dac.report import single_layer_pivot



# ---------------------------------------------------------------------------------------------
# Single-layer sweep
# ---------------------------------------------------------------------------------------------


def plot_single_layer(means: pd.DataFrame, baseline: Baseline) -> plt.Figure | None:
    """Heat map of our accuracy drop per layer and rank; the two cells the specification quotes are outlined
    and carry its drop beside ours (one panel: the specification gives no other cell to draw)."""
    drops = single_layer_pivot(means, "accuracy_drop")
    if drops.empty:
        return None
    paper_base = paper_value(CHAPTER, "cifar_vgg_baseline_acc").value
    labels = cell_labels(drops, ".1f")
    quoted = []
    for layer, key in (("conv2d_1", "conv2d_1_rank1_acc"), ("conv2d_13", "conv2d_13_rank1_acc")):
        if layer in drops.index and "rank 1" in drops.columns:
            row, col = drops.index.get_loc(layer), drops.columns.get_loc("rank 1")
            labels[row, col] = f"{labels[row, col]}\n(spec. {paper_base - paper_value(CHAPTER, key).value:.1f})"
            quoted.append((row, col))
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    sns.heatmap(drops, ax=ax, vmin=0, vmax=max(float(np.nanmax(drops.to_numpy())), 1.0), cmap="rocket_r",
                annot=labels, fmt="", annot_kws={"size": 8}, linewidths=0.4, linecolor="white",
                cbar_kws={"label": "accuracy drop (pp)"})
    for row, col in quoted:  # the specification's two cells, outlined
        ax.add_patch(plt.Rectangle((col, row), 1, 1, fill=False, edgecolor="tab:blue", lw=2.0))
    ax.set(xlabel="DAC rank", ylabel="")
    ax.set_title(f"Accuracy drop with one conv decomposed (baseline {baseline.text()});\n"
                 f"outlined: the two cells the specification quotes (its baseline {paper_base:g}%)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_first_last(means: pd.DataFrame, baseline: Baseline) -> plt.Figure | None:
    """Accuracy against FLOPs saved, one panel per rank, first-k and last-k as two lines (k along each)."""
    if means.empty:
        return None
    ranks = sorted(means["rank"].unique())
    # at most three panels a row, so each keeps a readable size at the page width
    cols = min(3, len(ranks))
    rows = -(-len(ranks) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(7.5, 0.4 + 2.8 * rows), sharey=True, squeeze=False)
    axes = [list(grid.flat)[:len(ranks)]]
    for spare in list(grid.flat)[len(ranks):]:
        spare.set_axis_off()
    colours = {"first": "tab:red", "last": "tab:blue"}
    for ax, rank in zip(axes[0], ranks):
        for end, marker in (("first", "o"), ("last", "s")):
            part = means[(means["rank"] == rank) & (means["end"] == end)].sort_values("k")
            ax.plot(part["macs_saved_pct"], part["accuracy"], marker=marker, ms=3.5, lw=1.2, color=colours[end],
                    label=f"{end} k")
        if baseline.accuracy is not None:
            ax.axhline(baseline.accuracy, color="grey", lw=0.8, ls=":")
        ax.set_title(f"rank {rank}", fontsize=10)
        ax.set_xlabel("FLOPs saved (%)")
    values = list(means["accuracy"]) + ([baseline.accuracy] if baseline.accuracy is not None else [])
    low, high = max(0.0, min(values) - 2.0), min(100.0, max(values) + 2.0)
    for ax in axes[0]:
        ax.set_ylim(low, high)
        ax.ticklabel_format(axis="y", useOffset=False)
    for row in grid:
        row[0].set_ylabel("test accuracy (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    spare = list(grid.flat)[len(ranks):]
    if spare:  # the empty panel holds the legend
        spare[0].legend(handles, labels, loc="center", fontsize=10, frameon=False)
        fig.suptitle(f"First k vs last k convs decomposed, k = 1..13 ({baseline.profile}; dotted: baseline)",
                     fontsize=10)
        fig.tight_layout()
    else:
        fig.legend(handles, labels, loc="upper right", fontsize=9, frameon=False)
        fig.suptitle(f"First k vs last k convs decomposed, k = 1..13 ({baseline.profile}; dotted: baseline)",
                     fontsize=10)
        fig.tight_layout(rect=(0, 0, 0.88, 1))
    return fig


def plot_pareto(configs: pd.DataFrame, front: pd.DataFrame, baseline: Baseline) -> plt.Figure | None:
    """Every configuration as a point, and the front as a staircase: at each saving, the best accuracy any
    configuration reaches while saving at least that much."""
    if configs.empty:
        return None
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    styles = {"one layer": ("o", "tab:grey"), "first k": ("v", "tab:red"), "last k": ("^", "tab:blue"),
              "channel SVD": ("x", "tab:green")}
    for sweep, (marker, colour) in styles.items():
        part = configs[configs["sweep"] == sweep]
        if not part.empty:
            ax.scatter(part["macs_saved_pct"], part["accuracy"], marker=marker, s=16, color=colour, alpha=0.6,
                       label=sweep)
    ax.step(front["macs_saved_pct"], front["accuracy"], where="pre", color="black", lw=1.2, label="Pareto front")
    if baseline.accuracy is not None:
        ax.axhline(baseline.accuracy, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="FLOPs saved (%)", ylabel="test accuracy (%)",
           title=f"Every evaluated conversion, no retraining ({baseline.profile})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_equal_flops(table: pd.DataFrame, profile: str) -> plt.Figure | None:
    """Heat map of DAC minus channel-SVD accuracy per configuration and rank (positive: DAC better)."""
    if table.empty:
        return None
    grid = table.pivot(index="config", columns="dac_rank", values="dac_minus_svd_pp")
    order = [c for c in layer_order([c for c in grid.index if c.startswith("conv2d_")])] + \
        [c for c in grid.index if not c.startswith("conv2d_")]
    grid = grid.loc[order]
    grid.columns = [f"rank {r}" for r in grid.columns]
    bound = max(float(np.nanmax(np.abs(grid.to_numpy()))), 1.0)
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    sns.heatmap(grid, ax=ax, cmap="vlag", vmin=-bound, vmax=bound, annot=cell_labels(grid, ".1f"), fmt="",
                annot_kws={"size": 8}, cbar_kws={"label": "DAC - channel SVD (pp)"})
    ax.set(xlabel="DAC rank (SVD gets the same or fewer FLOPs)", ylabel="",
           title=f"DAC vs channel SVD given at most its FLOPs ({profile})")
    fig.tight_layout()
    return fig


def plot_reconstruction(random_init: pd.DataFrame, trained: pd.DataFrame, profile: str) -> plt.Figure:
    """Relative weight error against rank per layer: random initialisation (live) and trained (stored)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.8, 3.6), sharey=True)
    for ax, frame, title in ((axes[0], random_init, "random initialisation (live)"),
                             (axes[1], trained, f"trained weights ({profile})")):
        if frame.empty:
            ax.text(0.5, 0.5, f"not run yet\n(no stored {profile} baseline)", ha="center", va="center",
                    transform=ax.transAxes, fontsize=10, color="grey")
        else:
            names = layer_order(frame["layer"])
            colours = sns.color_palette("viridis", len(names))
            for colour, name in zip(colours, names):
                part = frame[frame["layer"] == name].sort_values("rank")
                ax.plot(part["rank"], part["rel_error"], color=colour, lw=1.2, marker="o", ms=2.5, label=name)
        ax.set(title=title, xlabel="DAC rank")
        ax.set_xticks(range(1, 10))
    axes[0].set_ylabel("||W - W_r|| / ||W||")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 0.85, 1))
    return fig


def plot_cost(check: pd.DataFrame, widths: Sequence[int] = (16, 64, 128, 512), kernel_area: int = 9) -> plt.Figure:
    """Cost ratio r/N + r/k^2 against rank for several widths (lines) with counted layers (dots)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ranks = np.arange(1, kernel_area + 1)
    colours = dict(zip(widths, sns.color_palette("crest", len(widths))))
    for n in widths:
        ax.plot(ranks, ranks / n + ranks / kernel_area, color=colours[n], lw=1.2, label=f"N = {n}")
        points = check[check["out_channels"] == n]
        if not points.empty:
            ax.scatter(points["rank"], points["counted_ratio"], color=colours[n], s=18, zorder=3)
    ax.axhline(1.0, color="black", lw=0.8, ls="--")
    ax.set(xlabel="rank r", ylabel="MACs of DAC pair / original conv",
           title="Cost ratio r/N + r/k² (lines) and counted layers (dots)")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_latency(layers: pd.DataFrame, model: pd.DataFrame) -> plt.Figure:
    """Measured time ratio against MACs ratio: decomposed layers (left) and whole models (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.8, 3.8))
    layers = layers.assign(layer=[f"{c}->{n} @{s}" for c, n, s in zip(layers["in_channels"], layers["out_channels"],
                                                                       layers["size"])])
    sns.scatterplot(data=layers, x="macs_ratio", y="time_ratio", hue="rank", palette="flare", style="rank",
                    s=40, ax=axes[0])
    decomposed = model[model["rank"] > 0]
    axes[1].plot(decomposed["macs_ratio"], decomposed["time_ratio"], marker="o", color="tab:purple")
    for row in decomposed.itertuples():
        axes[1].annotate(f"r{row.rank}", (row.macs_ratio, row.time_ratio), textcoords="offset points",
                         xytext=(4, 4), fontsize=8)
    for ax in axes:
        lo = min(0.05, float(np.nanmin(ax.get_xlim())))
        hi = max(1.1, ax.get_ylim()[1])
        ax.plot([lo, 1.1], [lo, 1.1], color="grey", lw=0.8, ls="--")
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set(xlabel="MACs / original", ylabel="time / original", ylim=(0, hi))
    axes[0].set_title("single layers (CIFAR VGG-16 shapes)", fontsize=9)
    axes[0].legend(title="rank", fontsize=7, title_fontsize=8, frameon=False)
    axes[1].set_title("whole model, every conv at one rank", fontsize=9)
    fig.suptitle(f"Does time follow FLOPs? Measured on {layers['device'].iloc[0]}", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# The block: one conv and its DAC pair
# ---------------------------------------------------------------------------------------------

def plot_block(anatomy: pd.DataFrame, rank: int, size: int) -> plt.Figure:
    """One kxk conv (top) and the DAC pair that replaces it (bottom), drawn from ``decompose.anatomy_table``:
    the real channel counts, kernels, groups, weights and MACs of each part, and the rank."""
    parts = anatomy.set_index("part")
    conv, dw, pw = parts.loc["original conv"], parts.loc["DAC depthwise"], parts.loc["DAC pointwise"]
    fig, ax = plt.subplots(figsize=(7.6, 3.3))
    ax.set(xlim=(0, 10), ylim=(0.3, 5.0))
    ax.set_axis_off()

    def tensor(x: float, y: float, channels: int) -> None:
        ax.add_patch(plt.Rectangle((x - 0.45, y - 0.45), 0.9, 0.9, facecolor="#eeeeee", edgecolor="black", lw=0.8))
        ax.text(x, y, f"{channels}\n× {size}×{size}", ha="center", va="center", fontsize=8)

    def layer(x0: float, x1: float, y: float, title: str, detail: str, colour: str) -> None:
        ax.add_patch(plt.Rectangle((x0, y - 0.5), x1 - x0, 1.0, facecolor=colour, edgecolor="black", lw=0.8))
        ax.text((x0 + x1) / 2, y + 0.17, title, ha="center", va="center", fontsize=8.5, weight="bold")
        ax.text((x0 + x1) / 2, y - 0.22, detail, ha="center", va="center", fontsize=7.5)

    def arrow(x0: float, x1: float, y: float) -> None:
        ax.annotate("", xy=(x1, y), xytext=(x0, y), arrowprops=dict(arrowstyle="->", lw=0.9))

    def cost(part: pd.Series) -> str:
        return f"{part['weights']:,} weights, {part['macs']:,} MACs"

    top, bottom = 4.0, 1.5
    tensor(0.6, top, int(conv["in"]))
    arrow(1.05, 2.4, top)
    layer(2.4, 7.6, top, f"{conv['kernel']} conv, {conv['in']} → {conv['out']}", cost(conv), "#c6dbef")
    arrow(7.6, 8.95, top)
    tensor(9.4, top, int(conv["out"]))
    tensor(0.6, bottom, int(dw["in"]))
    arrow(1.05, 1.5, bottom)
    layer(1.5, 4.5, bottom, f"depthwise {dw['kernel']}, {dw['in']} → {dw['out']}",
          f"{rank} filters per channel, groups {dw['groups']}\n{cost(dw)}", "#fdd0a2")
    arrow(4.5, 4.75, bottom)
    tensor(5.2, bottom, int(dw["out"]))
    arrow(5.65, 5.9, bottom)
    layer(5.9, 8.5, bottom, f"pointwise {pw['kernel']}, {pw['in']} → {pw['out']}", cost(pw), "#fdd0a2")
    arrow(8.5, 8.95, bottom)
    tensor(9.4, bottom, int(pw["out"]))
    area = int(np.prod([int(k) for k in conv["kernel"].split("x")]))
    ax.text(5.0, (top + bottom) / 2, f"SVD of each input channel's {conv['out']} × {area} slice, top {rank} kept: "
            f"{parts.loc['DAC pair', 'macs_vs_original']:.3f} of the weights and MACs",
            ha="center", va="center", fontsize=8.5, style="italic")
    ax.text(5.0, top + 0.85, "a trained convolution", ha="center", fontsize=9)
    ax.text(5.0, bottom - 0.95, "its DAC pair: nothing in between, the same output at full rank", ha="center",
            fontsize=9)
    fig.tight_layout()
    return fig


def not_run_note(what: str, profile: str) -> Markdown:
    """A visible note in place of a figure or table whose stored results do not exist yet."""
    return Markdown(f"*{what}: not run yet (no stored `{profile}` result). It appears here once the "
                    f"`{profile}` baseline has been trained (`effconv run dac --profile {profile}`).*")
