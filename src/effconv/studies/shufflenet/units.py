"""Chapter 2, ShuffleNet V1: the cost of one unit, by formula and by count.

The unit-cost formulas of ResNet, ResNeXt and ShuffleNet against the multiply-adds counted on real
units, and the ResNeXt configurations behind "1x1 convs are 93.4% of a ResNeXt unit's mult-adds".
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, Sequence

import pandas as pd
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.models.shufflenet_v1 import ShuffleUnit
from effconv.studies.paper import paper_value
from effconv.studies.shufflenet.costs import meta_build
from effconv.studies.shufflenet.plan import CHAPTER, GROUPS

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
            counted = count_flops(meta_build(_unit, kind=kind, c=c, m=m, g=g), (c, h, w)).macs
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
            unit = meta_build(bottleneck_unit, c=c, m=m, groups=cardinality)
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
        model = meta_build(getattr(tvm, name), weights=None)
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
