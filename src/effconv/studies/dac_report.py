"""Chapter 4 (DAC): from stored results and live checks to the tables and figures the chapter shows.

``effconv.studies.dac`` computes (decompositions, costs, sweeps), ``dac_latency`` times, ``dac_results``
reads the trained baselines and the sweeps stored with them (its names stay reachable here, as the
notebook calls them); this module turns them into seed-averaged tables and figures. It decides no verdict: ``dac_claims`` grades every claim with ``effconv.claims``.
Every function copes with missing results: a run that is not stored gives empty tables and ``None`` figures.

Accuracies are stored as fractions; everything here is in percent (pp for differences).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown

from effconv.analysis.plots import cell_labels
from effconv.studies import dac as study
from effconv.studies.dac_results import (  # noqa: F401  (the notebook's names)
    ACCURACY_COLUMNS, FULL_TEST_SET, Baseline, baseline_summary, baseline_table, layer_order, n_test_images,
    seed_mean, sweep_frame)
from effconv.studies.paper import paper_value

CHAPTER = "dac"


# ---------------------------------------------------------------------------------------------
# Single-layer sweep
# ---------------------------------------------------------------------------------------------

def single_layer_means(frame: pd.DataFrame) -> pd.DataFrame:
    return seed_mean(frame, ["layer", "rank"])


def single_layer_pivot(means: pd.DataFrame, value: str = "accuracy", spread: bool = False) -> pd.DataFrame:
    """Layers (rows, conv2d_1..13) by rank (columns) of ``value``; empty if the sweep is missing.

    With ``spread`` and several seeds the cells are text, "mean ± std" over seeds.
    """
    if means.empty:
        return pd.DataFrame()
    std = {"accuracy": "accuracy_std", "accuracy_drop": "drop_std"}.get(value)
    if spread and std and means["seeds"].max() > 1:
        means = means.assign(cell=[f"{m:.2f} ± {s:.2f}" for m, s in zip(means[value], means[std])])
        value = "cell"
    table = means.pivot(index="layer", columns="rank", values=value)
    table = table.loc[layer_order(table.index)]
    table.columns = [f"rank {r}" for r in table.columns]
    table.columns.name = None
    return table


def seed_cells(means: pd.DataFrame, baseline: Baseline) -> pd.DataFrame:
    """The seed's two published cells (conv2d_1 and conv2d_13 at rank 1) beside ours, as accuracy and drop
    (``ours_drop_std_pp``: the spread over seeds, NaN with one seed). The ledger grades them (``dac_claims``)."""
    rows = []
    paper_base = paper_value(CHAPTER, "cifar_vgg_baseline_acc").value
    for layer, key in (("conv2d_1", "conv2d_1_rank1_acc"), ("conv2d_13", "conv2d_13_rank1_acc")):
        ref = paper_value(CHAPTER, key)
        ours = _cell(means, layer, 1)
        paper_drop = paper_base - ref.value
        ours_drop = None if ours is None else ours[1]
        rows.append({"layer": layer, "rank": 1, "paper_acc_%": ref.value, "paper_drop_pp": round(paper_drop, 2),
                     "ours_acc_%": math.nan if ours is None else ours[0],
                     "ours_drop_pp": math.nan if ours is None else ours_drop,
                     "ours_drop_std_pp": math.nan if ours is None else ours[2],
                     "delta_drop_pp": math.nan if ours is None else ours_drop - paper_drop,
                     "profile": baseline.profile})
    return pd.DataFrame(rows)


def _cell(means: pd.DataFrame, layer: str, rank: int) -> tuple[float, float, float] | None:
    """(accuracy, drop, seed std of the drop; NaN for one seed) of one cell, or None."""
    if means.empty:
        return None
    hit = means[(means["layer"] == layer) & (means["rank"] == rank)]
    if hit.empty:
        return None
    return float(hit["accuracy"].iloc[0]), float(hit["accuracy_drop"].iloc[0]), float(hit["drop_std"].iloc[0])


def plot_single_layer(means: pd.DataFrame, baseline: Baseline) -> plt.Figure | None:
    """Heat map of our accuracy drop per layer and rank, beside the seed's two published cells."""
    drops = single_layer_pivot(means, "accuracy_drop")
    if drops.empty:
        return None
    paper_base = paper_value(CHAPTER, "cifar_vgg_baseline_acc").value
    seed = pd.DataFrame(np.nan, index=drops.index, columns=drops.columns)
    for layer, key in (("conv2d_1", "conv2d_1_rank1_acc"), ("conv2d_13", "conv2d_13_rank1_acc")):
        if layer in seed.index:
            seed.loc[layer, "rank 1"] = paper_base - paper_value(CHAPTER, key).value
    top = max(float(np.nanmax(drops.to_numpy())), float(np.nanmax(seed.to_numpy())), 1.0)
    fig, axes = plt.subplots(1, 2, figsize=(7.8, 4.8), gridspec_kw={"width_ratios": [1, 1.2]})
    style = dict(vmin=0, vmax=top, cmap="rocket_r", fmt="", annot_kws={"size": 8}, linewidths=0.4, linecolor="white")
    sns.heatmap(drops, ax=axes[0], cbar=False, annot=cell_labels(drops, ".1f"), **style)
    sns.heatmap(seed, ax=axes[1], cbar=True, cbar_kws={"label": "accuracy drop (pp)"}, annot=cell_labels(seed, ".1f"),
                **style)
    axes[0].set_title(f"ours ({baseline.profile}, baseline {baseline.text()})", fontsize=9)
    axes[1].set_title(f"seed (baseline {paper_base:g}%; only two cells quoted)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("DAC rank")
        ax.set_ylabel("")
    axes[1].set_yticklabels([])
    axes[1].tick_params(left=False)
    fig.suptitle("Decomposing one layer at a time: accuracy drop", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# First k vs last k
# ---------------------------------------------------------------------------------------------

def first_last_means(frame: pd.DataFrame) -> pd.DataFrame:
    return seed_mean(frame, ["end", "k", "rank"])


def first_last_pivot(means: pd.DataFrame) -> pd.DataFrame:
    """k (rows) by (end, rank) accuracy."""
    if means.empty:
        return pd.DataFrame()
    table = means.pivot(index="k", columns=["end", "rank"], values="accuracy")
    return table.sort_index(axis=1, level=[0, 1])


def compare_ends(means: pd.DataFrame) -> pd.DataFrame:
    """One row per (k, rank) with k below the layer count: drops of first-k and last-k and their difference."""
    if means.empty:
        return pd.DataFrame()
    n = int(means["k"].max())
    wide = means[means["k"] < n].pivot_table(index=["k", "rank"], columns="end", values=["accuracy_drop", "macs_saved_pct"])
    out = pd.DataFrame({
        "drop_first_pp": wide[("accuracy_drop", "first")], "drop_last_pp": wide[("accuracy_drop", "last")],
        "saved_first_%": wide[("macs_saved_pct", "first")], "saved_last_%": wide[("macs_saved_pct", "last")],
    }).reset_index()
    out["first_minus_last_pp"] = out["drop_first_pp"] - out["drop_last_pp"]
    return out


def equal_saving(means: pd.DataFrame) -> pd.DataFrame:
    """Last-k against first-k at the *same FLOPs saved* rather than the same k: for each rank and last-k
    point, first-k's accuracy is interpolated (linearly in FLOPs saved) at that saving. Points outside
    first-k's range are skipped. ``winner`` is the sign of the difference: within one trained model it is fixed,
    and whether it holds across training seeds is the ledger's question."""
    if means.empty:
        return pd.DataFrame()
    rows = []
    for rank, group in means.groupby("rank"):
        first = group[group["end"] == "first"].sort_values("macs_saved_pct")
        last = group[group["end"] == "last"].sort_values("k")
        lo, hi = first["macs_saved_pct"].min(), first["macs_saved_pct"].max()
        for row in last.itertuples():
            if not lo <= row.macs_saved_pct <= hi or row.k == group["k"].max():
                continue
            ref = float(np.interp(row.macs_saved_pct, first["macs_saved_pct"], first["accuracy"]))
            diff = row.accuracy - ref
            rows.append({"rank": rank, "k_last": row.k, "macs_saved_%": row.macs_saved_pct, "last_acc_%": row.accuracy,
                         "first_acc_at_same_saving_%": ref, "last_minus_first_pp": diff,
                         "winner": "last" if diff > 0 else "first" if diff < 0 else "tie"})
    return pd.DataFrame(rows)


def end_shares(layers: pd.DataFrame) -> pd.DataFrame:
    """Share (%) of the kxk convs' MACs held by the first k and by the last k layers, from ``study.layer_table``."""
    macs = layers["macs"].to_numpy(dtype=float)
    total = macs.sum()
    ks = range(1, len(macs) + 1)
    return pd.DataFrame({"k": list(ks), "first_k_%": [100 * macs[:k].sum() / total for k in ks],
                         "last_k_%": [100 * macs[-k:].sum() / total for k in ks]})


def ranges(values: Sequence[int]) -> str:
    """Consecutive integers as ranges: [2, 3, 4, 7] -> "2-4, 7"; empty -> "none"."""
    values = sorted(values)
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(parts) if parts else "none"


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


# ---------------------------------------------------------------------------------------------
# Pareto front and DAC vs channel SVD
# ---------------------------------------------------------------------------------------------

def configurations(single: pd.DataFrame, first_last: pd.DataFrame, equal_flops: pd.DataFrame) -> pd.DataFrame:
    """Every evaluated configuration (seed means) with a readable label and its sweep."""
    frames = []
    if not single.empty:
        frames.append(single.assign(sweep="one layer", label=single["layer"] + " r" + single["rank"].astype(str)))
    if not first_last.empty:
        fl = first_last.assign(sweep=first_last["end"] + " k",
                               label=first_last["end"] + " " + first_last["k"].astype(str) + " r"
                               + first_last["rank"].astype(str))
        frames.append(fl)
    if not equal_flops.empty:
        svd = equal_flops[equal_flops["method"] == "channel_svd"]
        frames.append(svd.assign(sweep="channel SVD", label="SVD " + svd["config"] + " (DAC r"
                                 + svd["dac_rank"].astype(str) + " budget)"))
    if not frames:
        return pd.DataFrame()
    columns = ["sweep", "label", "accuracy", "accuracy_drop", "macs_saved_pct"]
    return pd.concat([f[columns] for f in frames], ignore_index=True)


def pareto(configs: pd.DataFrame) -> pd.DataFrame:
    """Configurations no other one beats on both accuracy and FLOPs saved (``study.pareto_front``)."""
    if configs.empty:
        return pd.DataFrame()
    return study.pareto_front(configs)


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


def equal_flops_table(frame: pd.DataFrame) -> pd.DataFrame:
    """DAC against channel SVD at equal (not larger) FLOPs: one row per (config, DAC rank), seed means."""
    means = seed_mean(frame, ["config", "dac_rank", "method"])
    if means.empty:
        return pd.DataFrame()
    wide = means.pivot_table(index=["config", "dac_rank"], columns="method", values=["accuracy", "macs_saved_pct"],
                             sort=False)
    out = pd.DataFrame({
        "dac_acc_%": wide[("accuracy", "dac")], "svd_acc_%": wide[("accuracy", "channel_svd")],
        "dac_saved_%": wide[("macs_saved_pct", "dac")], "svd_saved_%": wide[("macs_saved_pct", "channel_svd")],
    }).reset_index()
    out["dac_minus_svd_pp"] = out["dac_acc_%"] - out["svd_acc_%"]
    out["better"] = np.where(out["dac_minus_svd_pp"] > 0, "DAC",  # the sign: fixed given the trained model
                             np.where(out["dac_minus_svd_pp"] < 0, "channel SVD", "tie"))
    return out


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
           title=f"DAC vs channel SVD at equal FLOPs ({profile})")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Weight reconstruction: trained (stored) vs random initialisation (live)
# ---------------------------------------------------------------------------------------------

def reconstruction_means(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame()
    columns = [c for c in ("rel_error", "channel_rel_error", "cost_ratio", "channel_cost_ratio") if c in frame]
    return frame.groupby(["layer", "rank"], sort=False)[columns].mean().reset_index()


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


# ---------------------------------------------------------------------------------------------
# Costs and latency (counted / live)
# ---------------------------------------------------------------------------------------------

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


def rounds_summary(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per rank, the median over rounds of ``dac_latency.model_latency_rounds`` (what ``plot_latency`` draws)."""
    if rounds.empty:
        return pd.DataFrame()
    return (rounds.groupby("rank").agg(macs_ratio=("macs_ratio", "first"), time_ratio=("time_ratio", "median"),
                                       ms=("ms", "median"), rounds=("round", "nunique"), device=("device", "first"))
            .reset_index())


def not_run_note(what: str, profile: str) -> Markdown:
    """A visible note in place of a figure or table whose stored results do not exist yet."""
    return Markdown(f"*{what}: not run yet (no stored `{profile}` result). It appears here once the "
                    f"`{profile}` baseline has been trained (`effconv run dac --profile {profile}`).*")


def depthwise_slowdown(layers: pd.DataFrame, low: int = 1, high: int = 2) -> float:
    """Median over layer shapes of depthwise time at rank ``high`` over rank ``low`` (FLOPs say high/low)."""
    if "depthwise_ms" not in layers:
        return math.nan
    wide = layers.pivot_table(index=["in_channels", "out_channels", "size"], columns="rank", values="depthwise_ms")
    if low not in wide or high not in wide:
        return math.nan
    return float((wide[high] / wide[low]).median())
