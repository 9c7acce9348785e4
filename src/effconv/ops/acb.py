"""``ACBlock``: the asymmetric convolution block of ACNet (Ding et al., ICCV 2019).

During training a kxk convolution is accompanied by a horizontal 1xk and a vertical kx1 convolution
on the same input; their outputs are added. Convolution is linear and all three kernels slide over
the same windows, so after training the block folds into one kxk convolution: fold each branch's BN
into its kernel, then add the 1xk and kx1 kernels into the kxk kernel at the positions they cover.

Alignment, the one subtle part. With padding ``p`` the kxk conv reads, for output (i, j), the rows
``i*s .. i*s+k-1`` and columns ``j*s .. j*s+k-1`` of the input padded by ``p``. A branch whose
kernel sits at rows ``r0 .. r0+kh-1`` and columns ``c0 .. c0+kw-1`` of that kxk square must read
exactly that part of each window. We therefore pad the input once by ``p`` and give each branch the
padded tensor with ``r0`` rows cut from the top, ``k-r0-kh`` from the bottom (and likewise for
columns), then run it with no padding of its own. This one rule covers every stride, every padding
(including padding below k//2, where the authors' code needs a separate cropping path) and the
"border" variant, where the 1xk kernel sits on the bottom row and the kx1 kernel on the right
column instead of the centre cross.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from effconv.errors import EffconvError
from effconv.ops.conv_factory import register_conv

BRANCHES = ("square", "hor", "ver")
NORMS = ("branch", "sum", "none")


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of ``bn(conv(x))`` (eval mode), kept in the conv's dtype (exact in float64 too)."""
    bias = conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
    if bn is None:
        return conv.weight, bias
    return fuse_conv_bn_weights(conv.weight, bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise EffconvError(f"ACBlock {name} must be an integer >= {minimum}, got {value!r}.")
    return value


class ACBlock(nn.Module):
    """A kxk convolution trained together with 1xk and kx1 convolutions; ``fuse()`` gives one kxk conv.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, groups: as for ``nn.Conv2d``
            (square odd kernel; ``padding=None`` means k//2; any padding >= 0 works).
        branches: which convolutions the block trains, a subset of ``("square", "hor", "ver")``
            (the ablation: square only, square+hor, square+ver, all three).
        norm: ``"branch"`` (a BN after each branch, the paper's design), ``"sum"`` (one BN after
            the sum) or ``"none"`` (no BN; the square conv carries a bias).
        border: put the 1xk kernel on the bottom row and the kx1 kernel on the right column of the
            square instead of its centre row/column (the paper's "border" control experiment).
        gamma_init: initial value of every BN gamma of the block (the authors' recipe uses 1/3 so
            that the sum of three branches starts at the scale of one); ``None`` keeps PyTorch's 1.

    In eval mode ``fuse()`` returns an ``nn.Conv2d`` (with bias) that computes the same function.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, groups: int = 1, *,
                 branches: Iterable[str] = BRANCHES, norm: str = "branch", border: bool = False,
                 gamma_init: float | None = None):
        super().__init__()
        _check_int("in_channels", in_channels, 1)
        _check_int("out_channels", out_channels, 1)
        _check_int("kernel_size", kernel_size, 1)
        if kernel_size % 2 == 0 or kernel_size < 3:
            raise EffconvError(
                f"ACBlock needs an odd kernel_size >= 3 (its 1xk and kx1 kernels are centred on the "
                f"square), got {kernel_size}; use 3, 5, 7 ..."
            )
        _check_int("stride", stride, 1)
        padding = kernel_size // 2 if padding is None else _check_int("padding", padding, 0)
        _check_int("groups", groups, 1)
        if in_channels % groups or out_channels % groups:
            raise EffconvError(
                f"groups={groups} must divide both in_channels={in_channels} and "
                f"out_channels={out_channels}; pick a common divisor (groups=in_channels for depthwise)."
            )
        branches = (branches,) if isinstance(branches, str) else tuple(branches)
        unknown = [b for b in branches if b not in BRANCHES]
        if unknown or not branches or len(set(branches)) != len(branches):
            raise EffconvError(
                f"ACBlock branches must be a non-empty subset of {BRANCHES} without repeats, "
                f"got {branches!r}."
            )
        if norm not in NORMS:
            raise EffconvError(f"unknown ACBlock norm {norm!r}; use one of {NORMS}.")
        if gamma_init is not None and norm == "none":
            raise EffconvError("gamma_init sets BN gammas but norm='none' has no BN; drop one of them.")

        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.groups = kernel_size, stride, padding, groups
        self.norm, self.border = norm, bool(border)
        k, line = kernel_size, (kernel_size - 1 if border else kernel_size // 2)
        # (kh, kw, r0, c0): the branch kernel's size and its top-left position in the kxk square
        geometry = {"square": (k, k, 0, 0), "hor": (1, k, line, 0), "ver": (k, 1, 0, line)}
        ordered = [b for b in BRANCHES if b in branches]  # fixed order: same parameters, same names
        self.geometry = {name: geometry[name] for name in ordered}
        # Centred branches with padding >= k//2 can let each conv pad for itself (padding p - r0, p - c0):
        # the same windows as cropping one padded input, without the strided copies the crops cost
        # (about 1.5x faster training on CPU). The border variant and smaller paddings use the crops.
        self.native_padding = not self.border and padding >= k // 2

        self.branches = nn.ModuleDict()
        for index, name in enumerate(ordered):
            kh, kw, r0, c0 = self.geometry[name]
            # without any BN the block needs one bias, carried by its first branch
            bias = norm == "none" and index == 0
            pad = (padding - r0, padding - c0) if self.native_padding else 0
            layers: dict[str, nn.Module] = {
                "conv": nn.Conv2d(in_channels, out_channels, (kh, kw), stride, pad, groups=groups, bias=bias)
            }
            if norm == "branch":
                layers["bn"] = nn.BatchNorm2d(out_channels)
            self.branches[name] = nn.Sequential(OrderedDict(layers))
        self.bn = nn.BatchNorm2d(out_channels) if norm == "sum" else None
        if gamma_init is not None:
            self.init_gamma(gamma_init)

    def batch_norms(self) -> list[nn.BatchNorm2d]:
        """Every BN of the block (one per branch, or the one after the sum)."""
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]

    @torch.no_grad()
    def init_gamma(self, value: float) -> None:
        """Set every BN gamma of the block to ``value``."""
        for bn in self.batch_norms():
            bn.weight.fill_(value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.native_padding:
            out = sum(branch(x) for branch in self.branches.values())
            return out if self.bn is None else self.bn(out)
        k, p = self.kernel_size, self.padding
        padded = F.pad(x, (p, p, p, p)) if p else x  # one padded copy shared by every branch
        out = None
        for name, branch in self.branches.items():
            kh, kw, r0, c0 = self.geometry[name]
            bottom, right = k - r0 - kh, k - c0 - kw
            window = padded[..., r0:-bottom or None, c0:-right or None]
            y = branch(window)
            out = y if out is None else out + y
        return out if self.bn is None else self.bn(out)

    @torch.no_grad()
    def fused_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel (out, in/groups, k, k) and bias of the single conv equal to the block in eval mode."""
        k = self.kernel_size
        first = next(iter(self.branches.values())).conv.weight
        kernel = first.new_zeros(self.out_channels, self.in_channels // self.groups, k, k)
        bias = first.new_zeros(self.out_channels)
        for name, branch in self.branches.items():
            kh, kw, r0, c0 = self.geometry[name]
            weight, b = _fold(branch.conv, getattr(branch, "bn", None))
            kernel[:, :, r0:r0 + kh, c0:c0 + kw] += weight  # additivity of convolution
            bias += b
        if self.bn is not None:
            bn = self.bn
            kernel, bias = fuse_conv_bn_weights(kernel, bias, bn.running_mean, bn.running_var, bn.eps,
                                                bn.weight, bn.bias)
        return kernel.detach(), bias.detach()

    def fuse(self) -> nn.Conv2d:
        """One ``nn.Conv2d`` (with bias) computing what the block computes in eval mode."""
        kernel, bias = self.fused_kernel_bias()
        conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,
                         groups=self.groups, bias=True).to(device=kernel.device, dtype=kernel.dtype)
        with torch.no_grad():
            conv.weight.copy_(kernel)
            conv.bias.copy_(bias)
        return conv

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, groups={self.groups}, "
                f"branches={tuple(self.branches)}, norm={self.norm!r}, border={self.border}")


@register_conv("acb")
def acb(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int | None = None,
        groups: int = 1, bn: bool = True, *, branches: Iterable[str] = BRANCHES, norm: str = "branch",
        border: bool = False, gamma_init: float | None = None) -> ACBlock:
    """Conv factory: an ``ACBlock`` in place of a kxk conv (+ BN).

    ``bn=False`` (the base model has no BN right after this conv: WRN's second conv, DenseNet's
    convs) keeps the block's own normalisation. In ACNet the BNs belong to the training-time block and
    fold away; what ``bn=False`` changes in the base model is that its conv carries a bias, and the
    fused ACB conv carries one too, so the deployed models still have identical parameter counts.
    Pass ``norm="none"`` for a block with no BN at all.
    """
    return ACBlock(in_channels, out_channels, kernel_size, stride, padding, groups,
                   branches=branches, norm=norm, border=border, gamma_init=gamma_init)
