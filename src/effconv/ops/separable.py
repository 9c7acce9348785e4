"""Split convolutions: depthwise-separable, flattened, grouped and the 1xn + nx1 pair.

Each block replaces one dense kxk convolution by cheaper pieces:

- ``DepthwiseSeparableConv``: a kxk depthwise conv (one filter per input channel) then a 1x1
  pointwise conv that mixes channels (Sifre; Xception; MobileNet). Cost ratio to a dense conv with
  N outputs: 1/N + 1/k^2.
- ``FlattenedConv``: Jin et al.'s flattening: a 1x1 conv along the channel direction, then a
  vertical kx1 and a horizontal 1xk depthwise conv. Per output channel that is C + k + k weights
  instead of C*k*k; it equals a dense conv whose every filter is rank one (an outer product).
- ``grouped_conv``: an ``nn.Conv2d`` with ``groups`` whose arguments are checked first (cost 1/g).
- ``AsymmetricPair``: Inception V3's 1xn then nx1 replacement of an nxn conv (cost 2/n).

Group counts that do not divide the channels raise ``EffconvError`` instead of PyTorch's
message about weight shapes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from torch import nn

from effconv.errors import EffconvError
from effconv.ops.conv_factory import register_conv
from effconv.ops.conv_bn import same_padding

Activation = Callable[[], nn.Module]


def check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    """Raise ``EffconvError`` unless ``groups`` divides both channel counts."""
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise EffconvError(f"{name} must be a positive integer, got {value!r}.")
    if in_channels % groups or out_channels % groups:
        raise EffconvError(
            f"groups={groups} does not divide in_channels={in_channels} and out_channels={out_channels}: "
            "every group needs the same number of channels. Pick a common divisor of both "
            f"(for example {_common_divisors(in_channels, out_channels)[-3:]})."
        )


def _common_divisors(a: int, b: int) -> list[int]:
    return [d for d in range(1, min(a, b) + 1) if a % d == 0 and b % d == 0]


def grouped_conv(in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], groups: int,
                 stride: int = 1, padding: int | tuple[int, int] | None = None, dilation: int = 1,
                 bias: bool = False) -> nn.Conv2d:
    """A grouped ``nn.Conv2d`` (same-size padding by default); ``groups`` must divide both channel counts."""
    check_groups(in_channels, out_channels, groups)
    if padding is None:
        padding = _same(kernel_size, dilation)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                     groups=groups, bias=bias)


def _same(kernel_size: int | tuple[int, int], dilation: int = 1) -> int | tuple[int, int]:
    if isinstance(kernel_size, int):
        return same_padding(kernel_size, dilation)
    return tuple(same_padding(k, dilation) for k in kernel_size)


def _post(channels: int, bn: bool, activation: Activation | None) -> list[tuple[str, nn.Module]]:
    """The optional BN and activation that follow one piece of a split conv."""
    layers = [("bn", nn.BatchNorm2d(channels))] if bn else []
    if activation is not None:
        layers.append(("act", activation()))
    return layers


class DepthwiseSeparableConv(nn.Sequential):
    """kxk depthwise conv, then 1x1 pointwise conv.

    With ``bn=True`` a BN follows each conv, and ``activation`` (for example ``nn.ReLU``) follows
    each BN (or each conv without BN): MobileNet v1's layer is ``bn=True, activation=nn.ReLU``.
    ``final_activation=False`` keeps the activation only between the two convs.
    The defaults give the bare linear pair Xception uses inside its blocks.
    ``depth_multiplier`` gives each input channel that many depthwise filters. The pointwise conv
    has a bias unless a BN follows it (``bias`` overrides; the depthwise conv never has one).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int | None = None, dilation: int = 1, *, bn: bool = False,
                 activation: Activation | None = None, final_activation: bool = True,
                 depth_multiplier: int = 1, bias: bool | None = None):
        check_groups(in_channels, out_channels, 1)
        if not isinstance(depth_multiplier, int) or depth_multiplier < 1:
            raise EffconvError(f"depth_multiplier must be a positive integer, got {depth_multiplier!r}.")
        mid = in_channels * depth_multiplier
        padding = same_padding(kernel_size, dilation) if padding is None else padding
        depthwise = nn.Conv2d(in_channels, mid, kernel_size, stride, padding, dilation=dilation,
                              groups=in_channels, bias=False)
        pointwise = nn.Conv2d(mid, out_channels, 1, bias=(not bn) if bias is None else bias)
        layers = [("depthwise", depthwise)]
        layers += [(f"{name}_dw", m) for name, m in _post(mid, bn, activation)]
        layers.append(("pointwise", pointwise))
        last = activation if final_activation else None
        layers += [(f"{name}_pw", m) for name, m in _post(out_channels, bn, last)]
        super().__init__(OrderedDict(layers))


