"""What chapter 2 trains: CIFAR-10 analogues of ShuffleNet's Table 2 (group count at matched complexity,
two widths) and Table 3 (with vs without channel shuffle at g = 3 and g = 8).

The CIFAR form of the network keeps the ImageNet stage layout and changes only the stem (see
``shufflenet_v1_cifar``), so the widths play the role of the paper's 0.5x and 0.25x models.
"""

from __future__ import annotations

from effconv.claims.power import PowerPlan
from effconv.experiments import ExperimentSpec
from effconv.studies.shufflenet.widths import MATCHED_CHANNELS
from effconv.train.recipes import recipe_for

CHAPTER = "shufflenet"
GROUPS = (1, 2, 3, 4, 8)     # the group counts of the paper's tables
MODEL = "shufflenet_v1_cifar"
SHUFFLE_GROUPS = (3, 8)

# (scale, groups) runs of Table 2 and Table 3, seeds and schedule per profile. Every g of a width has the
# same multiply-adds within 2% (FLOP-matched widths, see shufflenet_widths), as the paper's Table 1 has at
# 1x. On 2 CPU cores a 0.5x g = 8 run takes ~35 minutes (depthwise and grouped convs are slow there), so
# the cpu profile trains every g at 0.25x and g = 1, 3 and 8 at 0.5x.
_ALL_25 = tuple((0.25, g) for g in GROUPS)
PLAN = {
    "smoke": dict(table2=((0.25, 1), (0.25, 3)), table3=((0.25, 3),), seeds=(0,), recipe={}),
    # 3 seeds per configuration; the headline comparisons (g = 1 vs g = 8, and g = 8 with vs without
    # the shuffle, at 0.25x) get 5, enough for the paired rule to see a 1 pp effect
    "cpu": dict(table2=_ALL_25 + ((0.5, 1), (0.5, 3), (0.5, 8)), table3=((0.25, 3), (0.25, 8)),
                seeds=(0, 1, 2),
                headline=dict(table2=((0.25, 1), (0.25, 8)), table3=((0.25, 8),), seeds=(0, 1, 2, 3, 4)),
                recipe=dict(epochs=6)),
    "full": dict(table2=tuple((s, g) for s in (0.25, 0.5, 1.0) for g in GROUPS),
                 table3=tuple((s, g) for s in (0.25, 0.5, 1.0) for g in SHUFFLE_GROUPS), seeds=(0, 1, 2),
                 # 30 epochs at batch 256: one run fits a short time-limited GPU job shared by 8 runs
                 # (effconv.experiments.window_plan); the paper trains ImageNet for 3e5 iterations
                 recipe=dict(epochs=30, batch_size=256, lr=0.2)),
}

# The chapter's minimal effect of interest: our setting is not the paper's (CIFAR-10, narrow models, 6
# epochs), so its ImageNet gains cannot be the effect to resolve; a grouping gain below 1 pp of test error
# would not change which design a reader picks.
MINIMAL_EFFECT_PP = 1.0
_MINIMAL = "the chapter's minimal effect of interest, 1 pp of error; the paper's setting is not ours"
# Seeds planned by power (effconv.claims.power), fixed after a first stage of runs and before any further one:
# the paired spread of the first stage's g = 8 vs g = 1 gains (stored cpu runs, seeds 0-4 at 0.25x and 0-2
# at 0.5x, on 2026-12-04) gives the pairs that resolve 1 pp with 80% power. The headline rows grade there.
# The budget of the 2026-12-04 extension (at most 30 core-hours, README) went first to ACNet's table and its
# 30-epoch schedule. What it left (about 4.7 core-hours on 2026-12-05) trains the 3 further pairs at 0.5x
# (3.0 by --dry-run) but not the 17 at 0.25x (about 7.5): that row keeps its first stage and stays inconclusive.
POWER: dict[str, dict[tuple[float, int], PowerPlan]] = {
    "cpu": {(0.25, 8): PowerPlan("0.25x: error(g = 1) - error(g = 8), pp", first_stage=5, sd=1.59,
                                 effect=MINIMAL_EFFECT_PP, effect_source=_MINIMAL, budget=5),
            (0.5, 8): PowerPlan("0.5x: error(g = 1) - error(g = 8), pp", first_stage=3, sd=0.66,
                                effect=MINIMAL_EFFECT_PP, effect_source=_MINIMAL)},
}


def power_plan(profile: str, scale: float, groups: int) -> PowerPlan | None:
    """The power plan of the g-vs-g = 1 contrast at ``scale`` (None: graded on the seeds the profile runs)."""
    return POWER.get(profile, {}).get((scale, groups))


def spec(profile: str, groups: int, scale: float, shuffle: bool, seed: int) -> ExperimentSpec:
    cfg = PLAN[profile]
    name = f"shufflenet-{scale:g}x-g{groups}" + ("" if shuffle else "-noshuffle")
    model_kwargs = {"groups": groups, "width": scale, "shuffle": shuffle}
    if (scale, groups) in MATCHED_CHANNELS:
        # FLOP-matched widths (see shufflenet_widths); the other g keep Table 1's and their stored keys
        model_kwargs["channels"] = list(MATCHED_CHANNELS[scale, groups])
    return ExperimentSpec(chapter=CHAPTER, name=name, model=MODEL, profile=profile, seed=seed,
                          model_kwargs=model_kwargs, recipe=recipe_for(profile, **cfg["recipe"]))


def seeds(profile: str, table: str, scale: float, groups: int) -> tuple[int, ...]:
    """The seeds a configuration trains: the profile's, its headline seeds for the headline runs, and, for
    both arms of a contrast planned by power, as many of the planned pairs as the budget trains."""
    cfg = PLAN[profile]
    headline = cfg.get("headline", {})
    chosen = headline["seeds"] if (scale, groups) in headline.get(table, ()) else cfg["seeds"]
    if table == "table2":
        plans = [power_plan(profile, scale, g) for g in ((groups,) if groups != 1 else GROUPS)]
        pairs = max((p.trained_pairs for p in plans if p is not None), default=0)
        chosen = tuple(sorted(set(chosen) | set(range(pairs))))
    return chosen


def table2_specs(profile: str) -> list[ExperimentSpec]:
    return [spec(profile, g, scale, True, seed) for scale, g in PLAN[profile]["table2"]
            for seed in seeds(profile, "table2", scale, g)]


def table3_specs(profile: str) -> list[ExperimentSpec]:
    """Without shuffle (the with-shuffle rows are Table 2's runs)."""
    return [spec(profile, g, scale, False, seed) for scale, g in PLAN[profile]["table3"]
            for seed in seeds(profile, "table3", scale, g)]


def experiments(profile: str) -> list[ExperimentSpec]:
    return table2_specs(profile) + table3_specs(profile)
