"""Chapter 5, Versatile filters: the live checks the chapter shows (no training).

The layers against their definitions (crop form = mask form, the channel windows), the orthogonal loss
(its closed-form gradient, where two binary masks minimise it), the time of one layer in each form, and
how far the learned masks could move in a training schedule.
"""

from __future__ import annotations

import math
import statistics
from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops.versatile import VersatileConv2d, concentric_masks
from effconv.ops.versatile_masks import LearnableMaskConv2d, orthogonal_loss
from effconv.analysis.latency import measure_latency
from effconv.train.module import lr_lambda


def mask_form(layer: VersatileConv2d, x: torch.Tensor) -> torch.Tensor:
    """The definition, written independently of the layer's crop form.

    Every secondary filter is the full ``d x d`` primary times a concentric mask, applied at the layer's
    full padding to the ``c_hat`` input channels starting at ``j * g``; blocks are concatenated ring by
    ring, then offset by offset (the layer's output order).
    """
    outs = []
    for i, mask in enumerate(concentric_masks(layer.kernel_size, dtype=x.dtype)):
        for j in range(layer.n):
            inputs = x[:, j * layer.g: j * layer.g + layer.c_hat]
            outs.append(F.conv2d(inputs, layer.weight * mask, None, layer.stride, layer.padding))
    y = torch.cat(outs, 1)[:, :layer.out_channels]
    return y if layer.bias is None else y + layer.bias.view(1, -1, 1, 1)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


# (d, stride, padding); padding below the ring index makes the crop form trim its input instead
SPATIAL_CASES: tuple[tuple[int, int, int | None], ...] = (
    (3, 1, None), (3, 2, None), (5, 1, None), (5, 2, None), (7, 1, None), (7, 2, None), (5, 1, 1), (7, 1, 0),
)


def spatial_check_table(cases: Sequence[tuple[int, int, int | None]] = SPATIAL_CASES, *, channels: int = 6,
                        out_channels: int = 12, size: int = 13, seed: int = 0) -> pd.DataFrame:
    """Crop form (what the layer runs) against the mask form (the definition), on random float64 inputs.

    Each row: kernel, stride, padding, ``s``, the crop sizes and the paddings the crop form uses, the
    output shape, and the largest absolute difference of the crop form from the mask form and from a
    plain convolution with ``dense_weight()``.
    """
    rows = []
    for d, stride, padding in cases:
        torch.manual_seed(seed)
        layer = VersatileConv2d(channels, out_channels, d, stride, padding).double()
        with torch.no_grad():
            layer.bias.normal_()
        x = torch.randn(2, channels, size, size, dtype=torch.double)
        with torch.no_grad():
            y = layer(x)
            defined = mask_form(layer, x)
            dense = F.conv2d(x, layer.dense_weight(), layer.bias, layer.stride, layer.padding)
        rows.append({
            "kernel": f"{d}x{d}", "stride": stride, "padding": layer.padding, "s": layer.s,
            "crops": ", ".join(f"{d - 2 * i}x{d - 2 * i}" for i in range(layer.s)),
            "crop paddings": ", ".join(str(layer.padding - i) for i in range(layer.s)),
            "output": "x".join(str(v) for v in y.shape[1:]),
            "max |crop - mask form|": _max_diff(y, defined), "max |crop - dense conv|": _max_diff(y, dense),
        })
    return pd.DataFrame(rows)


# (c, c_hat, g) with a 3x3 primary; (64, 63, 1) is the official setting, (64, 60, 4) our c/16 fit
CHANNEL_CASES: tuple[tuple[int, int, int], ...] = (
    (8, 8, 1), (8, 7, 1), (8, 6, 2), (8, 4, 2), (8, 2, 3), (64, 63, 1), (64, 60, 4),
)


