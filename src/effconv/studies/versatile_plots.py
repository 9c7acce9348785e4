"""Chapter 5 (versatile filters): accuracy against cost, one point per variant (CIFAR-10 VGG-16)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import NullFormatter

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
