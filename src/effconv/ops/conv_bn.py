"""``ConvBN``: a convolution followed by batch norm, foldable into one biased convolution."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from effconv.ops.conv_factory import register_conv


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding that keeps the spatial size at stride 1 for an odd kernel."""
    return dilation * (kernel_size - 1) // 2


def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of the single convolution equal to ``bn(conv(x))`` in eval mode."""
    bias = conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
    if bn is None:
        return conv.weight.detach().clone(), bias.detach().clone()
    weight, bias = fuse_conv_bn_weights(
        conv.weight, bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
    )
    return weight.detach(), bias.detach()


def conv_from(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A new ``nn.Conv2d`` with ``conv``'s geometry and the given kernel and bias."""
    out = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
        dilation=conv.dilation, groups=conv.groups, bias=True, padding_mode=conv.padding_mode,
    ).to(device=weight.device, dtype=weight.dtype)
    out.weight.data.copy_(weight)
    out.bias.data.copy_(bias)
    return out


class ConvBN(nn.Sequential):
    """``conv`` then ``bn`` (or a bare conv when ``bn=False``); ``fuse()`` folds them into one conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, groups: int = 1, bn: bool = True, dilation: int = 1):
        padding = same_padding(kernel_size, dilation) if padding is None else padding
        layers = {"conv": nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                                    dilation=dilation, groups=groups, bias=not bn)}
        if bn:
            layers["bn"] = nn.BatchNorm2d(out_channels)
        super().__init__(OrderedDict(layers))

    def fuse(self) -> nn.Conv2d:
        """One biased ``nn.Conv2d`` equal to this block in eval mode (BN statistics folded into the kernel)."""
        weight, bias = fuse_conv_bn(self.conv, getattr(self, "bn", None))
        return conv_from(self.conv, weight, bias)


@register_conv("conv_bn")
def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
            padding: int | None = None, groups: int = 1, bn: bool = True) -> nn.Module:
    """The default factory: a plain convolution (+ BN)."""
    return ConvBN(in_channels, out_channels, kernel_size, stride, padding, groups, bn)
