"""MobileNet v1 (Howard et al. 2017) for 224x224 ImageNet, and its "Conv MobileNet" twin.

The body is a 3x3 stride-2 stem and 13 depthwise-separable layers (each: depthwise 3x3 + BN + ReLU,
pointwise 1x1 + BN + ReLU), then global average pooling and one fully connected layer. The width
multiplier scales every channel count; the resolution multiplier is simply the input size
(``count_flops(model, 192)``). ``separable=False`` replaces every depthwise-separable layer by a
dense 3x3 convolution with the same input, output and stride: the paper's "Conv MobileNet" of its
Table 4.
"""

from __future__ import annotations

from torch import nn

from effconv.errors import EffconvError
from effconv.models._utils import scale_channels
from effconv.models.registry import register_model
from effconv.ops.conv_bn import ConvBN
from effconv.ops.separable import DepthwiseSeparableConv

STEM_CHANNELS = 32
# (output channels, stride) of the 13 depthwise-separable layers, the paper's Table 1.
# The paper's table prints stride 2 for the second-to-last layer too, but its 7x7 output (and every
# released implementation) says stride 1.
LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(ConvBN(in_channels, out_channels, 3, stride), nn.ReLU(inplace=True))


class MobileNetV1(nn.Module):
    """MobileNet v1 with width multiplier ``width``; ``separable=False`` gives Conv MobileNet."""

    def __init__(self, num_classes: int = 1000, width: float = 1.0, separable: bool = True):
        super().__init__()
        if not isinstance(width, (int, float)) or width <= 0:
            raise EffconvError(f"width must be a positive number (the paper uses 1, 0.75, 0.5, 0.25), got {width!r}.")
        channels = scale_channels(STEM_CHANNELS, width)
        layers: list[nn.Module] = [_conv_bn_relu(3, channels, 2)]
        for out, stride in LAYERS:
            out = scale_channels(out, width)
            if separable:
                layers.append(DepthwiseSeparableConv(channels, out, 3, stride, bn=True, activation=nn.ReLU))
            else:
                layers.append(_conv_bn_relu(channels, out, stride))
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register_model
def mobilenet_v1(*, num_classes: int = 1000, width: float = 1.0, separable: bool = True) -> MobileNetV1:
    """MobileNet v1 for ImageNet-sized inputs (224 by default; any size divisible by 32 works)."""
    return MobileNetV1(num_classes=num_classes, width=width, separable=separable)


@register_model
def conv_mobilenet_v1(*, num_classes: int = 1000, width: float = 1.0) -> MobileNetV1:
    """MobileNet v1 with dense 3x3 convolutions instead of depthwise-separable ones (paper's Table 4)."""
    return MobileNetV1(num_classes=num_classes, width=width, separable=False)
