"""Building blocks. Importing this package registers every conv factory defined here."""

from effconv.ops.conv_bn import ConvBN, conv_bn, fuse_conv_bn, same_padding
from effconv.ops.reparam import reparameterize_model

__all__ = ["ConvBN", "conv_bn", "fuse_conv_bn", "reparameterize_model", "same_padding"]
