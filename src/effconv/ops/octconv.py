"""Octave convolution (Chen et al. 2019): a high- and a low-frequency group of channels.

A fraction ``alpha`` of the channels is stored at half resolution (the "low frequency" group).
Four convolutions connect the groups:

- high -> high and low -> low: ordinary convolutions at their own resolution;
- high -> low: 2x2 average pooling, then the convolution (at half resolution);
- low -> high: the convolution at half resolution, then nearest 2x upsampling.

Three of the four paths run at a quarter of the pixels, so with ``alpha_in = alpha_out = alpha`` the
multiply-adds are ``1 - 3/4 * alpha * (2 - alpha)`` of a plain convolution with the same channels.
The layer takes and returns a ``(high, low)`` pair; an absent group is ``None`` (``low`` when
alpha is 0, ``high`` when alpha is 1). With both alphas 0 it is exactly ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from effconv.errors import EffconvError
from effconv.ops.conv_bn import same_padding

OctaveTensors = tuple[torch.Tensor | None, torch.Tensor | None]


def split_channels(channels: int, alpha: float) -> tuple[int, int]:
    """``(high, low)`` channel counts; the low count is ``alpha * channels`` rounded down."""
    if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise EffconvError(f"alpha must be a number in [0, 1] (the low-frequency fraction), got {alpha!r}.")
    if not isinstance(channels, int) or channels < 1:
        raise EffconvError(f"channel counts must be positive integers, got {channels!r}.")
    low = int(alpha * channels)  # rounded down, as in the authors' code
    return channels - low, low


def octave_cost_ratio(alpha: float) -> float:
    """Closed-form multiply-adds of an octave conv (alpha_in = alpha_out = alpha) over a plain conv."""
    return 1.0 - 0.75 * alpha * (2.0 - alpha)


def split_octave(x: torch.Tensor, alpha: float) -> OctaveTensors:
    """Split a plain feature map into a ``(high, low)`` pair: the last ``alpha`` of the channels,
    2x2 average-pooled, become the low-frequency group (handy for feeding or measuring one layer)."""
    high_channels, low_channels = split_channels(x.shape[1], alpha)
    high = x[:, :high_channels] if high_channels else None
    low = F.avg_pool2d(x[:, high_channels:], 2) if low_channels else None
    return high, low


class OctConv2d(nn.Module):
    """An octave convolution mapping a ``(high, low)`` pair to a ``(high, low)`` pair.

    ``alpha_in``/``alpha_out`` are the low-frequency fractions of the input/output channels
    (``alpha * channels`` rounded down; pick channel counts for which that is exact).
    ``stride`` is 1 or 2; stride 2 halves both groups by 2x2 average pooling first, as the paper
    does, instead of striding the kernel (which would misalign the two resolutions).
    A single tensor may be passed instead of a pair when ``alpha_in`` is 0.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, alpha_in: float = 0.5,
                 alpha_out: float = 0.5, stride: int = 1, padding: int | None = None, bias: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise EffconvError(f"OctConv2d supports stride 1 or 2 (2 = average-pool both groups), got {stride!r}.")
        self.in_high, self.in_low = split_channels(in_channels, alpha_in)
        self.out_high, self.out_low = split_channels(out_channels, alpha_out)
        self.alpha_in, self.alpha_out, self.stride = alpha_in, alpha_out, stride
        padding = same_padding(kernel_size) if padding is None else padding

        def conv(cin: int, cout: int) -> nn.Conv2d | None:
            return nn.Conv2d(cin, cout, kernel_size, padding=padding, bias=bias) if cin and cout else None

        self.high_to_high = conv(self.in_high, self.out_high)
        self.high_to_low = conv(self.in_high, self.out_low)
        self.low_to_high = conv(self.in_low, self.out_high)
        self.low_to_low = conv(self.in_low, self.out_low)

    def _unpack(self, x: torch.Tensor | OctaveTensors) -> OctaveTensors:
        high, low = (x, None) if isinstance(x, torch.Tensor) else x
        for name, tensor, channels in (("high", high, self.in_high), ("low", low, self.in_low)):
            got = 0 if tensor is None else tensor.shape[1]
            if got != channels:
                raise EffconvError(
                    f"OctConv2d expects {channels} {name}-frequency input channels, got {got}; pass the "
                    "(high, low) pair produced by an OctConv2d whose alpha_out equals this layer's alpha_in."
                )
        if high is not None and low is not None and (low.shape[-2] * 2, low.shape[-1] * 2) != tuple(high.shape[-2:]):
            raise EffconvError(
                f"the low-frequency input ({tuple(low.shape[-2:])}) must be half the size of the high one "
                f"({tuple(high.shape[-2:])}); use even spatial sizes."
            )
        return high, low

    def forward(self, x: torch.Tensor | OctaveTensors) -> OctaveTensors:
        high, low = self._unpack(x)
        if self.stride == 2:
            high = None if high is None else F.avg_pool2d(high, 2)
            low = None if low is None else F.avg_pool2d(low, 2)
        out_high = out_low = None
        if self.high_to_high is not None:
            out_high = self.high_to_high(high)
        if self.low_to_high is not None:
            up = F.interpolate(self.low_to_high(low), scale_factor=2, mode="nearest")
            out_high = up if out_high is None else out_high + up
        if self.low_to_low is not None:
            out_low = self.low_to_low(low)
        if self.high_to_low is not None:
            down = self.high_to_low(F.avg_pool2d(high, 2))
            out_low = down if out_low is None else out_low + down
        return out_high, out_low
