"""Chapter 1, splitting and grouping convolutions: the layers and networks the survey counts.

Nothing here trains. Costs are counted by ``count_flops`` on real layers and real networks (built on
the ``meta`` device, so counting an ImageNet model does no arithmetic); ``report`` turns the counts into
the chapter's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd
import torch
import torchvision
from torch import nn

from effconv.analysis.flops import FlopCount, count_flops
from effconv.errors import EffconvError
from effconv.models.mobilenet_v1 import MobileNetV1
from effconv.models.xception import Xception
from effconv.ops.octconv import OctConv2d, split_octave
from effconv.ops.separable import DepthwiseSeparableConv, check_groups, grouped_conv
from effconv.studies.paper import PaperValue, paper_value
from effconv.studies.splitting.plan import CHAPTER

OCTAVE_ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75, 0.875, 1.0)


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """Build a model on the meta device: shapes only, so counting is instant and allocates nothing."""
    with torch.device("meta"):
        return build()


# ---------------------------------------------------------------------------------------------
# 1. Cost formulas, checked on real layers
# ---------------------------------------------------------------------------------------------

def count_layer(layer: nn.Module, channels: int, size: int) -> FlopCount:
    return count_flops(layer, (channels, size, size))


def separable_ratio_points(ns: Sequence[int] = (8, 16, 32, 64, 128, 256, 512, 1024),
                           kernels: Sequence[int] = (3, 5), in_channels: int = 64, size: int = 14) -> pd.DataFrame:
    """Counted cost of depthwise separable / dense conv for N outputs, beside 1/N + 1/Dk^2."""
    rows = []
    for k in kernels:
        for n in ns:
            dense = count_layer(on_meta(lambda: nn.Conv2d(in_channels, n, k, padding=k // 2, bias=False)), in_channels, size)
            split = count_layer(on_meta(lambda: DepthwiseSeparableConv(in_channels, n, k, bias=False)), in_channels, size)
            rows.append({"N": n, "kernel": f"{k}x{k}", "counted": split.macs / dense.macs, "formula": 1 / n + 1 / k**2})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class BlockShape:
    """One layer of a real network, the shape the chapter's three designs are drawn and counted at."""

    in_channels: int
    out_channels: int
    size: int        # the input map's side
    kernel: int
    groups: int      # for the grouped design (the separable design's depthwise groups are in_channels)


def mobilenet_first_block(groups: int = 4) -> BlockShape:
    """MobileNet v1's first depthwise-separable layer (read off our model, at 224x224 input): its channels,
    map size and kernel. ``groups`` is the grouped design's choice (it must divide both channel counts)."""
    model = on_meta(MobileNetV1)
    layer = model.features[1]
    size = count_flops(model, 224).by_layer.set_index("name").loc["features.0.0.conv", "output"][-1]
    shape = BlockShape(layer.depthwise.in_channels, layer.pointwise.out_channels, int(size),
                       layer.depthwise.kernel_size[0], groups)
    check_groups(shape.in_channels, shape.out_channels, groups)
    return shape


