"""``convert``: turn any model's kxk convolutions (with the BN that follows them) into ACBlocks.

Our own model families get ACBs through the conv factory (``create_model(name, conv="acb")``);
``convert`` does the same for a model built elsewhere (torchvision's ResNets, MobileNets ...).
``torch.fx`` traces the model once to learn which BN reads which conv's output; only modules are
swapped, in place, so the model keeps its class, its ``forward`` and its parameter names elsewhere.

Rules:

- A conv is converted when it is exactly ``nn.Conv2d`` (not a subclass with its own forward), square
  with a size in ``kernel_sizes``, dilation 1, zero padding equal on all sides, and ungrouped, grouped
  or depthwise alike.
- When the conv's only user is a ``BatchNorm2d`` (with running statistics) that is called once, the
  ACB takes over that BN's role and the BN becomes ``nn.Identity``: the BN's state moves into the
  square branch's BN (or, with ``norm="sum"``, into the BN after the sum), and its eps/momentum are
  used for every BN of the block. With ``norm="none"`` the BN is left where it is.
- A ``ConvBN`` (our own conv + BN wrapper) whose conv was converted is replaced by the ACB (plus the
  BN when ``norm="none"``), since ``ConvBN.fuse()`` only knows how to fold a plain conv.
- A conv with no such BN still becomes an ACB with the block's own normalisation (the paper's design,
  and what the ``acb`` factory does for ``bn=False``); its bias, if any, goes into the BN's shift.
- The original conv weights are copied into the square branch; the new branches keep PyTorch's
  default init. For training from scratch this does not matter (all weights are random anyway, and
  our zoo's ``create_model(name, conv="acb")`` inits every branch like the base). For a pretrained
  model it keeps what was learnt in the square branch, though the new 1xk/kx1 branches perturb the
  output until trained (zeroing their BN gammas and betas makes the converted model start equal to
  the original).
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import fx, nn

from effconv.errors import EffconvError
from effconv.ops.acb import ACBlock
from effconv.ops.conv_bn import ConvBN


class _Tracer(fx.Tracer):
    """The default tracer, but it does not look inside ACBlocks (so converting twice never nests)."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, ACBlock) or super().is_leaf_module(module, qualified_name)


def _trace(model: nn.Module) -> fx.Graph:
    try:
        return _Tracer().trace(model)
    except Exception as err:  # fx raises many kinds (TraceError, TypeError, NotImplementedError ...)
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise EffconvError(
            f"torch.fx cannot trace {type(model).__name__} ({type(err).__name__}: {first_line}), so convert() "
            "cannot find its conv -> BN pairs. Build the model through the conv factory instead "
            "(create_model(name, conv='acb')), or remove data-dependent control flow from its forward."
        ) from err


def _square_padding(conv: nn.Conv2d) -> int | None:
    """The single zero padding of a conv, or None when it has none that an ACB can reproduce."""
    if conv.padding_mode != "zeros":
        return None
    if conv.padding == "valid":
        return 0
    if conv.padding == "same":
        return conv.kernel_size[0] // 2
    top, left = conv.padding
    return top if top == left else None


def convertible(conv: nn.Module, kernel_sizes: Iterable[int] = (3, 5)) -> bool:
    """Whether ``convert`` would turn ``conv`` into an ACBlock."""
    if type(conv) is not nn.Conv2d:
        return False
    height, width = conv.kernel_size
    return (height == width and height in tuple(kernel_sizes) and conv.dilation == (1, 1)
            and _square_padding(conv) is not None)


def _check_kernel_sizes(kernel_sizes: Iterable[int]) -> tuple[int, ...]:
    sizes = tuple(kernel_sizes)
    if not sizes or any(isinstance(k, bool) or not isinstance(k, int) or k < 3 or k % 2 == 0 for k in sizes):
        raise EffconvError(f"kernel_sizes must be odd integers >= 3, for example (3, 5); got {kernel_sizes!r}.")
    return sizes


