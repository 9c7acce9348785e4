"""What chapter 4 trains: the CIFAR-VGG baseline, and the rank sweeps run on its trained weights.

DAC needs no data and no retraining, so one trained VGG-16 per profile (and seed) carries the whole
chapter: right after training, the single-layer sweep, the first-k / last-k sweep, the equal-FLOPs
comparison with channel SVD and the reconstruction errors are computed and stored in the result.
Chapter 5 reuses the same baseline run (same recipe) instead of training it again.
"""

from __future__ import annotations

from effconv.experiments import ExperimentSpec
from effconv.train.recipes import recipe_for

CHAPTER = "dac"
MODEL = "vgg16_cifar"

# width, seeds and schedule of the VGG-16 baseline per profile (full: the paper's size, seed 93.6%; 40
# epochs at batch 256 so the versatile variants sharing this recipe fit a short time-limited GPU job
# with 8 runs on the device: see effconv.experiments.window_plan)
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
