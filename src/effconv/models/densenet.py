"""DenseNet-40 for CIFAR (Huang et al. 2017), the basic variant: growth rate k = 12, no bottleneck
(1x1) layers and no compression (not DenseNet-BC), 3 dense blocks of 12 BN-ReLU-conv3x3 layers, a
16-channel stem, and BN-ReLU-conv1x1-avgpool transitions. About 1.0M parameters.

Each 3x3 conv feeds a concatenation, not a BN, so it is built through the factory with ``bn=False``.
"""

from __future__ import annotations

import torch
from torch import nn

from effconv.models._utils import init_weights, scale_channels
from effconv.ops.conv_factory import ConvFactory
from effconv.models.registry import register_model
from effconv.ops.conv_bn import conv_bn


class DenseLayer(nn.Module):
    def __init__(self, in_channels: int, growth: int, conv_factory: ConvFactory):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv = conv_factory(in_channels, growth, 3, bn=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(self.relu(self.bn(x)))], dim=1)


class Transition(nn.Sequential):
    def __init__(self, channels: int):
        super().__init__(nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
                         nn.Conv2d(channels, channels, 1, bias=False), nn.AvgPool2d(2))


class DenseNet(nn.Module):
    def __init__(self, depth: int = 40, growth: int = 12, num_classes: int = 10, width: float = 1.0,
                 conv_factory: ConvFactory = conv_bn):
        super().__init__()
        layers_per_block = (depth - 4) // 3
        growth = scale_channels(growth, width)
        channels = scale_channels(16, width)
        modules: list[nn.Module] = [conv_factory(3, channels, 3, bn=False)]
        for block in range(3):
            for _ in range(layers_per_block):
                modules.append(DenseLayer(channels, growth, conv_factory))
                channels += growth
            if block < 2:
                modules.append(Transition(channels))
        modules += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*modules)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


@register_model
def densenet40(*, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn) -> DenseNet:
    """DenseNet-40 (k = 12, basic, not BC)."""
    return DenseNet(40, 12, num_classes, width, conv_factory)