def _sole_bn(node: fx.Node, modules: dict[str, nn.Module], calls: dict[str, int]) -> fx.Node | None:
    """The BN node that is the conv's only user, or None."""
    users = list(node.users)
    if len(users) != 1 or calls[node.target] != 1:
        return None
    user = users[0]
    if user.op != "call_module" or calls[user.target] != 1 or user.args[:1] != (node,):
        return None
    bn = modules[user.target]
    ok = type(bn) is nn.BatchNorm2d and bn.track_running_stats and bn.affine
    return user if ok else None


@torch.no_grad()
def _acb_from(conv: nn.Conv2d, bn: nn.BatchNorm2d | None, options: dict[str, Any]) -> ACBlock:
    block = ACBlock(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0],
                    _square_padding(conv), conv.groups, **options)
    block.to(device=conv.weight.device, dtype=conv.weight.dtype).train(conv.training)
    block.branches["square"].conv.weight.copy_(conv.weight)
    if block.norm == "none":
        square_bias = block.branches["square"].conv.bias
        square_bias.copy_(conv.bias if conv.bias is not None else torch.zeros_like(square_bias))
        return block
    target = block.bn if block.norm == "sum" else block.branches["square"].bn
    if bn is not None:
        target.load_state_dict(bn.state_dict())
        for norm in block.batch_norms():
            norm.eps, norm.momentum = bn.eps, bn.momentum
        if conv.bias is not None:  # BN(conv(x) + b) == BN'(conv(x)) with the mean shifted by b
            target.running_mean -= conv.bias
    elif conv.bias is not None:
        target.bias.copy_(conv.bias)
    if options.get("gamma_init") is not None:
        block.init_gamma(options["gamma_init"])
    return block


def convert(model: nn.Module, *, kernel_sizes: Iterable[int] = (3, 5), **acb_options: Any) -> nn.Module:
    """Replace the model's kxk convs (and the BN right after each) by ACBlocks, in place; returns ``model``.

    ``acb_options`` go to every ``ACBlock`` (``branches``, ``norm``, ``border``, ``gamma_init``). The
    square branch must be kept, since it receives the original weights. See the module docstring for
    which convs are converted and what happens to their BNs. Raises ``EffconvError`` if torch.fx cannot
    trace the model. ``copy.deepcopy`` the model first to keep the original.

    >>> import torch, torchvision
    >>> from effconv.ops import reparameterize_model
    >>> model = convert(torchvision.models.resnet18(num_classes=10)).eval()  # eval: BN uses running statistics
    >>> x = torch.randn(1, 3, 64, 64)
    >>> before = model(x)
    >>> fused = reparameterize_model(model)                 # every ACBlock folded into one 3x3 conv
    >>> bool(torch.allclose(fused(x), before, rtol=1e-4, atol=1e-4))
    True
    """
    sizes = _check_kernel_sizes(kernel_sizes)
    ACBlock(1, 1, 3, **acb_options)  # validate the options before touching the model
    branches = acb_options.get("branches", ("square",))
    if "square" not in ((branches,) if isinstance(branches, str) else tuple(branches)):
        raise EffconvError("convert() copies each conv into the ACB's square branch; keep 'square' in branches.")
    absorb_bn = acb_options.get("norm", "branch") != "none"

    graph = _trace(model)
    modules = dict(model.named_modules())
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    for node in graph.nodes:
        if node.op != "call_module" or not convertible(modules[node.target], sizes):
            continue
        bn_node = _sole_bn(node, modules, calls) if absorb_bn else None
        bn = modules[bn_node.target] if bn_node is not None else None
        model.set_submodule(node.target, _acb_from(modules[node.target], bn, acb_options))
        if bn_node is not None:
            model.set_submodule(bn_node.target, nn.Identity())
    _unwrap_conv_bn(model)
    return model


def _unwrap_conv_bn(model: nn.Module) -> None:
    """Replace each ``ConvBN`` whose conv became an ACB by its contents.

    ``ConvBN.fuse()`` expects a plain conv; once the conv is an ACB the ACB itself is the fusable
    block, so the wrapper must go for ``reparameterize_model`` to fold the model.
    """
    for name, module in list(model.named_modules()):
        if name and isinstance(module, ConvBN) and isinstance(module.conv, ACBlock):
            rest = [m for m in module.children() if not isinstance(m, nn.Identity)]
            model.set_submodule(name, rest[0] if len(rest) == 1 else nn.Sequential(*rest))
