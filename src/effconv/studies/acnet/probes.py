"""Chapter 3 (ACNet): the analyses run on a trained model.

Everything here takes a model (usually right after training, in the same process) and returns plain
data (DataFrames, dicts of floats) without touching the caller's model: each analysis works on a
deep copy, folded with ``reparameterize_model`` where the paper analyses the fused kernels.

- ``kernel_importance``: the paper's average relative importance of each kernel position.
- ``prune_kernels`` / ``pruning_curve``: zero random weights in the corners, the skeleton or anywhere.
- ``rotate90_ccw`` / ``rotate180`` / ``flip_updown`` and ``rotation_robustness``.
- ``fusion_report`` / ``zoo_fusion_table`` / ``latency_table``: exactness and cost of the fusion.
- ``importance_at_init``: the importance maps before training (the control for the trained ones).
- ``ledger``: the chapter's claims (``acnet_claims``). The chapter's live checks are in ``acnet_checks``.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Iterator, Sequence

import pandas as pd
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops.reparam import reparameterize_model
from effconv.analysis import kernel_contrast
from effconv.analysis.latency import measure_latency

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

def region_mask(region: str, kernel_size: int = 3) -> torch.Tensor:
    """Boolean kxk mask of a kernel region (``effconv.analysis.kernel_contrast.region_mask``) as a tensor."""
    return torch.from_numpy(kernel_contrast.region_mask(region, kernel_size))


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
