"""Building blocks. Importing this package registers every conv factory defined here."""

from effconv.ops.conv_bn import ConvBN, conv_bn, conv_from, fuse_conv_bn, same_padding
from effconv.ops.reparam import reparameterize_model

__all__ = ["ConvBN", "conv_bn", "conv_from", "fuse_conv_bn", "reparameterize_model", "same_padding"]

# Each block module below is imported here so its conv factories register; one line per module.
from effconv.ops.acb import ACBlock  # noqa: E402
__all__ += ["ACBlock"]
from effconv.ops.separable import AsymmetricPair, DepthwiseSeparableConv, FlattenedConv, grouped_conv  # noqa: E402
from effconv.ops.octconv import OctConv2d  # noqa: E402
__all__ += ["AsymmetricPair", "DepthwiseSeparableConv", "FlattenedConv", "OctConv2d", "grouped_conv"]
