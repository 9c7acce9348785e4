"""Count multiply-adds and parameters of a model by running it once.

The arithmetic of each tensor op comes from ``torch.utils.flop_counter`` (PyTorch's own formulas for
convolutions of any groups/stride/dilation/padding, matmuls and attention); what this module adds is
what the papers' tables need and the plain ``FlopCounterMode`` does not give:

- multiply-adds (MACs), the unit every paper in the book calls "FLOPs" (PyTorch counts 2 per MAC);
- a per-layer table with the layer's *kind* (``conv 1x1``, ``depthwise 3x3``, ``linear`` ...), so
  shares such as MobileNet's "1x1 convs are 94.86% of the mult-adds" can be read off directly;
- element-wise work (normalisation, activations, pooling) counted separately and left out of
  ``macs`` by default, as the papers do;
- a hook for blocks whose paper-convention cost differs from the ops they run: a module with a
  ``count_macs(inputs, output) -> int`` method has its whole subtree counted as that number
  (versatile convolutions use it).

Functional ops with no formula (a channel shuffle, a concatenation, an addition) cost 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from effconv.errors import EffconvError

_NORM = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
_ACTIVATION = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softmax,
)
_POOL = (
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
)


@dataclass
class FlopCount:
    """What ``count_flops`` found, per sample (batch size 1)."""

    macs: int
    params: int
    by_layer: pd.DataFrame
    input_size: tuple[int, ...]
    elementwise: dict[str, int] = field(default_factory=dict)

    @property
    def mmacs(self) -> float:
        """``macs`` in millions (the unit of the papers' tables)."""
        return self.macs / 1e6

    @property
    def gmacs(self) -> float:
        """``macs`` in billions."""
        return self.macs / 1e9

    def shares(self, by: str = "kind", *, weights_only: bool = True) -> pd.DataFrame:
        """Share of MACs and parameters per ``by`` group (in %).

        With ``weights_only`` the parameter share is taken over layers that do arithmetic
        (convs, linears, custom blocks), leaving normalisation parameters out, as MobileNet's Table 2 does.
        """
        table = self.by_layer
        if weights_only:
            table = table[table["macs"] > 0]
        grouped = table.groupby(by)[["macs", "params"]].sum()
        out = pd.DataFrame({
            "macs": grouped["macs"],
            "macs_%": 100 * grouped["macs"] / grouped["macs"].sum(),
            "params": grouped["params"],
            "params_%": 100 * grouped["params"] / grouped["params"].sum(),
        })
        return out.sort_values("macs", ascending=False)

    def __str__(self) -> str:
        return f"{self.macs / 1e6:,.2f}M MACs, {self.params / 1e6:,.3f}M params at input {self.input_size}"


def layer_kind(module: nn.Module) -> str:
    """A short human label for a layer, used to group costs (``conv 1x1``, ``depthwise 3x3`` ...)."""
    if isinstance(module, nn.modules.conv._ConvNd):
        size = "x".join(str(k) for k in module.kernel_size)
        if module.groups > 1 and module.groups == module.in_channels:
            return f"depthwise {size}"
        if module.groups > 1:
            return f"grouped {size}"
        return f"conv {size}"
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, _NORM):
        return "norm"
    if isinstance(module, _ACTIVATION):
        return "activation"
    if isinstance(module, _POOL):
        return "pooling"
    return type(module).__name__


