"""``reparameterize_model``: fold every fusable block of a model into plain convolutions.

A block is fusable when it has a ``fuse()`` method returning the single module that computes the
same function in eval mode (``ConvBN``, ``ACBlock``, ...). As in timm, the walk replaces such blocks
in place, deepest first, and leaves everything else alone.
"""

from __future__ import annotations

from torch import nn


def reparameterize_model(model: nn.Module) -> nn.Module:
    """Replace every block with a ``fuse()`` method by its fused form, in place, and return the model
    (in eval mode). A model that is itself a fusable block comes back as its fused module.

    The fused model equals the unfused one in eval mode only (batch norm folded with its running
    statistics): compare the two after ``model.eval()``.

    >>> import torch
    >>> from effconv.models import create_model
    >>> model = create_model("cifar_quick", conv="acb").eval()
    >>> x = torch.randn(2, 3, 32, 32)
    >>> before = model(x)
    >>> bool(torch.allclose(reparameterize_model(model)(x), before, atol=1e-5))
    True
    """
    model.eval()
    fuse = getattr(model, "fuse", None)
    if callable(fuse):
        return fuse()
    _fuse_children(model)
    return model


def _fuse_children(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        fuse = getattr(child, "fuse", None)
        if callable(fuse):
            setattr(module, name, fuse())
        else:
            _fuse_children(child)
