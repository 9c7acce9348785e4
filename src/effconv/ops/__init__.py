"""Building blocks, one per module. Importing this package registers every conv factory defined here
(``conv_bn``, ``acb``, ``separable``, ``flattened``, ``versatile_v1``, ``versatile_v2``, ``versatile_mask``)."""

from effconv.ops import dac, versatile, versatile_masks
from effconv.ops.acb import ACBlock
from effconv.ops.conv_bn import ConvBN, conv_bn, conv_from, fuse_conv_bn, same_padding
from effconv.ops.dac import decompose
from effconv.ops.octconv import OctConv2d
from effconv.ops.reparam import reparameterize_model
from effconv.ops.separable import AsymmetricPair, DepthwiseSeparableConv, FlattenedConv, grouped_conv
from effconv.ops.shuffle import ChannelShuffle, channel_shuffle, channel_unshuffle
from effconv.ops.versatile import VersatileConv2d
from effconv.ops.versatile_masks import LearnableMaskConv2d

__all__ = [
    "ACBlock", "AsymmetricPair", "ChannelShuffle", "ConvBN", "DepthwiseSeparableConv", "FlattenedConv",
    "LearnableMaskConv2d", "OctConv2d", "VersatileConv2d", "channel_shuffle", "channel_unshuffle", "conv_bn",
    "conv_from", "dac", "decompose", "fuse_conv_bn", "grouped_conv", "reparameterize_model", "same_padding",
    "versatile", "versatile_masks",
]
