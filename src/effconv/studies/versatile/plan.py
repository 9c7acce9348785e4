"""What chapter 5 trains: VGG-16 on CIFAR-10 with versatile filters (v1, v2) and learnable masks (a, b).

The baseline row is chapter 4's VGG-16 run (same width, schedule and seed), so it is trained once for
both chapters. Every run stores its counted complexity; the learnable-mask runs also record mask
statistics at each epoch end, to show how far the masks of one primary filter drift apart.
"""

from __future__ import annotations

from typing import Any

from effconv.errors import EffconvError
from effconv.experiments import ExperimentSpec
from effconv.studies.dac.plan import MODEL, VGG, baseline_spec
from effconv.train.recipes import recipe_for

CHAPTER = "versatile"
# The mask proxies train at 20x the learning rate: their straight-through gradient is the weight gradient
# times the primary weights (|w| ~ 0.05 after He init), so at the base rate a short schedule flips almost
# no mask entry and "strategy b vs a" would compare two copies of the fixed concentric masks.
MASK_LR_SCALE = 20.0
VARIANTS: dict[str, dict[str, Any]] = {
    "v1": {"conv": "versatile_v1"},
    "v2": {"conv": "versatile_v2"},
    "masks-a": {"conv": "versatile_mask", "conv_kwargs": {"strategy": "a", "mask_lr_scale": MASK_LR_SCALE}},
    "masks-b": {"conv": "versatile_mask", "conv_kwargs": {"strategy": "b", "mask_lr_scale": MASK_LR_SCALE}},
    # the control of "the orthogonal loss keeps masks distinct": strategy b with lambda = 0
    "masks-b-lambda0": {"conv": "versatile_mask",
                        "conv_kwargs": {"strategy": "b", "mask_lr_scale": MASK_LR_SCALE, "ortho_weight": 0.0}},
}
# Seeds per arm where the chapter grades paired effects (grade_effect needs >= 3 pairs; the headline
# v1 vs baseline gets 5). Profiles not listed use the VGG baseline's seeds for every arm.
SEEDS: dict[str, dict[str, tuple[int, ...]]] = {
    "cpu": {"baseline": (0, 1, 2, 3, 4), "v1": (0, 1, 2, 3, 4), "v2": (0, 1, 2), "masks-a": (0, 1, 2),
            "masks-b": (0, 1, 2), "masks-b-lambda0": (0, 1, 2)},
}


def seeds(profile: str, arm: str) -> tuple[int, ...]:
    """The seeds the plan trains for ``arm`` ("baseline" or a key of ``VARIANTS``) under ``profile``."""
    return SEEDS.get(profile, {}).get(arm, tuple(VGG[profile]["seeds"]))


def variant_spec(profile: str, variant: str, seed: int) -> ExperimentSpec:
    cfg = VGG[profile]
    masked = variant.startswith("masks")
    return ExperimentSpec(
        chapter=CHAPTER, name=f"vgg16-{variant}", model=MODEL, profile=profile, seed=seed,
        model_kwargs={"width": cfg["width"], **VARIANTS[variant]}, recipe=recipe_for(profile, **cfg["recipe"]),
        analyses={"versatile.complexity": {}, **({"versatile.masks": {}} if masked else {})},
        epoch_analyses=("versatile.masks",) if masked else (),
    )


def experiments(profile: str) -> list[ExperimentSpec]:
    """The shared baseline, then every variant, each for its seeds under the profile (seed-major order)."""
    if profile not in VGG:
        raise EffconvError(f"profile {profile!r} is not defined for chapter 5; use one of {sorted(VGG)}.")
    every = sorted({seed for arm in ("baseline", *VARIANTS) for seed in seeds(profile, arm)})
    return [baseline_spec(profile, seed) for seed in seeds(profile, "baseline")] + [
        variant_spec(profile, variant, seed) for seed in every for variant in VARIANTS
        if seed in seeds(profile, variant)]
