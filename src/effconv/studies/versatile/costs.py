"""Chapter 5, Versatile filters: what the layers and networks cost, counted in the papers' conventions.

- ``complexity(model)``: parameters, memory and FLOPs of a model.
- ``imagenet_complexity()``: ResNet-50 and VGG-16 (torchvision, counted on the meta device) against
  their spatial (v1) and spatial + channel (v2) versatile versions, next to the published numbers;
  ``memory_offsets`` reads the gap to the published memory column.
- ``cifar_vgg16_complexity()``: the CIFAR-10 VGG-16 of the model zoo with each conv factory of the chapter.
- ``layer_cost_table()``: one layer in every form of the chapter.

Conventions, checked against the published numbers (see the chapter): "FLOPs" are multiply-adds;
"memory" is the model size, 32-bit parameters in MB of 2^20 bytes (ResNet-50's 25.56M parameters give
97.5 MB against the published 97.2; 10^6-byte MB would give 102.2), without feature maps. Learned masks
add one bit per mask entry. Which layers become versatile follows the official code: every convolution
(the RGB input layer included) and, in VGG-16, the first fully connected layer run as the 7x7
convolution it is on the 7x7 feature map (s = 4); the last two FC layers stay linear. v2 uses the
official spatial+channel setting c_hat = c - 1, g = 1 (n = 2) on every convolution, 1x1 included.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd
import torch
import torchvision
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops.versatile import VersatileConv2d, convert, cost_convention, num_secondary
from effconv.ops.versatile_masks import LearnableMaskConv2d
from effconv.studies.paper import paper_value
from effconv.studies.versatile.plan import CHAPTER

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
    return ratios_to_first_row(pd.DataFrame(rows), {"params_ratio": ("params_M", "params_M"),
                                                    "memory_ratio": ("memory_MB", "memory_MB"),
                                                    "FLOPs_ratio": ("MFLOPs", "MFLOPs")})


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
    return ratios_to_first_row(pd.DataFrame(rows), {"params_official ratio": ("params_official", "params"),
                                                    "FLOPs ratio": ("macs", "macs"),
                                                    "executed ratio": ("macs_executed", "macs")})


def ratios_to_first_row(table: pd.DataFrame, ratios: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Adds ``name = table[column] / first row's reference column`` for each ``name: (column, reference)``:
    the first row is the standard model or layer every form is compared with."""
    base = table.iloc[0]
    for name, (column, reference) in ratios.items():
        table[name] = table[column] / base[reference]
    return table


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


def memory_ratio_gap(offsets: pd.DataFrame) -> float:
    """The largest relative gap between our memory ratio to the first row (the baseline) and the published
    ratio, over the other rows of ``memory_offsets``: a convention offset common to both sides almost
    cancels in a ratio, so this is how far the counts agree once it is taken out."""
    if len(offsets) < 2:
        raise EffconvError("memory_ratio_gap needs the baseline and at least one other published row; "
                           "pass memory_offsets(imagenet_complexity()).")
    base = offsets.iloc[0]
    return max(abs((row.ours_MB / base["ours_MB"]) / (row.paper_MB / base["paper_MB"]) - 1)
               for row in offsets.iloc[1:].itertuples())
