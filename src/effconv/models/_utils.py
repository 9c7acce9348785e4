"""Small helpers shared by the model families."""

from __future__ import annotations

from torch import nn


def scale_channels(channels: int, width: float, divisor: int = 1) -> int:
    """``channels * width`` rounded to a multiple of ``divisor`` (at least ``divisor``)."""
    return max(divisor, int(round(channels * width / divisor)) * divisor)


def init_weights(model: nn.Module) -> None:
    """He-normal convs (fan_out) and small normal linear layers, the usual CIFAR recipe.

    BN layers keep PyTorch's defaults (gamma 1, beta 0) or whatever a block set on purpose
    (an ACB's branch gamma), so they are not touched here.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)
            nn.init.zeros_(module.bias)
