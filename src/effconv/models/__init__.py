"""Model families, one per file, registered by name; build them with ``create_model``."""

from effconv.models.conv_factory import get_conv_factory, list_convs, register_conv
from effconv.models.registry import create_model, get_builder, list_models, register_model

__all__ = ["create_model", "get_builder", "get_conv_factory", "list_convs", "list_models",
           "register_conv", "register_model"]

# Each family module below registers its builders on import; one line per module.
from effconv.models import cifar_quick, densenet, resnet_cifar, vgg_cifar, wrn  # noqa: E402,F401
