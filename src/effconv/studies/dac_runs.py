"""What chapter 4 trains: the CIFAR-VGG baseline, and the rank sweeps run on its trained weights.

DAC needs no data and no retraining, so one trained VGG-16 per profile (and seed) carries the whole
chapter: right after training, the single-layer sweep, the first-k / last-k sweep, the equal-FLOPs
comparison with channel SVD and the reconstruction errors are computed and stored in the result.
Chapter 5 reuses the same baseline run (same recipe) instead of training it again.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from effconv.experiments import AnalysisContext, ExperimentSpec, register_analysis
from effconv.studies import dac as study
from effconv.train.recipes import recipe_for

CHAPTER = "dac"
MODEL = "vgg16_cifar"

# width, seeds and schedule of the VGG-16 baseline per profile (full: the paper's size, seed 93.6%; 40
# epochs at batch 256 so the versatile variants sharing this recipe fit a 10-minute GPU window with 8
# runs on the device: see effconv.experiments.window_plan)
VGG = {
    "smoke": dict(width=0.25, seeds=(0,), recipe={}),
    "cpu": dict(width=0.25, seeds=(0, 1, 2), recipe=dict(epochs=15)),  # 3 seeds: paired effects need 3
    "full": dict(width=1.0, seeds=(0, 1, 2), recipe=dict(epochs=40, batch_size=256, lr=0.2)),
}
SWEEPS = {"dac.single_layer": {}, "dac.first_last": {}, "dac.equal_flops": {}, "dac.reconstruction": {}}


def baseline_spec(profile: str, seed: int, analyses: dict[str, dict] | None = None) -> ExperimentSpec:
    cfg = VGG[profile]
    return ExperimentSpec(chapter=CHAPTER, name="vgg16-baseline", model=MODEL, profile=profile, seed=seed,
                          model_kwargs={"width": cfg["width"]}, recipe=recipe_for(profile, **cfg["recipe"]),
                          analyses=SWEEPS if analyses is None else analyses)


def experiments(profile: str) -> list[ExperimentSpec]:
    """One baseline per seed, each carrying every sweep."""
    return [baseline_spec(profile, seed) for seed in VGG[profile]["seeds"]]


def _records(frame) -> list[dict[str, Any]]:
    return frame.round(6).to_dict(orient="records")


@register_analysis("dac.single_layer")
def single_layer(model: nn.Module, ctx: AnalysisContext) -> list[dict[str, Any]]:
    """conv2d_i decomposed alone at ranks 1..5, test accuracy of the whole model."""
    return _records(study.single_layer_sweep(model, ctx.evaluate))


@register_analysis("dac.first_last")
def first_last(model: nn.Module, ctx: AnalysisContext) -> list[dict[str, Any]]:
    """The first k or the last k convs decomposed at one rank, k = 1..13."""
    return _records(study.first_last_sweep(model, ctx.evaluate))


@register_analysis("dac.equal_flops")
def equal_flops(model: nn.Module, ctx: AnalysisContext) -> list[dict[str, Any]]:
    """DAC against a plain per-layer channel SVD at equal (not larger) FLOPs."""
    return _records(study.equal_flops_sweep(model, ctx.evaluate))


@register_analysis("dac.reconstruction")
def reconstruction(model: nn.Module, ctx: AnalysisContext) -> list[dict[str, Any]]:
    """Relative weight reconstruction error of every layer at every rank (no evaluation)."""
    return _records(study.reconstruction_errors(model))
