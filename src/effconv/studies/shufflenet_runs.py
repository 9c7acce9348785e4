"""What chapter 2 trains: CIFAR-10 analogues of ShuffleNet's Table 2 (group count at matched complexity,
two widths) and Table 3 (with vs without channel shuffle at g = 3 and g = 8).

The CIFAR form of the network keeps the ImageNet stage layout and changes only the stem (see
``shufflenet_v1_cifar``), so the widths play the role of the paper's 0.5x and 0.25x models.
"""

from __future__ import annotations

from effconv.experiments import ExperimentSpec
from effconv.studies.shufflenet import GROUPS
from effconv.train.recipes import recipe_for

CHAPTER = "shufflenet"
MODEL = "shufflenet_v1_cifar"
SHUFFLE_GROUPS = (3, 8)

# widths (ShuffleNet scale) of Table 2, seeds and schedule per profile
PLAN = {
    "smoke": dict(scales=(0.25,), seeds=(0,), recipe={}),
    "cpu": dict(scales=(0.25, 0.5), seeds=(0,), recipe=dict(epochs=10)),
    "full": dict(scales=(0.25, 0.5, 1.0), seeds=(0, 1, 2), recipe=dict(epochs=60)),
}


def spec(profile: str, groups: int, scale: float, shuffle: bool, seed: int) -> ExperimentSpec:
    cfg = PLAN[profile]
    name = f"shufflenet-{scale:g}x-g{groups}" + ("" if shuffle else "-noshuffle")
    return ExperimentSpec(chapter=CHAPTER, name=name, model=MODEL, profile=profile, seed=seed,
                          model_kwargs={"groups": groups, "width": scale, "shuffle": shuffle},
                          recipe=recipe_for(profile, **cfg["recipe"]))


def table2_specs(profile: str) -> list[ExperimentSpec]:
    cfg = PLAN[profile]
    return [spec(profile, g, scale, True, seed) for scale in cfg["scales"] for g in GROUPS for seed in cfg["seeds"]]


def table3_specs(profile: str) -> list[ExperimentSpec]:
    """Without shuffle (the with-shuffle rows are Table 2's runs)."""
    cfg = PLAN[profile]
    return [spec(profile, g, scale, False, seed) for scale in cfg["scales"] for g in SHUFFLE_GROUPS
            for seed in cfg["seeds"]]


def experiments(profile: str) -> list[ExperimentSpec]:
    return table2_specs(profile) + table3_specs(profile)
