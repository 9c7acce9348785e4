"""Channel shuffle (ShuffleNet V1): let the groups of the next grouped convolution see every group.

A grouped convolution with ``g`` groups only mixes channels inside a group, so two of them in a row
would keep ``g`` separate streams. The shuffle reorders the ``C = g * n`` channels by writing them into a
``g x n`` matrix row by row (one row per group) and reading it column by column: the new order takes the
first channel of every group, then the second of every group, and so on. Output channel ``j * g + i``
is input channel ``i * n + j``.

The operation is a pure permutation of memory (no arithmetic), so ``count_flops`` gives it 0 MACs; its
cost is a memory copy, which is why it shows up in latency but not in FLOPs.
"""

from __future__ import annotations

import torch
from torch import nn

from effconv.errors import EffconvError


def _check(x: torch.Tensor, groups: int) -> int:
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise EffconvError(f"channel shuffle needs a positive integer number of groups, got {groups!r}.")
    if x.dim() < 2:
        raise EffconvError(
            f"channel shuffle needs a tensor laid out as (N, C, ...), got shape {tuple(x.shape)}; "
            "add the batch dimension (x.unsqueeze(0))."
        )
    channels = x.shape[1]
    if channels % groups:
        raise EffconvError(
            f"cannot shuffle {channels} channels in {groups} groups: {groups} does not divide {channels}. "
            f"Use a group count that divides the channel count (divisors of {channels} include "
            f"{', '.join(str(d) for d in range(1, min(channels, 16) + 1) if channels % d == 0)}) "
            "or change the channel count to a multiple of the groups."
        )
    return channels


def _transpose_channels(x: torch.Tensor, rows: int) -> torch.Tensor:
    """View the channel axis as a ``rows x (C / rows)`` matrix and read it column-wise."""
    # A channels_last tensor keeps channels innermost in memory; shuffling its NHWC view keeps that
    # layout (one copy) instead of silently turning the result into a contiguous NCHW tensor.
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        nhwc = x.permute(0, 2, 3, 1)
        mixed = nhwc.unflatten(3, (rows, -1)).transpose(3, 4).flatten(3, 4)
        return mixed.permute(0, 3, 1, 2)
    return x.unflatten(1, (rows, -1)).transpose(1, 2).flatten(1, 2)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the ``groups`` channel groups of ``x`` (shape ``(N, C, ...)``, ``groups`` divides ``C``).

    With 3 groups of 5 channels ``a1..a5, b1..b5, c1..c5`` the result is
    ``a1 b1 c1 a2 b2 | c2 a3 b3 c3 a4 | b4 c4 a5 b5 c5``. ``groups=1`` (and ``groups=C``) leave ``x`` as is.
    """
    _check(x, groups)
    return _transpose_channels(x, groups)


def channel_unshuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """The inverse of ``channel_shuffle(x, groups)``.

    Undoing the transpose of a ``g x n`` matrix is transposing the ``n x g`` one, so un-shuffling with
    ``g`` groups is shuffling with ``C / g`` groups.
    """
    channels = _check(x, groups)
    return _transpose_channels(x, channels // groups)


def shuffle_permutation(channels: int, groups: int) -> torch.Tensor:
    """Indices ``p`` with ``channel_shuffle(x, groups) == x[:, p]``."""
    return channel_shuffle(torch.arange(channels).view(1, channels), groups).view(channels)


class ChannelShuffle(nn.Module):
    """``channel_shuffle`` as a layer (no parameters), so it shows up in model printouts and FLOP tables."""

    def __init__(self, groups: int):
        super().__init__()
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise EffconvError(f"ChannelShuffle needs a positive integer number of groups, got {groups!r}.")
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
