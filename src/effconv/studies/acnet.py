"""Chapter 3 (ACNet): the analyses run on a trained model.

Everything here takes a model (usually right after training, in the same process) and returns plain
data (DataFrames, dicts of floats) without touching the caller's model: each analysis works on a
deep copy, folded with ``reparameterize_model`` where the paper analyses the fused kernels.

- ``kernel_importance``: the paper's average relative importance of each kernel position.
- ``prune_kernels`` / ``pruning_curve``: zero random weights in the corners, the skeleton or anywhere.
- ``rotate90_ccw`` / ``rotate180`` / ``flip_updown`` and ``rotation_robustness``.
- ``fusion_report`` / ``zoo_fusion_table`` / ``latency_table``: exactness and cost of the fusion.
- ``block_exactness_table`` / ``exactness_coverage`` / ``model_exactness_table`` / ``cost_table``:
  the chapter's live checks (random block geometries, whole converted models, counted costs).
- ``interleaved_latency`` / ``fused_latency_table``: inference time of fused and unfused ACNets.
"""

from __future__ import annotations

import copy
import random
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import pandas as pd
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops.acb import ACBlock
from effconv.ops.reparam import reparameterize_model

#: the families of the paper's CIFAR-10 table, as built by our zoo
CIFAR_FAMILIES = ("cifar_quick", "vgg16_cifar", "resnet56", "wrn16_8", "densenet40")

# --------------------------------------------------------------------------- fused kernels


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def fused_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every fusable block folded into plain convs (eval mode)."""
    model = copy.deepcopy(model)
    fuse = getattr(model, "fuse", None)  # reparameterize_model folds children, not the root itself
    return fuse().eval() if callable(fuse) else reparameterize_model(model)


def square_convs(model: nn.Module, kernel_size: int = 3) -> list[tuple[str, nn.Conv2d]]:
    """The ``nn.Conv2d`` layers of ``model`` with a ``kernel_size`` x ``kernel_size`` kernel."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and m.kernel_size == (kernel_size, kernel_size)]


def _fused_layers(model: nn.Module, kernel_size: int) -> tuple[nn.Module, list[nn.Conv2d]]:
    fused = fused_copy(model)
    layers = [conv for _, conv in square_convs(fused, kernel_size)]
    if not layers:
        raise EffconvError(
            f"{type(model).__name__} has no {kernel_size}x{kernel_size} convolutions after fusion; "
            "pass the kernel_size its layers use (3 for the CIFAR ResNets and VGG, 5 for cifar_quick)."
        )
    return fused, layers


# --------------------------------------------------------------------------- kernel regions

REGIONS = ("corners", "skeleton", "global", "border", "top_left")


def region_mask(region: str, kernel_size: int = 3) -> torch.Tensor:
    """Boolean kxk mask of a kernel region.

    ``skeleton``: the centre row and column (the cross the 1xk and kx1 kernels are added to);
    ``corners``: everything else (the four corners of a 3x3 kernel); ``global``: every position;
    ``border``: the bottom row and right column (where the border ACB variant adds them);
    ``top_left``: everything else, the (k-1)x(k-1) square at the top left.
    """
    k, c = kernel_size, kernel_size // 2
    mask = torch.zeros(k, k, dtype=torch.bool)
    if region in ("skeleton", "corners"):
        mask[c, :] = mask[:, c] = True
    elif region in ("border", "top_left"):
        mask[k - 1, :] = mask[:, k - 1] = True
    elif region == "global":
        mask[:] = True
    else:
        raise EffconvError(f"unknown kernel region {region!r}; use one of {REGIONS}.")
    return ~mask if region in ("corners", "top_left") else mask


def region_fraction(region: str, kernel_size: int = 3) -> float:
    """Share of a kernel's positions in ``region`` (corners of 3x3: 4/9), the most it can prune."""
    return region_mask(region, kernel_size).float().mean().item()


# --------------------------------------------------------------------------- kernel importance


