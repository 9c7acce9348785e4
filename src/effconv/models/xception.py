"""Xception (Chollet 2017) for 299x299 ImageNet: Inception modules taken to the extreme.

Every convolution after the two-conv stem is depthwise-separable (a 3x3 depthwise conv then a 1x1
conv, with nothing between them: the paper found an intermediate ReLU hurts). The network has 36
such convolutions in 14 blocks, all but the first and last with a residual connection:

- entry flow: stem (3x3 stride 2 to 32, 3x3 to 64, both unpadded), then three downsampling blocks
  (128, 256, 728 channels), each two separable convs + BN, a 3x3 stride-2 max pool, and a strided
  1x1 conv + BN on the shortcut;
- middle flow: eight blocks of three ReLU -> separable conv (728) -> BN, identity shortcut;
- exit flow: a downsampling block (728 then 1024 channels), two separable convs (1536, 2048) with
  BN + ReLU, global average pooling and a fully connected layer.

Convolutions have no bias (BN follows each); the parameter count includes BN's scale and shift,
which is how Keras (the paper's framework) reports trainable parameters.
"""

from __future__ import annotations

from torch import nn

from effconv.models.registry import register_model
from effconv.ops.separable import DepthwiseSeparableConv


def _sep_bn(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [DepthwiseSeparableConv(in_channels, out_channels, 3, bias=False), nn.BatchNorm2d(out_channels)]


class DownBlock(nn.Module):
    """Two separable convs and a stride-2 max pool, with a strided 1x1 conv on the shortcut."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, relu_first: bool = True):
        super().__init__()
        layers: list[nn.Module] = [nn.ReLU()] if relu_first else []
        layers += _sep_bn(in_channels, mid_channels) + [nn.ReLU()] + _sep_bn(mid_channels, out_channels)
        layers.append(nn.MaxPool2d(3, 2, padding=1))
        self.body = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, 2, bias=False),
                                      nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class MiddleBlock(nn.Module):
    """Three ReLU -> separable conv -> BN steps around an identity shortcut."""

    def __init__(self, channels: int = 728):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += [nn.ReLU()] + _sep_bn(channels, channels)
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x) + x


class Xception(nn.Module):
    """Xception with ``middle_blocks`` repetitions of the middle flow (8 in the paper)."""

    def __init__(self, num_classes: int = 1000, middle_blocks: int = 8):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        )
        self.entry = nn.Sequential(
            DownBlock(64, 128, 128, relu_first=False),  # the stem already ends with a ReLU
            DownBlock(128, 256, 256),
            DownBlock(256, 728, 728),
        )
        self.middle = nn.Sequential(*(MiddleBlock(728) for _ in range(middle_blocks)))
        self.exit = nn.Sequential(
            DownBlock(728, 728, 1024),
            *_sep_bn(1024, 1536), nn.ReLU(),
            *_sep_bn(1536, 2048), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        x = self.exit(self.middle(self.entry(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


@register_model
def xception(*, num_classes: int = 1000) -> Xception:
    """Xception for 299x299 inputs (the paper's ImageNet setting)."""
    return Xception(num_classes=num_classes)