def channel_check_table(cases: Sequence[tuple[int, int, int]] = CHANNEL_CASES, *, kernel: int = 3,
                        out_channels: int = 48, size: int = 9, seed: int = 0) -> pd.DataFrame:
    """Channel versatile layers against ``n = (c - c_hat)/g + 1`` and the ``1/(s n)`` parameter ratio.

    ``params`` is what our layer stores (``c_hat`` channels per primary), ``params_official`` what the
    official code stores (all ``c`` channels), ``standard`` the dense layer with the same outputs (no bias).
    ``max |layer - definition|`` compares the layer with ``mask_form`` on random float64 inputs.
    """
    rows = []
    for c, c_hat, g in cases:
        torch.manual_seed(seed)
        layer = VersatileConv2d(c, out_channels, kernel, c_hat=c_hat, g=g, bias=False).double()
        x = torch.randn(1, c, size, size, dtype=torch.double)
        with torch.no_grad():
            y = layer(x)
            diff = _max_diff(y, mask_form(layer, x))
        n_formula = (c - c_hat) / g + 1
        standard = out_channels * c * kernel ** 2
        windows = [f"{j * g}-{j * g + c_hat - 1}" for j in range(layer.n)]
        rows.append({
            "c": c, "c_hat": c_hat, "g": g, "n = (c - c_hat)/g + 1": n_formula, "n (layer)": layer.n,
            "channel windows": ", ".join(windows if len(windows) <= 3 else windows[:2] + ["...", windows[-1]]),
            "primaries": layer.primaries, "weight": "x".join(map(str, layer.weight.shape)),
            "output": "x".join(str(v) for v in y.shape[1:]), "params": layer.weight.numel(),
            "params_official": layer.official_params(), "standard": standard,
            "official / standard": layer.official_params() / standard, "1/(s n)": 1 / (layer.s * layer.n),
            "max |layer - definition|": diff,
        })
    return pd.DataFrame(rows)


