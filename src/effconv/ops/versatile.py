"""Versatile convolutions (Wang et al., NeurIPS 2018): several output channels from one stored filter.

A *primary* filter of size ``d x d`` over ``c_hat`` input channels is stored once and used several times:

- **spatially**, ``s = ceil(d / 2)`` secondary filters come from concentric binary masks. Secondary ``i``
  (``i = 0 .. s-1`` here; the paper counts from 1) keeps the centre ``(d - 2i) x (d - 2i)`` window of the
  primary and zeroes the border. Multiplying by a mask and convolving with padding ``p`` gives the same
  numbers as convolving with the *centre crop* of the primary at padding ``p - i`` (each output position
  then reads the same inputs), which does ``(d - 2i)^2`` instead of ``d^2`` multiply-adds per tap. The
  layer runs the crop form; ``dense_weight()`` builds the mask form, and the tests check they agree.
- **along channels** (Versatile-v2), the primary covers ``c_hat <= c`` channels and slides over the
  ``c`` input channels with channel stride ``g``: offsets ``0, g, 2g, ...`` give
  ``n = (c - c_hat) / g + 1`` outputs.

Each primary therefore yields ``s * n`` output channels, each with its own bias. Output channels are
laid out block by block, ring size outermost, then channel offset, then primary:
``channel = (i * n + j) * P + p`` -- the order of the official code, which concatenates one convolution
per (ring, offset) pair.

**Output counts that do not divide.** A layer asked for ``out_channels`` keeps ``P = ceil(out / (s n))``
primaries and fills the blocks in order; the last block(s) use only as many primaries as are still
needed, so the layer returns exactly ``out_channels`` (the official code floors ``out / (s n)`` instead
and would return fewer channels). For the usual widths (multiples of 4) nothing is dropped.

**Cost conventions** (``count_macs``, read by ``effconv.analysis.flops.count_flops``): the papers count
each secondary filter at its cropped size, ``sum_i (d - 2i)^2 * c_hat`` multiply-adds per primary,
channel offset and output pixel; for a 3x3 spatial layer that is ``(9 + 1) / (2 * 9) = 10/18`` of the
standard layer with the same output channels. That is exactly what the crop form executes, so here the
paper count and the executed count coincide (``executed_macs``; the mask form would cost as much as a
standard convolution). Parameters: ``P * c_hat * d^2`` (+ biases). The official code stores ``c``
channels per primary even when only ``c_hat`` are used, so its count is ``1 / (s n)`` of the standard
layer; ``official_params()`` gives that number for comparison.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from effconv.errors import EffconvError
from effconv.ops.conv_factory import register_conv
from effconv.ops.conv_bn import same_padding

__all__ = [
    "VersatileConv2d", "concentric_masks", "convert", "cost_convention", "num_secondary",
    "versatile_v1", "versatile_v2",
]

COST_CONVENTIONS = ("paper", "executed")


def _check_int(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise EffconvError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return value


def _square_kernel(kernel_size: int | Sequence[int]) -> int:
    if isinstance(kernel_size, Sequence) and not isinstance(kernel_size, str):
        sizes = tuple(kernel_size)
        if len(sizes) != 2 or sizes[0] != sizes[1]:
            raise EffconvError(
                f"versatile filters need a square kernel, got kernel_size={kernel_size!r}; "
                "pass one int (3 for 3x3)."
            )
        kernel_size = sizes[0]
    return _check_int("kernel_size", kernel_size, minimum=1)


def num_secondary(kernel_size: int) -> int:
    """``s = ceil(d / 2)``: how many concentric secondary filters a ``d x d`` primary yields."""
    return math.ceil(_square_kernel(kernel_size) / 2)


def concentric_masks(kernel_size: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """The ``s`` concentric binary masks of a ``d x d`` filter, shape ``(s, d, d)``.

    Mask ``i`` is 1 on the centre ``(d - 2i) x (d - 2i)`` window: for 5x5 the windows are 5x5, 3x3, 1x1.
    """
    d = _square_kernel(kernel_size)
    masks = torch.zeros(num_secondary(d), d, d, device=device, dtype=dtype)
    for i in range(masks.shape[0]):
        masks[i, i:d - i, i:d - i] = 1
    return masks


class VersatileConv2d(nn.Module):
    """Spatial (``c_hat=None``, Versatile-v1) or spatial + channel (Versatile-v2) versatile convolution.

    Args:
        in_channels: input channels ``c``.
        out_channels: output channels; exactly this many are returned (see the module docstring).
        kernel_size: ``d`` (square kernels only).
        stride, padding: as for ``nn.Conv2d``; ``padding=None`` keeps the size at stride 1.
        c_hat: channels of each primary filter (default ``c``: no channel sliding).
        g: channel stride of the sliding primary; ``c - c_hat`` must be a multiple of ``g``.
        bias: one learnable bias per output channel (leave it off when a BN follows).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int], stride: int = 1,
                 padding: int | None = None, *, c_hat: int | None = None, g: int = 1, bias: bool = True):
        super().__init__()
        self.in_channels = _check_int("in_channels", in_channels, minimum=1)
        self.out_channels = _check_int("out_channels", out_channels, minimum=1)
        self.kernel_size = _square_kernel(kernel_size)
        self.stride = _check_int("stride", stride, minimum=1)
        self.padding = same_padding(self.kernel_size) if padding is None else _check_int(
            "padding", padding, minimum=0)
        self.c_hat = in_channels if c_hat is None else _check_int("c_hat", c_hat, minimum=1)
        self.g = _check_int("g (channel stride)", g, minimum=1)
        if self.c_hat > in_channels:
            raise EffconvError(
                f"c_hat={self.c_hat} is larger than in_channels={in_channels}: a primary filter cannot cover "
                f"more channels than the input has. Use c_hat <= {in_channels} (c_hat={in_channels} turns "
                "channel sliding off)."
            )
        if (in_channels - self.c_hat) % self.g:
            raise EffconvError(
                f"in_channels - c_hat = {in_channels - self.c_hat} is not a multiple of the channel stride "
                f"g={self.g}, so the sliding primary would not end on the last channel. Choose c_hat and g "
                f"with (c - c_hat) divisible by g (for example g=1, or c_hat={in_channels - self.g})."
            )
        self.s = num_secondary(self.kernel_size)
        self.n = (in_channels - self.c_hat) // self.g + 1
        self.primaries = math.ceil(out_channels / (self.s * self.n))
        # (ring i, channel offset j, primaries used) per output block, in output order
        self.blocks: list[tuple[int, int, int]] = []
        remaining = out_channels
        for i in range(self.s):
            for j in range(self.n):
                used = min(self.primaries, remaining)
                if used > 0:
                    self.blocks.append((i, j, used))
                remaining -= used
        self.weight = nn.Parameter(torch.empty(self.primaries, self.c_hat, self.kernel_size, self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.count_convention = "paper"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal primaries and zero biases (called by ``__init__``)."""
        # He-normal with the fan-out of the standard conv this layer replaces, as the model zoo inits convs
        std = math.sqrt(2.0 / (self.out_channels * self.kernel_size ** 2))
        nn.init.normal_(self.weight, 0.0, std)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise EffconvError(
                f"{type(self).__name__} expects input of shape (N, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}."
            )
        d, outputs, start = self.kernel_size, [], 0
        for i, j, used in self.blocks:
            weight = self.weight[:used, :, i:d - i, i:d - i]
            inputs = x[:, j * self.g: j * self.g + self.c_hat]
            padding = self.padding - i
            if padding < 0:  # a crop needs less padding than the layer has: trim the input instead
                inputs = inputs[..., -padding:inputs.shape[-2] + padding, -padding:inputs.shape[-1] + padding]
                padding = 0
            bias = None if self.bias is None else self.bias[start:start + used]
            outputs.append(F.conv2d(inputs, weight, bias, self.stride, padding))
            start += used
        return torch.cat(outputs, dim=1)

    def dense_weight(self) -> torch.Tensor:
        """The ``(out, c, d, d)`` kernel of the standard convolution computing the same function (mask form).

        Block ``(i, j)`` holds ``mask_i * primary`` in input channels ``j*g .. j*g + c_hat``; with this
        kernel, ``F.conv2d(x, dense_weight(), bias, stride, padding)`` equals ``forward(x)``.
        """
        d = self.kernel_size
        masks = concentric_masks(d, device=self.weight.device, dtype=self.weight.dtype)
        dense = self.weight.new_zeros(self.out_channels, self.in_channels, d, d)
        start = 0
        for i, j, used in self.blocks:
            dense[start:start + used, j * self.g: j * self.g + self.c_hat] = self.weight[:used] * masks[i]
            start += used
        return dense

    def _paper_macs(self, output: torch.Tensor) -> int:
        per_pixel = sum(used * self.c_hat * (self.kernel_size - 2 * i) ** 2 for i, _, used in self.blocks)
        return output.shape[0] * output.shape[-2] * output.shape[-1] * per_pixel

    def count_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """Multiply-adds for ``count_flops`` in ``self.count_convention`` (see ``cost_convention``)."""
        if self.count_convention == "executed":
            return self.executed_macs(inputs, output)
        return self._paper_macs(output)

    def executed_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """Multiply-adds the crop form runs: the same as the paper's count for this layer."""
        return self._paper_macs(output)

    def official_params(self) -> int:
        """Parameters as the official code stores them: ``c`` (not ``c_hat``) channels per primary."""
        bias = 0 if self.bias is None else self.bias.numel()
        return self.primaries * self.in_channels * self.kernel_size ** 2 + bias

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, s={self.s}, primaries={self.primaries}")
        if self.n > 1:
            text += f", c_hat={self.c_hat}, g={self.g}, n={self.n}"
        return text + ("" if self.bias is not None else ", bias=False")


@contextmanager
def cost_convention(model: nn.Module, convention: str) -> Iterator[nn.Module]:
    """Within the block, every versatile layer of ``model`` reports ``convention`` costs to ``count_flops``.

    ``"paper"`` (the default outside the block) counts each secondary filter at its effective size (the
    non-zero mask entries); ``"executed"`` counts what the layer's forward actually runs. They differ only
    for layers that run a masked dense convolution (learnable masks).
    """
    if convention not in COST_CONVENTIONS:
        raise EffconvError(f"unknown cost convention {convention!r}; use one of {COST_CONVENTIONS}.")
    layers = [m for m in model.modules() if hasattr(m, "count_convention")]
    before = [m.count_convention for m in layers]
    for m in layers:
        m.count_convention = convention
    try:
        yield model
    finally:
        for m, old in zip(layers, before):
            m.count_convention = old


def _with_bn(conv: nn.Module, out_channels: int, bn: bool) -> nn.Sequential:
    layers: dict[str, nn.Module] = {"conv": conv}
    if bn:
        layers["bn"] = nn.BatchNorm2d(out_channels)
    return nn.Sequential(OrderedDict(layers))


def _check_groups(groups: int, name: str) -> None:
    if groups != 1:
        raise EffconvError(
            f"{name} replaces ungrouped convolutions only, got groups={groups}; build this layer with the "
            "conv_bn factory or a model without grouped kxk convolutions."
        )


@register_conv("versatile_v1")
def versatile_v1(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, groups: int = 1, bn: bool = True) -> nn.Module:
    """Spatial versatile convolution (+ BN); the conv carries a bias only when there is no BN."""
    _check_groups(groups, "versatile_v1")
    conv = VersatileConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=not bn)
    return _with_bn(conv, out_channels, bn)


def _channel_c_hat(in_channels: int, delta: int, g: int) -> int:
    """``c_hat = c - delta``, checked: the official code sets ``delta`` (= c - c_hat) and ``g`` per layer."""
    _check_int("delta", delta, minimum=0)
    _check_int("g", g, minimum=1)
    if delta % g:
        raise EffconvError(f"delta={delta} (= c - c_hat) must be a multiple of the channel stride g={g}.")
    if delta >= in_channels:
        raise EffconvError(
            f"delta={delta} leaves no channel for a layer with {in_channels} input channels (c_hat = c - delta "
            f"must be >= 1); use delta < {in_channels}."
        )
    return in_channels - delta


@register_conv("versatile_v2")
def versatile_v2(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, groups: int = 1, bn: bool = True, delta: int = 1,
                 g: int = 1) -> nn.Module:
    """Spatial + channel versatile convolution (+ BN) with ``c_hat = c - delta`` and channel stride ``g``.

    The defaults ``delta=1, g=1`` (``n = 2``) are those of the official code's spatial+channel run; they
    apply to every layer, the RGB input layer included (``c = 3``, ``c_hat = 2``).
    """
    _check_groups(groups, "versatile_v2")
    conv = VersatileConv2d(in_channels, out_channels, kernel_size, stride, padding,
                           c_hat=_channel_c_hat(in_channels, delta, g), g=g, bias=not bn)
    return _with_bn(conv, out_channels, bn)


ChannelSetting = int | Callable[[int], int]


def convert(model: nn.Module, variant: str = "v1", *, delta: ChannelSetting = 1, g: ChannelSetting = 1,
            min_kernel: int | None = None) -> nn.Module:
    """Replace every ungrouped ``nn.Conv2d`` of ``model`` by a freshly initialised ``VersatileConv2d``.

    ``variant="v1"`` makes the kxk convolutions spatially versatile (1x1 convolutions have ``s = 1`` and
    stay as they are); ``"v2"`` also slides every convolution, 1x1 included, over the channels with
    ``c_hat = c - delta`` and stride ``g`` (ints, or functions of the layer's input channels ``c`` for
    settings that scale with the width, e.g. ``lambda c: c // 16``). ``min_kernel`` (default 2 for v1,
    1 for v2) leaves smaller kernels alone. Geometry (stride, padding, bias) is kept; weights are not carried over. Works in place
    and returns ``model``; use it on a model built on the ``meta`` device to count it for free.

    >>> import torchvision
    >>> from effconv.analysis.flops import count_flops
    >>> features = torchvision.models.vgg11().features           # VGG-11's convolutions
    >>> before = count_flops(features, (3, 32, 32)).macs
    >>> after = count_flops(convert(features, "v1"), (3, 32, 32)).macs  # each 3x3 conv made versatile
    >>> round(after / before, 3)                                   # (9 + 1) / 18 per 3x3 layer
    0.556
    """
    if variant not in ("v1", "v2"):
        raise EffconvError(f"unknown versatile variant {variant!r}; use 'v1' (spatial) or 'v2' (spatial + channel).")
    min_kernel = (2 if variant == "v1" else 1) if min_kernel is None else min_kernel
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Conv2d) and child.groups == 1 and child.kernel_size[0] >= min_kernel:
            if isinstance(child.padding, str) or child.kernel_size[0] != child.kernel_size[1] or \
                    child.dilation != (1, 1) or child.stride[0] != child.stride[1] or \
                    child.padding[0] != child.padding[1]:
                raise EffconvError(
                    f"cannot convert {name}: versatile layers need square kernels, equal strides and paddings "
                    "and no dilation; pass min_kernel to skip it or convert the model by hand."
                )
            c, layer_g, c_hat = child.in_channels, 1, None
            if variant == "v2":
                layer_g = g(c) if callable(g) else g
                c_hat = _channel_c_hat(c, delta(c) if callable(delta) else delta, layer_g)
            with torch.device(child.weight.device):  # build where the model lives (meta: no memory)
                new = VersatileConv2d(c, child.out_channels, child.kernel_size[0], child.stride[0],
                                      child.padding[0], c_hat=c_hat, g=layer_g, bias=child.bias is not None)
            setattr(model, name, new.to(dtype=child.weight.dtype))
        else:
            convert(child, variant, delta=delta, g=g, min_kernel=min_kernel)
    return model
