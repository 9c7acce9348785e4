"""Chapter 2, ShuffleNet V1: everything the chapter computes without training.

- Table 1 by counting: stage widths and the complexity row, with and without the final FC layer;
- the authors' released models (0.5x-2.0x, g = 3 and 8) and torchvision's ShuffleNet V2 against their
  published FLOPs and parameters; the paper's Table 2 complexity headers for the scaled models; the
  theoretical speedup over AlexNet;
- the unit-cost formulas of ResNet, ResNeXt and ShuffleNet against counted units, and the
  configurations behind "1x1 convs are 93.4% of a ResNeXt unit's mult-adds";
- the seed code's errata (and where the authors' code differs from the paper);
- latency: whole models per g against their FLOPs, and the channel shuffle's share of a unit's time.

Every function returns a pandas DataFrame built from running our code (or a matplotlib figure of one);
published numbers come from ``paper_values/shufflenet.csv`` through ``paper_value``. The CIFAR-10
analogues of Tables 2 and 3 are trained by ``shufflenet_runs`` and turned into tables, verdicts and plots
by ``shufflenet_report``; ``paper_table2``, ``paper_table3`` and ``cifar_complexity`` give what they are
set beside.
"""

from __future__ import annotations

import re
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from torch import nn

from effconv.claims import ClaimsTable, combine, grade_count, grade_timing
from effconv.analysis.flops import count_flops
from effconv.analysis.latency import LatencyResult, measure_latency
from effconv.errors import EffconvError
from effconv.models.shufflenet_v1 import TABLE1_CHANNELS, ShuffleUnit, shufflenet_v1
from effconv.ops.shuffle import channel_shuffle, channel_unshuffle
from effconv.studies.paper import paper_value
from effconv.studies.shufflenet_widths import REFERENCE_GROUPS, matched_channels

CHAPTER = "shufflenet"
GROUPS = (1, 2, 3, 4, 8)
SCALE_LABELS = {0.25: "0.25x", 0.5: "0.5x", 1.0: "1.0x", 1.5: "1.5x", 2.0: "2.0x"}


def _paper(key: str) -> float:
    return float(paper_value(CHAPTER, key).value)


def _meta(build: Callable[..., nn.Module], **kwargs) -> nn.Module:
    """Build a model on the ``meta`` device: counting shapes then costs no arithmetic (20x faster)."""
    with torch.device("meta"):
        return build(**kwargs)


def _count(model: nn.Module, input_size: int = 224) -> tuple[float, float, int]:
    """(MMACs with the FC layer, MMACs without it, params) of ``model``."""
    count = count_flops(model, input_size)
    fc = int(count.by_layer.loc[count.by_layer["kind"] == "linear", "macs"].sum())
    return count.macs / 1e6, (count.macs - fc) / 1e6, count.params


@dataclass(frozen=True)
class ModelCost:
    """Counted cost of one ShuffleNet V1 at 224x224 (1000 classes)."""

    mflops: float  # multiply-adds incl. the final FC, in millions
    mflops_without_fc: float
    params: int  # incl. BN affine parameters and the FC bias
    fc_bias: int  # parameters in the FC bias (the authors' code has none)
    widths: tuple[int, ...]  # stem, stage 2, 3, 4 output channels


@lru_cache(maxsize=None)
def shufflenet_cost(groups: int, scale: float = 1.0, channels: tuple[int, int, int] | None = None) -> ModelCost:
    """Count ``shufflenet_v1(groups=groups, scale=scale, channels=channels)`` at 224 (cached)."""
    model = _meta(shufflenet_v1, groups=groups, scale=scale, channels=channels)
    with_fc, without_fc, params = _count(model)
    return ModelCost(with_fc, without_fc, params, model.fc.bias.numel(), model.widths)


# --- the channel shuffle, worked -------------------------------------------------------------------

def channel_labels(groups: int, per_group: int) -> list[str]:
    """``a1 .. a{n}, b1 .. b{n}, ...``: one letter per group, numbered inside the group."""
    if not 1 <= groups <= 26 or per_group < 1:
        raise EffconvError(f"label 1-26 groups of at least one channel, got groups={groups!r}, "
                           f"per_group={per_group!r}.")
    return [f"{chr(ord('a') + g)}{i + 1}" for g in range(groups) for i in range(per_group)]