@torch.no_grad()
def kernel_importance(model: nn.Module, kernel_size: int = 3) -> pd.DataFrame:
    """The average relative importance of each kxk kernel position (the paper's Fig. 6 matrices).

    For every kxk conv of the fused model: sum |w| over all its kernels at each position, divide by
    the largest of these k*k sums; then average the per-layer matrices over layers. A value of 1 at a
    position means it is the largest position of every layer. BNs are folded first (the paper looks at
    the fused ACNet; we fold the base model's BNs too, so both are measured the same way).
    Returns a kxk DataFrame (index ``row``, columns ``col``).
    """
    _, layers = _fused_layers(model, kernel_size)
    total = torch.zeros(kernel_size, kernel_size, dtype=torch.float64)
    counted = 0
    for conv in layers:
        magnitude = conv.weight.detach().abs().double().sum(dim=(0, 1)).cpu()
        if magnitude.max() > 0:  # an all-zero layer has no relative importance
            total += magnitude / magnitude.max()
            counted += 1
    if not counted:
        raise EffconvError("every kxk kernel of the model is zero; kernel_importance needs a trained model.")
    frame = pd.DataFrame((total / counted).numpy())
    frame.index.name, frame.columns.name = "row", "col"
    return frame


def importance_summary(importance: pd.DataFrame) -> dict[str, float]:
    """The numbers the paper quotes: largest corner, smallest skeleton value and the centre."""
    values = torch.tensor(importance.to_numpy())
    k = values.shape[0]
    return {
        "corner_max": float(values[region_mask("corners", k)].max()),
        "skeleton_min": float(values[region_mask("skeleton", k)].min()),
        "centre": float(values[k // 2, k // 2]),
    }


# --------------------------------------------------------------------------- position-wise pruning


def _check_sparsity(sparsity: float, region: str, kernel_size: int) -> None:
    limit = region_fraction(region, kernel_size)
    if not 0.0 <= sparsity <= limit + 1e-9:
        raise EffconvError(
            f"sparsity {sparsity} is out of range for region {region!r}: it can remove at most "
            f"{limit:.4f} of the weights ({region!r} is that share of each kernel); use 0 <= sparsity <= {limit:.4f}."
        )


@torch.no_grad()
def _prune_layers(layers: Sequence[nn.Conv2d], sparsity: float, region: str, generator: torch.Generator) -> int:
    """Zero ``round(sparsity * n)`` random weights of each layer, chosen within ``region``; returns the count."""
    k = layers[0].kernel_size[0]
    mask = region_mask(region, k)
    pruned = 0
    for conv in layers:
        weight = conv.weight.data
        candidates = mask.expand(weight.shape).reshape(-1).nonzero().squeeze(1)
        count = min(round(sparsity * weight.numel()), candidates.numel())
        chosen = candidates[torch.randperm(candidates.numel(), generator=generator)[:count]]
        weight.view(-1)[chosen.to(weight.device)] = 0
        pruned += count
    return pruned


def prune_kernels(model: nn.Module, sparsity: float, region: str = "global", *, seed: int = 0,
                  kernel_size: int = 3) -> nn.Module:
    """A fused copy of ``model`` with random weights of its kxk convs set to zero.

    In every kxk conv, ``round(sparsity * layer size)`` weights are chosen uniformly among the
    positions of ``region`` (see ``region_mask``), as in the paper: each layer reaches the given
    sparsity, counted over all its weights, so ``corners`` stops at 4/9 and ``skeleton`` at 5/9.
    """
    _check_sparsity(sparsity, region, kernel_size)
    fused, layers = _fused_layers(model, kernel_size)
    _prune_layers(layers, sparsity, region, torch.Generator().manual_seed(seed))
    return fused


def pruning_curve(model: nn.Module, evaluate: Callable[[nn.Module], float], sparsities: Iterable[float],
                  regions: Iterable[str] = ("corners", "skeleton", "global"), repeats: int = 5, seed: int = 0,
                  kernel_size: int = 3) -> pd.DataFrame:
    """Accuracy of the fused model as weights are pruned in each region (the paper's Fig. 5).

    ``evaluate(model) -> accuracy`` is the caller's (it gets the fused, pruned copy in eval mode).
    Repeat ``r`` uses seed ``seed + r``. Sparsities above a region's share are skipped (the corner
    curve of a 3x3 kernel ends at 4/9); sparsity 0 is evaluated once and shared.
    Returns one row per (region, sparsity, repeat): ``region, sparsity, repeat, seed, pruned, accuracy``
    where ``pruned`` is the fraction of all kxk weights set to zero.
    """
    regions, sparsities = tuple(regions), sorted(float(s) for s in sparsities)
    for region in regions:
        region_mask(region, kernel_size)  # unknown names fail before any evaluation
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise EffconvError(f"repeats must be a positive integer, got {repeats!r}.")
    if not sparsities or sparsities[0] < 0 or sparsities[-1] > 1:
        raise EffconvError(f"sparsities must be a non-empty list of fractions in [0, 1], got {sparsities!r}.")
    fused, layers = _fused_layers(model, kernel_size)
    originals = [conv.weight.detach().clone() for conv in layers]
    total = sum(w.numel() for w in originals)
    unpruned: float | None = None
    rows = []
    for region in regions:
        limit = region_fraction(region, kernel_size)
        for sparsity in (s for s in sparsities if s <= limit + 1e-9):
            for repeat in range(repeats):
                if sparsity == 0:
                    unpruned = float(evaluate(fused)) if unpruned is None else unpruned
                    accuracy, pruned = unpruned, 0
                else:
                    generator = torch.Generator().manual_seed(seed + repeat)
                    try:
                        pruned = _prune_layers(layers, sparsity, region, generator)
                        accuracy = float(evaluate(fused))
                    finally:
                        with torch.no_grad():
                            for conv, weight in zip(layers, originals):
                                conv.weight.copy_(weight)
                rows.append({"region": region, "sparsity": sparsity, "repeat": repeat, "seed": seed + repeat,
                             "pruned": pruned / total, "accuracy": accuracy})
    return pd.DataFrame(rows)


def summarise_curve(curve: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of accuracy per region and sparsity (the paper plots mean +- std)."""
    return (curve.groupby(["region", "sparsity"])["accuracy"].agg(["mean", "std", "count"])
            .reset_index())


# --------------------------------------------------------------------------- rotation robustness
# Transforms act on tensors whose last two dims are (H, W): an NCHW batch or a CHW image, any dtype.
# They commute with per-channel normalisation, so they can be applied before or after it.


def _check_images(images: Any) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() < 2:
        raise EffconvError(
            "rotation transforms take a torch tensor laid out (..., H, W), e.g. an NCHW batch; "
            "convert a uint8 NHWC numpy array with torch.from_numpy(a).permute(0, 3, 1, 2)."
        )
    return images


def rotate90_ccw(images: torch.Tensor) -> torch.Tensor:
    """Rotate by 90 degrees counter-clockwise (as displayed, row 0 at the top)."""
    return torch.rot90(_check_images(images), 1, dims=(-2, -1))


def rotate180(images: torch.Tensor) -> torch.Tensor:
    """Rotate by 180 degrees (an up-down flip followed by a left-right flip)."""
    return torch.rot90(_check_images(images), 2, dims=(-2, -1))


def flip_updown(images: torch.Tensor) -> torch.Tensor:
    """Flip upside down (mirror the rows)."""
    return torch.flip(_check_images(images), dims=(-2,))


def identity(images: torch.Tensor) -> torch.Tensor:
    return _check_images(images)


#: the paper's test conditions: original, 90 degrees counter-clockwise, 180 degrees, up-down flip
TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "original": identity, "rot90_ccw": rotate90_ccw, "rot180": rotate180, "flip_ud": flip_updown,
}


def transformed(batches: Iterable[Sequence[Any]], transform: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[tuple]:
    """Yield each ``(images, labels, ...)`` batch with ``transform`` applied to its images."""
    for images, *rest in batches:
        yield (transform(images), *rest)


def rotation_robustness(model: nn.Module, evaluate_on: Callable[[nn.Module, Callable], float],
                        transforms: Iterable[str] = tuple(TRANSFORMS)) -> dict[str, float]:
    """Accuracy of ``model`` on the test set under each transform.

    ``evaluate_on(model, transform) -> accuracy`` is the caller's: it should apply ``transform`` to
    every test batch (``transformed`` does that for an iterable of batches) and return the accuracy.
    The model is handed over as is; the evaluator decides its mode.
    """
    names = tuple(transforms)
    unknown = [n for n in names if n not in TRANSFORMS]
    if unknown:
        raise EffconvError(f"unknown transforms {unknown}; use names from {tuple(TRANSFORMS)}.")
    return {name: float(evaluate_on(model, TRANSFORMS[name])) for name in names}


# --------------------------------------------------------------------------- fusion: exactness and cost


@torch.no_grad()
def randomise_bn(model: nn.Module, seed: int = 0, calibrate: torch.Tensor | None = None) -> nn.Module:
    """Give every BN random affine parameters and non-trivial running statistics (in place; returns ``model``).

    An untrained model has mean 0 / var 1 / gamma 1 / beta 0 everywhere, which would let a fusion bug
    in the BN folding go unnoticed. Running statistics are drawn at random, or, with ``calibrate`` (a
    batch of inputs), measured on that batch so that activations keep a sane scale through deep models.
    For exactness checks only, never for training.
    """
    generator = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and (m.affine or m.track_running_stats)]
    for module in norms:
        n = module.num_features

        def draw(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(n, generator=generator)

        if module.affine:
            module.weight.copy_(draw(0.5, 1.5))
            module.bias.copy_(draw(-0.3, 0.3))
        if module.track_running_stats:
            module.running_mean.copy_(draw(-0.3, 0.3))
            module.running_var.copy_(draw(0.5, 2.0))
    if calibrate is not None:
        was_training = model.training
        norms = [m for m in norms if m.track_running_stats]
        momenta = [m.momentum for m in norms]
        for module in norms:
            module.reset_running_stats()
            module.momentum = None  # a cumulative average: one batch gives exactly its statistics
        model.train()(calibrate.to(_device(model)))
        model.train(was_training)
        for module, momentum in zip(norms, momenta):
            module.momentum = momentum
    return model


@torch.no_grad()
def fusion_error(model: nn.Module, inputs: torch.Tensor, dtype: torch.dtype | None = None) -> dict[str, float]:
    """Largest difference between ``model`` (eval mode) and its fused form on ``inputs``.

    ``max_rel`` is max|fused - unfused| / max|unfused|. With ``dtype=torch.float64`` both run in double
    precision, which separates the algebra of the fusion (exact) from float32 rounding. On a GPU the
    check runs with TF32 convolutions switched off (restored afterwards).
    """
    model = copy.deepcopy(model).eval()
    if dtype is not None:
        model, inputs = model.to(dtype), inputs.to(dtype)
    # cuDNN runs float32 convs in TF32 by default (~1e-3 relative), which would hide the fusion's own error
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        reference = model(inputs)
        fused = fused_copy(model)(inputs)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    diff = (fused - reference).abs().max().item()
    return {"max_abs": diff, "max_rel": diff / max(reference.abs().max().item(), 1e-300)}


def fusion_report(acnet: nn.Module, base: nn.Module | None = None, *, input_size: Sequence[int] = (3, 32, 32),
                  batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
    """Exactness and cost of folding ``acnet``, and how the folded model compares with ``base``.

    Errors (``max_abs``, ``max_rel`` in float32, ``max_rel_float64``) are those of ``fusion_error``.

    Params and MACs (count_flops) of the ACNet as trained and folded, and of the base model as built
    and folded (BN folded too, the fair deployed baseline). ``same_as_base`` is True when the folded
    ACNet and the folded base have exactly the same parameter count and MACs. Neither model changes.
    """
    size = tuple(input_size)
    inputs = torch.randn((batch_size, *size), generator=torch.Generator().manual_seed(seed)).to(_device(acnet))
    report: dict[str, Any] = fusion_error(acnet, inputs)
    report["max_rel_float64"] = fusion_error(acnet, inputs, torch.float64)["max_rel"]
    unfused, fused = count_flops(acnet, size), count_flops(fused_copy(acnet), size)
    report.update(acnet_params=unfused.params, acnet_macs=unfused.macs,
                  fused_params=fused.params, fused_macs=fused.macs)
    if base is not None:
        built, folded = count_flops(base, size), count_flops(fused_copy(base), size)
        report.update(base_params=built.params, base_macs=built.macs,
                      base_fused_params=folded.params, base_fused_macs=folded.macs,
                      same_as_base=bool(folded.params == fused.params and folded.macs == fused.macs))
    return report


def zoo_fusion_table(names: Iterable[str] = CIFAR_FAMILIES, *, width: float = 1.0,
                     input_size: Sequence[int] = (3, 32, 32), seed: int = 0,
                     **acb_options: Any) -> pd.DataFrame:
    """``fusion_report`` for untrained zoo models: the ACNet (random BN affine parameters, running
    statistics measured on a random batch) against the base family."""
    rows = []
    for name in names:
        torch.manual_seed(seed)
        base = create_model(name, width=width)
        acnet = create_model(name, width=width, conv="acb", conv_kwargs=acb_options or None)
        calibration = torch.randn((8, *tuple(input_size)), generator=torch.Generator().manual_seed(seed + 1))
        randomise_bn(acnet, seed, calibrate=calibration)
        rows.append({"model": name, **fusion_report(acnet, base, input_size=input_size, seed=seed)})
    return pd.DataFrame(rows)


def latency_table(acnet: nn.Module, base: nn.Module | None = None, *, input_size: Sequence[int] = (3, 32, 32),
                  batch_size: int = 1, warmup: int = 3, repeats: int = 15,
                  threads: int | None = None) -> pd.DataFrame:
    """Inference time of the ACNet unfused and fused, and of the base as built and BN-folded.

    Each variant is a copy timed with ``effconv.analysis.latency.measure_latency`` on the models'
    device. ``ratio`` is relative to the BN-folded base (or to the fused ACNet without a base): the
    fused ACNet should sit at ~1, the unfused one shows the training-time overhead of the branches.
    """
    from effconv.analysis.latency import measure_latency

    device = _device(acnet)
    inputs = torch.randn((batch_size, *tuple(input_size)), generator=torch.Generator().manual_seed(0)).to(device)
    variants = {"acnet_unfused": copy.deepcopy(acnet).eval(), "acnet_fused": fused_copy(acnet)}
    if base is not None:
        variants = {"base": copy.deepcopy(base).eval(), "base_fused": fused_copy(base), **variants}
    rows = []
    for name, model in variants.items():
        result = measure_latency(model, inputs, device=device, warmup=warmup, repeats=repeats, threads=threads)
        rows.append({"variant": name, **result.as_dict()})
    table = pd.DataFrame(rows)
    reference = "base_fused" if base is not None else "acnet_fused"
    table["ratio"] = table["median_ms"] / table.loc[table["variant"] == reference, "median_ms"].item()
    return table


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
    from effconv.ops.acnet import convert

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


# --------------------------------------------------------------------------- chapter 3: live latency


def interleaved_latency(models: dict[str, nn.Module], inputs: torch.Tensor, *, rounds: int = 6,
                        warmup: int = 1, repeats: int = 5, threads: int | None = 1) -> pd.DataFrame:
    """Time several models in interleaved rounds (A, B, C, A, B, C ...) and pool the timed calls.

    On a shared machine the load drifts; timing each model in one block would charge the drift to
    whichever ran during it. Interleaving spreads it over all of them. Returns one row per model with
    ``median_ms``, ``q25_ms``, ``q75_ms`` over all timed calls, ``best_ms`` (the median over rounds of
    each round's fastest call: the least disturbed by other processes, used for ratios), ``calls`` and
    ``device``.
    """
    from effconv.analysis.latency import measure_latency

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
                     "best_ms": statistics.median(fastest[name]), "calls": len(values), "device": device_name})
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
        table["ratio"] = table["best_ms"] / table.loc[table["variant"] == "base (BN folded)", "best_ms"].item()
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def importance_at_init(name: str, variants: dict[str, dict[str, Any]], *, width: float = 1.0,
                       seed: int = 0) -> dict[str, pd.DataFrame]:
    """``kernel_importance`` of freshly initialised models, one per variant (``create_model`` kwargs).

    The control for the trained heat maps: adding a 1xk and a kx1 kernel to a kxk one makes the
    fused skeleton larger before any training (the magnitudes of independent random kernels add up),
    so only what exceeds this starting pattern was learnt.
    """
    out = {}
    for variant, kwargs in variants.items():
        torch.manual_seed(seed)
        out[variant] = kernel_importance(create_model(name, width=width, **kwargs))
    return out
