"""Chapter 3 (ACNet): the live checks of the fusion, moved out of ``acnet`` (the analyses of a trained
model) to keep each module to one idea.

- ``exactness_configs`` / ``block_exactness_table`` / ``exactness_coverage``: random block geometries folded;
- ``model_exactness_table``: whole models (through the conv factory or ``convert``) folded;
- ``cost_table``: counted parameters and MACs, base vs ACNet, as trained and fused;
- ``example_block`` / ``branch_kernels``: one BN-folded kernel slice per branch, for the branch-fusion figure;
- ``interleaved_latency`` / ``fused_latency_table``: inference time of fused and unfused ACNets.
"""

from __future__ import annotations

import copy
import random
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops.acb import ACBlock
from effconv.studies.acnet.probes import fused_copy, randomise_bn, fusion_report, CIFAR_FAMILIES, fusion_error
from effconv.analysis.latency import measure_latency
from effconv.ops.acnet import convert

# --------------------------------------------------------------------------- chapter 3: live exactness checks
# The chapter shows the fusion is exact on many more geometries than the seed's demo (which checks
# stride 1 and an ungrouped 2 -> 8 conv on a 62x62 input only) and on whole converted models.

#: (kernel, padding) pairs the seed's stride-1 demo tries; everything else is new ground
SEED_DEMO_KERNEL_PADDING = ((3, 1), (3, 0), (5, 1), (5, 2), (5, 3), (5, 4), (5, 6))
BRANCH_NAMES = ("square", "hor", "ver")


def padding_class(kernel_size: int, padding: int) -> str:
    """``below`` / ``at`` / ``above`` k//2: below it the 1xk/kx1 branches must crop instead of pad."""
    centre = kernel_size // 2
    return "below k//2" if padding < centre else ("k//2" if padding == centre else "above k//2")


def in_seed_demo(config: dict[str, Any]) -> bool:
    """Whether the seed's equivalence demo exercises this block geometry (stride 1, groups 1, the
    paper's block: all three branches with a BN each, centred asymmetric kernels)."""
    return (config["stride"] == 1 and config["groups"] == 1 and not config.get("border", False)
            and config.get("norm", "branch") == "branch"
            and tuple(config.get("branches", BRANCH_NAMES)) == BRANCH_NAMES
            and (config["kernel_size"], config["padding"]) in SEED_DEMO_KERNEL_PADDING)


