"""Chapter 4 (DAC): does time follow FLOPs? Decomposed layers and whole models timed live.

Timings depend on the machine and its load, so nothing here feeds the committed ledger: the chapter
shows these tables, and its live claims are graded over repeated rounds (``model_latency_rounds``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.analysis.latency import measure_latency
from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops import dac
from effconv.studies.dac.decompose import CIFAR, PAPER_RANKS, _check_ranks, layer_table

def vgg16_cifar_shapes() -> list[tuple[int, int, int]]:
    """The distinct (in_channels, out_channels, input size) of CIFAR VGG-16's 3x3 convs, in order."""
    with torch.device("meta"):
        model = create_model("vgg16_cifar")
    table = layer_table(model, CIFAR)
    shapes = [(int(r.in_channels), int(r.out_channels), int(r.output_hw.split("x")[0])) for r in table.itertuples()]
    return list(dict.fromkeys(shapes))


def latency_table(shapes: Iterable[tuple[int, int, int]] | None = None, ranks: Iterable[int] = (1, 2, 4, 8),
                  *, batch_size: int = 8, device: str | torch.device | None = None,
                  repeats: int = 5, warmup: int = 3, threads: int | None = None,
                  parts: bool = False) -> pd.DataFrame:
    """Measured time of DAC-decomposed 3x3 layers vs the original, next to their MACs ratio.

    ``shapes`` are (in_channels, out_channels, size) triples (default: CIFAR VGG-16's); the device is
    CUDA when available unless given. Weights are random (time does not depend on their values).
    Timing is ``effconv.analysis.latency.measure_latency`` (median of ``repeats`` calls after ``warmup``
    calls, with ``threads`` CPU threads; ``None`` keeps the current setting). With ``parts`` the depthwise
    and pointwise convs are also timed alone (``depthwise_ms``, ``pointwise_ms``).
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    shapes = vgg16_cifar_shapes() if shapes is None else list(shapes)
    ranks = _check_ranks(ranks)
    rows = []
    for c, n, size in shapes:
        conv = nn.Conv2d(c, n, 3, padding=1, bias=False, device=device)
        x = torch.randn(batch_size, c, size, size, device=device)
        base = measure_latency(conv, x, device=device, repeats=repeats, warmup=warmup, threads=threads)
        for rank in ranks:
            if rank > dac.max_rank(conv):
                continue
            block = dac.decompose(conv, rank)
            timed = measure_latency(block, x, device=device, repeats=repeats, warmup=warmup, threads=threads)
            row = {"in_channels": c, "out_channels": n, "size": size, "rank": rank,
                   "device": base.device_name, "batch_size": batch_size, "conv_ms": base.median_ms,
                   "dac_ms": timed.median_ms, "time_ratio": timed.median_ms / base.median_ms,
                   "macs_ratio": dac.cost_ratio(conv, rank)}
            if parts:
                with torch.no_grad():
                    middle = block.depthwise(x)
                for part, inputs in (("depthwise", x), ("pointwise", middle)):
                    row[f"{part}_ms"] = measure_latency(getattr(block, part), inputs, device=device, repeats=repeats,
                                                        warmup=warmup, threads=threads).median_ms
            rows.append(row)
    return pd.DataFrame(rows)


def _decomposed(model: nn.Module, ranks: Iterable[int], input_size: Sequence[int]) -> list[tuple[int, nn.Module]]:
    """(rank, model with every kxk conv DAC-decomposed at that rank); a layer whose limit is lower stays whole."""
    ranks = _check_ranks(ranks)
    layers = dac.conv_layers(model, tuple(input_size))
    modules = dict(model.named_modules())
    return [(rank, dac.apply(model, {name: rank for name in layers.values() if rank <= dac.max_rank(modules[name])}))
            for rank in ranks]


def model_latency_table(model: nn.Module, ranks: Iterable[int] = PAPER_RANKS, *, input_size: Sequence[int] = CIFAR,
                        batch_size: int = 8, device: str | torch.device | None = None, repeats: int = 5,
                        warmup: int = 2, threads: int | None = None) -> pd.DataFrame:
    """Measured time of a whole model with every kxk conv DAC-decomposed at one rank, vs the original.

    One row for the original (rank 0) and one per rank; ``macs_ratio`` is counted with ``count_flops``
    on the converted model, ``time_ratio`` is measured (median of ``repeats`` calls). Layers where the
    rank exceeds their limit stay whole. Weights may be random: time does not depend on their values.
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x = torch.randn(batch_size, *input_size)
    home = next(model.parameters()).device
    variants = [(0, model), *_decomposed(model, ranks, input_size)]
    rows = []
    for rank, variant in variants:
        macs = count_flops(variant, input_size).macs
        timed = measure_latency(variant, x, device=device, repeats=repeats, warmup=warmup, threads=threads)
        rows.append({"rank": rank, "variant": "original" if rank == 0 else f"DAC rank {rank}", "macs": macs,
                     "ms": timed.median_ms, "q25_ms": timed.q25_ms, "q75_ms": timed.q75_ms,
                     "device": timed.device_name, "batch_size": batch_size})
    model.to(home)  # measure_latency moved it to the timing device
    table = pd.DataFrame(rows)
    table["macs_ratio"] = table["macs"] / table["macs"].iloc[0]
    table["time_ratio"] = table["ms"] / table["ms"].iloc[0]
    return table


def model_latency_rounds(model: nn.Module, ranks: Iterable[int] = PAPER_RANKS, *, rounds: int = 5,
                         input_size: Sequence[int] = CIFAR, batch_size: int = 8, device: str | torch.device | None = None,
                         repeats: int = 5, warmup: int = 2, threads: int | None = None) -> pd.DataFrame:
    """Time ratio (decomposed / original) of the whole model with every kxk conv at one rank, per round.

    Each round times the original and every decomposed variant back to back (median of ``repeats``
    calls each), so a change in the machine's load hits both sides of a ratio alike; the rounds are what
    ``effconv.claims.grade_timing`` needs for an interval. One row per (round, rank).
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise EffconvError(f"rounds must be a positive int (3 or more for an interval), got {rounds!r}.")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x = torch.randn(batch_size, *input_size)
    home = next(model.parameters()).device
    base_macs = count_flops(model, input_size).macs
    variants = [(rank, variant, count_flops(variant, input_size).macs / base_macs)
                for rank, variant in _decomposed(model, ranks, input_size)]
    rows = []
    for index in range(rounds):
        base = measure_latency(model, x, device=device, repeats=repeats, warmup=warmup, threads=threads)
        for rank, variant, macs_ratio in variants:
            timed = measure_latency(variant, x, device=device, repeats=repeats, warmup=warmup, threads=threads)
            rows.append({"round": index, "rank": rank, "macs_ratio": macs_ratio, "conv_ms": base.median_ms,
                         "ms": timed.median_ms, "time_ratio": timed.median_ms / base.median_ms,
                         "device": timed.device_name, "batch_size": batch_size, "repeats": repeats})
    model.to(home)  # measure_latency moved it to the timing device
    return pd.DataFrame(rows)