def block_designs(shape: BlockShape) -> dict[str, nn.Module]:
    """The three ways to map ``shape``'s inputs to its outputs, by reader name: a dense kxk conv, the
    depthwise-separable pair (kxk depthwise, then 1x1 pointwise) and a grouped kxk conv (no bias, no BN)."""
    c, n, k = shape.in_channels, shape.out_channels, shape.kernel
    return {
        f"dense {k}x{k} conv": on_meta(lambda: nn.Conv2d(c, n, k, padding=k // 2, bias=False)),
        "depthwise-separable pair": on_meta(lambda: DepthwiseSeparableConv(c, n, k, bias=False)),
        f"grouped {k}x{k} conv, g = {shape.groups}": on_meta(lambda: grouped_conv(c, n, k, shape.groups)),
    }


def block_costs(shape: BlockShape) -> pd.DataFrame:
    """Weights and multiply-adds of each of ``block_designs(shape)``, counted, with their ratio to the dense conv."""
    rows = []
    for name, block in block_designs(shape).items():
        got = count_layer(block, shape.in_channels, shape.size)
        rows.append({"design": name, "params": got.params, "macs": got.macs})
    table = pd.DataFrame(rows)
    table["macs_ratio"] = table["macs"] / table["macs"].iloc[0]
    return table


# ---------------------------------------------------------------------------------------------
# 2. Octave convolution
# ---------------------------------------------------------------------------------------------

class OctaveProbe(nn.Module):
    """Feeds one OctConv2d layer a ``(high, low)`` pair cut from a plain tensor, for counting."""

    def __init__(self, layer: OctConv2d, alpha: float):
        super().__init__()
        self.layer, self.alpha = layer, alpha

    def forward(self, x):
        return self.layer(split_octave(x, self.alpha))


# ---------------------------------------------------------------------------------------------
# 3. MobileNet v1
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """One row of the MobileNet tables: width multiplier, input size, separable or dense."""

    label: str
    width: float
    size: int
    separable: bool
    key: str  # prefix of its paper values


MOBILENET_VARIANTS = (
    Variant("1.0 MobileNet-224", 1.0, 224, True, "mobilenet"),
    Variant("0.75 MobileNet-224", 0.75, 224, True, "mobilenet_075"),
    Variant("0.5 MobileNet-224", 0.5, 224, True, "mobilenet_050"),
    Variant("0.25 MobileNet-224", 0.25, 224, True, "mobilenet_025"),
    Variant("1.0 MobileNet-192", 1.0, 192, True, "mobilenet_res192"),
    Variant("1.0 MobileNet-160", 1.0, 160, True, "mobilenet_res160"),
    Variant("1.0 MobileNet-128", 1.0, 128, True, "mobilenet_res128"),
    Variant("0.5 MobileNet-160", 0.5, 160, True, "mobilenet_050_160"),
    Variant("Conv MobileNet-224", 1.0, 224, False, "conv_mobilenet"),
)


def maybe_paper_value(key: str) -> PaperValue | None:
    try:
        return paper_value(CHAPTER, key)
    except EffconvError:  # this variant has no published value of that kind
        return None


def conv_weights(model: nn.Module) -> int:
    """Number of conv and FC weights (no biases, no BN): the parameters MobileNet's tables count."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


# kinds in count_flops' per-layer table -> the row names of MobileNet's Table 2
TABLE2_ROWS = {"conv 1x1": "conv1x1", "depthwise 3x3": "depthwise", "conv 3x3": "conv3x3", "linear": "fc"}


def weight_shares(model: nn.Module, count: FlopCount) -> pd.DataFrame:
    """Share of mult-adds and of *weights* per layer kind (biases and BN left out, as Table 2 does)."""
    table = count.by_layer[count.by_layer["macs"] > 0].copy()
    table["weights"] = [model.get_submodule(name).weight.numel() for name in table["name"]]
    grouped = table.groupby("kind")[["macs", "weights"]].sum()
    return pd.DataFrame({
        "macs_%": 100 * grouped["macs"] / grouped["macs"].sum(),
        "weights_%": 100 * grouped["weights"] / grouped["weights"].sum(),
    }).sort_values("macs_%", ascending=False)


# ---------------------------------------------------------------------------------------------
# 4. The reference networks: VGG-16, AlexNet, SqueezeNet, Xception, Inception V3
# ---------------------------------------------------------------------------------------------

def alexnet_two_tower(num_classes: int = 1000) -> nn.Sequential:
    """Krizhevsky et al.'s AlexNet as trained on two GPUs, written as grouped convolutions.

    Conv2, conv4 and conv5 only see the half of the channels on their own GPU (``groups=2``);
    conv1, conv3 and the FC layers see everything. Its 227x227 input makes the sizes work out
    (55, 27, 13, 6). torchvision's ``alexnet`` is the later one-GPU variant (64/192/384/256/256
    channels, no groups).
    """
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, 4), nn.ReLU(), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, num_classes),
    )


def torchvision_builder(name: str, **kwargs) -> Callable[[], nn.Module]:
    return lambda: torchvision.models.get_model(name, weights=None, **kwargs)


def reference_counts() -> dict[str, FlopCount]:
    """Counted cost of every network the chapter compares, keyed by a short name."""
    builds = {
        "mobilenet_v1": (MobileNetV1, 224),
        "vgg16": (torchvision_builder("vgg16"), 224),
        "vgg16_features": (lambda: torchvision.models.vgg16(weights=None).features, 224),
        "alexnet_torchvision": (torchvision_builder("alexnet"), 224),
        "alexnet_two_tower": (alexnet_two_tower, 227),
        "squeezenet1_0_224": (torchvision_builder("squeezenet1_0"), 224),
        "squeezenet1_0_227": (torchvision_builder("squeezenet1_0"), 227),
        "xception": (Xception, 299),
        "inception_v3": (torchvision_builder("inception_v3", aux_logits=False, init_weights=False), 299),
    }
    return {name: count_flops(on_meta(build), size) for name, (build, size) in builds.items()}


# ---------------------------------------------------------------------------------------------
# 5. FLOPs are not latency
# ---------------------------------------------------------------------------------------------

def latency_layers(channels: int, groups: Sequence[int]) -> dict[str, nn.Module]:
    """Layers of one input/output shape: dense, grouped, depthwise separable (no BN, no bias)."""
    layers = {"dense": nn.Conv2d(channels, channels, 3, padding=1, bias=False)}
    for g in groups:
        layers[f"grouped g={g}"] = grouped_conv(channels, channels, 3, g)
    layers["depthwise separable"] = DepthwiseSeparableConv(channels, channels, 3, bias=False)
    return layers


