"""Wide ResNet for CIFAR (Zagoruyko & Komodakis 2016): pre-activation blocks, widening factor k.

WRN-d-k has (d-4)/6 blocks per stage at 16k/32k/64k channels after a 16-channel stem. In the
pre-activation layout BN-ReLU comes *before* each conv, so through the conv factory the first conv of
a block is built with its BN (the BN that follows it) and the second conv, which feeds the residual
addition, without one (``bn=False``).
"""

from __future__ import annotations

import torch
from torch import nn

from effconv.models._utils import init_weights, scale_channels
from effconv.ops.conv_factory import ConvFactory
from effconv.models.registry import register_model
from effconv.ops.conv_bn import conv_bn


class PreActBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int, conv_factory: ConvFactory,
                 dropout: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv_factory(in_channels, out_channels, 3, stride=stride, bn=True)  # conv + bn2
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv_factory(out_channels, out_channels, 3, bn=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        residual = x if self.shortcut is None else self.shortcut(pre)
        out = self.dropout(self.relu(self.conv1(pre)))
        return self.conv2(out) + residual


class WideResNet(nn.Module):
    def __init__(self, depth: int, widen: int, num_classes: int = 10, width: float = 1.0,
                 conv_factory: ConvFactory = conv_bn, dropout: float = 0.0):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n+4, got {depth}")
        blocks = (depth - 4) // 6
        stem = scale_channels(16, width)
        widths = [scale_channels(c * widen, width) for c in (16, 32, 64)]
        self.stem = conv_factory(3, stem, 3, bn=False)
        stages, in_channels = [], stem
        for index, out_channels in enumerate(widths):
            layer = []
            for block in range(blocks):
                stride = 2 if index > 0 and block == 0 else 1
                layer.append(PreActBlock(in_channels, out_channels, stride, conv_factory, dropout))
                in_channels = out_channels
            stages.append(nn.Sequential(*layer))
        self.stages = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.stages(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


@register_model
def wrn16_8(*, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn,
            dropout: float = 0.0) -> WideResNet:
    """WRN-16-8 (11.0M parameters at width 1)."""
    return WideResNet(16, 8, num_classes, width, conv_factory, dropout)
