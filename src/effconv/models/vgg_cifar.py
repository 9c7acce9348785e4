"""VGG-16 for CIFAR: 13 conv3x3 + BN + ReLU, five max-pools, a 512-512-classes head.

The layout (64,64 / 128,128 / 256x3 / 512x3 / 512x3) is VGG-16's; the head is the small one that the
CIFAR re-implementations (ACNet's repository, Keras "cifar-vgg") use instead of VGG's 4096-wide FCs.
"""

from __future__ import annotations

import torch
from torch import nn

from effconv.models._utils import init_weights, scale_channels
from effconv.ops.conv_factory import ConvFactory
from effconv.models.registry import register_model
from effconv.ops.conv_bn import conv_bn

VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class CifarVGG(nn.Module):
    def __init__(self, layout=VGG16_LAYOUT, num_classes: int = 10, width: float = 1.0,
                 conv_factory: ConvFactory = conv_bn, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                out_channels = scale_channels(item, width)
                layers += [conv_factory(in_channels, out_channels, 3), nn.ReLU(inplace=True)]
                in_channels = out_channels
        self.features = nn.Sequential(*layers)
        hidden = scale_channels(512, width)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_channels, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, num_classes),
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model
def vgg16_cifar(*, num_classes: int = 10, width: float = 1.0, conv_factory: ConvFactory = conv_bn,
                dropout: float = 0.0) -> CifarVGG:
    """VGG-16 for 32x32 inputs (13 conv3x3 + BN, 15.0M parameters at width 1)."""
    return CifarVGG(VGG16_LAYOUT, num_classes, width, conv_factory, dropout)
