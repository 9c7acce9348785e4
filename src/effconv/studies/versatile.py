"""Chapter 5, Versatile filters: what the chapter computes without training (phase 1).

- ``complexity(model)``: parameters, memory and FLOPs of a model in the papers' conventions.
- ``imagenet_complexity()``: ResNet-50 and VGG-16 (torchvision, counted on the meta device) against
  their spatial (v1) and spatial + channel (v2) versatile versions, next to the published numbers.
- ``cifar_vgg16_complexity()``: the CIFAR-10 VGG-16 of the model zoo with each conv factory of the chapter.

Conventions, checked against the published numbers (see the chapter): "FLOPs" are multiply-adds;
"memory" is the model size, 32-bit parameters in MB of 2^20 bytes (ResNet-50's 25.56M parameters give
97.5 MB against the published 97.2; 10^6-byte MB would give 102.2), without feature maps. Learned masks
add one bit per mask entry. Which layers become versatile follows the official code: every convolution
(the RGB input layer included) and, in VGG-16, the first fully connected layer run as the 7x7
convolution it is on the 7x7 feature map (s = 4); the last two FC layers stay linear. v2 uses the
official spatial+channel setting c_hat = c - 1, g = 1 (n = 2) on every convolution, 1x1 included.
"""

from __future__ import annotations

import math
import statistics
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops.versatile import VersatileConv2d, concentric_masks, convert, cost_convention, num_secondary
from effconv.ops.versatile_masks import LearnableMaskConv2d, orthogonal_loss
from effconv.studies.paper import paper_value

CHAPTER = "versatile"
MB = 2 ** 20  # bytes per MB in the papers' memory column
BYTES_PER_PARAM = 4


def complexity(model: nn.Module, input_size: int | tuple[int, ...] = (3, 224, 224)) -> dict[str, float]:
    """Parameters, memory and multiply-adds of ``model`` for one input.

    Returns ``params`` (stored weights and biases, learnable-mask proxies left out), ``params_official``
    (``params`` with every versatile primary counted over all ``c`` input channels, as the official code
    stores it), ``mask_bits``, ``memory_mb`` / ``memory_mb_official`` (4 bytes per parameter plus the mask
    bits, in MB of 2^20 bytes), ``macs`` (paper convention: secondary filters at their effective size)
    and ``macs_executed`` (what the forward pass runs).
    """
    proxies = sum(p.numel() for m in model.modules() if isinstance(m, LearnableMaskConv2d)
                  for p in m.mask_parameters())
    mask_bits = sum(m.mask_bits() for m in model.modules() if isinstance(m, LearnableMaskConv2d))
    paper = count_flops(model, input_size)
    with cost_convention(model, "executed"):
        executed = count_flops(model, input_size)
    params = paper.params - proxies
    unused = sum(m.official_params() - sum(p.numel() for p in m.parameters())
                 for m in model.modules() if isinstance(m, VersatileConv2d))
    memory = (params * BYTES_PER_PARAM + mask_bits / 8) / MB
    return {
        "params": params, "params_official": params + unused, "mask_bits": mask_bits,
        "memory_mb": memory, "memory_mb_official": memory + unused * BYTES_PER_PARAM / MB,
        "macs": paper.macs, "macs_executed": executed.macs,
    }


class _ConvOnFlattened(nn.Sequential):
    """A conv applied to a flattened feature map: VGG's fc6 as the 7x7 convolution it is."""

    def __init__(self, conv: nn.Module, shape: tuple[int, int, int]):
        super().__init__(nn.Unflatten(1, shape), conv, nn.Flatten(1))


def vgg_fc6_as_conv(model: torchvision.models.VGG) -> torchvision.models.VGG:
    """Replace torchvision VGG's first FC layer (25088 -> 4096) by the equal 7x7 ``nn.Conv2d`` (in place).

    The official versatile VGG-16 runs fc6 as a 7x7 convolution, so ``convert`` then makes it versatile.
    """
    fc6 = model.classifier[0] if isinstance(model, torchvision.models.VGG) else None
    if not isinstance(fc6, nn.Linear) or fc6.in_features != 512 * 7 * 7:
        raise EffconvError("vgg_fc6_as_conv needs a torchvision VGG whose classifier starts with Linear(25088, ...).")
    with torch.device(fc6.weight.device):
        conv = nn.Conv2d(512, fc6.out_features, 7, padding=0, bias=fc6.bias is not None)
    model.classifier[0] = _ConvOnFlattened(conv, (512, 7, 7))
    return model


