"""Chapter 2 (ShuffleNet V1): the unit as a block diagram, and ImageNet accuracy against cost.

The diagram is drawn from a real unit: the layers of a built ShuffleNet and the shapes a forward pass gives
them, so a change to the model changes the drawing. No ImageNet network is trained here: every accuracy is a
paper's. What is ours is the cost: each network is built and its multiply-adds counted at 224x224, drawn
beside the cost the paper printed.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.patches import FancyBboxPatch
from torch import nn

from effconv.errors import EffconvError
from effconv.models.shufflenet_v1 import TABLE1_CHANNELS, shufflenet_v1
from effconv.studies.paper import paper_value

# the unit's branch in order (attribute of ShuffleUnit, what a reader calls it, what follows it)
UNIT_BRANCH = (("compress", "1×1 group conv", "BN, ReLU"), ("shuffle", "channel shuffle", "no weights"),
               ("depthwise", "3×3 depthwise conv", "BN"), ("expand", "1×1 group conv", "BN"))
ARROW = {"arrowstyle": "-|>", "color": "#444444"}
UNIT_COLOURS = {"compress": "#c6dbef", "shuffle": "#fdd0a2", "depthwise": "#c7e9c0", "expand": "#c6dbef"}


def _conv_groups(module: nn.Module) -> int | None:
    return next((m.groups for m in module.modules() if isinstance(m, nn.Conv2d)), None)


def unit_layers(groups: int = 3, scale: float = 1.0) -> pd.DataFrame:
    """The layers of stage 3's first two units (stride 2, then stride 1) of ShuffleNet ``scale`` x with
    ``groups`` groups, with the shapes a forward pass of a 224x224 image gives them: one row per layer
    (``unit``, ``layer``, ``groups``, input and output channels and map size)."""
    if groups not in TABLE1_CHANNELS:
        raise EffconvError(f"draw a unit with groups in {sorted(TABLE1_CHANNELS)} (Table 1's), got {groups!r}.")
    model = shufflenet_v1(groups=groups, scale=scale).eval()
    stage = model.stages[1]
    rows, hooks = [], []

    def record(unit: str, layer: str, module: nn.Module):
        def hook(_module, inputs, output):
            rows.append({"unit": unit, "layer": layer, "groups": _conv_groups(module),
                         "in_channels": inputs[0].shape[1], "out_channels": output.shape[1],
                         "in_size": inputs[0].shape[-1], "out_size": output.shape[-1]})
        return hook

    for unit_name, unit in (("stride 2", stage[0]), ("stride 1", stage[1])):
        for layer in (*(name for name, _, _ in UNIT_BRANCH), "shortcut"):
            hooks.append(getattr(unit, layer).register_forward_hook(record(unit_name, layer, getattr(unit, layer))))
        hooks.append(unit.register_forward_hook(record(unit_name, "unit", unit)))
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 224, 224))
    finally:
        for hook in hooks:
            hook.remove()
    return pd.DataFrame(rows).astype({"groups": "Int64"})


def _box(ax, x: float, y: float, text: str, colour: str, width: float = 0.5) -> None:
    ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.3), width, 0.6, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#444444", lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def _shape(row) -> str:
    return f"{row.out_channels}×{row.out_size}×{row.out_size}"


def plot_unit(layers: pd.DataFrame) -> plt.Figure:
    """The ShuffleNet unit at stride 2 (left: the shortcut is average-pooled and concatenated) and stride 1
    (right: the shortcut is added), one box per layer of ``unit_layers``, each arrow labelled with the shape
    (channels × height × width) that flows along it. A stride-1 unit never calls its shortcut (the input is
    added as it is), so its ``unit_layers`` hold no shortcut row."""
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 5.4))
    for ax, (unit, rows) in zip(axes, layers.groupby("unit", sort=False)):
        by = rows.set_index("layer")
        whole = by.loc["unit"]
        stride2 = "shortcut" in by.index   # only a stride-2 unit runs its shortcut (an average pool)
        y = 6.0
        _box(ax, 0.35, y, "input", "#eeeeee")
        ax.text(0.63, y, f"{whole.in_channels}×{whole.in_size}×{whole.in_size}", ha="left", va="center", fontsize=8)
        groups = int(by.loc["expand", "groups"])
        for layer, name, after in UNIT_BRANCH:
            detail = {"compress": f"g = {by.loc[layer, 'groups']}, ", "shuffle": f"g = {groups}, ",
                      "depthwise": f"stride {2 if stride2 else 1}, ", "expand": f"g = {groups}, "}[layer] + after
            ax.annotate("", (0.35, y - 0.7), (0.35, y - 0.3), arrowprops=ARROW)
            y -= 1.0
            _box(ax, 0.35, y, f"{name}\n{detail}", UNIT_COLOURS[layer])
            ax.text(0.63, y - 0.5, _shape(by.loc[layer]), ha="left", va="center", fontsize=8, color="#333333")
        merge = "concat, ReLU" if stride2 else "add, ReLU"
        ax.annotate("", (0.35, y - 0.7), (0.35, y - 0.3), arrowprops=ARROW)
        y -= 1.0
        _box(ax, 0.35, y, merge, "#dadaeb")
        ax.text(0.63, y, _shape(whole), ha="left", va="center", fontsize=8, fontweight="bold")
        # the shortcut: from the input, down the left side, into the merge
        ax.plot([0.1, -0.12, -0.12, 0.05], [6.0, 6.0, y, y], color="#444444", lw=1)
        ax.annotate("", (0.1, y), (0.0, y), arrowprops=ARROW)
        shortcut = f"3×3 avg pool\nstride 2\n{_shape(by.loc['shortcut'])}" if stride2 else "identity"
        ax.text(-0.12, 3.5, shortcut, ha="center", va="center", fontsize=7.5,
                bbox={"facecolor": "white", "edgecolor": "#999999", "lw": 0.6})
        ax.set(xlim=(-0.32, 0.9), ylim=(y - 0.6, 6.5))
        ax.set_title(f"{unit}: {whole.in_channels} → {whole.out_channels} channels", fontsize=10)
        ax.axis("off")
    fig.suptitle(f"The ShuffleNet unit, read from ShuffleNet 1x g = {int(layers['groups'].dropna().iloc[0])}, "
                 "stage 3 (224×224 input)", fontsize=10)
    fig.tight_layout()
    return fig

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
