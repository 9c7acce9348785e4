"""Chapter 4 (DAC): the method's guarantees checked on a whole model, for any weights.

``exactness_table`` (the pair equals the conv at full rank), ``eckart_young_table`` (the weight error is the
singular-value tail and never grows with rank) and ``spectrum_errors`` (that error from the singular values
alone). Deterministic given the weights: the ledger grades them as counted checks (``dac_claims``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from effconv.ops import dac
from effconv.studies.dac.decompose import CIFAR, _channel_singular_values, _check_ranks, eckart_young_check

def _layer_inputs(model: nn.Module, input_size: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Input shape (without batch) of every kxk conv, from one forward pass on zeros."""
    layers = dac.conv_layers(model, tuple(input_size))
    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(module, args, output) -> None:  # returns None: a forward hook's return value replaces the output
            shapes.setdefault(name, tuple(args[0].shape[1:]))
        return hook

    hooks = [modules[name].register_forward_hook(record(name)) for name in layers.values()]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_size))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return {keras: shapes[name] for keras, name in layers.items()}


def exactness_table(model: nn.Module, input_size: Sequence[int] = CIFAR, *, batch_size: int = 1,
                    max_hw: int | None = 4, seed: int = 0) -> pd.DataFrame:
    """Every kxk conv against its DAC decomposition at the layer's largest rank, on random inputs.

    The decomposition is exact there, so the relative output error ``||y_dac - y|| / ||y||`` is round-off:
    measured once in float32 and once in float64 (conv and decomposition both cast). Inputs larger than
    ``max_hw`` per side are cropped to it (exactness does not depend on the map size; float64 convs are
    slow on CPU). Columns: layer, in_channels, out_channels, input_hw, rank, rel_error_float32,
    rel_error_float64.
    """
    layers = dac.conv_layers(model, tuple(input_size))
    inputs = _layer_inputs(model, input_size)
    modules = dict(model.named_modules())
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for keras, name in layers.items():
        conv = modules[name]
        shape = inputs[keras]
        if max_hw is not None:
            shape = (shape[0], *(min(side, max_hw) for side in shape[1:]))
        x = torch.randn(batch_size, *shape, generator=generator, dtype=torch.float64)
        row = {"layer": keras, "in_channels": conv.in_channels, "out_channels": conv.out_channels,
               "input_hw": "x".join(str(side) for side in shape[1:]), "rank": dac.max_rank(conv)}
        factors = dac.channel_factors(conv)  # float64 whatever the conv's dtype: one SVD serves both
        for dtype, label in ((torch.float32, "float32"), (torch.float64, "float64")):
            layer = copy.deepcopy(conv).to(dtype)
            with torch.no_grad():
                reference = layer(x.to(dtype))
                decomposed = dac.decompose(layer, row["rank"], factors=factors)(x.to(dtype))
            row[f"rel_error_{label}"] = float(torch.linalg.vector_norm(decomposed.double() - reference.double())
                                              / torch.linalg.vector_norm(reference.double()))
        rows.append(row)
    return pd.DataFrame(rows)


def eckart_young_table(model: nn.Module, input_size: Sequence[int] = CIFAR) -> pd.DataFrame:
    """Per kxk conv: does DAC's weight error follow Eckart-Young, and does it never grow with rank?

    For every rank of the layer (float64), the measured squared error per input channel is compared with
    the tail of that channel's squared singular values. Columns: layer, ranks, max_rel_gap (largest gap
    over ranks and channels, relative to ``||W||^2``), monotone (error non-increasing in rank, up to
    1e-12 of ``||W||^2``), rel_error_rank1, rel_error_full (relative Frobenius errors).
    """
    layers = dac.conv_layers(model, tuple(input_size))
    modules = dict(model.named_modules())
    rows = []
    for keras, name in layers.items():
        conv = copy.deepcopy(modules[name]).double()
        check = eckart_young_check(conv)
        errors = check["error_sq"].to_numpy()
        scale = float(check["scale"].iloc[0])
        rows.append({"layer": keras, "ranks": f"1..{int(check['rank'].max())}",
                     "max_rel_gap": float(check["max_abs_gap"].max()) / scale,
                     "monotone": bool((errors[1:] <= errors[:-1] + 1e-12 * scale).all()),
                     "rel_error_rank1": math.sqrt(errors[0] / scale),
                     "rel_error_full": math.sqrt(max(errors[-1], 0.0) / scale)})
    return pd.DataFrame(rows)


def spectrum_errors(model: nn.Module, ranks: Iterable[int] = range(1, 10),
                    input_size: Sequence[int] = CIFAR) -> pd.DataFrame:
    """Relative weight error of DAC at each rank, from the singular values alone (cheap; Eckart-Young).

    The same quantity as ``reconstruction_errors``' ``rel_tail``, without building any decomposition.
    Columns: layer, rank, rel_error.
    """
    layers = dac.conv_layers(model, tuple(input_size))
    modules = dict(model.named_modules())
    ranks = _check_ranks(list(ranks))
    rows = []
    for keras, name in layers.items():
        conv = modules[name]
        s2 = _channel_singular_values(conv).pow(2)
        total = float(s2.sum())
        for rank in ranks:
            if rank <= dac.max_rank(conv):
                rows.append({"layer": keras, "rank": rank, "rel_error": math.sqrt(float(s2[:, rank:].sum()) / total)})
    return pd.DataFrame(rows)