class FlattenedConv(nn.Sequential):
    """Jin et al.'s flattened conv: 1x1 across channels, then kx1 and 1xk depthwise convs.

    It is linear (no BN or activation between the pieces), so it equals a dense kxk conv whose
    filter for output ``o`` is ``lateral[o, c] * vertical[o, y] * horizontal[o, x]``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int | None = None, bias: bool = False):
        check_groups(in_channels, out_channels, 1)
        padding = same_padding(kernel_size) if padding is None else padding
        super().__init__(OrderedDict([
            ("lateral", nn.Conv2d(in_channels, out_channels, 1, bias=False)),
            # the stride is split between the two 1-D convs so each downsamples one axis
            ("vertical", nn.Conv2d(out_channels, out_channels, (kernel_size, 1), (stride, 1), (padding, 0),
                                   groups=out_channels, bias=False)),
            ("horizontal", nn.Conv2d(out_channels, out_channels, (1, kernel_size), (1, stride), (0, padding),
                                     groups=out_channels, bias=bias)),
        ]))

    def dense_weight(self):
        """The equivalent dense ``(out, in, k, k)`` kernel: an outer product per output channel."""
        lateral = self.lateral.weight[:, :, 0, 0]            # (out, in)
        vertical = self.vertical.weight[:, 0, :, 0]          # (out, k)
        horizontal = self.horizontal.weight[:, 0, 0, :]      # (out, k)
        return lateral[:, :, None, None] * vertical[:, None, :, None] * horizontal[:, None, None, :]


class AsymmetricPair(nn.Sequential):
    """A 1xn conv then an nx1 conv, Inception V3's replacement for an nxn conv.

    ``mid_channels`` (default ``out_channels``) is the width between the two; ``bn`` and
    ``activation`` follow each conv as in Inception (``bn=True, activation=nn.ReLU``). The convs
    have a bias unless BN follows (``bias`` overrides).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 7, stride: int = 1,
                 mid_channels: int | None = None, *, bn: bool = False, activation: Activation | None = None,
                 bias: bool | None = None):
        mid = out_channels if mid_channels is None else mid_channels
        bias = (not bn) if bias is None else bias
        check_groups(in_channels, out_channels, 1)
        check_groups(mid, mid, 1)
        pad = same_padding(kernel_size)
        layers = [("row", nn.Conv2d(in_channels, mid, (1, kernel_size), (1, stride), (0, pad), bias=bias))]
        layers += [(f"{name}_row", m) for name, m in _post(mid, bn, activation)]
        layers.append(("column", nn.Conv2d(mid, out_channels, (kernel_size, 1), (stride, 1), (pad, 0),
                                           bias=bias)))
        layers += [(f"{name}_column", m) for name, m in _post(out_channels, bn, activation)]
        super().__init__(OrderedDict(layers))


def _dense_only(name: str, groups: int) -> None:
    if groups != 1:
        raise EffconvError(
            f"the {name!r} conv factory replaces dense convolutions, but the model asked for groups={groups}; "
            "use the default 'conv_bn' factory for models with grouped or depthwise convs."
        )


@register_conv("separable")
def separable(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              padding: int | None = None, groups: int = 1, bn: bool = True) -> nn.Module:
    """Factory: depthwise kxk -> BN -> ReLU -> pointwise 1x1 -> BN (the model adds the final activation)."""
    _dense_only("separable", groups)
    # MobileNet's ReLU between the two convs; the one after the block is the model's own
    return DepthwiseSeparableConv(in_channels, out_channels, kernel_size, stride, padding, bn=bn,
                                  activation=nn.ReLU if bn else None, final_activation=False)


@register_conv("flattened")
def flattened(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              padding: int | None = None, groups: int = 1, bn: bool = True) -> nn.Module:
    """Factory: a ``FlattenedConv`` followed by BN."""
    _dense_only("flattened", groups)
    conv = FlattenedConv(in_channels, out_channels, kernel_size, stride, padding, bias=not bn)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels)) if bn else conv
