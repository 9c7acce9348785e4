"""Chapter 4 (DAC): from stored results and live checks to the tables the chapter shows.

``decompose`` computes (decompositions, costs, sweeps), ``latency`` times, ``results`` reads the trained
baselines and the sweeps stored with them; this module turns them into seed-averaged tables (``plots``
draws them). It decides no verdict: ``claims`` grades every claim with ``effconv.claims``. Every function
copes with missing results: a run that is not stored gives empty tables.

Accuracies are stored as fractions; everything here is in percent (pp for differences).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from effconv.errors import EffconvError
from effconv.studies.dac import decompose as study
from effconv.studies.dac.results import Baseline, layer_order, seed_mean
from effconv.studies.paper import paper_value
from effconv.studies.dac.plan import CHAPTER


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
    """The specification's two published cells (conv2d_1 and conv2d_13 at rank 1) beside ours, as accuracy and drop
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


@dataclass(frozen=True)
class FlopsGap:
    """How much less channel SVD gets than DAC in the equal-FLOPs sweep: its rank is the largest whose MACs do not
    exceed DAC's, so "equal" means "at most"; gaps in pp of the whole model's MACs."""

    configurations: int   # (layer set, DAC rank) configurations compared
    fewer: int            # of them, those where channel SVD gets strictly fewer MACs than DAC
    mean_pp: float
    max_pp: float


def flops_gap(frame: pd.DataFrame) -> FlopsGap | None:
    """The MACs DAC spends beyond channel SVD in each configuration of the stored equal-FLOPs sweep (None when
    it is not stored). MACs are fixed by the configuration, so any one seed's rows give them."""
    if frame.empty:
        return None
    macs = frame.pivot_table(index=["config", "dac_rank"], columns="method", values=["macs", "baseline_macs"],
                             aggfunc="first")
    gap = 100 * (macs[("macs", "dac")] - macs[("macs", "channel_svd")]) / macs[("baseline_macs", "dac")]
    if (gap < 0).any():
        raise EffconvError("a stored equal-FLOPs row gives channel SVD more MACs than DAC; re-run the sweep.")
    return FlopsGap(len(gap), int((gap > 0).sum()), float(gap.mean()), float(gap.max()))


# ---------------------------------------------------------------------------------------------
# Weight reconstruction: trained (stored) vs random initialisation (live)
# ---------------------------------------------------------------------------------------------

def reconstruction_means(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame()
    columns = [c for c in ("rel_error", "channel_rel_error", "cost_ratio", "channel_cost_ratio") if c in frame]
    return frame.groupby(["layer", "rank"], sort=False)[columns].mean().reset_index()


# ---------------------------------------------------------------------------------------------
# Costs and latency (counted / live)
# ---------------------------------------------------------------------------------------------


def rounds_summary(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per rank, the median over rounds of ``dac_latency.model_latency_rounds`` (what ``plot_latency`` draws)."""
    if rounds.empty:
        return pd.DataFrame()
    return (rounds.groupby("rank").agg(macs_ratio=("macs_ratio", "first"), time_ratio=("time_ratio", "median"),
                                       ms=("ms", "median"), rounds=("round", "nunique"), device=("device", "first"))
            .reset_index())


def depthwise_slowdown(layers: pd.DataFrame, low: int = 1, high: int = 2) -> float:
    """Median over layer shapes of depthwise time at rank ``high`` over rank ``low`` (FLOPs say high/low)."""
    if "depthwise_ms" not in layers:
        return math.nan
    wide = layers.pivot_table(index=["in_channels", "out_channels", "size"], columns="rank", values="depthwise_ms")
    if low not in wide or high not in wide:
        return math.nan
    return float((wide[high] / wide[low]).median())
