"""Learnable versatile masks (Han et al., arXiv 2109.09310): secondary filters from learned binary masks.

The NeurIPS version derives the ``s = ceil(d/2)`` secondary filters of a ``d x d x c`` primary filter
with fixed concentric masks. The extended version learns the masks: secondary ``j`` of primary ``f`` is
``M_j * f`` with a binary ``M_j`` over the whole ``d x d x c`` filter, so a secondary can drop any
spatial position of any channel. There is no public code for this part; this module is our
reference implementation, and every choice the text leaves open is stated here.

**Which masks.** Strategy ``"a"``: one set of ``s`` masks shared by all primaries of the layer (shape
``(1, s, c, d, d)``). Strategy ``"b"``: each primary has its own ``s`` masks (``(P, s, c, d, d)``); the
paper reports that (b) is the better one. Output channels are laid out like ``VersatileConv2d``:
mask ``j`` outermost, then primary, ``channel = j * P + p``, with ``P = ceil(out / s)`` and the tail
dropped when ``s`` does not divide ``out``.

**Binarisation.** Each mask entry has a continuous proxy ``H`` in ``[0, 1]``. The text writes
``M = sign(H)`` with ``H`` clipped to ``[0, 1]``; read literally, every ``H > 0`` would be 1 and a mask
could only switch off by hitting exactly 0. We read it as the {0, 1} image of BinaryConnect's sign on
``[-1, 1]``: ``M = 1 if H >= 1/2 else 0``. The backward pass is straight-through, ``dL/dH = dL/dM``, and
``post_step()`` clips ``H`` back to ``[0, 1]`` (the training loop calls it after every optimizer step).
``H`` must stay out of weight decay, which would pull every mask towards 0: it carries the
``_no_weight_decay`` flag the training engine honours (``mask_parameters()`` lists it).

**Initialisation.** ``H`` starts at the concentric masks (1 inside the ring, 0 outside), each entry moved
towards the threshold by ``|N(0, init_noise^2)|`` capped below 1/2: the initial binary masks are exactly
the concentric ones -- the layer starts as a spatial versatile layer -- while the random distances to
the threshold keep the entries from flipping in lockstep.

**Orthogonal loss.** For the ``s`` masks of one set, ``M = [vec(M_1), ..., vec(M_s)]`` (``m = d^2 c``
rows) and ``L = 1/2 ||M^T M / m - I||_F^2``. ``auxiliary_loss()`` returns ``ortho_weight`` times the
*sum* over the layer's mask sets: each set gets the loss as written, so the gradient on every mask
entry does not depend on how many primaries the layer has. The paper's weight lambda is not in our
sources; ``ortho_weight`` is a hyper-parameter to sweep.

**Cost.** The paper-convention cost counts what a sparse kernel would do: every non-zero mask entry is
one multiply-add per output pixel (at the concentric initialisation this equals the spatial versatile
count, 10/18 of a standard 3x3 layer). The forward here runs a dense convolution with the masked
kernel, as expensive as a standard layer: ``cost_convention(model, "executed")`` reports that.
Memory: the deployed layer stores the primaries (32-bit) and the masks (1 bit per entry); ``H`` is a
training-time variable.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from effconv.errors import EffconvError
from effconv.ops.conv_factory import register_conv
from effconv.ops.conv_bn import same_padding
from effconv.ops.versatile import (
    _check_groups, _check_int, _square_kernel, _with_bn, concentric_masks, num_secondary,
)

__all__ = ["LearnableMaskConv2d", "binarize", "mask_statistics", "orthogonal_loss", "versatile_mask"]

THRESHOLD = 0.5
STRATEGIES = ("a", "b")


def binarize(proxy: torch.Tensor) -> torch.Tensor:
    """``1[proxy >= 1/2]`` in the forward pass, identity gradient in the backward pass (straight-through)."""
    hard = (proxy >= THRESHOLD).to(proxy.dtype)
    return proxy + (hard - proxy).detach()


def orthogonal_loss(masks: torch.Tensor) -> torch.Tensor:
    """``1/2 ||M^T M / m - I||_F^2`` for each set of masks.

    ``masks`` has shape ``(..., s, m)``: ``s`` vectorised masks of ``m`` entries each (row ``j`` is
    ``vec(M_j)``, i.e. the paper's ``M`` transposed). Returns one loss per set, shape ``(...)``.
    """
    if masks.dim() < 2:
        raise EffconvError(f"orthogonal_loss needs masks of shape (..., s, m), got {tuple(masks.shape)}.")
    # in fp32 even under autocast: a bf16 Gram matrix would give GPU runs (bf16 autocast) another loss,
    # and so other masks, than the fp32 cpu runs
    kind = masks.device.type
    with torch.autocast(kind, enabled=False) if kind in ("cpu", "cuda") else nullcontext():
        if masks.dtype in (torch.float16, torch.bfloat16):
            masks = masks.float()  # float64 (gradient checks) stays float64
        gram = masks @ masks.transpose(-1, -2) / masks.shape[-1]
        eye = torch.eye(masks.shape[-2], device=masks.device, dtype=masks.dtype)
        return 0.5 * (gram - eye).pow(2).sum(dim=(-2, -1))


class LearnableMaskConv2d(nn.Module):
    """A versatile convolution whose ``s`` secondary masks per primary are learned (see module docstring).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as for ``VersatileConv2d``.
        strategy: ``"a"`` (one mask set shared by the layer) or ``"b"`` (one mask set per primary).
        ortho_weight: lambda, the weight of the orthogonal loss in ``auxiliary_loss()``.
        init_noise: scale of the random distance-to-threshold of the initial proxies (0: exactly 0/1).
        mask_lr_scale: learning-rate multiplier for the mask proxies (the engine puts parameters tagged
            ``_lr_scale`` in their own optimizer group). Their straight-through gradient is the weight
            gradient times the primary weights, roughly ``|w|`` (~0.05 for He-initialised 3x3 convs) smaller
            than the weights' own, so at the weights' learning rate the masks barely move in a short schedule.
        bias: one bias per output channel.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int], stride: int = 1,
                 padding: int | None = None, *, strategy: str = "b", ortho_weight: float = 1e-2,
                 init_noise: float = 0.1, mask_lr_scale: float = 1.0, bias: bool = True):
        super().__init__()
        if strategy not in STRATEGIES:
            raise EffconvError(
                f"unknown mask strategy {strategy!r}; use 'a' (one mask set shared by all primaries of the "
                "layer) or 'b' (a mask set per primary filter)."
            )
        if not isinstance(ortho_weight, (int, float)) or isinstance(ortho_weight, bool) or ortho_weight < 0:
            raise EffconvError(f"ortho_weight (lambda) must be a number >= 0, got {ortho_weight!r}.")
        if not isinstance(init_noise, (int, float)) or isinstance(init_noise, bool) or init_noise < 0:
            raise EffconvError(f"init_noise must be a number >= 0, got {init_noise!r}.")
        if not isinstance(mask_lr_scale, (int, float)) or isinstance(mask_lr_scale, bool) or mask_lr_scale <= 0:
            raise EffconvError(f"mask_lr_scale must be a number > 0, got {mask_lr_scale!r}.")
        self.in_channels = _check_int("in_channels", in_channels, minimum=1)
        self.out_channels = _check_int("out_channels", out_channels, minimum=1)
        self.kernel_size = _square_kernel(kernel_size)
        self.stride = _check_int("stride", stride, minimum=1)
        self.padding = same_padding(self.kernel_size) if padding is None else _check_int(
            "padding", padding, minimum=0)
        self.strategy = strategy
        self.ortho_weight = float(ortho_weight)
        self.init_noise = float(init_noise)
        self.s = num_secondary(self.kernel_size)
        self.primaries = math.ceil(out_channels / self.s)
        d = self.kernel_size
        self.weight = nn.Parameter(torch.empty(self.primaries, in_channels, d, d))
        sets = 1 if strategy == "a" else self.primaries
        self.mask_proxy = nn.Parameter(torch.empty(sets, self.s, in_channels, d, d))
        self.mask_proxy._no_weight_decay = True  # the training engine keeps flagged parameters out of decay
        self.mask_proxy._lr_scale = float(mask_lr_scale)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.count_convention = "paper"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal weights, as ``VersatileConv2d`` (called by ``__init__``)."""
        std = math.sqrt(2.0 / (self.out_channels * self.kernel_size ** 2))  # as VersatileConv2d
        nn.init.normal_(self.weight, 0.0, std)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.reset_masks()

    @torch.no_grad()
    def reset_masks(self) -> None:
        """Proxies at the concentric masks, each nudged towards (never across) the threshold."""
        ring = concentric_masks(self.kernel_size, device=self.mask_proxy.device, dtype=self.mask_proxy.dtype)
        ring = ring[None, :, None].expand_as(self.mask_proxy)
        nudge = torch.randn_like(self.mask_proxy).abs().mul(self.init_noise).clamp(max=THRESHOLD - 0.01)
        self.mask_proxy.copy_(ring + (1 - 2 * ring) * nudge)

    def masks(self) -> torch.Tensor:
        """Binary masks, shape ``(sets, s, c, d, d)``, differentiable (straight-through) w.r.t. the proxies."""
        return binarize(self.mask_proxy)

    @torch.no_grad()
    def binary_masks(self) -> torch.Tensor:
        """The current masks as a bool tensor ``(sets, s, c, d, d)``, detached."""
        return self.mask_proxy >= THRESHOLD

    def masked_weight(self) -> torch.Tensor:
        """The ``(out, c, d, d)`` kernel: secondary ``j`` of primary ``p`` is ``M_j * f_p`` at row ``j * P + p``."""
        secondaries = self.weight.unsqueeze(1) * self.masks()  # (P, s, c, d, d); strategy a broadcasts
        return secondaries.transpose(0, 1).flatten(0, 1)[:self.out_channels]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise EffconvError(
                f"{type(self).__name__} expects input of shape (N, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}."
            )
        return F.conv2d(x, self.masked_weight(), self.bias, self.stride, self.padding)

    def auxiliary_loss(self) -> torch.Tensor:
        """``ortho_weight`` times the orthogonal loss summed over the layer's mask sets."""
        return self.ortho_weight * orthogonal_loss(self.masks().flatten(2)).sum()

    @torch.no_grad()
    def post_step(self) -> None:
        """Clip the proxies back to [0, 1]; call after every optimizer step."""
        self.mask_proxy.clamp_(0.0, 1.0)

    def mask_parameters(self) -> list[nn.Parameter]:
        """The proxies (train them without weight decay)."""
        return [self.mask_proxy]

    def _nonzeros_per_output(self) -> torch.Tensor:
        """Non-zero mask entries of each output channel's secondary filter, shape ``(out,)``."""
        if self.mask_proxy.device.type == "meta":
            raise EffconvError(
                "the paper-convention cost of a learnable-mask layer depends on the mask values, which a model "
                "on the meta device does not have; build it on the cpu to count it."
            )
        per_set = self.binary_masks().flatten(2).sum(-1)  # (sets, s)
        return per_set.expand(self.primaries, self.s).t().flatten()[:self.out_channels]

    def count_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """Paper convention (non-zero mask entries) or, under ``cost_convention(.., "executed")``, dense."""
        if self.count_convention == "executed":
            return self.executed_macs(inputs, output)
        pixels = output.shape[0] * output.shape[-2] * output.shape[-1]
        return pixels * int(self._nonzeros_per_output().sum())

    def executed_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """What the dense masked convolution runs: as much as a standard convolution."""
        pixels = output.shape[0] * output.shape[-2] * output.shape[-1]
        return pixels * self.out_channels * self.in_channels * self.kernel_size ** 2

    def mask_bits(self) -> int:
        """Storage of the binary masks in bits (one per entry)."""
        return self.mask_proxy.numel()

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, s={self.s}, primaries={self.primaries}, strategy={self.strategy!r}, "
                f"ortho_weight={self.ortho_weight:g}" + ("" if self.bias is not None else ", bias=False"))