def exactness_configs(seed: int = 0) -> list[dict[str, Any]]:
    """Random ACBlock geometries covering every kernel (3, 5) x stride (1, 2) x grouping (dense,
    2 groups, depthwise) x padding (below, at, above k//2). Channels, the input's height and width
    (odd and even, down to the smallest the padding allows), the normalisation (BN per branch, after
    the sum, none), the border variant and the branch subset are drawn at random; a quarter of the
    blocks use a subset of the branches (the ablation's blocks), the rest the full ACB."""
    rng = random.Random(seed)
    subsets = [("square", "hor"), ("square", "ver"), ("hor", "ver"), ("square",)]
    configs = []
    for kernel in (3, 5):
        for stride in (1, 2):
            for grouping in ("dense", "grouped", "depthwise"):
                for padding in (kernel // 2 - 1, kernel // 2, kernel // 2 + 1):
                    groups = {"dense": 1, "grouped": 2, "depthwise": rng.choice((4, 6, 8))}[grouping]
                    in_channels = groups if grouping == "depthwise" else groups * rng.randint(1, 4)
                    out_channels = in_channels if grouping == "depthwise" else groups * rng.randint(1, 4)
                    smallest = max(kernel - 2 * padding, 1)
                    height = rng.randint(smallest, smallest + 11)
                    width = height + 1 if len(configs) % 2 else height  # half the inputs not square
                    configs.append({
                        "kernel_size": kernel, "stride": stride, "padding": padding, "groups": groups,
                        "grouping": grouping, "in_channels": in_channels, "out_channels": out_channels,
                        "height": height, "width": width,
                        "norm": rng.choice(("branch", "branch", "sum", "none")),
                        "border": rng.random() < 0.25,
                        "branches": BRANCH_NAMES if rng.random() < 0.75 else rng.choice(subsets),
                    })
    return configs


def _random_block(config: dict[str, Any], seed: int) -> ACBlock:
    torch.manual_seed(seed)
    block = ACBlock(config["in_channels"], config["out_channels"], config["kernel_size"], config["stride"],
                    config["padding"], config["groups"], branches=config["branches"], norm=config["norm"],
                    border=config["border"])
    with torch.no_grad():
        for branch in block.branches.values():
            if branch.conv.bias is not None:  # norm="none": the block's only shift is this bias
                branch.conv.bias.normal_()
    return randomise_bn(block, seed)


def block_exactness_table(configs: Sequence[dict[str, Any]] | None = None, *, batch_size: int = 2,
                          seed: int = 0) -> pd.DataFrame:
    """Fuse one randomly initialised ACBlock per configuration (random BN affine parameters and running
    statistics) and compare it with the unfused block on a random input, in float32 and float64.

    Columns: the configuration, ``padding_class``, ``input`` (HxW), ``out`` (output HxW),
    ``max_rel`` / ``max_rel_float64`` (max|fused - unfused| / max|unfused|), ``same_geometry``
    (the fused conv has the block's kernel, stride, padding and groups) and ``in_seed_demo``.
    """
    configs = exactness_configs(seed) if configs is None else list(configs)
    rows = []
    for index, config in enumerate(configs):
        block = _random_block(config, seed + index).eval()
        inputs = torch.randn(batch_size, config["in_channels"], config["height"], config["width"],
                             generator=torch.Generator().manual_seed(seed + index))
        error32 = fusion_error(block, inputs)
        error64 = fusion_error(block, inputs, torch.float64)
        fused = block.fuse()
        with torch.no_grad():
            out = fused(inputs)
        rows.append({
            **{k: config[k] for k in ("kernel_size", "stride", "padding", "groups", "grouping", "in_channels",
                                      "out_channels", "norm", "border")},
            "branches": "+".join(config["branches"]),
            "padding_class": padding_class(config["kernel_size"], config["padding"]),
            "input": f"{config['height']}x{config['width']}", "out": f"{out.shape[-2]}x{out.shape[-1]}",
            "max_rel": error32["max_rel"], "max_rel_float64": error64["max_rel"],
            "same_geometry": (fused.kernel_size, fused.stride, fused.padding, fused.groups) == (
                (config["kernel_size"],) * 2, (config["stride"],) * 2, (config["padding"],) * 2, config["groups"]),
            "in_seed_demo": in_seed_demo(config),
        })
    return pd.DataFrame(rows)


def exactness_coverage(table: pd.DataFrame) -> pd.DataFrame:
    """Worst errors of ``block_exactness_table`` per value of each axis (stride, padding, grouping ...)."""
    sizes = table["input"].str.split("x", expand=True).astype(int)
    axes = {
        "kernel": table["kernel_size"].map(lambda k: f"{k}x{k}"),
        "stride": table["stride"].astype(str),
        "padding": table["padding_class"],
        "grouping": table["grouping"],
        "input size": ((sizes[0] % 2) + (sizes[1] % 2)).map({0: "both even", 1: "odd and even", 2: "both odd"}),
        "normalisation": table["norm"].map({"branch": "BN per branch", "sum": "BN after the sum", "none": "no BN"}),
        "branch placement": table["border"].map({False: "centred", True: "border"}),
        "branches": table["branches"],
    }
    rows = []
    for axis, values in axes.items():
        for value in dict.fromkeys(values):  # first-seen order
            part = table[values == value]
            rows.append({"axis": axis, "value": value, "blocks": len(part),
                         "in seed demo": int(part["in_seed_demo"].sum()),
                         "worst float32": part["max_rel"].max(), "worst float64": part["max_rel_float64"].max()})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ModelCase:
    """A whole model for the exactness table: built through the conv factory or converted with ``convert``."""

    label: str
    route: str                       # "factory" (a zoo family) or "convert" (any model, via torch.fx)
    build: Callable[[], nn.Module]   # the base model
    input_size: tuple[int, int, int] = (3, 32, 32)
    factory_name: str | None = None  # for "factory": the zoo family
    width: float = 1.0


def default_model_cases() -> list[ModelCase]:
    """CIFAR ResNet-56 and VGG-16 through the factory (half width), torchvision ResNet-18 and
    MobileNetV2 through ``convert`` (32x32 inputs)."""
    import torchvision

    return [
        ModelCase("ResNet-56 (CIFAR, width 0.5)", "factory", lambda: create_model("resnet56", width=0.5),
                  factory_name="resnet56", width=0.5),
        ModelCase("VGG-16 (CIFAR, width 0.5)", "factory", lambda: create_model("vgg16_cifar", width=0.5),
                  factory_name="vgg16_cifar", width=0.5),
        ModelCase("torchvision ResNet-18", "convert", lambda: torchvision.models.resnet18(num_classes=10)),
        ModelCase("torchvision MobileNetV2", "convert", lambda: torchvision.models.mobilenet_v2(num_classes=10)),
    ]


def acnet_pair(case: ModelCase, **acb_options: Any) -> tuple[nn.Module, nn.Module]:
    """(ACNet, reference base) for a case. The reference is what the ACNet must fold into: the zoo's
    base family, or for a converted model the same model converted with the square branch only (its BNs
    then fold exactly like the ACNet's, so the two deployed models are comparable layer by layer)."""
    base = case.build()
    if case.route == "factory":
        acnet = create_model(case.factory_name, width=case.width, conv="acb", conv_kwargs=acb_options or None)
        return acnet, base
    if case.route == "convert":
        reference = convert(copy.deepcopy(base), branches=("square",))
        return convert(base, **acb_options), reference
    raise EffconvError(f"unknown model route {case.route!r}; use 'factory' or 'convert'.")


@torch.no_grad()
def float32_rounding(model: nn.Module, inputs: torch.Tensor) -> float:
    """max|f32 - f64| / max|f64| of the model itself (eval mode): the rounding floor any float32
    comparison of two equal functions sits on."""
    model = copy.deepcopy(model).eval()
    reference = copy.deepcopy(model).double()(inputs.double())
    return ((model(inputs).double() - reference).abs().max() / reference.abs().max()).item()


def model_exactness_table(cases: Sequence[ModelCase] | None = None, *, seed: int = 0,
                          calibrate: int | None = None, **acb_options: Any) -> pd.DataFrame:
    """``fusion_report`` for whole models: every kxk conv an ACB with random BN parameters.

    By default the BN running statistics are drawn at random (mean in +-0.3, variance 0.5-2). With
    ``calibrate=n`` they are measured on ``n`` random images instead, as a trained model's would be.
    Columns as ``fusion_report`` plus ``model``, ``route``, ``bn_statistics``, ``blocks`` (ACBs) and
    ``float32_rounding`` (the unfused model's own float32 error against float64 on the same inputs).
    """
    rows = []
    for case in (default_model_cases() if cases is None else cases):
        torch.manual_seed(seed)
        acnet, reference = acnet_pair(case, **acb_options)
        batch = None
        if calibrate:
            batch = torch.randn((calibrate, *case.input_size), generator=torch.Generator().manual_seed(seed + 1))
        randomise_bn(acnet, seed, calibrate=batch)
        report = fusion_report(acnet, reference, input_size=case.input_size, seed=seed)
        inputs = torch.randn((2, *case.input_size), generator=torch.Generator().manual_seed(seed))
        rows.append({"model": case.label, "route": case.route,
                     "bn_statistics": f"measured on {calibrate} random images" if calibrate else "drawn at random",
                     "blocks": sum(isinstance(m, ACBlock) for m in acnet.modules()), **report,
                     "float32_rounding": float32_rounding(acnet, inputs)})
    return pd.DataFrame(rows)


def cost_table(names: Iterable[str] = CIFAR_FAMILIES, *, width: float = 1.0,
               input_size: Sequence[int] = (3, 32, 32), **acb_options: Any) -> pd.DataFrame:
    """Counted parameters and MACs of each zoo family: base as built and BN-folded, ACNet as trained
    (all branches and BNs) and fused. Built on the meta device: counting does no arithmetic.

    ``same_as_base``: the fused ACNet and the folded base have exactly equal parameters and MACs.
    ``train_macs_ratio`` / ``train_params_ratio``: the training-time ACNet over the base as built.
    """
    size = tuple(input_size)
    rows = []
    for name in names:
        with torch.device("meta"):
            base = create_model(name, width=width)
            acnet = create_model(name, width=width, conv="acb", conv_kwargs=acb_options or None)
        counts = {"base": count_flops(base, size), "base_fused": count_flops(fused_copy(base), size),
                  "acnet": count_flops(acnet, size), "acnet_fused": count_flops(fused_copy(acnet), size)}
        row: dict[str, Any] = {"model": name}
        for key, count in counts.items():
            row[f"{key}_params"], row[f"{key}_macs"] = count.params, count.macs
        row["same_as_base"] = (counts["acnet_fused"].params == counts["base_fused"].params
                               and counts["acnet_fused"].macs == counts["base_fused"].macs)
        row["train_params_ratio"] = counts["acnet"].params / counts["base"].params
        row["train_macs_ratio"] = counts["acnet"].macs / counts["base"].macs
        rows.append(row)
    return pd.DataFrame(rows)


def example_block(seed: int = 3) -> ACBlock:
    """The branch-fusion figure's block: a randomly initialised 4 -> 4 3x3 ACB with random BN statistics
    (a fresh BN is the identity, which would hide what folding does), in eval mode."""
    torch.manual_seed(seed)
    return randomise_bn(ACBlock(4, 4, 3), seed=seed).eval()


def branch_kernels(block: ACBlock, out_channel: int = 0, in_channel: int = 0) -> dict[str, torch.Tensor]:
    """One kxk slice of each BN-folded branch kernel, placed where it lands in the square, and their sum
    (equal to the fused conv's kernel): the picture of branch fusion."""
    k = block.kernel_size
    kernels: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, branch in block.branches.items():
            kh, kw, r0, c0 = block.geometry[name]
            weight = branch.conv.weight
            bn = getattr(branch, "bn", None)
            if bn is not None:
                weight = weight * (bn.weight / (bn.running_var + bn.eps).sqrt()).view(-1, 1, 1, 1)
            placed = torch.zeros(k, k, dtype=weight.dtype)
            placed[r0:r0 + kh, c0:c0 + kw] = weight[out_channel, in_channel]
            kernels[name] = placed
        kernels["fused"] = block.fuse().weight[out_channel, in_channel].detach().clone()
    return kernels


def block_shapes(model_name: str = "resnet20", *, width: float = 1.0, input_size: Sequence[int] = (3, 32, 32)
                 ) -> dict[str, Any]:
    """The shapes of the first ACB of ``model_name`` built with ACBs (the chapter's ACNet), as one image of
    ``input_size`` flows through it: the block's input and output, each branch's kernel, BN and output, and
    the fused kernel. The block diagram is drawn from these, so it shows the layer as trained."""
    model = create_model(model_name, width=width, conv="acb").eval()
    block = next((m for m in model.modules() if isinstance(m, ACBlock)), None)
    if block is None:
        raise EffconvError(f"{model_name} built with conv='acb' has no ACBlock; pick a model with kxk convs.")
    seen: dict[str, Any] = {}
    hooks = [block.register_forward_hook(lambda _m, args, out: seen.update(input=tuple(args[0].shape),
                                                                            output=tuple(out.shape)))]
    for name, branch in block.branches.items():
        hooks.append(branch.register_forward_hook(
            lambda _m, _args, out, name=name: seen.setdefault("branch_out", {}).update({name: tuple(out.shape)})))
    with torch.no_grad():
        model(torch.zeros(1, *input_size))
    for hook in hooks:
        hook.remove()
    branches = {name: {"kernel": tuple(branch.conv.weight.shape),
                       "bn": branch.bn.num_features if hasattr(branch, "bn") else None,
                       "output": seen["branch_out"][name]} for name, branch in block.branches.items()}
    return {"model": model_name, "input": seen["input"], "output": seen["output"], "branches": branches,
            "fused": tuple(block.fuse().weight.shape), "stride": block.stride, "padding": block.padding}


# --------------------------------------------------------------------------- chapter 3: live latency


def interleaved_latency(models: dict[str, nn.Module], inputs: torch.Tensor, *, rounds: int = 6,
                        warmup: int = 1, repeats: int = 5, threads: int | None = 1) -> pd.DataFrame:
    """Time several models in interleaved rounds (A, B, C, A, B, C ...) and pool the timed calls.

    On a shared machine the load drifts; timing each model in one block would charge the drift to
    whichever ran during it. Interleaving spreads it over all of them. Returns one row per model with
    ``median_ms``, ``q25_ms``, ``q75_ms`` over all timed calls, ``best_ms`` (the median over rounds of
    each round's fastest call: the least disturbed by other processes, used for ratios), ``calls`` and
    ``device``; ``round_best_ms`` lists each round's fastest call (for a per-round ratio).
    """

    if not models:
        raise EffconvError("interleaved_latency needs at least one model to time.")
    times: dict[str, list[float]] = {name: [] for name in models}
    fastest: dict[str, list[float]] = {name: [] for name in models}
    device_name = ""
    for _ in range(rounds):
        for name, model in models.items():
            result = measure_latency(model, inputs, device=inputs.device, warmup=warmup, repeats=repeats,
                                     threads=threads)
            times[name].extend(result.times_ms)
            fastest[name].append(min(result.times_ms))
            device_name = result.device_name
    rows = []
    for name, values in times.items():
        q25, median, q75 = statistics.quantiles(values, n=4, method="inclusive")
        rows.append({"variant": name, "median_ms": median, "q25_ms": q25, "q75_ms": q75,
                     "best_ms": statistics.median(fastest[name]), "calls": len(values), "device": device_name,
                     "round_best_ms": list(fastest[name])})
    return pd.DataFrame(rows)


def fused_latency_table(names_widths: Sequence[tuple[str, float]] = (("cifar_quick", 1.0), ("resnet56", 1.0)), *,
                        batch_size: int = 1, rounds: int = 6, repeats: int = 5, threads: int | None = 1,
                        seed: int = 0) -> pd.DataFrame:
    """Inference time of each family as base (BN folded), ACNet fused and ACNet unfused, interleaved.

    ``ratio`` is ``best_ms`` over the folded base's: ~1 for the fused ACNet (same architecture), above
    1 for the unfused one (what the branches cost in a forward pass).
    """
    frames = []
    for name, width in names_widths:
        torch.manual_seed(seed)
        base = create_model(name, width=width)
        acnet = randomise_bn(create_model(name, width=width, conv="acb"), seed)
        variants = {"base (BN folded)": fused_copy(base), "ACNet fused": fused_copy(acnet),
                    "ACNet unfused": copy.deepcopy(acnet).eval()}
        inputs = torch.randn(batch_size, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
        table = interleaved_latency(variants, inputs, rounds=rounds, repeats=repeats, threads=threads)
        table.insert(0, "model", name)
        table.insert(1, "width", width)
        table["batch"] = batch_size
        base_row = table.index[table["variant"] == "base (BN folded)"].item()
        table["ratio"] = table["best_ms"] / table.loc[base_row, "best_ms"]
        # per round: this variant's fastest call over the base's in the same round (the grading rounds)
        table["round_ratios"] = [[a / b for a, b in zip(rounds_ms, table.loc[base_row, "round_best_ms"])]
                                 for rounds_ms in table["round_best_ms"]]
        frames.append(table)
    return pd.concat(frames, ignore_index=True)
