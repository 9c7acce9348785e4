"""DAC: split a trained kxk convolution, without data, into a depthwise and a pointwise convolution.

For every input channel ``c`` the slice ``W[:, c]`` of a conv's kernel is an ``N x (kh*kw)`` matrix
(``N`` output channels). Keeping its top ``r`` singular triplets ``u_j s_j v_j^T`` gives ``r``
spatial filters ``v_j`` (a depthwise conv with ``r`` filters per input channel) and ``r`` mixing
vectors ``u_j`` (a 1x1 conv over the ``C*r`` depthwise outputs). Because a convolution is linear in its
kernel, the pair computes the conv with the rank-``r`` kernel exactly, so nothing sits between the
two (no BN, no ReLU) and the original bias moves to the pointwise conv.

Cost per output pixel, relative to the original ``N*C*k^2``: ``C*r*k^2 + C*r*N`` over ``N*C*k^2``,
i.e. ``r/N + r/k^2``; the split saves only while ``r < k^2 N / (N + k^2)`` (``break_even_rank``).

Decisions the method leaves open, and what this implementation does:

- **Singular values** are split evenly: both factors get ``sqrt(s_j)``. The computed function does
  not depend on the split (only the product enters), but the balanced split keeps the two kernels and
  the intermediate activations on comparable scales, which matters for fine-tuning (balanced gradients)
  and for low-precision inference. ``split="pointwise"`` puts all of ``s_j`` on the 1x1 conv instead
  (orthonormal depthwise filters).
- **Rank range** is ``1 .. min(N/groups, kh*kw)``: that is the largest rank a channel slice can have,
  so the decomposition is exact there (at ``kh*kw`` for every layer with at least ``kh*kw`` outputs per
  group). Larger ranks would only add zero filters and cost, so they are refused.
- **Grouped convs** are supported: an input channel only feeds the ``N/groups`` outputs of its group,
  so its slice is ``(N/groups) x (kh*kw)`` and the pointwise conv keeps ``groups``.
- **Non-square kernels** are supported (``k^2`` becomes ``kh*kw``); so are any stride, padding,
  padding mode and dilation, which all stay on the depthwise conv.

``channel_svd`` is the plain low-rank baseline (one SVD of the whole ``N x (C*kh*kw)`` kernel) that
the book compares DAC with at equal FLOPs; ``apply`` converts named layers of a model copy.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from typing import Literal

import torch
from torch import nn

from effconv.errors import EffconvError

Split = Literal["balanced", "pointwise"]
Method = Literal["dac", "channel_svd"]
Factors = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # thin SVD (u, s, vh), float64


# ---------------------------------------------------------------------------------------------
# Checks shared by both decompositions
# ---------------------------------------------------------------------------------------------

def _check_conv(conv: nn.Module, what: str) -> None:
    if type(conv) is not nn.Conv2d:  # subclasses may compute something else in forward
        raise EffconvError(
            f"{what} needs a plain torch.nn.Conv2d, got {type(conv).__name__}. Pass the conv itself "
            "(for a ConvBN block that is its `.conv`), or list the convertible layers with "
            "effconv.ops.dac.conv_layers(model)."
        )


def _check_rank(rank: int, limit: int, what: str, why: str) -> None:
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise EffconvError(f"{what}: rank must be an int, got {rank!r}; pick one in 1..{limit}.")
    if not 1 <= rank <= limit:
        raise EffconvError(f"{what}: rank {rank} is out of range; the valid range is 1..{limit} ({why}).")


def _check_split(split: str) -> None:
    if split not in ("balanced", "pointwise"):
        raise EffconvError(f"split must be 'balanced' or 'pointwise', got {split!r}.")


def _factor_scales(s: torch.Tensor, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """How the singular values are shared: (scale of the spatial factor, scale of the 1x1 factor)."""
    if split == "balanced":
        root = s.sqrt()
        return root, root
    return torch.ones_like(s), s


def _svd(matrices: torch.Tensor) -> Factors:
    """Thin SVD of a batch of matrices, in float64 (the factors are cast back to the conv's dtype later).

    Non-square matrices go through QR first (of the matrix if tall, of its transpose if wide): the SVD
    of the small square ``R`` gives the same factors, several times faster on CPU than a direct SVD of
    DAC's tall ``N x k^2`` slices or of the wide ``N x C*k^2`` kernel matrix.
    """
    a = matrices.detach().double()
    if a.shape[-2] < a.shape[-1]:
        u, s, vh = _svd(a.mT)
        return vh.mT, s, u.mT
    if a.shape[-2] > a.shape[-1]:
        q, r = torch.linalg.qr(a)
        u, s, vh = torch.linalg.svd(r)
        return q @ u, s, vh
    return torch.linalg.svd(a)


def _check_factors(factors: Factors, shapes: tuple[tuple[int, ...], ...], fix: str) -> None:
    if tuple(tuple(f.shape) for f in factors) != shapes:
        raise EffconvError(f"the factors passed do not belong to this conv (expected shapes {shapes}); {fix}.")


def _new_conv(like: nn.Conv2d, in_channels: int, out_channels: int, kernel: bool, groups: int,
              bias: bool) -> nn.Conv2d:
    """A conv on ``like``'s device/dtype: with ``like``'s geometry if ``kernel``, else a plain 1x1."""
    where = {"device": like.weight.device, "dtype": like.weight.dtype}
    if kernel:
        return nn.Conv2d(in_channels, out_channels, like.kernel_size, stride=like.stride, padding=like.padding,
                         dilation=like.dilation, groups=groups, bias=bias, padding_mode=like.padding_mode, **where)
    return nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=bias, **where)


# ---------------------------------------------------------------------------------------------
# DAC
# ---------------------------------------------------------------------------------------------

def max_rank(conv: nn.Conv2d) -> int:
    """Largest DAC rank of ``conv``: the rank bound of a channel slice, ``min(N/groups, kh*kw)``."""
    _check_conv(conv, "max_rank")
    kh, kw = conv.kernel_size
    return min(conv.out_channels // conv.groups, kh * kw)


def channel_slices(weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """A conv kernel as one ``(N/groups) x (kh*kw)`` matrix per input channel: shape ``(C, N/groups, kh*kw)``."""
    n, c_g, kh, kw = weight.shape
    per_group = weight.reshape(groups, n // groups, c_g, kh * kw).permute(0, 2, 1, 3)
    return per_group.reshape(groups * c_g, n // groups, kh * kw)


def channel_factors(conv: nn.Conv2d) -> Factors:
    """Full SVD of every input channel's slice (float64): ``u (C, N/g, m)``, ``s (C, m)``, ``vh (C, m, kh*kw)``.

    ``decompose(conv, r, factors=...)`` truncates these instead of recomputing them, which is what a
    sweep over many ranks of the same layer wants.
    """
    _check_conv(conv, "channel_factors")
    return _svd(channel_slices(conv.weight, conv.groups))


def decompose(conv: nn.Conv2d, rank: int, *, split: Split = "balanced",
              factors: Factors | None = None) -> nn.Sequential:
    """DAC-decompose ``conv`` into ``depthwise`` (``rank`` kxk filters per input channel) and ``pointwise``.

    Data-free: only ``conv``'s kernel is used. The result runs on the conv's device and dtype and
    equals the conv whose kernel is the per-channel rank-``rank`` truncation (exact at ``max_rank``).
    ``factors`` may carry ``channel_factors(conv)`` computed earlier.

    >>> import torch
    >>> from torch import nn
    >>> conv = nn.Conv2d(16, 32, 3, padding=1)
    >>> pair = decompose(conv, rank=max_rank(conv))          # exact at full rank (9 for a 3x3 kernel)
    >>> x = torch.randn(1, 16, 8, 8)
    >>> bool(torch.allclose(pair(x), conv(x), atol=1e-5))
    True
    """
    _check_conv(conv, "decompose")
    _check_split(split)
    limit = max_rank(conv)
    _check_rank(rank, limit, f"decompose({conv})",
                "a channel slice is (out_channels/groups) x (kh*kw), so its rank is at most the smaller")
    n, c, g = conv.out_channels, conv.in_channels, conv.groups
    n_g, c_g = n // g, c // g
    kh, kw = conv.kernel_size
    weight = conv.weight.detach()

    if factors is None:
        factors = channel_factors(conv)
    _check_factors(factors, ((c, n_g, limit), (c, limit), (c, limit, kh * kw)),
                   "compute them with effconv.ops.dac.channel_factors(conv)")
    u, s, vh = factors
    u, s, vh = u[..., :rank], s[..., :rank], vh[..., :rank, :]
    spatial_scale, mix_scale = _factor_scales(s, split)

    # depthwise output channel c*rank + j is filter j of input channel c
    spatial = (vh * spatial_scale[..., None]).reshape(c * rank, 1, kh, kw)
    # pointwise group gi reads its own input channels' rank*C/g maps, in the same order
    mix = (u * mix_scale[:, None, :]).reshape(g, c_g, n_g, rank).permute(0, 2, 1, 3).reshape(n, c_g * rank, 1, 1)

    depthwise = _new_conv(conv, c, c * rank, kernel=True, groups=c, bias=False)
    pointwise = _new_conv(conv, c * rank, n, kernel=False, groups=g, bias=conv.bias is not None)
    with torch.no_grad():
        depthwise.weight.copy_(spatial.to(weight.dtype))
        pointwise.weight.copy_(mix.to(weight.dtype))
        if conv.bias is not None:
            pointwise.bias.copy_(conv.bias.detach())
    return nn.Sequential(OrderedDict(depthwise=depthwise, pointwise=pointwise))


def recompose_weight(block: nn.Sequential) -> torch.Tensor:
    """The single kxk kernel that a ``decompose`` result computes (for reconstruction errors)."""
    depthwise, pointwise = getattr(block, "depthwise", None), getattr(block, "pointwise", None)
    if not isinstance(depthwise, nn.Conv2d) or not isinstance(pointwise, nn.Conv2d):
        raise EffconvError("recompose_weight needs the nn.Sequential returned by effconv.ops.dac.decompose.")
    c, g, n = depthwise.in_channels, pointwise.groups, pointwise.out_channels
    rank = depthwise.out_channels // c
    kh, kw = depthwise.kernel_size
    spatial = depthwise.weight.detach().reshape(g, c // g, rank, kh * kw)
    mix = pointwise.weight.detach().reshape(g, n // g, c // g, rank)
    kernel = torch.einsum("gncr,gcrk->gnck", mix, spatial)
    return kernel.reshape(n, c // g, kh, kw)


def break_even_rank(out_channels: int, kernel_area: int = 9) -> float:
    """Rank where DAC costs as much as the original layer: ``k^2 N / (N + k^2)`` (``N`` per group).

    Ranks strictly below it save MACs; ``kernel_area`` is ``kh*kw`` (9 for 3x3).
    """
    if out_channels < 1 or kernel_area < 1:
        raise EffconvError(f"break_even_rank needs positive sizes, got N={out_channels}, k^2={kernel_area}.")
    return kernel_area * out_channels / (out_channels + kernel_area)


def cost_ratio(conv: nn.Conv2d, rank: int, method: Method = "dac") -> float:
    """MACs of the decomposed layer over the original's, from the formula (no counting).

    DAC: ``r/(N/g) + r/(kh*kw)``; channel SVD: ``r/N + r/(C*kh*kw)``.
    """
    _check_conv(conv, "cost_ratio")
    n, c, g = conv.out_channels, conv.in_channels, conv.groups
    area = conv.kernel_size[0] * conv.kernel_size[1]
    if method == "dac":
        return rank / (n // g) + rank / area
    if method == "channel_svd":
        return rank / n + rank / (c * area)
    raise EffconvError(f"unknown method {method!r}; use 'dac' or 'channel_svd'.")


# ---------------------------------------------------------------------------------------------
# Channel SVD baseline (beyond the paper)
# ---------------------------------------------------------------------------------------------

def channel_max_rank(conv: nn.Conv2d) -> int:
    """Largest channel-SVD rank of ``conv``: ``min(N, C*kh*kw)``."""
    _check_conv(conv, "channel_max_rank")
    kh, kw = conv.kernel_size
    return min(conv.out_channels, conv.in_channels * kh * kw)


def kernel_factors(conv: nn.Conv2d) -> Factors:
    """Full SVD of the ``N x (C*kh*kw)`` kernel matrix (float64), for ``channel_svd(..., factors=...)``."""
    _check_conv(conv, "kernel_factors")
    return _svd(conv.weight.reshape(conv.out_channels, -1))


def channel_svd(conv: nn.Conv2d, rank: int, *, split: Split = "balanced",
                factors: Factors | None = None) -> nn.Sequential:
    """Low-rank baseline: ``conv`` as a kxk conv ``C -> rank`` (``basis``) then a 1x1 ``rank -> N``.

    One truncated SVD of the ``N x (C*kh*kw)`` kernel matrix, so this is the best rank-``rank`` kernel in
    Frobenius norm over the whole layer (DAC is best per input channel). Grouped convs are refused: their
    kernel matrix is block-diagonal and would need one SVD per group, which the comparison does not need.
    """
    _check_conv(conv, "channel_svd")
    _check_split(split)
    if conv.groups != 1:
        raise EffconvError(
            f"channel_svd supports only groups=1, got groups={conv.groups}; use decompose (DAC) for grouped convs."
        )
    limit = channel_max_rank(conv)
    _check_rank(rank, limit, f"channel_svd({conv})", "the kernel matrix is N x (C*kh*kw)")
    n, c = conv.out_channels, conv.in_channels
    kh, kw = conv.kernel_size
    weight = conv.weight.detach()
    if factors is None:
        factors = kernel_factors(conv)
    _check_factors(factors, ((n, limit), (limit,), (limit, c * kh * kw)),
                   "compute them with effconv.ops.dac.kernel_factors(conv)")
    u, s, vh = factors
    u, s, vh = u[:, :rank], s[:rank], vh[:rank]
    basis_scale, mix_scale = _factor_scales(s, split)

    basis = _new_conv(conv, c, rank, kernel=True, groups=1, bias=False)
    pointwise = _new_conv(conv, rank, n, kernel=False, groups=1, bias=conv.bias is not None)
    with torch.no_grad():
        basis.weight.copy_((vh * basis_scale[:, None]).reshape(rank, c, kh, kw).to(weight.dtype))
        pointwise.weight.copy_((u * mix_scale).reshape(n, rank, 1, 1).to(weight.dtype))
        if conv.bias is not None:
            pointwise.bias.copy_(conv.bias.detach())
    return nn.Sequential(OrderedDict(basis=basis, pointwise=pointwise))


def matched_channel_rank(conv: nn.Conv2d, rank: int) -> int:
    """The largest channel-SVD rank whose MACs do not exceed DAC's at ``rank`` on this layer.

    Per output pixel DAC costs ``C*r*(k^2 + N)`` and channel SVD ``r_c*(C*k^2 + N)``; both keep the
    layer's output size, so comparing per-pixel costs is comparing the layers' MACs.
    """
    _check_conv(conv, "matched_channel_rank")
    if conv.groups != 1:
        raise EffconvError("matched_channel_rank supports only groups=1 convs (channel_svd refuses grouped ones).")
    _check_rank(rank, max_rank(conv), "matched_channel_rank", "the DAC rank range of this layer")
    n, c = conv.out_channels, conv.in_channels
    area = conv.kernel_size[0] * conv.kernel_size[1]
    budget = c * rank * (area + n)
    return min(budget // (c * area + n), channel_max_rank(conv))


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

def _is_kxk(module: nn.Module) -> bool:
    """A conv DAC can make cheaper: a plain Conv2d larger than 1x1 that is not depthwise."""
    return (type(module) is nn.Conv2d and module.kernel_size != (1, 1)
            and not (module.groups > 1 and module.groups == module.in_channels))


def conv_layers(model: nn.Module, input_size: tuple[int, ...] | None = None) -> dict[str, str]:
    """The model's kxk convs in forward order, named as the paper does: ``{"conv2d_1": module name, ...}``.

    The Keras-style names count only kxk convs (1x1 and depthwise convs are skipped), from 1. Without
    ``input_size`` the order is the registration order (the forward order for every model in our zoo);
    with ``input_size`` (e.g. ``(3, 32, 32)``) one forward pass on zeros records the actual call order.
    """
    names = {module: name for name, module in model.named_modules() if _is_kxk(module)}
    if input_size is None:
        ordered = list(names.values())
    else:
        ordered = []
        hooks = [m.register_forward_hook(lambda m, i, o: ordered.append(names[m])) for m in names]
        first = next(model.parameters(), None)
        x = torch.zeros((1, *input_size), device=first.device if first is not None else None,
                        dtype=first.dtype if first is not None else None)
        was_training = model.training
        try:
            with torch.no_grad():
                model.eval()(x)
        finally:
            for hook in hooks:
                hook.remove()
            model.train(was_training)
        ordered = list(dict.fromkeys(ordered))  # a conv called twice keeps its first position
    return {f"conv2d_{i}": name for i, name in enumerate(ordered, start=1)}


def _resolve(model: nn.Module, key: str, keras: dict[str, str]) -> str:
    """Module name for ``key``, which may be a module name or a Keras-style ``conv2d_i`` name."""
    modules = dict(model.named_modules())
    if key in modules:
        return key
    if key in keras:
        return keras[key]
    raise EffconvError(
        f"no layer named {key!r} in {type(model).__name__}; use a module name from model.named_modules() "
        f"or a Keras-style name conv2d_1..conv2d_{len(keras)} (see effconv.ops.dac.conv_layers(model))."
    )


def apply(model: nn.Module, ranks: Mapping[str, int], *, method: Method = "dac",
          split: Split = "balanced", cache: dict | None = None) -> nn.Module:
    """A deep copy of ``model`` with each layer in ``ranks`` replaced by its decomposition.

    ``ranks`` maps a conv's module name (``"features.0.conv"``) or Keras-style name (``"conv2d_1"``)
    to a rank; ``method`` is ``"dac"`` (``decompose``) or ``"channel_svd"``. The caller's model is never
    modified, so one trained model can be converted many times; pass the same ``cache`` dict to every
    call on the same (unchanged) model and each layer's SVD is computed only once.

    >>> from effconv.models import create_model
    >>> vgg = create_model("vgg16_cifar", width=0.25)
    >>> cheaper = apply(vgg, {"conv2d_2": 3, "conv2d_3": 3})   # two layers at rank 3; vgg is unchanged
    """
    builders = {"dac": decompose, "channel_svd": channel_svd}
    factorisers = {"dac": channel_factors, "channel_svd": kernel_factors}
    if method not in builders:
        raise EffconvError(f"unknown method {method!r}; use 'dac' or 'channel_svd'.")
    if not isinstance(ranks, Mapping):
        raise EffconvError(f"ranks must be a dict {{layer name: rank}}, got {type(ranks).__name__}.")
    keras = conv_layers(model)
    targets: dict[str, int] = {}
    for key, rank in ranks.items():
        name = _resolve(model, key, keras)
        if name in targets:
            raise EffconvError(f"layer {name!r} is listed twice in ranks (as a module name and a conv2d_i name).")
        targets[name] = rank
    converted = copy.deepcopy(model)
    for name, rank in targets.items():
        parent_name, _, child = name.rpartition(".")
        parent = converted.get_submodule(parent_name)
        conv = getattr(parent, child)
        _check_conv(conv, f"apply (layer {name!r})")
        factors = None
        if cache is not None:
            factors = cache.get((name, method))
            if factors is None:
                factors = cache[(name, method)] = factorisers[method](conv)
        setattr(parent, child, builders[method](conv, rank, split=split, factors=factors))
    return converted