@register_conv("versatile_mask")
def versatile_mask(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                   padding: int | None = None, groups: int = 1, bn: bool = True, strategy: str = "b",
                   ortho_weight: float = 1e-2, init_noise: float = 0.1, mask_lr_scale: float = 1.0) -> nn.Module:
    """Learnable-mask versatile convolution (+ BN); ``strategy`` ``"a"`` (shared masks) or ``"b"`` (per primary)."""
    _check_groups(groups, "versatile_mask")
    conv = LearnableMaskConv2d(in_channels, out_channels, kernel_size, stride, padding, strategy=strategy,
                               ortho_weight=ortho_weight, init_noise=init_noise, mask_lr_scale=mask_lr_scale,
                               bias=not bn)
    return _with_bn(conv, out_channels, bn)


def _mean(values: list[tuple[float, int]]) -> float | None:
    total = sum(weight for _, weight in values)
    return sum(v * weight for v, weight in values) / total if total else None


@torch.no_grad()
def mask_statistics(model: nn.Module) -> dict:
    """How far the learned masks of ``model`` have moved, as plain JSON-ready numbers.

    Per learnable-mask layer: ``density`` (share of ones), ``pairwise_hamming`` (mean share of entries
    where two masks of the same primary differ, over all pairs), ``all_equal_fraction`` (primaries whose
    ``s`` masks are identical: they compute ``s`` copies of one filter), ``changed_from_init`` (share of
    entries that differ from the concentric masks) and ``ortho_loss`` (mean over mask sets, unweighted).
    The ``overall`` entry averages the layers weighted by their number of primaries (pair statistics
    over layers with ``s >= 2`` only). One pass over the masks, no forward pass: cheap at every epoch end.
    """
    layers: dict[str, dict] = {}
    for name, module in model.named_modules():
        if not isinstance(module, LearnableMaskConv2d):
            continue
        masks = module.binary_masks().flatten(2)  # (sets, s, m)
        ring = concentric_masks(module.kernel_size, device=masks.device).bool()
        ring = ring[:, None].expand(-1, module.in_channels, -1, -1).flatten(1)  # (s, m)
        stats = {
            "strategy": module.strategy, "s": module.s, "primaries": module.primaries,
            "mask_sets": masks.shape[0], "mask_entries": masks.shape[-1],
            "density": float(masks.float().mean()),
            "changed_from_init": float((masks != ring).float().mean()),
            "ortho_loss": float(orthogonal_loss(masks.float()).mean()),
            "pairwise_hamming": None, "all_equal_fraction": None,
        }
        if module.s >= 2:
            pairs = [(j, k) for j in range(module.s) for k in range(j + 1, module.s)]
            differ = torch.stack([(masks[:, j] != masks[:, k]).float().mean(-1) for j, k in pairs])  # (pairs, sets)
            stats["pairwise_hamming"] = float(differ.mean())
            stats["all_equal_fraction"] = float((differ.amax(0) == 0).float().mean())
        layers[name or "(model)"] = stats
    overall: dict[str, float | int | None] = {"layers": len(layers),
                                              "primaries": sum(v["primaries"] for v in layers.values())}
    for key in ("density", "changed_from_init", "ortho_loss", "pairwise_hamming", "all_equal_fraction"):
        overall[key] = _mean([(v[key], v["primaries"]) for v in layers.values() if v[key] is not None])
    return {"overall": overall, "layers": layers}
