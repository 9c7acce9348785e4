"""Cifar-quick: Caffe's small CIFAR-10 network, with BN after each conv as in the ACNet experiments.

Three 5x5 convs (32, 32, 64) each followed by BN, ReLU and a 3x3 stride-2 pooling (max, then
average, average), so 32 -> 15 -> 7 -> 3 and the head sees 64 * 3 * 3 = 576 features; FC 576-64-classes.
"""

from __future__ import annotations

import torch
from torch import nn

from effconv.models._utils import init_weights, scale_channels
from effconv.ops.conv_factory import ConvFactory
from effconv.models.registry import register_model
from effconv.ops.conv_bn import conv_bn


class CifarQuick(nn.Module):
    def __init__(self, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn):
        super().__init__()
        c1, c2, c3 = (scale_channels(c, width) for c in (32, 32, 64))
        self.features = nn.Sequential(
            conv_factory(3, c1, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            conv_factory(c1, c2, 5, padding=2), nn.ReLU(inplace=True), nn.AvgPool2d(3, 2),
            conv_factory(c2, c3, 5, padding=2), nn.ReLU(inplace=True), nn.AvgPool2d(3, 2),
        )
        hidden = scale_channels(64, width)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c3 * 9, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes)
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model
def cifar_quick(*, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn) -> CifarQuick:
    """Cifar-quick with BN (about 0.15M parameters)."""
    return CifarQuick(num_classes, width, conv_factory)
