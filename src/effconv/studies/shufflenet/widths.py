"""FLOP-matched stage widths for the CIFAR-form ShuffleNet group sweep.

The paper's Table 1 picks one set of widths per group count g so that every g costs about the same at
1x (about 140 MFLOPs). Scaled to 0.25x and run on 32x32 images, that match breaks: the stem does not
shrink with the width, and every width must be a multiple of ``4 g``, so the g = 8 model costs 13% more
than g = 3. A sweep that gives the largest g the most compute cannot say whether grouping helps.

``search_matched`` re-chooses the three stage widths of one g, among multiples of ``4 g`` near Table 1's,
so that its multiply-adds are within ``TOLERANCE`` of the reference g = 3 model of the same width (the
paper's headline g). Among the candidates inside the tolerance it keeps the shape closest to Table 1's;
a g that is already inside keeps Table 1's widths (and its stored results). The search counts real
layers (on the ``meta`` device), one count per candidate, so it takes up to minutes: the plan stores its
answers in ``MATCHED_CHANNELS`` and a test re-runs the search against them.
"""

from __future__ import annotations

import itertools
import math

import torch

from effconv.analysis.flops import count_flops
from effconv.models import create_model
from effconv.models.shufflenet_v1 import stage_channels, stem_channels

REFERENCE_GROUPS = 3
#: within 1% of the reference, so any two g of a width differ by at most about 2%
TOLERANCE = 0.01
#: candidate widths per stage: Table 1's (rounded) width plus or minus this many steps of ``4 g``
SEARCH_STEPS = 3

#: ``search_matched``'s answers for the widths the plans train (scale, g) -> stage 2/3/4 channels;
#: absent pairs keep Table 1's widths. ``tests/test_shufflenet_widths.py`` checks them.
MATCHED_CHANNELS: dict[tuple[float, int], tuple[int, int, int]] = {
    (0.25, 2): (48, 104, 192),
    (0.25, 4): (64, 144, 256),
    (0.25, 8): (96, 160, 384),
    (0.5, 1): (72, 140, 288),
    (0.5, 2): (104, 192, 400),
    (0.5, 8): (192, 352, 800),
    (1.0, 1): (144, 276, 576),
    (1.0, 2): (200, 392, 800),
    (1.0, 4): (272, 560, 1088),
}


def cifar_macs(groups: int, scale: float, channels: tuple[int, int, int] | None = None) -> int:
    """Multiply-adds of one 32x32 image through ``shufflenet_v1_cifar`` (10 classes), counted by layer."""
    kwargs = {} if channels is None else {"channels": tuple(channels)}
    with torch.device("meta"):
        model = create_model("shufflenet_v1_cifar", groups=groups, width=scale, **kwargs)
    return count_flops(model, (3, 32, 32)).macs


def matched_channels(groups: int, scale: float) -> tuple[int, int, int]:
    """The stage widths a sweep trains for ``groups`` at ``scale``: the matched ones, else Table 1's."""
    return MATCHED_CHANNELS.get((float(scale), int(groups)), stage_channels(groups, scale))


def search_matched(groups: int, scale: float) -> tuple[int, int, int]:
    """Stage widths for ``groups`` whose cost is within ``TOLERANCE`` of the g = 3 model at ``scale``.

    Keeps Table 1's widths when they are already inside; otherwise searches multiples of ``4 g`` within
    ``SEARCH_STEPS`` steps of each Table 1 width (widening stage by stage) and prefers, inside the
    tolerance, the shape nearest Table 1's (sum of |log| ratios); with none inside, the cheapest miss.
    """
    target = cifar_macs(REFERENCE_GROUPS, scale)
    table = stage_channels(groups, scale)
    if abs(cifar_macs(groups, scale) / target - 1) <= TOLERANCE:
        return table
    step, stem = 4 * groups, stem_channels(groups, scale)
    options = [range(max(step, c - SEARCH_STEPS * step), c + SEARCH_STEPS * step + 1, step) for c in table]
    best, best_key = table, None
    for channels in itertools.product(*options):
        if not stem < channels[0] < channels[1] < channels[2]:
            continue  # every stage's first unit is stride 2 and must widen its input
        miss = abs(cifar_macs(groups, scale, channels) / target - 1)
        shape = sum(abs(math.log(c / t)) for c, t in zip(channels, table))
        key = (miss > TOLERANCE, shape if miss <= TOLERANCE else miss)
        if best_key is None or key < best_key:
            best, best_key = channels, key
    return tuple(best)  # type: ignore[return-value]
