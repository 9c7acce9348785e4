"""Chapter 4 (DAC): everything the chapter computes about data-free decomposition.

Cheap, no trained network needed:
    ``layer_table``, ``cost_check`` (cost ratio vs counted MACs), ``break_even_table``,
    ``reconstruction_errors`` and ``eckart_young_check`` (weight errors), ``vgg16_imagenet_allocations``
    (which rank allocations save about the paper's share of ImageNet VGG-16's FLOPs).
Sweeps over a trained model, with a caller-supplied ``evaluate(model) -> accuracy``:
    ``single_layer_sweep``, ``first_last_sweep``, ``equal_flops_sweep``, and ``pareto_front`` over any of
    their results. ``agreement`` builds a data-free stand-in evaluator (agreement with the original).

Every function returns a pandas DataFrame of plain numbers and strings (no NaN), so
``df.to_dict("records")`` goes straight into a JSON result file. MACs are the papers' "FLOPs".
Whole-model checks of the method live in ``dac_checks``, timing in ``dac_latency``, the chapter's claims
(``ledger``) in ``dac_claims``.
Sweep MACs come from the exact cost formulas applied to the original model's counted per-layer MACs;
the tests check them against ``count_flops`` of the converted models.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction

import pandas as pd
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.ops import dac
from effconv.studies.paper import paper_value

Evaluate = Callable[[nn.Module], float]
CIFAR = (3, 32, 32)
PAPER_RANKS = (1, 2, 3, 4, 5)  # the ranks of the paper's CIFAR-VGG sweeps (seed figures)


# ---------------------------------------------------------------------------------------------
# Layers and costs
# ---------------------------------------------------------------------------------------------

def layer_table(model: nn.Module, input_size: Sequence[int] = CIFAR) -> pd.DataFrame:
    """The model's kxk convs in forward order with their shapes, MACs, rank limit and break-even rank."""
    layers = dac.conv_layers(model, tuple(input_size))
    counted = count_flops(model, input_size).by_layer.set_index("name")
    modules = dict(model.named_modules())
    rows = []
    for keras, name in layers.items():
        conv = modules[name]
        kh, kw = conv.kernel_size
        _, height, width = counted.loc[name, "output"]
        rows.append({
            "layer": keras, "module": name, "in_channels": conv.in_channels, "out_channels": conv.out_channels,
            "kernel": f"{kh}x{kw}", "groups": conv.groups, "output_hw": f"{height}x{width}",
            "macs": int(counted.loc[name, "macs"]), "max_rank": dac.max_rank(conv),
            "break_even_rank": dac.break_even_rank(conv.out_channels // conv.groups, kh * kw),
        })
    return pd.DataFrame(rows)


def _new_macs(conv: nn.Conv2d, macs: int, rank: int, method: str) -> int:
    """MACs of ``conv`` (which costs ``macs``) after decomposition, exactly (integer arithmetic)."""
    n, c, g = conv.out_channels, conv.in_channels, conv.groups
    area = conv.kernel_size[0] * conv.kernel_size[1]
    if method == "dac":
        ratio = Fraction(rank, n // g) + Fraction(rank, area)
    else:
        ratio = Fraction(rank, n) + Fraction(rank, c * area)
    new = macs * ratio
    if new.denominator != 1:  # cannot happen for a real conv; guards the formula itself
        raise EffconvError(f"cost formula gave a fractional MAC count for {conv}; this is a bug.")
    return int(new)


class _Costs:
    """The original model's counted MACs, and those of any conversion of it by formula."""

    def __init__(self, model: nn.Module, input_size: Sequence[int]):
        self.layers = dac.conv_layers(model, tuple(input_size))
        if not self.layers:
            raise EffconvError(f"{type(model).__name__} has no kxk convolution to decompose.")
        count = count_flops(model, input_size)
        self.macs = count.macs
        self.by_name = count.by_layer.set_index("name")["macs"].to_dict()
        self.modules = dict(model.named_modules())
        self.keras = {name: keras for keras, name in self.layers.items()}

    def module(self, key: str) -> str:
        if key in self.layers:
            return self.layers[key]
        if key in self.layers.values():
            return key
        raise EffconvError(
            f"{key!r} is not a kxk conv of this model; use conv2d_1..conv2d_{len(self.layers)} or their "
            "module names (effconv.ops.dac.conv_layers(model))."
        )

    def converted(self, ranks: Mapping[str, int], method: str) -> int:
        total = self.macs
        for key, rank in ranks.items():
            name = self.module(key)
            total += _new_macs(self.modules[name], self.by_name[name], rank, method) - self.by_name[name]
        return total


def cost_check(model: nn.Module, input_size: Sequence[int] = CIFAR, ranks: Iterable[int] = range(1, 10),
               method: dac.Method = "dac") -> pd.DataFrame:
    """Counted MACs of each decomposed layer vs the formula ``r/N + r/k^2`` (or channel SVD's).

    One converted model per rank (every kxk conv at that rank, capped at the layer's limit) is counted
    with ``count_flops``; ``agrees`` says whether counted == original * formula exactly. Works on a
    ``meta``-device model (no arithmetic).
    """
    costs = _Costs(model, input_size)
    limit = dac.max_rank if method == "dac" else dac.channel_max_rank
    rows = []
    for rank in ranks:
        plan = {name: min(rank, limit(costs.modules[name])) for name in costs.layers.values()}
        counted = count_flops(dac.apply(model, plan, method=method), input_size).by_layer.set_index("name")["macs"]
        for keras, name in costs.layers.items():
            conv, used = costs.modules[name], plan[name]
            parts = ("depthwise", "pointwise") if method == "dac" else ("basis", "pointwise")
            new = int(sum(counted[f"{name}.{part}"] for part in parts))
            formula = dac.cost_ratio(conv, used, method)
            rows.append({
                "layer": keras, "module": name, "out_channels": conv.out_channels, "rank": used,
                "macs": int(costs.by_name[name]), "macs_decomposed": new,
                "counted_ratio": new / costs.by_name[name], "formula_ratio": formula,
                "agrees": new == _new_macs(conv, costs.by_name[name], used, method),
            })
    return pd.DataFrame(rows)


def break_even_table(widths: Iterable[int] = (64, 128, 256, 512), kernel_area: int = 9,
                     ranks: Iterable[int] = range(1, 10)) -> pd.DataFrame:
    """Cost ratio ``r/N + r/k^2`` per width and rank, with the break-even rank ``k^2 N / (N + k^2)``.

    ``max_saving_rank`` is the largest integer rank that still costs less than the original layer.
    The defaults are VGG-16's widths with 3x3 kernels.
    """
    ranks = list(ranks)
    rows = []
    for n in widths:
        even = dac.break_even_rank(n, kernel_area)
        row = {"out_channels": n, "kernel_area": kernel_area, "break_even_rank": even,
               "max_saving_rank": math.ceil(even) - 1}
        row.update({f"ratio_r{r}": r / n + r / kernel_area for r in ranks})
        rows.append(row)
    return pd.DataFrame(rows)


def anatomy_table(in_channels: int = 64, out_channels: int = 128, rank: int = 3, size: int = 16,
                  kernel: int = 3) -> pd.DataFrame:
    """One kxk conv and its DAC pair, part by part: kernel, channels, groups, weights and counted MACs.

    The last row is the whole pair (``groups`` "-": two convs); its ratios to the original equal
    ``r/N + r/k^2`` for both weights and MACs (no bias, stride 1, 'same' padding).
    """
    conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)  # weights: any values
    block = dac.decompose(conv, rank)
    counted = count_flops(block, (in_channels, size, size)).by_layer.set_index("name")["macs"]
    original = count_flops(conv, (in_channels, size, size)).macs
    rows = [{"part": "original conv", "kernel": f"{kernel}x{kernel}", "in": in_channels, "out": out_channels,
             "groups": 1, "weights": conv.weight.numel(), "macs": original}]
    for part in ("depthwise", "pointwise"):
        layer = getattr(block, part)
        rows.append({"part": f"DAC {part}", "kernel": "x".join(map(str, layer.kernel_size)), "in": layer.in_channels,
                     "out": layer.out_channels, "groups": layer.groups, "weights": layer.weight.numel(),
                     "macs": int(counted[part])})
    rows.append({"part": "DAC pair", "kernel": "", "in": in_channels, "out": out_channels, "groups": "-",
                 "weights": rows[1]["weights"] + rows[2]["weights"], "macs": rows[1]["macs"] + rows[2]["macs"]})
    table = pd.DataFrame(rows)
    table["weights_vs_original"] = table["weights"] / rows[0]["weights"]
    table["macs_vs_original"] = table["macs"] / original
    return table


# ---------------------------------------------------------------------------------------------
# Weight reconstruction
# ---------------------------------------------------------------------------------------------

def _channel_singular_values(conv: nn.Conv2d) -> torch.Tensor:
    """Singular values of every input channel's slice, shape ``(C, min(N/g, kh*kw))``."""
    return torch.linalg.svdvals(dac.channel_slices(conv.weight.detach().double(), conv.groups))


def _channel_errors(conv: nn.Conv2d, approx: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius error per input channel between ``conv``'s kernel and ``approx``."""
    diff = dac.channel_slices(conv.weight.detach().double() - approx.double(), conv.groups)
    return diff.pow(2).sum(dim=(1, 2))


def eckart_young_check(conv: nn.Conv2d, ranks: Iterable[int] | None = None) -> pd.DataFrame:
    """Per rank: DAC's measured squared weight error per channel vs the tail ``sum_{i>r} s_i^2``.

    Eckart-Young says the truncated SVD's error is exactly the tail of the singular values; the
    ``max_abs_gap`` column (over input channels) should be at round-off level (float64 inside).
    """
    s2 = _channel_singular_values(conv).pow(2)
    factors = dac.channel_factors(conv)
    ranks = range(1, dac.max_rank(conv) + 1) if ranks is None else ranks
    rows = []
    for rank in ranks:
        measured = _channel_errors(conv, dac.recompose_weight(dac.decompose(conv, rank, factors=factors)))
        tail = s2[:, rank:].sum(dim=1)
        rows.append({"rank": rank, "error_sq": float(measured.sum()), "tail_sq": float(tail.sum()),
                     "max_abs_gap": float((measured - tail).abs().max()),
                     "scale": float(s2.sum())})
    return pd.DataFrame(rows)


def reconstruction_errors(model: nn.Module, ranks: Iterable[int] = range(1, 10),
                          input_size: Sequence[int] = CIFAR, with_channel_svd: bool = True) -> pd.DataFrame:
    """Relative weight error ``||W - W_r||_F / ||W||_F`` of every kxk conv at every rank (no data, no evaluation).

    ``rel_error`` is measured from the decomposed layers; ``rel_tail`` is the same quantity predicted by
    the singular values (they agree by Eckart-Young). With ``with_channel_svd`` each row also has the
    channel-SVD rank of equal (not larger) MACs and its relative error. Ranks above a layer's limit are skipped.
    """
    layers = dac.conv_layers(model, tuple(input_size))
    modules = dict(model.named_modules())
    rows = []
    for keras, name in layers.items():
        conv = modules[name]
        weight = conv.weight.detach().double()
        norm = float(torch.linalg.vector_norm(weight))
        s2 = _channel_singular_values(conv).pow(2)
        factors = dac.channel_factors(conv)
        channel_factors = dac.kernel_factors(conv) if with_channel_svd and conv.groups == 1 else None
        for rank in ranks:
            if rank > dac.max_rank(conv):
                continue
            approx = dac.recompose_weight(dac.decompose(conv, rank, factors=factors)).double()
            row = {"layer": keras, "module": name, "rank": rank, "cost_ratio": dac.cost_ratio(conv, rank),
                   "rel_error": float(torch.linalg.vector_norm(weight - approx)) / norm,
                   "rel_tail": math.sqrt(float(s2[:, rank:].sum())) / norm}
            if channel_factors is not None:
                matched = dac.matched_channel_rank(conv, rank)
                block = dac.channel_svd(conv, matched, factors=channel_factors)
                basis = block.basis.weight.detach().double().reshape(matched, -1)
                mix = block.pointwise.weight.detach().double().reshape(conv.out_channels, matched)
                row.update({"channel_rank": matched, "channel_cost_ratio": dac.cost_ratio(conv, matched, "channel_svd"),
                            "channel_rel_error": float(torch.linalg.vector_norm(weight.reshape(conv.out_channels, -1)
                                                                                - mix @ basis)) / norm})
            rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# ImageNet VGG-16: which allocations save the paper's share (complexity only)
# ---------------------------------------------------------------------------------------------

def two_level_ranks(layers: Sequence[str], k: int, early: int, late: int) -> dict[str, int]:
    """Rank ``early`` for the first ``k`` layers and ``late`` for the rest (``late < early`` favours later layers)."""
    return {name: early if i < k else late for i, name in enumerate(layers)}


def _saving_plan(costs: _Costs, ranks: Mapping[str, int]) -> dict[str, int]:
    """Drop layers whose rank would not save (at or above break-even) or exceeds the limit: they stay whole."""
    plan = {}
    for key, rank in ranks.items():
        conv = costs.modules[costs.module(key)]
        area = conv.kernel_size[0] * conv.kernel_size[1]
        if rank <= dac.max_rank(conv) and rank < dac.break_even_rank(conv.out_channels // conv.groups, area):
            plan[key] = rank
    return plan


def vgg16_imagenet_allocations(target_saving_pct: float | None = None, model: nn.Module | None = None,
                               input_size: Sequence[int] = (3, 224, 224)) -> pd.DataFrame:
    """Counted FLOP savings of DAC rank allocations on ImageNet VGG-16 (torchvision, 224x224).

    Allocations: uniform rank 1..8 on all 13 convs; the same with ``conv2d_1`` kept whole (it is cheap
    and, in the paper's CIFAR sweep, the most fragile); and, for the paper's observation that later
    layers tolerate decomposition better, the two-level allocation (rank ``early`` for the first k convs,
    a lower rank ``late`` after them; searched over all k and ranks) whose saving is closest to
    ``target_saving_pct``. Layers whose rank would not save stay whole. Every saving is counted with
    ``count_flops`` on the converted model (built on the ``meta`` device, so nothing is computed).
    Accuracy needs ImageNet and is marked "not run". The target defaults to the paper's printed saving.
    """
    if target_saving_pct is None:
        target_saving_pct = paper_value("dac", "imagenet_vgg16_flops_saved").value
    if model is None:
        import torchvision

        with torch.device("meta"):
            model = torchvision.models.vgg16()
    costs = _Costs(model, input_size)
    names = list(costs.layers)
    candidates: list[tuple[str, str, dict[str, int]]] = []
    for r in range(1, 9):
        candidates.append((f"uniform r={r}", "uniform", {k: r for k in names}))
        candidates.append((f"uniform r={r}, conv2d_1 kept", "uniform", {k: r for k in names[1:]}))
    best = None  # (gap to target, k, early, late)
    for early in range(2, 9):
        for late in range(1, early):
            for k in range(1, len(names)):
                plan = _saving_plan(costs, two_level_ranks(names, k, early, late))
                gap = abs(100 * (1 - costs.converted(plan, "dac") / costs.macs) - target_saving_pct)
                if best is None or gap < best[0]:
                    best = (gap, k, early, late)
    _, k, early, late = best
    candidates.append((f"r={early} for conv2d_1..conv2d_{k}, r={late} after", "later layers lower",
                       two_level_ranks(names, k, early, late)))

    rows = []
    for label, rule, ranks in candidates:
        plan = _saving_plan(costs, ranks)
        counted = count_flops(dac.apply(model, {costs.layers[k]: r for k, r in plan.items()}), input_size).macs
        rows.append({
            "allocation": label, "rule": rule,
            "ranks": ",".join(str(plan.get(k, "-")) for k in names),  # "-" = layer kept whole
            "macs": counted, "baseline_macs": costs.macs, "macs_saved_pct": 100 * (1 - counted / costs.macs),
            "formula_agrees": counted == costs.converted(plan, "dac"), "accuracy": "not run",
        })
    table = pd.DataFrame(rows)
    table["gap_to_target_pct"] = (table["macs_saved_pct"] - target_saving_pct).abs()
    return table


# ---------------------------------------------------------------------------------------------
# Sweeps over a trained model
# ---------------------------------------------------------------------------------------------

def _score(evaluate: Evaluate, model: nn.Module) -> float:
    """``evaluate(model)`` in eval mode (the model's own mode is restored), checked to be a number."""
    was_training = model.training
    try:
        value = evaluate(model.eval())
    finally:
        model.train(was_training)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise EffconvError(f"evaluate(model) must return an accuracy as a number, got {value!r}.")
    return float(value)


def _check_evaluate(evaluate) -> None:
    if not callable(evaluate):
        raise EffconvError("evaluate must be a function evaluate(model) -> accuracy (e.g. top-1 in %).")


def _check_ranks(ranks: Iterable[int]) -> list[int]:
    ranks = list(ranks)
    if not ranks or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in ranks):
        raise EffconvError(f"ranks must be a non-empty list of positive ints, got {ranks!r}.")
    return ranks


def _row(costs: _Costs, baseline: float, accuracy: float, ranks: Mapping[str, int], method: str) -> dict:
    macs = costs.converted(ranks, method)
    return {"accuracy": accuracy, "baseline_accuracy": baseline, "accuracy_drop": baseline - accuracy,
            "macs": macs, "baseline_macs": costs.macs, "macs_saved_pct": 100 * (1 - macs / costs.macs)}


def single_layer_sweep(model: nn.Module, evaluate: Evaluate, *, ranks: Iterable[int] = PAPER_RANKS,
                       input_size: Sequence[int] = CIFAR, layers: Sequence[str] | None = None) -> pd.DataFrame:
    """Decompose one layer at a time (``conv2d_i`` alone, every rank) and evaluate the whole model.

    The paper's first CIFAR-VGG experiment. Columns: layer, module, rank, accuracy, baseline_accuracy,
    accuracy_drop, macs (whole model), baseline_macs, macs_saved_pct.
    """
    _check_evaluate(evaluate)
    ranks = _check_ranks(ranks)
    costs = _Costs(model, input_size)
    baseline = _score(evaluate, model)
    cache: dict = {}  # one SVD per layer for the whole sweep
    rows = []
    for keras in (list(costs.layers) if layers is None else layers):
        name = costs.module(keras)
        for rank in ranks:
            plan = {name: rank}
            accuracy = _score(evaluate, dac.apply(model, plan, cache=cache))
            rows.append({"layer": costs.keras[name], "module": name, "rank": rank,
                         **_row(costs, baseline, accuracy, plan, "dac")})
    return pd.DataFrame(rows)


def first_last_sweep(model: nn.Module, evaluate: Evaluate, *, ranks: Iterable[int] = PAPER_RANKS,
                     ks: Iterable[int] | None = None, input_size: Sequence[int] = CIFAR) -> pd.DataFrame:
    """Decompose the first k or the last k kxk convs at one rank, for every k and rank.

    The paper's second CIFAR-VGG experiment (k = 1..13 on VGG-16). Columns: end ("first"/"last"), k,
    rank, layers (e.g. "conv2d_11..conv2d_13"), accuracy, accuracy_drop, macs, macs_saved_pct ...
    """
    _check_evaluate(evaluate)
    ranks = _check_ranks(ranks)
    costs = _Costs(model, input_size)
    names = list(costs.layers)
    ks = list(range(1, len(names) + 1)) if ks is None else list(ks)
    if any(isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(names) for k in ks):
        raise EffconvError(f"ks must be ints in 1..{len(names)} (the number of kxk convs), got {ks!r}.")
    baseline = _score(evaluate, model)
    cache: dict = {}
    rows = []
    for end in ("first", "last"):
        for k in ks:
            chosen = names[:k] if end == "first" else names[-k:]
            for rank in ranks:
                plan = {costs.layers[name]: rank for name in chosen}  # module names: unambiguous for apply
                accuracy = _score(evaluate, dac.apply(model, plan, cache=cache))
                rows.append({"end": end, "k": k, "rank": rank, "layers": f"{chosen[0]}..{chosen[-1]}",
                             **_row(costs, baseline, accuracy, plan, "dac")})
    return pd.DataFrame(rows)


def equal_flops_sweep(model: nn.Module, evaluate: Evaluate, *, ranks: Iterable[int] = PAPER_RANKS,
                      configs: Mapping[str, Sequence[str]] | None = None,
                      input_size: Sequence[int] = CIFAR) -> pd.DataFrame:
    """DAC vs channel SVD at equal (not larger) FLOPs, layer by layer.

    For each configuration (a label -> the layers it decomposes; default: every single layer and
    ``"all"``) and each DAC rank, the same layers are converted once with DAC at that rank and once with
    channel SVD at each layer's ``matched_channel_rank``. Two rows per (config, rank), ``method`` dac or
    channel_svd; ``layer_ranks`` lists the per-layer ranks used.
    """
    _check_evaluate(evaluate)
    ranks = _check_ranks(ranks)
    costs = _Costs(model, input_size)
    if configs is None:
        configs = {k: [k] for k in costs.layers} | {"all": list(costs.layers)}
    baseline = _score(evaluate, model)
    cache: dict = {}
    rows = []
    for label, layers in configs.items():
        for rank in ranks:
            modules = [costs.module(layer) for layer in layers]
            dac_plan = {name: rank for name in modules}
            svd_plan = {name: dac.matched_channel_rank(costs.modules[name], rank) for name in modules}
            for method, plan in (("dac", dac_plan), ("channel_svd", svd_plan)):
                accuracy = _score(evaluate, dac.apply(model, plan, method=method, cache=cache))
                rows.append({"config": label, "dac_rank": rank, "method": method,
                             "layer_ranks": ",".join(str(r) for r in plan.values()),
                             **_row(costs, baseline, accuracy, plan, method)})
    return pd.DataFrame(rows)


def pareto_front(tables: pd.DataFrame | Iterable[pd.DataFrame], *, accuracy: str = "accuracy",
                 saving: str = "macs_saved_pct") -> pd.DataFrame:
    """Configurations no other one beats on both accuracy and FLOPs saved, sorted by saving.

    Takes one sweep table or several (they are stacked; a ``sweep`` column tells them apart).
    """
    if isinstance(tables, pd.DataFrame):
        tables = [tables]
    frames = [t.assign(sweep=i) if "sweep" not in t else t for i, t in enumerate(tables)]
    if not frames:
        raise EffconvError("pareto_front needs at least one sweep table.")
    table = pd.concat(frames, ignore_index=True)
    missing = {accuracy, saving} - set(table.columns)
    if missing:
        raise EffconvError(f"pareto_front: columns {sorted(missing)} are missing; pass sweep tables from this module.")
    # sort by saving (desc), then accuracy (desc): a row is on the front iff it beats every earlier accuracy
    ordered = table.sort_values([saving, accuracy], ascending=[False, False])
    keep, best = [], -math.inf
    for index, value in ordered[accuracy].items():
        if value > best:
            keep.append(index)
            best = value
    return table.loc[keep].sort_values(saving).reset_index(drop=True)


def agreement(reference: nn.Module, inputs: torch.Tensor) -> Evaluate:
    """An evaluator needing no labels: % of ``inputs`` on which a model's top-1 matches ``reference``'s.

    Useful as a stand-in for accuracy in tests and as a data-free fidelity measure.
    """
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2:
        raise EffconvError("agreement needs a batch of inputs as a tensor (N, C, H, W).")
    was_training = reference.training
    with torch.no_grad():
        target = reference.eval()(inputs).argmax(dim=1)
    reference.train(was_training)

    def evaluate(model: nn.Module) -> float:
        with torch.no_grad():
            return 100.0 * (model.eval()(inputs).argmax(dim=1) == target).double().mean().item()

    return evaluate
