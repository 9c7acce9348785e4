"""Chapter 1, splitting and grouping convolutions: the figures (the separable-conv cost ratio against
the channel count, and the live latency of split layers against their FLOP ratio).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns



def plot_separable_ratio(points: pd.DataFrame) -> plt.Figure:
    """The curve 1/N + 1/Dk^2 with the counted layers on top (log-log)."""
    curve = []
    for kernel in points["kernel"].unique():
        k = int(kernel.split("x")[0])
        for n in [2 ** (e / 8) for e in range(int(8 * math.log2(points["N"].min())), 8 * 10 + 1)]:
            curve.append({"N": n, "kernel": kernel, "ratio": 1 / n + 1 / k**2})
    fig, ax = plt.subplots(figsize=(6, 3.8))
    sns.lineplot(data=pd.DataFrame(curve), x="N", y="ratio", hue="kernel", ax=ax, legend=False)
    sns.scatterplot(data=points, x="N", y="counted", hue="kernel", ax=ax, s=40, zorder=3)
    for kernel in points["kernel"].unique():
        k = int(kernel.split("x")[0])
        ax.axhline(1 / k**2, ls=":", lw=1, color="grey")
    ax.set(xscale="log", yscale="log", xlabel="output channels N",
           ylabel="separable / dense mult-adds",
           title="Depthwise separable cost: counted points on 1/N + 1/Dk^2")
    ax.legend(title="kernel (dots: counted)")
    fig.tight_layout()
    return fig


def plot_latency(table: pd.DataFrame) -> plt.Figure:
    """Time ratio against FLOP ratio per layer and setting; the diagonal is 'time follows FLOPs'."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    sns.scatterplot(data=table[table["layer"] != "dense"], x="flop_ratio", y="time_ratio", hue="layer",
                    style="setting", s=60, ax=ax)
    lo = min(table["flop_ratio"].min(), table["time_ratio"].min()) * 0.8
    ax.plot([lo, 1.2], [lo, 1.2], ls="--", color="grey", lw=1, label="time = FLOPs")
    ax.axhline(1.0, ls=":", color="grey", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="mult-adds / dense conv", ylabel="measured time / dense conv",
           title=f"FLOPs are not latency ({table['device'].iloc[0]})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
