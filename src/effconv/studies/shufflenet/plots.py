"""Chapter 2 (ShuffleNet V1): ImageNet accuracy against cost for ShuffleNet and MobileNet.

No ImageNet network is trained here: every accuracy is a paper's. What is ours is the cost: each network is
built and its multiply-adds counted at 224x224, drawn beside the cost the paper printed.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from effconv.studies.paper import paper_value

FAMILY_COLOURS = {"ShuffleNet V1": "tab:blue", "MobileNet V1": "tab:orange"}


def imagenet_cost_points(scaled: pd.DataFrame, mobilenet: pd.DataFrame, groups: tuple[int, ...] = (3,)
                         ) -> pd.DataFrame:
    """One row per network: our counted MACs (M), the paper's printed MACs (M) and the paper's top-1 (%).

    ``scaled`` is ``shufflenet.scaled_complexity()`` (ShuffleNet's Table 2 error gives its top-1, for the
    ``groups`` shown); ``mobilenet`` is ``splitting.mobilenet_table()``, of which the 224x224 rows with a
    published top-1 are drawn (the width multipliers and the full-conv model).
    """
    rows = []
    for row in scaled[scaled["g"].isin(groups)].itertuples(index=False):
        error = paper_value("shufflenet", f"table2_err_{row.scale}_g{row.g}").value
        rows.append({"family": "ShuffleNet V1", "model": f"{row.scale} (g={row.g})", "ours_Mmacs": row.ours_with_fc,
                     "paper_Mmacs": row.paper_mflops, "paper_top1_%": 100 - error})
    at224 = mobilenet[mobilenet["model"].str.endswith("-224")].dropna(subset=["paper_top1_%"])
    for _, row in at224.iterrows():
        name = row["model"].removesuffix(" MobileNet-224") + ("x" if row["model"][0].isdigit() else "")
        rows.append({"family": "MobileNet V1", "model": name, "ours_Mmacs": row["ours_Mmacs"],
                     "paper_Mmacs": row["paper_Mmacs"], "paper_top1_%": row["paper_top1_%"]})
    return pd.DataFrame(rows, columns=["family", "model", "ours_Mmacs", "paper_Mmacs", "paper_top1_%"])


def plot_imagenet_cost(points: pd.DataFrame) -> plt.Figure:
    """Paper top-1 against multiply-adds on a log axis: a filled marker at our counted cost, a hollow one at
    the paper's printed cost (joined when they differ), each network labelled."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for family, part in points.groupby("family", sort=False):
        colour = FAMILY_COLOURS.get(family, "tab:grey")
        ax.scatter(part["ours_Mmacs"], part["paper_top1_%"], s=36, color=colour, zorder=3,
                   label=f"{family}: top-1 from the paper at our counted cost")
        printed = part.dropna(subset=["paper_Mmacs"])
        ax.scatter(printed["paper_Mmacs"], printed["paper_top1_%"], s=60, facecolors="none", edgecolors=colour,
                   zorder=2, label=f"{family}: the paper's printed cost")
        for _, row in part.iterrows():
            top1 = row["paper_top1_%"]
            if pd.notna(row["paper_Mmacs"]):
                ax.plot([row["ours_Mmacs"], row["paper_Mmacs"]], [top1, top1], color=colour, lw=0.8)
            # ShuffleNet's labels left of their points, MobileNet's right: the two families sit close together
            left = family == "ShuffleNet V1"
            ax.annotate(row["model"], (min(row["ours_Mmacs"], row["paper_Mmacs"]) if left else row["ours_Mmacs"], top1),
                        textcoords="offset points", xytext=(-8 if left else 8, -3), ha="right" if left else "left",
                        fontsize=9, color=colour)
    ax.set_xscale("log")
    ax.set_xlim(points["ours_Mmacs"].min() / 4, points["ours_Mmacs"].max() * 2.5)
    ax.set(xlabel="multiply-adds at 224x224 (M, log scale)", ylabel="ImageNet top-1 accuracy (%, the papers')")
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    ax.set_title("ImageNet accuracy against cost: published accuracies, counted costs", fontsize=10)
    fig.tight_layout()
    return fig