def latency_table(channels: int = 64, size: int = 32, batch: int = 8, *, repeats: int = 9, warmup: int = 2,
                  rounds: int = 3, seed: int = 0) -> pd.DataFrame:
    """Live CPU time (one thread) of one 3x3 layer as a standard conv, in crop form, in mask form, masked.

    The mask form convolves with ``dense_weight()`` (built inside the timed call, as training would), the
    learnable-mask layer runs its dense masked kernel. Small on purpose: a few ms per call. After a warm-up
    of every layer, ``repeats`` calls per layer are timed in ``rounds`` round-robin passes.
    """

    torch.manual_seed(seed)
    standard = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    versatile = VersatileConv2d(channels, channels, 3, bias=False)
    masked = LearnableMaskConv2d(channels, channels, 3, strategy="b", bias=False)

    def mask_form_call(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, versatile.dense_weight(), None, 1, 1)

    flops = {"standard conv": 1.0, "versatile v1, crop form (what the layer runs)": 10 / 18,
             "versatile v1, mask form (dense kernel)": 10 / 18, "learned masks (b), dense masked kernel": 10 / 18}
    runners = dict(zip(flops, (standard, versatile, mask_form_call, masked)))
    x = torch.randn(batch, channels, size, size)
    for fn in runners.values():  # first calls build kernels and caches: keep them out of every timing
        measure_latency(fn, x, device="cpu", warmup=warmup, repeats=1, threads=1)
    # round robin, so that a burst of load on a shared machine hits every layer alike
    times: dict[str, list[float]] = {name: [] for name in runners}
    device = ""
    for _ in range(rounds):
        for name, fn in runners.items():
            result = measure_latency(fn, x, device="cpu", warmup=1, repeats=max(1, repeats // rounds), threads=1)
            times[name] += result.times_ms
            device = result.device_name
    rows = []
    for name, values in times.items():
        q25, median, q75 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
        rows.append({"layer": name, "paper FLOPs ratio": flops[name], "median_ms": median, "iqr_ms": q75 - q25,
                     "calls": len(values), "device": device})
    table = pd.DataFrame(rows)
    table["time ratio"] = table["median_ms"] / table["median_ms"].iloc[0]
    return table


def ortho_gradient_check(cases: Sequence[tuple[int, int, int]] = ((2, 3, 1), (2, 3, 16), (3, 5, 4), (4, 7, 2)),
                         *, ortho_weight: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """The closed-form gradient of the orthogonal loss against autograd, for ``(s, d, c)`` mask sets.

    ``L = 1/2 ||M^T M / m - I||_F^2`` with ``M`` the ``m x s`` matrix of vectorised masks (``m = d^2 c``) has
    ``dL/dM = 2/m^2 M M^T M - 2/m M``. Column ``autograd`` differentiates ``orthogonal_loss`` on real-valued
    masks; column ``layer (STE)`` runs ``LearnableMaskConv2d.auxiliary_loss()`` backward: through the
    straight-through binarisation, the proxies get ``ortho_weight`` times the closed form at the binary masks.
    """
    rows = []
    for s, d, c in cases:
        torch.manual_seed(seed)
        m = d * d * c
        rows_t = torch.rand(s, m, dtype=torch.double, requires_grad=True)  # row j = vec(M_j)
        orthogonal_loss(rows_t).backward()
        cols = rows_t.detach().t()
        closed = 2 / m ** 2 * cols @ cols.t() @ cols - 2 / m * cols
        autograd_diff = _max_diff(rows_t.grad, closed.t())

        layer = LearnableMaskConv2d(c, 2 * s, d, strategy="b", ortho_weight=ortho_weight).double()
        with torch.no_grad():
            layer.mask_proxy.uniform_(0, 1)
        layer.auxiliary_loss().backward()
        binary = layer.binary_masks().double().flatten(2)  # (P, s, m)
        closed_b = 2 / m ** 2 * binary @ binary.transpose(1, 2) @ binary - 2 / m * binary
        ste_diff = _max_diff(layer.mask_proxy.grad.flatten(2), ortho_weight * closed_b)
        rows.append({"s": s, "d": d, "c": c, "m = d^2 c": m, "max |closed form|": float(closed.abs().max()),
                     "max |autograd - closed form|": autograd_diff, "max |layer (STE) - closed form|": ste_diff})
    return pd.DataFrame(rows)


def ortho_minimum(kernel: int = 3, channels: int = 1) -> dict[str, float]:
    """Where the orthogonal loss of two binary masks is smallest, by trying every pair of masks.

    With densities ``a, b`` (shares of ones) and overlap ``o`` (share of entries in both), two masks have
    ``L = 1/2 [(a - 1)^2 + (b - 1)^2 + 2 o^2]``, and ``o >= a + b - 1`` since both fit in ``m`` entries.
    Relaxed to real shares the minimum is at ``a = b = 3/5, o = 1/5`` with ``L = 1/5`` (``a = b``; ``o =
    2a - 1``; ``d/da [(a - 1)^2 + (2a - 1)^2] = 0``). Returns the brute-force minimum over all ``4^m`` pairs
    of ``m = d^2 c`` entries (``m <= 10``), the densities and overlap of a minimiser, how many pairs attain
    it, the relaxed optimum, and the loss of the concentric masks the layers start from.
    """
    m = kernel * kernel * channels
    if m > 10:
        raise EffconvError(f"ortho_minimum tries all 4^m mask pairs; m = d^2 c = {m} is too large (use m <= 10).")
    codes = torch.arange(2 ** m)
    bits = ((codes[:, None] >> torch.arange(m)) & 1).double()  # (2^m, m)
    ones = bits.sum(1)
    overlap = bits @ bits.t()  # (2^m, 2^m)
    a, b = ones[:, None] / m, ones[None, :] / m
    loss = 0.5 * ((a - 1) ** 2 + (b - 1) ** 2 + 2 * (overlap / m) ** 2)
    best = float(loss.min())
    where = (loss - best).abs() < 1e-12
    i, j = where.nonzero()[0].tolist()
    rings = concentric_masks(kernel, dtype=torch.double)[:, None].expand(-1, channels, -1, -1).flatten(1)
    ring_density = rings.mean(1)
    return {
        "kernel": kernel, "channels": channels, "m": m, "pairs": 4 ** m, "min_loss": best,
        "minimisers": int(where.sum()),
        "min_density_1": float(ones[i] / m), "min_density_2": float(ones[j] / m),
        "min_overlap": float(overlap[i, j] / m), "min_hamming": float((ones[i] + ones[j] - 2 * overlap[i, j]) / m),
        "relaxed_density": 0.6, "relaxed_overlap": 0.2, "relaxed_hamming": 0.8, "relaxed_loss": 0.2,
        "concentric_loss": float(orthogonal_loss(rings)), "concentric_density": float(ring_density.mean()),
        "concentric_density_1": float(ring_density[0]), "concentric_density_2": float(ring_density[1]),
        "concentric_overlap": float(ring_density.min()),
        "concentric_hamming": float((rings[0] != rings[1]).double().mean()),
    }


def ortho_minimum_table(optimum: dict[str, float]) -> pd.DataFrame:
    """Densities, overlap, Hamming distance and orthogonal loss of two masks (s = 2) at three points:
    the concentric start, the best binary pair and the relaxed optimum (``optimum`` from ``ortho_minimum``)."""
    points = (("concentric (the initialisation)", "concentric_density_1", "concentric_density_2", "concentric"),
              (f"best binary pair, {_shape(optimum)} (all pairs tried)", "min_density_1", "min_density_2", "min"),
              ("relaxed optimum (real-valued shares)", "relaxed_density", "relaxed_density", "relaxed"))
    return pd.DataFrame([{"masks": label, "density 1": optimum[first], "density 2": optimum[second],
                          "overlap": optimum[f"{prefix}_overlap"], "Hamming": optimum[f"{prefix}_hamming"],
                          "L_ortho": optimum[f"{prefix}_loss"]} for label, first, second, prefix in points])


def _shape(optimum: dict[str, float]) -> str:
    """``d x d x c`` of the masks ``ortho_minimum`` tried, for the row label."""
    return f"{optimum['kernel']}x{optimum['kernel']}x{optimum['channels']}"


def mask_drift_bound(model_kwargs: dict, recipe, *, train_size: int = 50_000, batch: int = 32,
                     seed: int = 0) -> pd.DataFrame:
    """Can the learned masks move at all in a training schedule? An order-of-magnitude bound, per strategy.

    Builds the CIFAR VGG-16 of ``model_kwargs`` with each mask strategy, takes one gradient of the task loss
    plus the orthogonal loss on a batch of random inputs and labels (no data needed), and compares each
    proxy's distance to the threshold with the largest distance the schedule could move it if its gradient
    kept this size and one sign throughout: ``|dL/dH| * lr * mask_lr_scale * sum(schedule) / (1 - momentum)``
    (``mask_lr_scale`` from ``model_kwargs["conv_kwargs"]``, 1 if absent). Real gradients change sign and
    size, so the share that "could flip" is an upper bound, and a rough one.
    """

    steps_per_epoch = math.ceil((recipe.train_subset or train_size) / recipe.batch_size)
    total = recipe.epochs * steps_per_epoch
    warmup = min(total - 1, int(recipe.warmup_epochs * steps_per_epoch))
    factor = lr_lambda(recipe.schedule, total, warmup)
    lr_sum = recipe.lr * sum(factor(step) for step in range(total))
    conv_kwargs = dict(model_kwargs.get("conv_kwargs", {}))
    reach_per_grad = lr_sum * conv_kwargs.get("mask_lr_scale", 1.0) / (1 - recipe.momentum)
    rows = []
    for strategy in ("a", "b"):
        torch.manual_seed(seed)
        kwargs = {**model_kwargs, "conv": "versatile_mask", "conv_kwargs": {**conv_kwargs, "strategy": strategy}}
        model = create_model("vgg16_cifar", **{k: v for k, v in kwargs.items() if k != "model"}).train()
        masked = [m for m in model.modules() if isinstance(m, LearnableMaskConv2d)]
        x, labels = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
        loss = F.cross_entropy(model(x), labels) + sum(m.auxiliary_loss() for m in masked)
        loss.backward()
        grad = torch.cat([m.mask_proxy.grad.abs().flatten() for m in masked])
        distance = torch.cat([(m.mask_proxy.detach() - 0.5).abs().flatten() for m in masked])
        rows.append({
            "strategy": strategy, "proxies": grad.numel(), "median |dL/dH|": float(grad.median()),
            "p99 |dL/dH|": float(grad.quantile(0.99)), "median distance to 1/2": float(distance.median()),
            "steps": total, "max reach of the median gradient": float(grad.median()) * reach_per_grad,
            "share that could flip": float((grad * reach_per_grad >= distance).float().mean()),
        })
    return pd.DataFrame(rows)