def shuffle_example(groups: int = 3, per_group: int = 5) -> pd.DataFrame:
    """Where ``channel_shuffle`` sends each channel of ``groups`` groups of ``per_group`` channels.

    The channels are tagged with their own index, shuffled by the library function, and read back:
    row ``j`` is output position ``j``, which holds input channel ``source``. ``new_group`` is the group
    that position belongs to in the next grouped convolution. ``unshuffled`` checks that
    ``channel_unshuffle`` restores the input order.
    """
    labels = channel_labels(groups, per_group)
    index = torch.arange(groups * per_group).view(1, -1, 1, 1)
    shuffled = channel_shuffle(index, groups).flatten().tolist()
    restored = channel_unshuffle(channel_shuffle(index, groups), groups).flatten().tolist()
    return pd.DataFrame({
        "position": range(len(labels)), "channel": [labels[s] for s in shuffled], "source": shuffled,
        "old_group": [labels[s][0] for s in shuffled], "new_group": [p // per_group for p in range(len(labels))],
        "unshuffled": [labels[r] for r in restored],
    })


def shuffle_rows(example: pd.DataFrame, groups: int) -> pd.DataFrame:
    """The shuffled order as one row per new group (the form of the seed's worked example)."""
    per_group = len(example) // groups
    return pd.DataFrame({f"new group {k + 1}": example["channel"].iloc[k * per_group:(k + 1) * per_group].tolist()
                         for k in range(groups)}).T.set_axis([f"slot {i + 1}" for i in range(per_group)], axis=1)


def shuffle_mixing(example: pd.DataFrame) -> pd.DataFrame:
    """How many channels of each input group land in each new group (rows: new groups)."""
    table = pd.crosstab(example["new_group"] + 1, example["old_group"])
    table.index.name, table.columns.name = "new group", "from input group"
    return table


def plot_shuffle(example: pd.DataFrame) -> plt.Figure:
    """Input channels (top) joined to their shuffled positions (bottom), coloured by their input group."""
    n = len(example)
    per_group = int((example["new_group"] == 0).sum())
    letters = sorted(example["old_group"].unique())
    colours = dict(zip(letters, sns.color_palette("deep", len(letters))))
    labels = channel_labels(len(letters), per_group)
    fig, ax = plt.subplots(figsize=(7.5, 2.4))
    for row in example.itertuples():
        colour = colours[row.old_group]
        ax.plot([row.source, row.position], [1, 0], color=colour, lw=1.2, alpha=0.8)
    for x, label in enumerate(labels):
        ax.text(x, 1.08, label, ha="center", va="bottom", fontsize=8, color=colours[label[0]], fontweight="bold")
    for row in example.itertuples():
        ax.text(row.position, -0.08, row.channel, ha="center", va="top", fontsize=8, color=colours[row.old_group],
                fontweight="bold")
    for k in range(1, len(letters)):
        ax.axvline(k * per_group - 0.5, color="grey", ls=":", lw=1)
    ax.text(-1.0, 1.0, "groups in", ha="right", va="center", fontsize=8)
    ax.text(-1.0, 0.0, "groups out", ha="right", va="center", fontsize=8)
    ax.set(xlim=(-3.2, n - 0.4), ylim=(-0.35, 1.35), title=f"channel_shuffle: {len(letters)} groups of {per_group}")
    ax.axis("off")
    fig.tight_layout()
    return fig


def unit_formula_summary(units: pd.DataFrame) -> pd.DataFrame:
    """``unit_formulas`` condensed: per unit type, how many grid points were checked and how many agree."""
    summary = units.groupby("unit", sort=False).agg(
        checked=("equal", "size"), equal=("equal", "sum"), c=("c", lambda v: "/".join(map(str, sorted(set(v))))),
        m=("m", lambda v: "/".join(map(str, sorted(set(v))))), g=("g", lambda v: "/".join(map(str, sorted(set(v))))),
    ).reset_index()
    sizes = sorted({f"{h}x{w}" for h, w in zip(units["h"], units["w"])})
    summary["maps"] = ", ".join(sizes)
    summary["formula"] = summary["unit"].map(lambda u: paper_value(CHAPTER, f"unit_flops_{u.lower()}").value)
    return summary[["unit", "formula", "checked", "equal", "c", "m", "g", "maps"]]


# --- Table 1 -----------------------------------------------------------------------------------------

def table1_channels() -> pd.DataFrame:
    """Stage 2/3/4 output channels of our models (measured from a forward pass) next to Table 1's."""
    rows = []
    for g in GROUPS:
        measured = _stage_outputs(_meta(shufflenet_v1, groups=g), 224)
        for stage, ours in zip((2, 3, 4), measured):
            paper = int(_paper(f"table1_c{stage}_g{g}"))
            rows.append({"g": g, "stage": stage, "paper": paper, "ours": ours, "match": paper == ours})
    return pd.DataFrame(rows)


def table1_complexity() -> pd.DataFrame:
    """Table 1's complexity row (MFLOPs at 224, 1x) against our count with and without the final FC.

    The paper's row is matched (within its integer rounding) only when the FC layer is left out:
    with it, g = 2, 4 and 8 come out 0.8-1.5 MFLOPs too high.
    """
    rows = []
    for g in GROUPS:
        cost = shufflenet_cost(g)
        with_fc, without_fc, params = cost.mflops, cost.mflops_without_fc, cost.params
        paper = _paper(f"table1_mflops_g{g}")
        rows.append({
            "g": g, "paper_mflops": paper,
            "ours_without_fc": round(without_fc, 2), "ours_with_fc": round(with_fc, 2),
            "delta_without_fc": round(without_fc - paper, 2), "delta_with_fc": round(with_fc - paper, 2),
            "match_without_fc": grade_count(without_fc, paper, decimals=0).verdict == "reproduced",
            "match_with_fc": grade_count(with_fc, paper, decimals=0).verdict == "reproduced",
            "independent_count_without_fc": _paper(f"count_nofc_mflops_g{g}"),
            "params": params,
        })
    return pd.DataFrame(rows)


def repo_table() -> pd.DataFrame:
    """The authors' released ShuffleNet V1 models (g = 3, 8; 0.5x-2.0x) against our counts at 224.

    ``ours_params`` has an FC bias (our models); ``ours_params_no_fc_bias`` is the same model counted
    without it, which is how the authors' code builds the classifier. Matches use the README's rounding
    (whole MFLOPs, 0.1 M params).
    """
    rows = []
    for scale, g in itertools.product((2.0, 1.5, 1.0, 0.5), (3, 8)):
        label = SCALE_LABELS[scale]
        cost = shufflenet_cost(g, scale)
        with_fc, params = cost.mflops, cost.params
        no_bias = params - cost.fc_bias
        repo_mflops = _paper(f"repo_mflops_{label}_g{g}")
        repo_mparams = _paper(f"repo_mparams_{label}_g{g}")
        rows.append({
            "model": f"{label} g={g}", "stem": cost.widths[0], "channels": "/".join(map(str, cost.widths[1:])),
            "repo_mflops": repo_mflops, "ours_mflops": round(with_fc, 2),
            "delta_mflops": round(with_fc - repo_mflops, 2),
            "mflops_match": grade_count(with_fc, repo_mflops, decimals=0).verdict == "reproduced",
            "repo_mparams": repo_mparams, "ours_params": params, "ours_params_no_fc_bias": no_bias,
            "params_match": round(params / 1e6, 1) == repo_mparams,
            "params_match_no_fc_bias": round(no_bias / 1e6, 1) == repo_mparams,
        })
    return pd.DataFrame(rows)


def scaled_complexity(scales: Sequence[float] = (1.0, 0.5, 0.25)) -> pd.DataFrame:
    """Our counts (with FC) for every g at each scale, against Table 2's approximate complexity headers."""
    rows = []
    for scale in scales:
        paper = _paper(f"table2_mflops_{SCALE_LABELS[scale]}")
        for g in GROUPS:
            cost = shufflenet_cost(g, scale)
            with_fc, without_fc, params = cost.mflops, cost.mflops_without_fc, cost.params
            rows.append({
                "scale": SCALE_LABELS[scale], "g": g, "stem": cost.widths[0],
                "channels": "/".join(map(str, cost.widths[1:])), "paper_mflops": paper,
                "ours_with_fc": round(with_fc, 2), "ours_without_fc": round(without_fc, 2),
                "delta_%": round(100 * (with_fc - paper) / paper, 1), "params": params,
            })
    return pd.DataFrame(rows)


@lru_cache(maxsize=None)
def cifar_cost(groups: int, scale: float, shuffle: bool = True, matched: bool = True
               ) -> tuple[float, int, tuple[int, ...]]:
    """(MMACs at 32x32, params, widths) of ``shufflenet_v1_cifar`` (10 classes), cached.

    ``matched`` counts the FLOP-matched widths the sweep trains (``shufflenet_widths``); ``False``
    counts Table 1's widths scaled and rounded.
    """
    from effconv.models import create_model

    channels = matched_channels(groups, scale) if matched else None
    with torch.device("meta"):
        model = create_model("shufflenet_v1_cifar", groups=groups, width=scale, shuffle=shuffle, channels=channels)
    count = count_flops(model, (3, 32, 32))
    return count.macs / 1e6, count.params, model.widths


def cifar_complexity(scales: Sequence[float] = (0.25, 0.5, 1.0), groups: Iterable[int] = GROUPS) -> pd.DataFrame:
    """Counted cost of the CIFAR-form models per width and g, with Table 1's widths and with the
    FLOP-matched widths we train, each as a difference (%) from the g = 3 model of the same width.

    The stem and the ``4 g`` rounding of narrow widths (see ``stage_channels`` and ``stem_channels``)
    loosen Table 1's match at 0.25x; the matched widths restore it (``shufflenet_widths``).
    """
    rows = []
    groups = tuple(groups)
    for scale in scales:
        reference = cifar_cost(REFERENCE_GROUPS, scale)[0]
        for g in groups:
            table1, _, table1_widths = cifar_cost(g, scale, matched=False)
            mflops, params, widths = cifar_cost(g, scale)
            rows.append({"width": SCALE_LABELS.get(scale, f"{scale:g}x"), "scale": scale, "g": g, "stem": widths[0],
                         "table1_channels": "/".join(map(str, table1_widths[1:])),
                         "table1_vs_g3_%": round(100 * (table1 - reference) / reference, 1),
                         "channels": "/".join(map(str, widths[1:])), "mflops_32": round(mflops, 3),
                         "mflops_vs_g3_%": round(100 * (mflops - reference) / reference, 1), "params": params})
    return pd.DataFrame(rows)


def torchvision_v2_table() -> pd.DataFrame:
    """torchvision's ShuffleNet V2 builders counted by us against their weights' published metadata."""
    import torchvision.models as tvm

    rows = []
    for suffix in ("x0_5", "x1_0", "x1_5", "x2_0"):
        weights = getattr(tvm, f"ShuffleNet_V2_{suffix.upper()}_Weights").IMAGENET1K_V1
        model = _meta(getattr(tvm, f"shufflenet_v2_{suffix}"), weights=None)  # architecture only, no download
        count = count_flops(model, 224)
        meta_gflops = float(weights.meta["_ops"])
        rows.append({
            "model": f"shufflenet_v2_{suffix}",
            "meta_params": weights.meta["num_params"], "ours_params": count.params,
            "params_match": weights.meta["num_params"] == count.params,
            "meta_gflops": meta_gflops, "ours_gmacs": round(count.gmacs, 4),
            # torchvision rounds _ops to 3 decimals
            "gflops_match": abs(count.gmacs - meta_gflops) <= 0.0005,
        })
    return pd.DataFrame(rows)


def alexnet_speedup(scale: float = 0.5) -> pd.DataFrame:
    """Theoretical speedup of ShuffleNet ``scale`` x over AlexNet: the ratio of counted multiply-adds.

    AlexNet is torchvision's single-tower variant (counted at 224), close to but not the paper's
    two-GPU original; the paper quotes 18x theoretical (13x measured on ARM) for 0.5x, the seed
    "about 10x the speed".
    """
    import torchvision.models as tvm

    alexnet = count_flops(_meta(tvm.alexnet, weights=None), 224).macs / 1e6
    rows = []
    for g in GROUPS:
        cost = shufflenet_cost(g, scale)
        rows.append({"g": g, "scale": SCALE_LABELS.get(scale, scale), "alexnet_mflops": round(alexnet, 1),
                     "shufflenet_mflops": round(cost.mflops, 2), "speedup": round(alexnet / cost.mflops, 1),
                     "paper_theoretical": _paper("alexnet_speedup_theoretical"),
                     "paper_measured_arm": _paper("alexnet_speedup_measured")})
    return pd.DataFrame(rows)


# --- unit costs -----------------------------------------------------------------------------------

def bottleneck_unit(c: int, m: int, groups: int = 1) -> nn.Sequential:
    """A ResNet (``groups=1``) or ResNeXt bottleneck branch: 1x1 c->m, 3x3 m->m in ``groups``, 1x1 m->c.

    Stride 1; the identity shortcut and the addition cost no multiply-adds, so the branch is the unit.
    """
    return nn.Sequential(
        nn.Conv2d(c, m, 1, bias=False), nn.BatchNorm2d(m), nn.ReLU(inplace=True),
        nn.Conv2d(m, m, 3, padding=1, groups=groups, bias=False), nn.BatchNorm2d(m), nn.ReLU(inplace=True),
        nn.Conv2d(m, c, 1, bias=False), nn.BatchNorm2d(c),
    )


UNIT_FORMULAS: dict[str, Callable[[int, int, int, int, int], float]] = {
    "ResNet": lambda h, w, c, m, g: h * w * (2 * c * m + 9 * m * m),
    "ResNeXt": lambda h, w, c, m, g: h * w * (2 * c * m + 9 * m * m / g),
    "ShuffleNet": lambda h, w, c, m, g: h * w * (2 * c * m / g + 9 * m),
}


def _unit(kind: str, c: int, m: int, g: int) -> nn.Module:
    if kind == "ResNet":
        return bottleneck_unit(c, m, 1)
    if kind == "ResNeXt":
        return bottleneck_unit(c, m, g)
    return ShuffleUnit(c, c, groups=g, mid_channels=m)


def unit_formulas(cs: Iterable[int] = (96, 240), ms: Iterable[int] = (24, 48), groups: Iterable[int] = GROUPS,
                  sizes: Iterable[tuple[int, int]] = ((28, 28), (7, 9))) -> pd.DataFrame:
    """The seed's unit-cost formulas next to the MACs counted on real units, over a grid of (c, m, g, h x w).

    BN and ReLU are left out of the count (as the formulas do), so the two columns must agree exactly.
    ResNet does not depend on g; it is listed once per (c, m, h x w).
    """
    rows = []
    for (h, w), c, m, g in itertools.product(sizes, cs, ms, groups):
        for kind, formula in UNIT_FORMULAS.items():
            if kind == "ResNet" and g != 1:
                continue
            counted = count_flops(_meta(_unit, kind=kind, c=c, m=m, g=g), (c, h, w)).macs
            expected = formula(h, w, c, m, g)
            rows.append({"unit": kind, "c": c, "m": m, "g": g, "h": h, "w": w, "formula": expected,
                         "counted": counted, "equal": counted == expected})
    return pd.DataFrame(rows)


#: (cardinality, bottleneck width d) templates of ResNeXt's Table 2 at conv2 (c = 256, m = C * d),
#: plus ResNeXt-101's 64x4d; the search also runs every stage (c and m doubling) of each.
RESNEXT_TEMPLATES = ((1, 64), (2, 40), (4, 24), (8, 14), (32, 4), (64, 4))


def resnext_pointwise_search(target: float | None = None) -> pd.DataFrame:
    """Share of a ResNeXt unit's multiply-adds in its 1x1 convs, counted, for ResNeXt templates.

    Rows are stride-1 units (c in/out, bottleneck m = C * d, 3x3 in C groups) at conv2..conv5; ``matches``
    marks shares that round to ``target`` (by default the seed's figure). The share 2cm / (2cm + 9 m^2 / g) does not
    depend on h x w, so a 7x7 map is used. See ``resnext_torchvision_units`` for torchvision's models.
    """
    target = paper_value(CHAPTER, "resnext_pointwise_share").value if target is None else target
    rows = []
    for cardinality, d in RESNEXT_TEMPLATES:
        for stage in range(4):
            c, m = 256 * 2 ** stage, cardinality * d * 2 ** stage
            unit = _meta(bottleneck_unit, c=c, m=m, groups=cardinality)
            rows.append(_pointwise_share_row(unit, (c, 7, 7), target) | {
                "template": f"{cardinality}x{d}d", "stage": f"conv{stage + 2}", "c": c, "m": m, "g": cardinality,
            })
    return pd.DataFrame(rows)[["template", "stage", "c", "m", "g", "pointwise_macs", "grouped_3x3_macs",
                               "pointwise_%", "matches"]]


def resnext_torchvision_units(target: float | None = None,
                              names: Sequence[str] = ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d")
                              ) -> pd.DataFrame:
    """The pointwise share of every distinct residual unit of torchvision's ResNeXt models (224 input).

    Includes each stage's first unit, whose projection shortcut is a 1x1 conv too (and whose stride
    changes the map sizes), so those units sit above the stride-1 value.
    """
    import torchvision.models as tvm

    target = paper_value(CHAPTER, "resnext_pointwise_share").value if target is None else target
    rows, seen = [], set()
    for name in names:
        model = _meta(getattr(tvm, name), weights=None)
        size = 56
        for stage_index, stage in enumerate((model.layer1, model.layer2, model.layer3, model.layer4)):
            for index, block in enumerate(stage):
                in_channels = block.conv1.in_channels
                key = (name, stage_index, index == 0)
                if key not in seen:
                    seen.add(key)
                    rows.append(_pointwise_share_row(block, (in_channels, size, size), target) | {
                        "model": name, "stage": f"conv{stage_index + 2}",
                        "unit": "first" if index == 0 else "others",
                        "c_in": in_channels, "m": block.conv2.out_channels, "g": block.conv2.groups,
                    })
                size //= block.conv2.stride[0]
    return pd.DataFrame(rows)[["model", "stage", "unit", "c_in", "m", "g", "pointwise_macs", "grouped_3x3_macs",
                               "pointwise_%", "matches"]]


def _pointwise_share_row(unit: nn.Module, input_size: tuple[int, int, int], target: float) -> dict:
    shares = count_flops(unit, input_size).by_layer.groupby("kind")["macs"].sum()
    pointwise = int(shares.get("conv 1x1", 0) + shares.get("grouped 1x1", 0))
    total = int(shares.sum())
    share = 100 * pointwise / total
    return {"pointwise_macs": pointwise, "grouped_3x3_macs": total - pointwise,
            "pointwise_%": round(share, 2), "matches": round(share, 1) == target}


# --- errata ---------------------------------------------------------------------------------------

def seed_errata() -> pd.DataFrame:
    """Where the seed's ShuffleNet code departs from the paper, with the cost where we can count it.

    ``what`` names the slip, ``seed`` and ``paper`` the two versions, ``effect`` its consequence.
    The bias cost is counted on our 1x g=3 model (every conv's output channels = the biases the seed adds).
    """
    model = _meta(shufflenet_v1, groups=3)
    conv_biases = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
    base, typo = shufflenet_cost(1), shufflenet_cost(1, channels=(144, 288, 567))
    rows = [
        ("g=1 stage-4 width", "144/288/567", "144/288/576 (Table 1)",
         f"a typo; 567 is not even divisible by 4, so the bottleneck is 141 by floor division; the model "
         f"has {typo.mflops:.2f} instead of {base.mflops:.2f} MFLOPs and {typo.params:,} instead of "
         f"{base.params:,} params"),
        ("error message for unsupported g", "formats an undefined name (num_groups)", "-",
         "asking for e.g. g=5 raises NameError instead of the intended ValueError"),
        ("conv biases", "every 1x1 and 3x3 conv (and the stem) built with bias=True", "BN follows every conv",
         f"the bias is cancelled by BN's mean subtraction: {conv_biases:,} useless parameters in 1x g=3"),
        ("initialisers", "init.kaiming_normal, init.constant, init.normal", "-",
         "deprecated aliases; current PyTorch names end with an underscore (kaiming_normal_, constant_, normal_)"),
        ("stage repeats", "[3, 7, 3] after each stage's first unit", "4/8/4 units (Table 1)",
         "consistent: 1 + 3, 1 + 7, 1 + 3 give 4/8/4"),
        ("stem", "3x3 conv (with bias) straight into the max pool", "Conv1 then MaxPool (Table 1)",
         "no BN and no ReLU after the stem; the authors' released code has conv-BN-ReLU, which we follow"),
        ("ReLU placement", "ReLU after the add/concat; none after the depthwise conv", "same (Fig. 2)",
         "consistent; with no ReLU in the seed's stem, stage 2's pooled shortcut can be negative and is "
         "clipped by the ReLU after the concat"),
        ("first 1x1 of stage 2", "ungrouped (grouped_conv = stage > 2)", "ungrouped (Sec. 3.3)", "consistent"),
        ("unused import", "from torch.autograd import Variable", "-", "Variable is deprecated and never used"),
    ]
    return pd.DataFrame(rows, columns=["what", "seed", "paper", "effect"])


def errata_numbers() -> dict[str, float]:
    """The counted consequences of the seed's slips quoted in the chapter's errata box.

    ``typo_*``: the g = 1 model with the seed's 567 stage-4 channels against Table 1's 576;
    ``conv_biases``: the parameters the seed's conv biases add to the 1x g = 3 model (BN cancels them).
    """
    base, typo = shufflenet_cost(1), shufflenet_cost(1, channels=(144, 288, 567))
    model = _meta(shufflenet_v1, groups=3)
    biases = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
    return {"typo_mflops": typo.mflops, "table1_mflops": base.mflops, "typo_params": typo.params,
            "table1_params": base.params, "typo_bottleneck": 567 // 4, "conv_biases": biases,
            "g3_params": shufflenet_cost(3).params}


def official_code_notes() -> pd.DataFrame:
    """Where the authors' released ShuffleNetV1 code (megvii-model/ShuffleNet-Series) differs from the paper.

    None of these change FLOPs; the notes explain why our model, which follows the paper, still matches
    the released models' counts (see ``repo_table``).
    """
    rows = [
        ("shuffle direction", "reshapes channels as (n, g) then transposes, i.e. our channel_unshuffle",
         "the inverse permutation; it mixes the groups just as well"),
        ("shuffle position", "after the depthwise conv and its BN, before the second 1x1",
         "equivalent: a depthwise conv and BN act per channel, so they commute with a channel permutation"),
        ("shuffle at g=1", "skipped", "the permutation is the identity anyway"),
        ("stride-2 ReLU", "ReLU on the branch only, then concat", "same as ReLU after the concat, because the "
         "pooled shortcut of a ReLU output is non-negative"),
        ("classifier", "Linear without bias", "the README's 5.4M for 2.0x g=3 rounds correctly only without it"),
        ("stem widths", "12/24/24/48 (g=3) and 16/24/24/48 (g=8) at 0.5x/1.0x/1.5x/2.0x",
         "the paper does not say; our stem_channels rule reproduces these"),
    ]
    return pd.DataFrame(rows, columns=["what", "released code", "why it does not matter / what it means"])


# --- latency --------------------------------------------------------------------------------------

def available_devices() -> list[str]:
    """``["cpu"]``, plus ``"cuda"`` when a GPU is visible."""
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def _best_ms(result: LatencyResult) -> float:
    # On a shared machine other processes can only add time, so the fastest call is the cleanest
    # estimate (as Python's timeit advises); the median is reported alongside to show the noise.
    return min(result.times_ms)


def model_latency(groups: Iterable[int] = GROUPS, *, scale: float = 1.0, device: str = "cpu",
                  batch_size: int = 1, repeats: int = 15, threads: int | None = None) -> pd.DataFrame:
    """Inference time of ShuffleNet ``scale`` x (224 input, eval mode) for each g, next to its MFLOPs.

    The FLOPs barely move with g (133-143 M at 1x) while the time need not follow them: grouped 1x1s,
    depthwise convs and the shuffle are limited by memory traffic rather than arithmetic.
    """
    rows = []
    for g in groups:
        cost = shufflenet_cost(g, scale)
        model = shufflenet_v1(groups=g, scale=scale)
        result = measure_latency(model, (batch_size, 3, 224, 224), device=device, repeats=repeats, threads=threads)
        best = _best_ms(result)
        rows.append({"device": result.device_name, "g": g, "scale": SCALE_LABELS.get(scale, scale),
                     "mflops": round(cost.mflops, 2), "params": cost.params, "batch": batch_size,
                     "best_ms": round(best, 3), "median_ms": round(result.median_ms, 3),
                     "mflops_per_ms": round(cost.mflops * batch_size / best, 1)})
    return pd.DataFrame(rows)


def shuffle_cost(groups: Iterable[int] = (2, 3, 4, 8), *, device: str = "cpu", batch_size: int = 1,
                 repeats: int = 30, threads: int | None = None) -> pd.DataFrame:
    """The channel shuffle's share of a stage-3 unit's time (1x widths, 14x14 maps as at 224 input).

    For each g, times the stride-1 stage-3 unit with the shuffle, the same unit with ``shuffle=False``
    (identical weights), and the shuffle alone on the unit's bottleneck tensor (best of ``repeats``, ms).
    The shuffle costs no FLOPs, so any time it takes is pure memory movement.
    """
    rows = []
    for g in groups:
        c = TABLE1_CHANNELS[g][1]
        unit = ShuffleUnit(c, c, groups=g)
        plain = ShuffleUnit(c, c, groups=g, shuffle=False)
        plain.load_state_dict(unit.state_dict())
        x = torch.randn(batch_size, c, 14, 14)
        mid = torch.randn(batch_size, c // 4, 14, 14)
        timed = {name: measure_latency(fn, inputs, device=device, repeats=repeats, threads=threads)
                 for name, fn, inputs in (("unit", unit, x), ("plain", plain, x),
                                          ("shuffle", lambda t: channel_shuffle(t, g), mid))}
        with_shuffle, without, alone = (_best_ms(timed[k]) for k in ("unit", "plain", "shuffle"))
        share_rounds = [round(100 * a / u, 2) for a, u in zip(timed["shuffle"].times_ms, timed["unit"].times_ms)]
        rows.append({
            "device": timed["unit"].device_name, "g": g, "c": c, "m": c // 4, "batch": batch_size,
            "unit_ms": round(with_shuffle, 4), "unit_without_shuffle_ms": round(without, 4),
            "shuffle_alone_ms": round(alone, 4),
            "shuffle_share_%": round(100 * alone / with_shuffle, 1),
            "difference_share_%": round(100 * (with_shuffle - without) / with_shuffle, 1),
            "share_rounds": share_rounds,
            "unit_macs": count_flops(_meta(ShuffleUnit, in_channels=c, out_channels=c, groups=g),
                                     (c, 14, 14)).macs,
        })
    return pd.DataFrame(rows)


def alexnet_latency(groups: Iterable[int] = (3, 8), *, scale: float = 0.5, device: str = "cpu",
                    batch_size: int = 1, repeats: int = 10, threads: int | None = None) -> pd.DataFrame:
    """Measured time of torchvision's AlexNet and of ShuffleNet ``scale`` x (224 input) on ``device``.

    ``flops_speedup`` is the ratio of counted multiply-adds (what the paper's "theoretical" speedup is),
    ``measured_speedup`` the ratio of the best times; both are against the AlexNet row. ``mflops_per_ms``
    is the arithmetic throughput each model reaches.
    """
    import torchvision.models as tvm

    models = [("AlexNet (torchvision)", tvm.alexnet(weights=None),
               count_flops(_meta(tvm.alexnet, weights=None), 224).macs / 1e6)]
    models += [(f"ShuffleNet {SCALE_LABELS.get(scale, scale)} g={g}", shufflenet_v1(groups=g, scale=scale),
                shufflenet_cost(g, scale).mflops) for g in groups]
    rows, calls = [], []
    for name, model, mflops in models:
        result = measure_latency(model, (batch_size, 3, 224, 224), device=device, repeats=repeats, threads=threads)
        best = _best_ms(result)
        calls.append(list(result.times_ms))
        rows.append({"device": result.device_name, "model": name, "mflops": round(mflops, 2), "batch": batch_size,
                     "best_ms": round(best, 3), "median_ms": round(result.median_ms, 3),
                     "mflops_per_ms": round(mflops * batch_size / best, 1)})
    table = pd.DataFrame(rows)
    # the speedup of each timed call against the AlexNet call of the same index: the rounds a timing rule needs
    table["speedup_rounds"] = [[round(a / b, 3) for a, b in zip(calls[0], own)] for own in calls]
    table["flops_speedup"] = (table["mflops"].iloc[0] / table["mflops"]).round(2)
    table["measured_speedup"] = (table["best_ms"].iloc[0] / table["best_ms"]).round(2)
    return table


def latency_tables(devices: Sequence[str] | None = None, *, repeats: int = 10,
                   threads: int | None = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``model_latency``, ``shuffle_cost`` and ``alexnet_latency`` on every device (CPU, and CUDA if present).

    ``threads`` applies to the CPU only (one thread: steadier on a shared machine and closer to one
    phone core); the shuffle timings use three times as many repeats since each call is short.
    """
    devices = list(devices or available_devices())
    models, shuffles, alexnet = [], [], []
    for device in devices:
        cpu_threads = threads if device == "cpu" else None
        models.append(model_latency(device=device, repeats=repeats, threads=cpu_threads))
        shuffles.append(shuffle_cost(device=device, repeats=3 * repeats, threads=cpu_threads))
        alexnet.append(alexnet_latency(device=device, repeats=repeats, threads=cpu_threads))
    return (pd.concat(models, ignore_index=True), pd.concat(shuffles, ignore_index=True),
            pd.concat(alexnet, ignore_index=True))


def plot_latency(models: pd.DataFrame, shuffles: pd.DataFrame) -> plt.Figure:
    """Left: time and multiply-adds of ShuffleNet 1x per g, both relative to g = 1, per device.
    Right: the channel shuffle's share of a stage-3 unit's time, timed alone and as with-minus-without."""
    rel = []
    for device, rows in models.groupby("device", sort=False):
        base = rows.set_index("g")
        for g in rows["g"]:
            rel.append({"device": device, "g": str(g), "what": f"time ({device})",
                        "ratio": base.loc[g, "best_ms"] / base.loc[1, "best_ms"]})
    flops = models.drop_duplicates("g").set_index("g")
    rel += [{"device": "", "g": str(g), "what": "multiply-adds",
             "ratio": flops.loc[g, "mflops"] / flops.loc[1, "mflops"]} for g in flops.index]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    sns.barplot(data=pd.DataFrame(rel), x="g", y="ratio", hue="what", ax=left)
    left.axhline(1.0, color="grey", lw=1, ls=":")
    left.set(xlabel="groups g", ylabel="relative to g = 1", title="ShuffleNet 1x at 224, batch 1",
             ylim=(0, 1.3 * max(r["ratio"] for r in rel)))
    left.legend(fontsize=7, loc="upper left")
    share = shuffles.melt(id_vars=["device", "g"], value_vars=["shuffle_share_%", "difference_share_%"],
                          var_name="measure", value_name="share")
    share["measure"] = share["measure"].map({"shuffle_share_%": "shuffle timed alone",
                                             "difference_share_%": "unit with - without shuffle"})
    share["series"] = share["measure"] + (" (" + share["device"] + ")" if share["device"].nunique() > 1 else "")
    share["g"] = share["g"].astype(str)
    sns.barplot(data=share, x="g", y="share", hue="series", ax=right)
    right.axhline(0.0, color="grey", lw=1)
    right.set(xlabel="groups g", ylabel="% of the unit's time", title="Channel shuffle in a stage-3 unit (14x14)")
    right.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


# --- published accuracy (for the CIFAR analogues) and claims ----------------------------------------

def paper_table2() -> pd.DataFrame:
    """Table 2: ImageNet top-1 error (%) by scale (rows) and g (columns)."""
    return pd.DataFrame({f"g={g}": [_paper(f"table2_err_{s}_g{g}") for s in ("1.0x", "0.5x", "0.25x")]
                         for g in GROUPS}, index=["1.0x", "0.5x", "0.25x"])


def paper_table3() -> pd.DataFrame:
    """Table 3: ImageNet top-1 error (%) without and with channel shuffle."""
    rows = []
    for scale, g in itertools.product(("1.0x", "0.5x", "0.25x"), (3, 8)):
        without, with_ = _paper(f"table3_err_{scale}_g{g}_noshuffle"), _paper(f"table3_err_{scale}_g{g}_shuffle")
        rows.append({"model": f"ShuffleNet {scale} g={g}", "without_shuffle": without, "with_shuffle": with_,
                     "gain": round(without - with_, 1)})
    return pd.DataFrame(rows)


def add_complexity_claims(claims: ClaimsTable, profile: str = "counted") -> None:
    """Record the counting claims (Table 1, the released models, the unit formulas, 93.4%) in ``claims``."""
    table1 = table1_complexity()
    for row in table1.itertuples():
        ref = paper_value(CHAPTER, f"table1_mflops_g{row.g}")
        claims.grade(f"Table 1 complexity g={row.g} (MFLOPs, without FC)", grade_count(row.ours_without_fc, ref.value,
                     decimals=0), kind="counted", source=ref.cite, paper=ref.value, profile=profile,
                     evidence="count_flops on shufflenet_v1(groups=g) at 224")
    channels = table1_channels()
    claims.grade("Table 1 stage widths (values equal to the table's)", grade_count(int(channels["match"].sum()),
                 len(channels) or math.nan), kind="counted", source="paper: ShuffleNet V1 Table 1",
                 paper=len(channels), profile=profile, evidence="forward-pass output shapes")
    for row in repo_table().itertuples():
        label, g = row.model.split(" g=")
        note = "; the paper's Table 1 prints 137 for this model" if (label, g) == ("1.0x", "3") else ""
        ref = paper_value(CHAPTER, f"repo_mflops_{label}_g{g}")
        claims.grade(f"released ShuffleNetV1 {row.model} (MFLOPs)", grade_count(row.ours_mflops, row.repo_mflops,
                     decimals=0), kind="counted", source=ref.cite, paper=row.repo_mflops, profile=profile,
                     evidence=f"count_flops at 224 with the FC{note}")
    units = unit_formulas()
    claims.grade("unit costs hw(2cm+9m^2), hw(2cm+9m^2/g), hw(2cm/g+9m) (units whose count equals the formula)",
                 grade_count(int(units["equal"].sum()), len(units) or math.nan), kind="counted",
                 source="seed: seed 004 text", paper=len(units), profile=profile, evidence="count_flops on real units")
    search = resnext_pointwise_search(paper_value(CHAPTER, "resnext_pointwise_share").value)
    best = search.loc[search["template"] == "32x4d", "pointwise_%"].iloc[0]
    share = paper_value(CHAPTER, "resnext_pointwise_share")
    claims.grade(f"ResNeXt unit: 1x1 convs are {share.value:g}% of mult-adds", grade_count(float(best), share.value,
                 decimals=1), kind="counted", source=share.cite, paper=share.value, profile=profile,
                 evidence="32x4d stride-1 units (c = 2m, g = 32), any stage")


def _stage_outputs(model: nn.Module, input_size: int) -> list[int]:
    """Output channels of each stage, read from a forward pass."""
    widths: list[int] = []
    hooks = [stage.register_forward_hook(lambda mod, inp, out: widths.append(out.shape[1]))
             for stage in model.stages]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, input_size, input_size, device=_device_of(model)))
    finally:
        for hook in hooks:
            hook.remove()
    return widths


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def add_more_count_claims(claims: ClaimsTable, profile: str = "counted") -> None:
    """Table 2's complexity headers, torchvision's ShuffleNet V2 metadata and the theoretical speedup
    over AlexNet, all by counting."""
    scaled = scaled_complexity()
    for label, rows in scaled.groupby("scale", sort=False):
        ref = paper_value(CHAPTER, f"table2_mflops_{label}")
        grades = [grade_count(float(v), ref.value, decimals=0) for v in rows["ours_with_fc"]]
        worst = rows.loc[(rows["ours_with_fc"] - ref.value).abs().idxmax()]
        claims.add(f"Table 2 header: ShuffleNet {label} is about {ref.value:g} MFLOPs for every g", kind="counted",
                   source=ref.cite, paper=ref.value,
                   ours=f"{rows['ours_with_fc'].min():.2f}-{rows['ours_with_fc'].max():.2f}",
                   delta=f"worst {100 * (worst['ours_with_fc'] - ref.value) / ref.value:+.1f}% (g={worst['g']})",
                   verdict=combine(grades), profile=profile,
                   evidence="count_flops at 224 with FC, each g graded as a counted value; widths rounded to "
                            "multiples of 4g, stem by stem_channels")
    for row in torchvision_v2_table().itertuples():
        grades = [grade_count(row.ours_params, row.meta_params), grade_count(row.ours_gmacs, row.meta_gflops,
                                                                             decimals=3)]
        claims.add(f"torchvision {row.model}: params and GFLOPS", kind="counted",
                   source="repo: torchvision weights metadata", paper=f"{row.meta_params:,} / {row.meta_gflops:.3f}",
                   ours=f"{row.ours_params:,} / {row.ours_gmacs:.4f}", delta="",
                   verdict=combine(grades), profile=profile,
                   evidence="our counter on torchvision's builder (meta device) vs weights.meta")
    speed = alexnet_speedup()
    ref = paper_value(CHAPTER, "alexnet_speedup_theoretical")
    claims.grade("ShuffleNet 0.5x vs AlexNet, theoretical speedup (x)",
                 grade_count(float(speed["speedup"].median()), ref.value, decimals=0), kind="counted", source=ref.cite,
                 paper=ref.value, profile=profile,
                 evidence=f"counted mult-adds, torchvision AlexNet ({speed['alexnet_mflops'].iloc[0]:.1f}M) over "
                          f"ShuffleNet 0.5x; median over g, range {speed['speedup'].min():.1f}-"
                          f"{speed['speedup'].max():.1f}x")
    parity = paper_value(CHAPTER, "seed_alexnet_error")
    claims.add("ShuffleNet 0.5x has about AlexNet's ImageNet error", kind="trained", source=parity.cite,
               paper=parity.value, ours="", verdict="not run", profile=profile,
               evidence="needs ImageNet training; not available here")


SHUFFLE_COSTLY_PCT = 10.0  # "costly": the shuffle alone takes at least this share of a unit's time


def add_latency_claims(claims: ClaimsTable,
                       latency: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None) -> None:
    """Live timings on the build's machine (shown in the chapter, never in the committed ledger): the
    measured speedup over AlexNet (paper 13x on an ARM phone: a different machine, so we test only that
    ShuffleNet is faster at all) and whether the shuffle is costly (at least 10% of a unit's time)."""
    measured, seed = paper_value(CHAPTER, "alexnet_speedup_measured"), paper_value(CHAPTER, "seed_alexnet_speed")
    costly = paper_value(CHAPTER, "seed_shuffle_costly")
    if latency is None:
        for claim, ref in (("ShuffleNet 0.5x is faster than AlexNet, measured (x)", measured),
                           ("the channel shuffle is costly in practice", costly)):
            claims.add(claim, kind="live", source=ref.cite, paper=ref.value, ours="", verdict="not run",
                       profile="live", evidence="latency not measured in this run")
        return
    _models, shuffles, alexnet = latency
    for device, rows in alexnet.groupby("device", sort=False):
        shuffle_rows = rows[rows["model"].str.startswith("ShuffleNet")].set_index("model")
        g3 = shuffle_rows.filter(like="g=3", axis=0)
        main = g3.iloc[0] if len(g3) else shuffle_rows.iloc[0]
        grade = grade_timing(main["speedup_rounds"], 1.0)
        claims.grade("ShuffleNet 0.5x is faster than AlexNet, measured (x)", grade, kind="live", source=measured.cite,
                     paper=measured.value, profile="live",
                     evidence=f"batch 1 at 224 on {device}, not the paper's ARM phone (seed: {seed.value}); best-call "
                              f"speedup {main['measured_speedup']:.2f}x, counted ratio {main['flops_speedup']:.1f}x")
    for device, rows in shuffles.groupby("device", sort=False):
        share_rounds = [v for rounds in rows["share_rounds"] for v in rounds]
        claims.grade("the channel shuffle is costly in practice (% of a unit's time)",
                     grade_timing(share_rounds, SHUFFLE_COSTLY_PCT), kind="live", source=costly.cite,
                     paper=costly.value, profile="live",
                     evidence=f"stage-3 unit at 14x14, batch 1, g={'/'.join(map(str, rows['g']))}, on {device}: the "
                              f"shuffle timed alone against the whole unit, every call of every g; 'costly' = at "
                              f"least {SHUFFLE_COSTLY_PCT:g}%")


def ledger(profile: str = "best") -> ClaimsTable:
    """The chapter's committed claims (built in ``shufflenet_report``, which reads this module's counts)."""
    from effconv.studies.shufflenet_report import ledger as build

    return build(profile)