def _one_sixteenth(channels: int) -> int:
    return max(1, channels // 16)


_RESNET50 = {"params": "resnet50_params", "memory": "coco_resnet50_memory", "gflops": "resnet50_gflops"}
_RESNET50_V1 = {"memory": "coco_resnet50_v1_memory", "gflops": "coco_resnet50_v1_gflops"}
_RESNET50_V2 = {"params": "resnet50_v2_params", "memory": "coco_resnet50_v2_memory",
                "gflops": "coco_resnet50_v2_gflops"}

# name -> (torchvision builder, variant, convert kwargs, keys of the published values, note)
IMAGENET_MODELS: dict[str, tuple[Callable[..., nn.Module], str | None, dict, dict[str, str], str]] = {
    "ResNet-50": (torchvision.models.resnet50, None, {}, _RESNET50, "torchvision resnet50"),
    "Versatile-v1 ResNet-50": (torchvision.models.resnet50, "v1", {}, _RESNET50_V1,
                               "7x7 stem (s=4) and 3x3 convs (s=2) spatially versatile; 1x1 convs plain"),
    "Versatile-v2 ResNet-50": (torchvision.models.resnet50, "v2", {}, _RESNET50_V2,
                               "official setting c_hat = c - 1, g = 1 (n = 2) on every conv"),
    "Versatile-v2 ResNet-50 (c_hat = 15c/16)": (
        torchvision.models.resnet50, "v2", {"delta": _one_sixteenth, "g": _one_sixteenth}, _RESNET50_V2,
        "our fit, not a published setting: c - c_hat = g = c/16 (n = 2)"),
    "VGG-16": (torchvision.models.vgg16, None, {}, {}, "torchvision vgg16"),
    "Versatile-v1 VGG-16": (torchvision.models.vgg16, "v1", {}, {}, "13 convs (s=2) and fc6 as 7x7 conv (s=4)"),
    "Versatile-v2 VGG-16": (torchvision.models.vgg16, "v2", {}, {},
                            "as v1 plus c_hat = c - 1, g = 1 (n = 2), the RGB layer included"),
}


def build_imagenet_model(name: str, device: str | torch.device = "meta") -> nn.Module:
    """One of ``IMAGENET_MODELS``, untrained, on ``device`` (meta: free to build and count)."""
    if name not in IMAGENET_MODELS:
        raise EffconvError(f"unknown ImageNet model {name!r}; known: {', '.join(IMAGENET_MODELS)}.")
    builder, variant, kwargs, _, _ = IMAGENET_MODELS[name]
    with torch.device(device):
        model = builder(weights=None)
    if variant is not None:
        if isinstance(model, torchvision.models.VGG):
            vgg_fc6_as_conv(model)
        convert(model, variant, **kwargs)
    return model


def _published(keys: dict[str, str], quantity: str) -> float:
    """The published value of ``quantity`` for a row, NaN where none was published."""
    return float(paper_value(CHAPTER, keys[quantity]).value) if quantity in keys else float("nan")


def imagenet_complexity() -> pd.DataFrame:
    """Counted parameters (M), memory (MB) and GFLOPs at 224x224 next to the published ones.

    Memory and parameters are compared in the official storage convention (``params_official``), since
    the published numbers come from the official code; ``params_M`` is what our layers store.
    """
    rows = []
    for name, (_, variant, _, keys, note) in IMAGENET_MODELS.items():
        counts = complexity(build_imagenet_model(name), (3, 224, 224))
        row = {
            "model": name, "variant": variant or "baseline",
            "params_M": counts["params"] / 1e6, "params_official_M": counts["params_official"] / 1e6,
            "memory_MB": counts["memory_mb_official"], "GFLOPs": counts["macs"] / 1e9,
            "paper_params_M": _published(keys, "params"), "paper_memory_MB": _published(keys, "memory"),
            "paper_GFLOPs": _published(keys, "gflops"), "note": note,
        }
        row["delta_params_M"] = row["params_official_M"] - row["paper_params_M"]
        row["delta_memory_MB"] = row["memory_MB"] - row["paper_memory_MB"]
        row["delta_GFLOPs"] = row["GFLOPs"] - row["paper_GFLOPs"]
        rows.append(row)
    return pd.DataFrame(rows)


# label -> (conv factory, its kwargs)
CIFAR_VARIANTS: dict[str, tuple[str | None, dict]] = {
    "baseline": (None, {}),
    "versatile v1": ("versatile_v1", {}),
    "versatile v2": ("versatile_v2", {}),
    "learned masks (a)": ("versatile_mask", {"strategy": "a"}),
    "learned masks (b)": ("versatile_mask", {"strategy": "b"}),
    "learned masks (b), lambda = 0": ("versatile_mask", {"strategy": "b", "ortho_weight": 0.0}),
}


def cifar_vgg16_complexity(width: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """CIFAR-10 VGG-16 (model zoo) with each conv factory of the chapter, counted at 32x32 on the cpu.

    Learned masks are counted at their initialisation (the concentric masks), where their paper-convention
    FLOPs equal v1's; after training, count the trained model with ``complexity``.
    """
    rows = []
    for label, (conv, kwargs) in CIFAR_VARIANTS.items():
        torch.manual_seed(seed)
        model = create_model("vgg16_cifar", width=width, conv=conv, conv_kwargs=kwargs or None)
        counts = complexity(model, (3, 32, 32))
        rows.append({
            "model": label, "params_M": counts["params"] / 1e6, "mask_Mbit": counts["mask_bits"] / 1e6,
            "memory_MB": counts["memory_mb"], "MFLOPs": counts["macs"] / 1e6,
            "MFLOPs_executed": counts["macs_executed"] / 1e6,
        })
    table = pd.DataFrame(rows)
    base = table.iloc[0]
    table["params_ratio"] = table["params_M"] / base["params_M"]
    table["memory_ratio"] = table["memory_MB"] / base["memory_MB"]
    table["FLOPs_ratio"] = table["MFLOPs"] / base["MFLOPs"]
    return table


# ---------------------------------------------------------------------------------------------
# Live checks shown in the chapter (phase 2): definitions against the layers, costs, the loss
# ---------------------------------------------------------------------------------------------

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


def layer_cost_table(channels: int = 64, out_channels: int = 64, size: int = 32, kernel: int = 3,
                     seed: int = 0) -> pd.DataFrame:
    """One ``channels -> out_channels`` layer at ``size x size`` in every form of the chapter, counted.

    Columns: stored parameters, the official storage, mask bits, multiply-adds in the paper convention and
    as executed, each relative to the standard convolution; ``expected`` is the closed form of the
    paper-convention FLOPs ratio, ``sum_i (d - 2i)^2 / (s d^2)`` times ``c_hat / c``.
    """
    torch.manual_seed(seed)
    d = kernel
    s = num_secondary(d)
    ring_share = sum((d - 2 * i) ** 2 for i in range(s)) / (s * d ** 2)
    fit = _one_sixteenth(channels)
    layers: dict[str, tuple[nn.Module, float]] = {
        "standard conv": (nn.Conv2d(channels, out_channels, d, padding=d // 2, bias=False), 1.0),
        "versatile v1 (spatial)": (VersatileConv2d(channels, out_channels, d, bias=False), ring_share),
        "versatile v2, c_hat = c - 1, g = 1 (official)": (
            VersatileConv2d(channels, out_channels, d, c_hat=channels - 1, g=1, bias=False),
            ring_share * (channels - 1) / channels),
        f"versatile v2, c_hat = c - {fit}, g = {fit} (our c/16 fit)": (
            VersatileConv2d(channels, out_channels, d, c_hat=channels - fit, g=fit, bias=False),
            ring_share * (channels - fit) / channels),
        "learned masks (a), at init": (LearnableMaskConv2d(channels, out_channels, d, strategy="a", bias=False),
                                       ring_share),
        "learned masks (b), at init": (LearnableMaskConv2d(channels, out_channels, d, strategy="b", bias=False),
                                       ring_share),
    }
    rows = []
    for name, (layer, expected) in layers.items():
        counts = complexity(layer, (channels, size, size))
        rows.append({"layer": name, "params": counts["params"], "params_official": counts["params_official"],
                     "mask_bits": counts["mask_bits"], "macs": counts["macs"],
                     "macs_executed": counts["macs_executed"], "expected FLOPs ratio": expected})
    table = pd.DataFrame(rows)
    base = table.iloc[0]
    table["params_official ratio"] = table["params_official"] / base["params"]
    table["FLOPs ratio"] = table["macs"] / base["macs"]
    table["executed ratio"] = table["macs_executed"] / base["macs"]
    return table


def latency_table(channels: int = 64, size: int = 32, batch: int = 8, *, repeats: int = 9, warmup: int = 2,
                  rounds: int = 3, seed: int = 0) -> pd.DataFrame:
    """Live CPU time (one thread) of one 3x3 layer as a standard conv, in crop form, in mask form, masked.

    The mask form convolves with ``dense_weight()`` (built inside the timed call, as training would), the
    learnable-mask layer runs its dense masked kernel. Small on purpose: a few ms per call. After a warm-up
    of every layer, ``repeats`` calls per layer are timed in ``rounds`` round-robin passes.
    """
    from effconv.analysis.latency import measure_latency

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
        "m": m, "pairs": 4 ** m, "min_loss": best, "minimisers": int(where.sum()),
        "min_density_1": float(ones[i] / m), "min_density_2": float(ones[j] / m),
        "min_overlap": float(overlap[i, j] / m), "min_hamming": float((ones[i] + ones[j] - 2 * overlap[i, j]) / m),
        "relaxed_density": 0.6, "relaxed_overlap": 0.2, "relaxed_hamming": 0.8, "relaxed_loss": 0.2,
        "concentric_loss": float(orthogonal_loss(rings)), "concentric_density": float(ring_density.mean()),
        "concentric_overlap": float(ring_density.min()),
        "concentric_hamming": float((rings[0] != rings[1]).double().mean()),
    }


def plot_concentric_masks(sizes: Sequence[int] = (3, 5, 7)) -> plt.Figure:
    """The concentric masks of each kernel size: one row per ``d``, one panel per secondary filter."""
    cols = max(num_secondary(d) for d in sizes)
    fig, axes = plt.subplots(len(sizes), cols, figsize=(1.6 * cols + 0.6, 1.6 * len(sizes)), squeeze=False)
    for r, d in enumerate(sizes):
        masks = concentric_masks(d)
        for i in range(cols):
            ax = axes[r][i]
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= masks.shape[0]:
                ax.axis("off")
                continue
            ax.imshow(masks[i].numpy(), cmap="Greys", vmin=0, vmax=1.4)
            ax.set_xticks([x - 0.5 for x in range(1, d)], minor=True)
            ax.set_yticks([x - 0.5 for x in range(1, d)], minor=True)
            ax.grid(which="minor", color="white", linewidth=0.8)
            ax.tick_params(which="minor", length=0)
            ax.set_title(f"d={d}, i={i + 1}: {d - 2 * i}x{d - 2 * i}", fontsize=8)
    fig.suptitle("Concentric masks: secondary i keeps the centre (d - 2(i-1)) x (d - 2(i-1)) window", fontsize=9)
    fig.tight_layout()
    return fig


def memory_offsets(table: pd.DataFrame) -> pd.DataFrame:
    """For the published ImageNet rows with a memory figure: how far ours is above it, in MB and in parameters.

    ``table`` is ``imagenet_complexity()``; rows of our own fit (note "our fit ...") are left out.

    A gap that is the same for every row, larger than the rounding of the published figures (0.05 MB,
    about 13 thousand 32-bit parameters), points to something counted on one side only.
    """
    rows = table[table["paper_memory_MB"].notna() & ~table["note"].str.startswith("our fit")]
    out = pd.DataFrame({
        "model": rows["model"], "ours_MB": rows["memory_MB"], "paper_MB": rows["paper_memory_MB"],
        "delta_MB": rows["delta_memory_MB"],
        "delta_kparams": rows["delta_memory_MB"] * MB / BYTES_PER_PARAM / 1e3,
        "rounding_kparams": 0.05 * MB / BYTES_PER_PARAM / 1e3,
    })
    return out.reset_index(drop=True)


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
    from effconv.train.module import lr_lambda

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


def ledger(profile: str = "best"):
    """The chapter's committed claims, graded by ``effconv.claims.rules`` (see ``versatile_claims``)."""
    from effconv.studies.versatile_claims import ledger as build

    return build(profile)
