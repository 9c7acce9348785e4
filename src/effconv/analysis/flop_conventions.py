"""One model, several ways of counting its "FLOPs", side by side, with each difference accounted for.

Counters disagree with papers (and with each other) because they count different things, not because one
of them is wrong. ``flop_conventions`` puts the usual conventions in one table and, for every row, says what
it adds to the papers' count, with each part counted separately here; an ``unexplained`` remainder other than
zero would mean the explanation is incomplete (the tests hold it at zero for the book's models):

- **papers**: multiply-adds of the convolutions and fully connected layers only (``count_flops``), the
  convention of ShuffleNet V1, MobileNet and the other papers in the book, which call these "FLOPs";
- **+ BN and activations**: one more operation per output element of every batch norm (a scale and shift
  once its statistics are frozen) and of every activation, functional ones (``F.relu`` in a forward) included;
- **2 x MACs**: a multiply and an add counted as two floating-point operations;
- **torch.utils.flop_counter**: PyTorch's ``FlopCounterMode``, raw;
- **ptflops** (if installed, ``pip install "effconv[deploy]"``): its default module-hook backend and its
  ``aten`` backend.

Element-wise work is read from the ATen ops the forward pass dispatches (a ``TorchDispatchMode``, the
mechanism ``FlopCounterMode`` itself is built on), so activations called as functions are seen as well.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from typing import Sequence

import pandas as pd
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from effconv.analysis.flops import _ACTIVATION, _normalise_input_size, count_flops
from effconv.errors import EffconvError

__all__ = ["CONVENTIONS", "elementwise_census", "flop_conventions"]

#: The rows of ``flop_conventions``, in order.
CONVENTIONS = ("papers", "+ BN and activations", "2 x MACs", "torch.utils.flop_counter", "ptflops (pytorch)",
               "ptflops (aten)")

_NORM_OPS = ("batch_norm", "layer_norm", "group_norm", "instance_norm")
_ACTIVATION_OPS = {"relu", "relu_", "hardtanh", "hardtanh_", "relu6", "sigmoid", "sigmoid_", "silu", "silu_",
                   "gelu", "hardswish", "hardswish_", "hardsigmoid", "leaky_relu", "leaky_relu_", "elu", "elu_",
                   "tanh", "tanh_", "mish", "prelu", "_prelu_kernel", "clamp", "clamp_min"}
_POOL_OPS = {"max_pool2d_with_indices", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
             "mean", "adaptive_max_pool2d"}
_POOL_MODULES = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
# module classes whose forward calls a torch.nn.functional op that ptflops also patches (F.relu, F.elu, the
# pools): its default backend then counts them twice, once in its module hook and once in the patched function
_PTFLOPS_TWICE = (nn.ReLU, nn.ELU, *_POOL_MODULES)
_PTFLOPS_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.ELU, nn.LeakyReLU, nn.PReLU)


class _Census(TorchDispatchMode):
    """Output elements per ATen op name (the first output for ops that return several)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        if isinstance(first, torch.Tensor):
            self.elements[func.overloadpacket.__name__] += first.numel()
        return out


def elementwise_census(model: nn.Module, input_size: int | Sequence[int] = (3, 224, 224)) -> dict[str, int]:
    """Output elements of the norm, activation, pooling and addition ops one forward pass of ``model`` runs.

    Counted per sample on a zero input in eval mode, from the dispatched ATen ops, so an activation written
    as ``F.relu(x + y)`` in a ``forward`` counts as much as an ``nn.ReLU`` module.

    >>> from effconv.models import create_model
    >>> elementwise_census(create_model("shufflenet_v1", groups=3))["activation"]
    2664816
    """
    shape = _normalise_input_size(input_size, batch_size=1)
    census = _Census()
    with _evaluating(model), torch.no_grad(), census:
        model(_zeros(model, shape))
    totals = {"norm": 0, "activation": 0, "pooling": 0, "add": 0}
    for name, count in census.elements.items():
        if any(key in name for key in _NORM_OPS):
            totals["norm"] += count
        elif name in _ACTIVATION_OPS:
            totals["activation"] += count
        elif name in _POOL_OPS:
            totals["pooling"] += count
        elif name in ("add", "add_"):
            totals["add"] += count
    return totals


