"""The conv factory hook: how a chapter swaps every kxk convolution (with its BN) in a model.

Model families build their kxk convolutions through a factory with the signature::

    factory(in_channels, out_channels, kernel_size, stride=1, padding=None, groups=1, bn=True)

which returns a module computing a convolution followed by its batch norm (``bn=True``) or a bare
convolution (``bn=False``, for pre-activation designs). The default factory gives ``ConvBN``; a
chapter registers its own block (an asymmetric convolution block, a versatile convolution ...) under
a name, and ``create_model(..., conv="acb")`` builds the same architecture with that block.
1x1 convolutions (shortcuts, transitions) are built directly and are not swapped.

The built-in blocks are registered before any lookup: importing this module imports the ``effconv.ops``
package first, whose ``__init__`` imports every block module.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable, Protocol

from torch import nn

from effconv.errors import EffconvError


class ConvFactory(Protocol):
    def __call__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | None = None, groups: int = 1, bn: bool = True) -> nn.Module: ...


_FACTORIES: dict[str, Callable[..., nn.Module]] = {}


def register_conv(name: str):
    """Register a conv factory under ``name``."""

    def wrap(factory: Callable[..., nn.Module]):
        _FACTORIES[name] = factory
        return factory

    return wrap


def list_convs() -> list[str]:
    """The names of every registered conv factory (``conv_bn``, ``acb``, ``versatile_v1`` ...), sorted."""
    return sorted(_FACTORIES)


def get_conv_factory(name: str = "conv_bn", **kwargs: Any) -> ConvFactory:
    """The factory registered as ``name``, with ``kwargs`` bound (checked against its signature)."""
    if name not in _FACTORIES:
        close = difflib.get_close_matches(name, _FACTORIES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise EffconvError(f"unknown conv factory {name!r}.{hint} Known: {', '.join(list_convs())}.")
    factory = _FACTORIES[name]
    params = inspect.signature(factory).parameters
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise EffconvError(
            f"conv factory {name!r} does not accept {', '.join(unknown)}; it accepts {', '.join(params)}."
        )
    return functools.partial(factory, **kwargs) if kwargs else factory
