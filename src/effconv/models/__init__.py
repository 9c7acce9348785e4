"""Model families, one per file, registered by name; build them with ``create_model``.

The family modules (listed in ``registry.FAMILIES``) are imported on the first registry lookup rather
than here, so that blocks in ``effconv.ops`` can use the conv-factory registry without an import cycle.
"""

from effconv.ops.conv_factory import get_conv_factory, list_convs, register_conv
from effconv.models.registry import create_model, get_builder, list_models, register_model

__all__ = ["create_model", "get_builder", "get_conv_factory", "list_convs", "list_models",
           "register_conv", "register_model"]