@contextlib.contextmanager
def _evaluating(model: nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _zeros(model: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    first = next(model.parameters(), None)
    return torch.zeros(shape, device=first.device if first is not None else "cpu",
                       dtype=first.dtype if first is not None and first.is_floating_point() else torch.float32)


def _module_sizes(model: nn.Module, shape: tuple[int, ...]) -> dict[str, int]:
    """What ptflops' module hooks see, per sample: the pieces that explain its totals."""
    sizes = Counter()

    def hook(module, inputs, output):
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            sizes["bn_inputs_x2" if module.affine else "bn_inputs"] += inputs[0].numel() * (2 if module.affine else 1)
        elif isinstance(module, nn.Linear) and module.bias is not None:
            sizes["fc_biases"] += output.numel()
        elif isinstance(module, nn.modules.conv._ConvNd) and module.bias is not None:
            sizes["conv_biases"] += output.numel()
        if isinstance(module, _PTFLOPS_ACTIVATIONS):
            sizes["activation_modules"] += output.numel()
            if isinstance(module, _PTFLOPS_TWICE):
                sizes["counted_twice"] += output.numel()
        elif isinstance(module, _POOL_MODULES):
            sizes["pool_module_inputs"] += inputs[0].numel()
            sizes["counted_twice"] += inputs[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with _evaluating(model), torch.no_grad():
            model(_zeros(model, shape))
    finally:
        for handle in handles:
            handle.remove()
    return dict(sizes)


def _m(value: int) -> str:
    return f"{value / 1e6:,.2f} M"


def _ptflops(model: nn.Module, shape: tuple[int, ...], backend: str) -> int:
    from ptflops import get_model_complexity_info

    quiet = io.StringIO()  # ptflops prints its per-layer table and warnings to a stream
    with _evaluating(model), contextlib.redirect_stdout(quiet):
        macs, _ = get_model_complexity_info(model, shape[1:], as_strings=False, print_per_layer_stat=False,
                                            backend=backend, ost=quiet)
    if macs is None:
        raise EffconvError(f"ptflops ({backend} backend) could not count {type(model).__name__}: "
                           f"{quiet.getvalue().strip().splitlines()[:1]}")
    return int(macs)


def flop_conventions(model: nn.Module, input_size: int | Sequence[int] = (3, 224, 224), *,
                     name: str | None = None, ptflops: bool = True) -> pd.DataFrame:
    """The model's cost under each counting convention, with what each row adds to the papers' count.

    Columns: ``model``, ``convention`` (one of ``CONVENTIONS``), ``unit`` (MACs or FLOPs), ``count`` (per
    image), ``vs_papers`` (count / the papers' count), ``explained`` (the parts, each counted here) and
    ``unexplained`` (count minus the papers' count minus those parts; 0 when the explanation is complete).
    ``ptflops=False`` leaves out the two ptflops rows (ptflops is in the ``deploy`` extra).

    >>> from effconv.models import create_model
    >>> table = flop_conventions(create_model("mobilenet_v1", num_classes=1000), name="MobileNet 1.0")
    >>> int(table.set_index("convention").loc["papers", "count"])
    568740352
    """
    if not isinstance(model, nn.Module):
        raise EffconvError(f"flop_conventions needs a torch.nn.Module, got {type(model).__name__}.")
    shape = _normalise_input_size(input_size, batch_size=1)
    if ptflops:
        try:
            import ptflops as _  # noqa: F401
        except ImportError as err:
            raise EffconvError("ptflops is not installed: pip install 'effconv[deploy]' (or pass ptflops=False).") \
                from err
    papers = count_flops(model, shape[1:])
    census = elementwise_census(model, shape[1:])
    sizes = _module_sizes(model, shape)
    torch_counter = FlopCounterMode(display=False)
    with _evaluating(model), torch.no_grad(), torch_counter:
        model(_zeros(model, shape))
    raw = int(torch_counter.get_total_flops())

    a = papers.macs
    rows = [("papers", "MACs", a, "conv and fully connected multiply-adds; BN, activations, pooling and "
             "additions left out", 0)]
    norm, act = census["norm"], census["activation"]
    act_modules = sum(papers.by_layer.loc[papers.by_layer["type"].isin([c.__name__ for c in _ACTIVATION]),
                                          "elementwise"])
    rows.append(("+ BN and activations", "MACs", a + norm + act,
                 f"+ {_m(norm)} BN outputs (a scale and shift each), + {_m(act)} activation outputs "
                 f"({_m(act_modules)} in activation modules, {_m(act - act_modules)} in functional calls); "
                 f"pooling ({_m(census['pooling'])}) and additions ({_m(census['add'])}) still left out",
                 0))  # this row is defined by its parts
    rows.append(("2 x MACs", "FLOPs", 2 * a, f"each multiply-add counted as 2 operations (+ {_m(a)})", 0))
    rows.append(("torch.utils.flop_counter", "FLOPs", raw,
                 "2 per multiply-add of convolutions and matrix products only (the FC bias, BN, activations "
                 f"and pooling count 0): + {_m(a)} over the papers", raw - 2 * a))
    if ptflops:
        hooked = _ptflops(model, shape, "pytorch")
        bn2 = sizes.get("bn_inputs_x2", 0) + sizes.get("bn_inputs", 0)
        fc_bias = sizes.get("fc_biases", 0)
        biases, twice = fc_bias + sizes.get("conv_biases", 0), sizes.get("counted_twice", 0)
        modules_once = sizes.get("activation_modules", 0) + sizes.get("pool_module_inputs", 0)
        functional = act - sizes.get("activation_modules", 0)
        parts = bn2 + biases + modules_once + twice + functional
        rows.append(("ptflops (pytorch)", "MACs", hooked,
                     f"+ {_m(bn2)} BN (2 per input element of an affine BN), + {_m(biases)} bias additions, "
                     f"+ {_m(modules_once)} activation outputs and pooling inputs of modules, + {_m(twice)} "
                     f"the same again (modules whose forward calls an F. function ptflops also patches), "
                     f"+ {_m(functional)} functional activations", hooked - a - parts))
        aten = _ptflops(model, shape, "aten")
        rows.append(("ptflops (aten)", "MACs", aten,
                     f"+ {_m(biases)} bias additions (it counts the biases of aten.convolution and aten.addmm; "
                     "the rest is the papers' count)", aten - a - biases))
    table = pd.DataFrame(rows, columns=["convention", "unit", "count", "explained", "unexplained"])
    table.insert(0, "model", name or type(model).__name__)
    table.insert(4, "vs_papers", table["count"] / a if a else float("nan"))
    return table
