"""Chapter 2, ShuffleNet V1: what every part of the chapter counts with.

The chapter's constants (groups, width labels), the published numbers as floats, and the counted cost
of a model at ImageNet size (``shufflenet_cost``) and in the CIFAR form we train (``cifar_cost``). Both
are cached: the tables, the claims and the latency section ask for the same models many times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.models.shufflenet_v1 import shufflenet_v1
from effconv.studies.paper import paper_value
from effconv.studies.shufflenet.plan import CHAPTER
from effconv.studies.shufflenet.widths import matched_channels
from effconv.models import create_model

SCALE_LABELS = {0.25: "0.25x", 0.5: "0.5x", 1.0: "1.0x", 1.5: "1.5x", 2.0: "2.0x"}

def paper_number(key: str) -> float:
    """The published value ``key`` of this chapter as a float."""
    return float(paper_value(CHAPTER, key).value)


def meta_build(build: Callable[..., nn.Module], **kwargs) -> nn.Module:
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
    model = meta_build(shufflenet_v1, groups=groups, scale=scale, channels=channels)
    with_fc, without_fc, params = _count(model)
    return ModelCost(with_fc, without_fc, params, model.fc.bias.numel(), model.widths)


@lru_cache(maxsize=None)
def cifar_cost(groups: int, scale: float, shuffle: bool = True, matched: bool = True
               ) -> tuple[float, int, tuple[int, ...]]:
    """(MMACs at 32x32, params, widths) of ``shufflenet_v1_cifar`` (10 classes), cached.

    ``matched`` counts the FLOP-matched widths the sweep trains (``shufflenet_widths``); ``False``
    counts Table 1's widths scaled and rounded.
    """

    channels = matched_channels(groups, scale) if matched else None
    with torch.device("meta"):
        model = create_model("shufflenet_v1_cifar", groups=groups, width=scale, shuffle=shuffle, channels=channels)
    count = count_flops(model, (3, 32, 32))
    return count.macs / 1e6, count.params, model.widths