def _normalise_input_size(input_size: int | Sequence[int], batch_size: int) -> tuple[int, ...]:
    def positive_int(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    if positive_int(input_size):
        input_size = (3, input_size, input_size)
    size = tuple(input_size) if isinstance(input_size, (tuple, list, torch.Size)) else ()
    if not all(positive_int(s) for s in size) or len(size) not in (2, 3, 4):
        raise EffconvError(
            f"input_size {input_size!r} is not understood: give an int (square RGB image), "
            "(H, W), (C, H, W) or (N, C, H, W) with positive integers, for example (3, 224, 224)."
        )
    if len(size) == 4:
        size = size[1:]  # counts are per sample: the batch size does not change them
    if len(size) == 2:
        size = (3, *size)
    return (batch_size, *size)


def _elementwise_ops(module: nn.Module, inputs: tuple, output) -> int:
    """Element-wise work of a norm/activation/pooling layer, per the whole batch."""
    if not isinstance(output, torch.Tensor):
        return 0
    if isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return inputs[0].numel()  # every input element is read once
    if isinstance(module, _POOL):
        kernel = module.kernel_size
        window = kernel ** (output.dim() - 2) if isinstance(kernel, int) else math.prod(kernel)
        return output.numel() * window
    return output.numel()


def count_flops(
    model: nn.Module,
    input_size: int | Sequence[int] = (3, 224, 224),
    *,
    include_elementwise: bool = False,
) -> FlopCount:
    """Count multiply-adds and parameters of ``model`` for one input of ``input_size``.

    ``input_size`` is (C, H, W), (N, C, H, W) (the batch size is ignored: counts are per sample), (H, W)
    for three channels, or an int for a square RGB image.

    Runs one forward pass (in eval mode, without gradients) on the device and dtype of the model's
    parameters; a model built on the ``meta`` device is counted without doing any arithmetic.
    Returns MACs (the papers' "FLOPs"), the number of parameters, and a per-layer table with columns
    ``name, type, kind, macs, params, elementwise, output``.

    >>> from effconv.models import create_model
    >>> count_flops(create_model("mobilenet_v1", num_classes=1000), (3, 224, 224)).macs   # paper: 569 M
    568740352
    """
    if not isinstance(model, nn.Module):
        raise EffconvError(f"count_flops needs a torch.nn.Module (e.g. from create_model), got {type(model).__name__}.")
    shape = _normalise_input_size(input_size, batch_size=1)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    x = torch.zeros(shape, device=device, dtype=dtype)

    counter = FlopCounterMode(display=False)
    names = {module: name for name, module in model.named_modules()}
    rows: dict[str, dict] = {}
    stack: list[dict] = []
    state = {"adjust": 0}

    def effective_total() -> int:
        return counter.get_total_flops() + state["adjust"]

    def pre_hook(module, inputs):
        stack.append({"start": effective_total(), "children": 0})

    def post_hook(module, inputs, output):
        frame = stack.pop()
        inclusive = effective_total() - frame["start"]
        custom = getattr(module, "count_macs", None)
        if callable(custom):
            declared = 2 * int(custom(inputs, output))  # in PyTorch's 2-per-MAC units
            state["adjust"] += declared - inclusive
            inclusive, frame["children"] = declared, 0
        if stack:
            stack[-1]["children"] += inclusive
        name = names.get(module, type(module).__name__) or "(model)"
        row = rows.setdefault(name, {
            "name": name, "type": type(module).__name__, "kind": layer_kind(module),
            "flops2": 0, "elementwise": 0, "params": sum(p.numel() for p in module.parameters(recurse=False)),
            "output": tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else None,
            "leaf": next(module.children(), None) is None or callable(custom),
        })
        row["flops2"] += inclusive - frame["children"]
        if isinstance(module, _NORM + _ACTIVATION + _POOL):
            row["elementwise"] += _elementwise_ops(module, inputs, output)

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(x)
    except (RuntimeError, ValueError, IndexError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EffconvError(
            f"{type(model).__name__} does not accept an input of size {shape[1:]}: {first_line}. "
            "Pass an input_size the model was built for (for example (3, 224, 224) for ImageNet "
            "models, (3, 32, 32) for CIFAR models)."
        ) from err
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    table = pd.DataFrame(rows.values())
    if table.empty:
        table = pd.DataFrame(columns=["name", "type", "kind", "flops2", "elementwise", "params", "output", "leaf"])
    table["macs"] = table.pop("flops2") // 2
    # keep layers that do work or hold parameters, plus every leaf (activations, pools, shuffles)
    keep = (table["macs"] > 0) | (table["params"] > 0) | table["leaf"] | (table["elementwise"] > 0)
    table = table[keep].drop(columns="leaf").reset_index(drop=True)
    table = table[["name", "type", "kind", "macs", "params", "elementwise", "output"]]

    elementwise = {
        kind: int(table.loc[table["kind"] == kind, "elementwise"].sum())
        for kind in ("norm", "activation", "pooling")
    }
    macs = int(table["macs"].sum())
    if include_elementwise:
        macs += sum(elementwise.values())
    params = sum(p.numel() for p in model.parameters())
    return FlopCount(macs=macs, params=params, by_layer=table, input_size=shape[1:], elementwise=elementwise)
