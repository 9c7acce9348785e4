"""A registry of model builders and ``create_model``, in the style of timm.

A builder is a function registered with ``@register_model``; it takes keyword-only arguments
(``num_classes``, ``width`` and, for models whose kxk convolutions can be swapped, ``conv_factory``)
and returns an ``nn.Module``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Callable

from torch import nn

from effconv.checks import check_count, check_positive
from effconv.errors import EffconvError
from effconv.ops.conv_factory import get_conv_factory

_MODELS: dict[str, Callable[..., nn.Module]] = {}

# One module per model family; each registers its builders when imported.
FAMILIES = ("cifar_quick", "densenet", "resnet_cifar", "vgg_cifar", "wrn", "mobilenet_v1", "xception",
            "shufflenet_v1")


def _load_families() -> None:
    for family in FAMILIES:
        importlib.import_module(f"effconv.models.{family}")


def register_model(fn: Callable[..., nn.Module] | None = None, *, name: str | None = None):
    """Register a builder under ``name`` (default: the function's name)."""

    def wrap(builder: Callable[..., nn.Module]):
        key = name or builder.__name__
        if key in _MODELS and _MODELS[key] is not builder:
            raise RuntimeError(f"model {key!r} is registered twice")
        _MODELS[key] = builder
        return builder

    return wrap(fn) if fn is not None else wrap


def list_models() -> list[str]:
    """The names of every registered model builder, sorted (``create_model`` takes any of them)."""
    _load_families()
    return sorted(_MODELS)


def get_builder(name: str) -> Callable[..., nn.Module]:
    """The builder function registered as ``name``; an unknown name raises ``EffconvError`` with close matches."""
    _load_families()
    if not isinstance(name, str) or name not in _MODELS:
        if not isinstance(name, str):
            raise EffconvError(f"a model name must be a string such as 'resnet20', got {type(name).__name__}; "
                               f"known models: {', '.join(list_models())}.")
        close = difflib.get_close_matches(name, _MODELS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise EffconvError(
            f"unknown model {name!r}.{hint} Known models: {', '.join(list_models())}."
        )
    return _MODELS[name]


def create_model(
    name: str,
    num_classes: int = 10,
    width: float = 1.0,
    *,
    conv: str | None = None,
    conv_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    ``width`` scales every channel count (the cpu profile trains narrow models). ``conv`` names a
    conv factory (``"conv_bn"``, ``"acb"``, ``"versatile_v1"`` ... see ``list_convs()``) that replaces
    every kxk convolution and its BN; ``conv_kwargs`` are passed to it. Other keyword arguments go to the
    builder (for example ``groups`` for ShuffleNet V1).

    >>> from effconv.models import create_model
    >>> model = create_model("shufflenet_v1", num_classes=1000, groups=8)   # ShuffleNet V1 1.0x, g = 8
    >>> acnet = create_model("resnet20", conv="acb")   # every 3x3 conv + BN is an ACBlock
    """
    builder = get_builder(name)
    check_count("num_classes", num_classes)
    check_positive("width", width)
    if conv is not None and not isinstance(conv, str):
        raise EffconvError(f"conv must be the name of a conv factory (see list_convs()), got {type(conv).__name__}.")
    if conv_kwargs is not None and not isinstance(conv_kwargs, dict):
        raise EffconvError(f"conv_kwargs must be a dict of the conv factory's options, got {type(conv_kwargs).__name__}.")
    accepted = inspect.signature(builder).parameters
    call: dict[str, Any] = dict(kwargs)
    call["num_classes"] = num_classes
    if "width" in accepted:
        call["width"] = width
    elif width != 1.0:
        raise EffconvError(f"model {name!r} has no width multiplier; leave width at 1.0.")
    if conv is not None or conv_kwargs:
        if "conv_factory" not in accepted:
            raise EffconvError(
                f"model {name!r} does not take a conv factory, so conv={conv!r} cannot be applied; "
                "use effconv.ops.acnet.convert() (or another converter) on the built model instead."
            )
        call["conv_factory"] = get_conv_factory(conv or "conv_bn", **(conv_kwargs or {}))
    unknown = [k for k in call if k not in accepted and not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())]
    if unknown:
        raise EffconvError(
            f"model {name!r} does not accept {', '.join(sorted(unknown))}; "
            f"it accepts: {', '.join(p for p in accepted)}."
        )
    return builder(**call)
