"""ShuffleNet V1 (Zhang et al., CVPR 2018): grouped 1x1 convolutions, a channel shuffle, depthwise 3x3.

The unit (paper Fig. 2b/c), with ``m = out / 4`` bottleneck channels and ``g`` groups::

    grouped 1x1 (in -> m) - BN - ReLU - channel shuffle - depthwise 3x3 (stride s) - BN - grouped 1x1 - BN
    stride 1: ReLU(x + branch)                                      (branch: m -> out)
    stride 2: ReLU(concat(avgpool3x3/2(x), branch))                 (branch: m -> out - in)

There is no ReLU after the depthwise convolution, and the first 1x1 of stage 2's first unit is a plain
(ungrouped) 1x1 because its input has only 24 channels. Stages 2/3/4 have 4/8/4 units, the first with
stride 2, at Table 1's widths for ``g`` in {1, 2, 3, 4, 8}. The stem is a 3x3 stride-2 conv (with BN and
ReLU, as in the authors' released code) followed by a 3x3 stride-2 max pool; the head is global average
pooling and a linear layer (with a bias, as usual in PyTorch; the authors' code has none). Convolutions
have no bias because BN follows each of them.

Two input forms, chosen by ``input_size``:

- ImageNet form (``input_size > 64``, e.g. 224): the stem above; at 224 the stages receive 56/28/14
  maps and output 28/14/7 (Table 1), a total stride of 32.
- CIFAR form (``input_size <= 64``, e.g. 32): the stem conv has stride 1 and there is no max pool, so the
  stages receive 32/16/8 maps and output 16/8/4 (total stride 8); the ImageNet stem would leave stage 4
  a single pixel of a 32x32 image. Everything else is unchanged.

Width: ``scale`` (the paper's "ShuffleNet s x") multiplies Table 1's stage widths; ``width`` is the same
knob under ``create_model``'s name. See ``stage_channels`` and ``stem_channels`` for the rounding rules.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from effconv.errors import EffconvError
from effconv.models._utils import init_weights
from effconv.ops.conv_factory import ConvFactory
from effconv.models.registry import register_model
from effconv.ops.conv_bn import ConvBN, conv_bn
from effconv.ops.shuffle import ChannelShuffle

#: Table 1: output channels of stages 2, 3, 4 at 1x for each group count.
TABLE1_CHANNELS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088), 8: (384, 768, 1536),
}
STAGE_UNITS = (4, 8, 4)
STEM_CHANNELS = 24
#: The sizes the paper (Table 2) and the authors' repository publish.
PAPER_SCALES = (0.25, 0.5, 1.0, 1.5, 2.0)
CIFAR_MAX_INPUT = 64


def stage_channels(groups: int, scale: float = 1.0) -> tuple[int, int, int]:
    """Stage 2/3/4 widths: Table 1's times ``scale``, rounded to the nearest multiple of ``4 * groups``.

    Why ``4 g``: the bottleneck is ``out / 4`` channels and it is split into ``g`` groups (grouped 1x1s and
    the shuffle), so ``out`` must divide by ``4 g``. Every Table 1 width already does, and so does every
    width of the authors' released 0.5x/1.0x/1.5x/2.0x models for g = 3 and 8, so the rule changes nothing
    there; it only moves widths such as g = 2 at 0.5x (100 -> 104) or g = 4 at 0.25x (68 -> 64).
    Ties round up; the result is at least ``4 g``.
    """
    _check_scale(scale)
    base = _table1(groups)
    step = 4 * groups
    return tuple(max(step, step * math.floor(c * scale / step + 0.5)) for c in base)  # type: ignore[return-value]


def stem_channels(groups: int, scale: float = 1.0) -> int:
    """Stem width: ``max(12, 24 * 2**floor(log2(scale)))``, rounded up to a multiple of ``groups``.

    The paper does not say whether the stem scales. The authors' released models use 12/24/24/48 channels
    at 0.5x/1.0x/1.5x/2.0x for g = 3 and 16/24/24/48 for g = 8: the stem halves or doubles only with a
    whole power of two, and at 0.5x it is rounded up so that stage 2's first unit, whose branch makes
    ``out - in`` channels through a ``g``-grouped 1x1, still divides by ``g`` (192 - 12 = 180 would not
    divide by 8). No code for 0.25x was released; we keep the stem at 12 there (our choice) because
    Table 2's "13 MFLOPs" for 0.25x is what a 12-channel stem gives (13.2-13.5M for g <= 4), while 6
    channels give 11.0-11.9M. This formula reproduces the eight released widths.
    """
    _check_scale(scale)
    raw = max(STEM_CHANNELS / 2, STEM_CHANNELS * 2.0 ** math.floor(math.log2(scale)))
    return max(groups, groups * math.ceil(raw / groups))


class ShuffleUnit(nn.Module):
    """One ShuffleNet V1 unit (Fig. 2b at stride 1, Fig. 2c at stride 2).

    ``first_groups`` is the group count of the first 1x1 (1 for stage 2's first unit, else ``groups``);
    ``mid_channels`` defaults to ``out_channels // 4``. With ``shuffle=False`` the shuffle is an
    ``nn.Identity`` in the same place, so the two variants have identical parameters and state dicts.
    """

    def __init__(self, in_channels: int, out_channels: int, *, groups: int, stride: int = 1,
                 first_groups: int | None = None, mid_channels: int | None = None, shuffle: bool = True,
                 conv_factory: ConvFactory = conv_bn):
        super().__init__()
        first_groups = groups if first_groups is None else first_groups
        mid = out_channels // 4 if mid_channels is None else mid_channels
        branch = out_channels - in_channels if stride == 2 else out_channels
        _check_unit(in_channels, out_channels, mid, branch, groups, first_groups, stride)
        self.stride = stride
        self.compress = ConvBN(in_channels, mid, 1, groups=first_groups)
        self.relu = nn.ReLU(inplace=True)
        self.shuffle = ChannelShuffle(groups) if shuffle else nn.Identity()
        self.depthwise = conv_factory(mid, mid, 3, stride=stride, groups=mid)  # BN, no ReLU after it
        self.expand = ConvBN(mid, branch, 1, groups=groups)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand(self.depthwise(self.shuffle(self.relu(self.compress(x)))))
        if self.stride == 1:
            return F.relu(x + out)
        return F.relu(torch.cat((self.shortcut(x), out), dim=1))


class ShuffleNetV1(nn.Module):
    """Stem, three stages of ``ShuffleUnit``s, global average pooling and a linear classifier.

    ``widths`` records the stem and stage 2/3/4 output channels; ``min_input`` the smallest image side
    the form accepts (its total stride).
    """

    def __init__(self, *, groups: int, channels: Sequence[int], stem: int, units: Sequence[int] = STAGE_UNITS,
                 shuffle: bool = True, cifar: bool = False, num_classes: int = 1000,
                 conv_factory: ConvFactory = conv_bn):
        super().__init__()
        self.groups, self.cifar = groups, cifar
        self.widths = (stem, *channels)  # stem, stage 2, 3, 4 output channels
        self.min_input = 8 if cifar else 32  # the total stride: smaller inputs leave stage 4 no pixels
        self.stem = nn.Sequential(conv_factory(3, stem, 3, stride=1 if cifar else 2), nn.ReLU(inplace=True))
        self.maxpool = nn.Identity() if cifar else nn.MaxPool2d(3, stride=2, padding=1)
        stages, in_channels = [], stem
        for index, (out_channels, repeats) in enumerate(zip(channels, units)):
            blocks = []
            for position in range(repeats):
                first = position == 0
                blocks.append(ShuffleUnit(
                    in_channels, out_channels, groups=groups, stride=2 if first else 1,
                    first_groups=1 if index == 0 and first else groups, shuffle=shuffle,
                    conv_factory=conv_factory,
                ))
                in_channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or min(x.shape[-2:]) < self.min_input:
            form = "CIFAR" if self.cifar else "ImageNet"
            raise EffconvError(
                f"ShuffleNet V1 ({form} form) needs (N, 3, H, W) images of at least {self.min_input}x"
                f"{self.min_input} pixels (its total stride), got shape {tuple(x.shape)}. Use larger images"
                + ("." if self.cifar else ", or build the CIFAR form with input_size=32 for small images.")
            )
        x = self.stages(self.maxpool(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


@register_model
def shufflenet_v1(*, groups: int = 3, scale: float = 1.0, width: float = 1.0, shuffle: bool = True,
                  input_size: int = 224, num_classes: int = 1000, channels: Sequence[int] | None = None,
                  stem: int | None = None, conv_factory: ConvFactory = conv_bn) -> ShuffleNetV1:
    """ShuffleNet V1 ``scale`` x with ``groups`` groups (ImageNet form; CIFAR form when ``input_size <= 64``).

    ``width`` is an alias of ``scale`` for ``create_model`` (set one of them). ``shuffle=False`` builds
    the no-shuffle ablation of Table 3. ``channels`` (stage 2/3/4 widths) and ``stem`` override the
    Table 1 widths and the rounding rules, e.g. to cost a variant that is not in the paper.
    """
    if groups not in TABLE1_CHANNELS and channels is None:
        raise EffconvError(
            f"ShuffleNet V1 has Table 1 widths for groups in {sorted(TABLE1_CHANNELS)}, not groups={groups!r}; "
            "use one of those, or pass channels=(c2, c3, c4) with widths divisible by 4 * groups."
        )
    if scale != 1.0 and width != 1.0:
        raise EffconvError(
            f"scale={scale!r} and width={width!r} are the same multiplier under two names; set only one."
        )
    multiplier = width if scale == 1.0 else scale
    _check_scale(multiplier)
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 8:
        raise EffconvError(
            f"input_size must be an integer of at least 8 pixels (the CIFAR form's total stride), got "
            f"{input_size!r}; use 32 for CIFAR or 224 for ImageNet."
        )
    cifar = input_size <= CIFAR_MAX_INPUT
    widths = tuple(channels) if channels is not None else stage_channels(groups, multiplier)
    if len(widths) != len(STAGE_UNITS):
        raise EffconvError(f"channels must give the 3 stage widths (c2, c3, c4), got {channels!r}.")
    stem_width = stem if stem is not None else stem_channels(groups, multiplier)
    return ShuffleNetV1(groups=groups, channels=widths, stem=stem_width, shuffle=shuffle, cifar=cifar,
                        num_classes=num_classes, conv_factory=conv_factory)


@register_model
def shufflenet_v1_cifar(*, groups: int = 3, scale: float = 1.0, width: float = 1.0, shuffle: bool = True,
                        num_classes: int = 10, channels: Sequence[int] | None = None,
                        conv_factory: ConvFactory = conv_bn) -> ShuffleNetV1:
    """ShuffleNet V1 in its CIFAR form (32x32 input: stride-1 stem, no max pool), 10 classes.

    ``channels`` overrides the stage 2/3/4 widths, e.g. the FLOP-matched widths of the group sweep.
    """
    return shufflenet_v1(groups=groups, scale=scale, width=width, shuffle=shuffle, input_size=32,
                         num_classes=num_classes, channels=channels, conv_factory=conv_factory)


def _table1(groups: int) -> tuple[int, int, int]:
    if groups not in TABLE1_CHANNELS:
        raise EffconvError(
            f"ShuffleNet V1 has Table 1 widths for groups in {sorted(TABLE1_CHANNELS)}, not groups={groups!r}."
        )
    return TABLE1_CHANNELS[groups]


def _check_scale(scale: float) -> None:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0 or math.isinf(scale):
        raise EffconvError(
            f"the width multiplier must be a positive number (the paper uses {PAPER_SCALES}), got {scale!r}."
        )


def _check_unit(in_channels: int, out_channels: int, mid: int, branch: int, groups: int, first_groups: int,
                stride: int) -> None:
    if stride not in (1, 2):
        raise EffconvError(f"a ShuffleNet unit has stride 1 or 2, got {stride!r}.")
    if stride == 1 and in_channels != out_channels:
        raise EffconvError(
            f"a stride-1 unit adds its input, so it needs in_channels == out_channels "
            f"(got {in_channels} -> {out_channels}); use stride=2 to change the width."
        )
    if branch < 1 or mid < 1:
        raise EffconvError(
            f"a unit {in_channels} -> {out_channels} (stride {stride}) leaves {branch} branch and {mid} "
            "bottleneck channels; a stride-2 unit must widen its input (out_channels > in_channels)."
        )
    for name, count, div in (("input", in_channels, first_groups), ("bottleneck", mid, first_groups),
                             ("bottleneck", mid, groups), ("branch output", branch, groups)):
        if count % div:
            raise EffconvError(
                f"the unit's {name} has {count} channels, which {div} groups do not divide "
                f"(unit {in_channels} -> {out_channels}, stride {stride}, groups {groups}); choose widths "
                f"that are multiples of 4 * groups and a stem width that is a multiple of groups."
            )
