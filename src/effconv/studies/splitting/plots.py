"""Chapter 1, splitting and grouping convolutions: the figures (the three designs' connections drawn from
real layers, the separable-conv cost ratio against the channel count, and the live latency of split layers
against their FLOP ratio).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from torch import nn


def _connections(conv: nn.Conv2d) -> list[tuple[int, int, int]]:
    """Every (input channel, output channel, group) pair ``conv`` connects: within its group only."""
    per_in, per_out = conv.in_channels // conv.groups, conv.out_channels // conv.groups
    return [(i, o, o // per_out) for o in range(conv.out_channels)
            for i in range((o // per_out) * per_in, (o // per_out + 1) * per_in)]


def _y(channel: int, channels: int) -> float:
    return 1 - (channel + 0.5) / channels      # channel 0 on top, every column spanning the same height


def plot_conv_blocks(designs: dict[str, nn.Module], costs: pd.DataFrame, size: int) -> plt.Figure:
    """Each design's channel connections, read off its convolutions' shapes and groups: one dot per channel,
    one line per connected (input, output) pair, coloured by group; under each, its counted weights and
    multiply-adds at a ``size`` x ``size`` map."""
    widths = [len([m for m in block.modules() if isinstance(m, nn.Conv2d)]) for block in designs.values()]
    fig, axes = plt.subplots(1, len(designs), figsize=(10, 4.4), gridspec_kw={"width_ratios": widths})
    palette = sns.color_palette("colorblind", 8)
    for ax, (name, block), cost in zip(axes, designs.items(), costs.itertuples(index=False)):
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        columns = [convs[0].in_channels] + [conv.out_channels for conv in convs]
        for step, conv in enumerate(convs):
            pairs = _connections(conv)
            segments = [[(step, _y(i, conv.in_channels)), (step + 1, _y(o, conv.out_channels))] for i, o, _ in pairs]
            colours = [palette[g % len(palette)] if conv.groups < conv.in_channels else palette[0] for *_, g in pairs]
            # a few lines are drawn solid, thousands faint, so that both read as what they are
            ax.add_collection(LineCollection(segments, colors=colours, linewidths=0.4 if len(pairs) > 100 else 0.8,
                                             alpha=0.35 if len(pairs) > 100 else 0.9))
            k = "x".join(str(v) for v in conv.kernel_size)
            what = ("depthwise" if conv.groups == conv.in_channels > 1 else f"{conv.groups} groups" if conv.groups > 1
                    else "pointwise" if conv.kernel_size == (1, 1) else "dense")
            ax.text(step + 0.5, 1.04, f"{k}, {what}", ha="center", va="bottom", fontsize=8)
        for x, channels in enumerate(columns):
            ax.scatter([x] * channels, [_y(c, channels) for c in range(channels)], s=4, color="black", zorder=3)
            ax.text(x, -0.05, f"{channels} ch", ha="center", va="top", fontsize=8)
        ax.set_title(name, fontsize=10, pad=18)
        ax.text(len(convs) / 2, -0.16, f"{cost.params:,} weights\n{cost.macs / 1e6:.1f} M mult-adds "
                f"({cost.macs_ratio:.3f} of dense)", ha="center", va="top", fontsize=8)
        ax.set(xlim=(-0.25, len(convs) + 0.25), ylim=(-0.32, 1.1))
        ax.axis("off")
    fig.suptitle(f"Three ways from {columns[0]} to {columns[-1]} channels at {size}x{size} "
                 "(one line per connected channel pair)", fontsize=10)
    fig.tight_layout()
    return fig



def plot_separable_ratio(points: pd.DataFrame) -> plt.Figure:
    """The curve 1/N + 1/Dk^2 with the counted layers on top (log-log)."""
    curve = []
    for kernel in points["kernel"].unique():
        k = int(kernel.split("x")[0])
        for n in [2 ** (e / 8) for e in range(int(8 * math.log2(points["N"].min())), 8 * 10 + 1)]:
            curve.append({"N": n, "kernel": kernel, "ratio": 1 / n + 1 / k**2})
    fig, ax = plt.subplots(figsize=(6, 3.8))
    kernels = list(points["kernel"].unique())
    colours = dict(zip(kernels, sns.color_palette("colorblind", len(kernels))))
    sns.lineplot(data=pd.DataFrame(curve), x="N", y="ratio", hue="kernel", palette=colours, ax=ax, legend=False)
    sns.scatterplot(data=points, x="N", y="counted", hue="kernel", palette=colours, ax=ax, s=40, zorder=3,
                    legend=False)
    for kernel in kernels:
        k = int(kernel.split("x")[0])
        ax.axhline(1 / k**2, ls=":", lw=1, color=colours[kernel])
    ax.set(xscale="log", yscale="log", xlabel="output channels N",
           ylabel="separable / dense mult-adds",
           title="Depthwise-separable cost: counted layers on $1/N + 1/D_k^2$")
    # plain ratios (0.1, not 10^-1) at a few marks, so that no two labels touch
    ax.set_yticks([0.04, 0.06, 0.1, 0.15, 0.2])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    # one entry per kind of mark drawn: a colour per kernel, then what the dots, lines and dotted lines are
    handles = [Line2D([], [], color=colours[k], marker="o", label=f"{k} kernel") for k in kernels]
    handles += [Line2D([], [], color="grey", ls="", marker="o", label="counted layer"),
                Line2D([], [], color="grey", label="$1/N + 1/D_k^2$"),
                Line2D([], [], color="grey", ls=":", label="floor $1/D_k^2$")]
    ax.legend(handles=handles, fontsize=8)
    fig.tight_layout()
    return fig


def plot_latency(table: pd.DataFrame) -> plt.Figure:
    """Time ratio against FLOP ratio per layer and setting; the diagonal is 'time follows FLOPs'."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    sns.scatterplot(data=table[table["layer"] != "dense"], x="flop_ratio", y="time_ratio", hue="layer",
                    style="setting", s=60, ax=ax)
    lo = min(table["flop_ratio"].min(), table["time_ratio"].min()) * 0.8
    ax.plot([lo, 1.2], [lo, 1.2], ls="--", color="grey", lw=1, label="time = FLOPs")
    ax.axhline(1.0, ls=":", color="grey", lw=1, label="dense conv's time")
    ax.set(xscale="log", yscale="log", xlabel="mult-adds / dense conv", ylabel="measured time / dense conv",
           title=f"FLOPs are not latency: {table['device'].iloc[0]}")
    for axis in (ax.xaxis, ax.yaxis):   # plain ratios at 1-2-5 steps (0.1, 0.2, 0.5, not 10^-1)
        axis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())   # minor labels would overprint on a short axis
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
