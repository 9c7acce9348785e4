"""ResNet for CIFAR (He et al. 2016, section 4.2): 3 stages of basic blocks at 16/32/64 channels.

Depth 6n+2: resnet20 (n=3), resnet32 (5), resnet56 (9), resnet110 (18). Shortcuts that change shape
are 1x1 convolutions with BN (projection, "option B"), as in the ACNet authors' re-implementation
the book compares against; the original paper used zero-padded identity shortcuts ("option A").
"""

from __future__ import annotations

import torch
from torch import nn

from effconv.models._utils import init_weights, scale_channels
from effconv.ops.conv_factory import ConvFactory
from effconv.models.registry import register_model
from effconv.ops.conv_bn import conv_bn


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int, conv_factory: ConvFactory):
        super().__init__()
        self.conv1 = conv_factory(in_channels, out_channels, 3, stride=stride)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv_factory(out_channels, out_channels, 3)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks_per_stage: int, num_classes: int = 10, width: float = 1.0,
                 conv_factory: ConvFactory = conv_bn):
        super().__init__()
        widths = [scale_channels(c, width) for c in (16, 32, 64)]
        self.stem = nn.Sequential(conv_factory(3, widths[0], 3), nn.ReLU(inplace=True))
        stages, in_channels = [], widths[0]
        for index, out_channels in enumerate(widths):
            blocks = []
            for block in range(blocks_per_stage):
                stride = 2 if index > 0 and block == 0 else 1
                blocks.append(BasicBlock(in_channels, out_channels, stride, conv_factory))
                in_channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _resnet(depth: int, num_classes: int, width: float, conv_factory: ConvFactory) -> CifarResNet:
    return CifarResNet((depth - 2) // 6, num_classes, width, conv_factory)


@register_model
def resnet20(*, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn) -> CifarResNet:
    """ResNet-20 for CIFAR (0.27M parameters at width 1)."""
    return _resnet(20, num_classes, width, conv_factory)


@register_model
def resnet32(*, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn) -> CifarResNet:
    """ResNet-32 for CIFAR."""
    return _resnet(32, num_classes, width, conv_factory)


@register_model
def resnet56(*, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn) -> CifarResNet:
    """ResNet-56 for CIFAR (0.86M parameters at width 1 with projection shortcuts)."""
    return _resnet(56, num_classes, width, conv_factory)


@register_model
def resnet110(*, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn) -> CifarResNet:
    """ResNet-110 for CIFAR."""
    return _resnet(110, num_classes, width, conv_factory)
