"""Chapter 3 (ACNet): the claims of the kernel-skeleton study (importance, pruning, the border variant),
each verdict decided by ``effconv.claims.rules``.

- the importance thresholds already hold at initialisation: ``grade_change`` against each run's own
  initial weights (``importance_init``);
- "A beats B" (pruning gaps, border against skeleton and against ACNet): ``grade_effect``, paired by seed;
- absolute numbers from our setting (pruned accuracies, the destroying sparsity): ``grade_setting``.
"""

from __future__ import annotations

from typing import Callable, Iterable

import pandas as pd

from effconv.claims import ClaimsTable, combine, grade_change, grade_effect, grade_setting
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet.evidence import (Seeds, accuracy, centre, corner_max, destroyed_by_seed,
                                            difference, matrix_value, mean_of, per_seed, pruning_mean, ref,
                                            seeds_text, setting, skeleton_min, stand_in, standing_in)
from effconv.studies.acnet.results import VARIANT_LABELS, ChapterRuns, Runs, merge
from effconv.studies.acnet.skeleton import pruning_rows, region_mean, skeleton_gap
from effconv.studies.acnet.probes import importance_at_init


def importance_init(profile: str, seeds: Iterable[int], variants: Iterable[str] = ("base", "acnet")
                    ) -> dict[str, dict[int, pd.DataFrame]]:
    """{variant: {seed: importance matrix}} of the skeleton model before training: the run's own initial
    weights, since the runner also seeds torch with the run's seed right before ``create_model`` (the
    baseline the trained maps are graded against; deterministic)."""
    model = runs.SKELETON_MODEL[profile]
    width = runs.TABLE[profile][model]["width"]
    chosen = {v: dict(runs.VARIANTS[v]) for v in variants}
    out: dict[str, dict[int, pd.DataFrame]] = {v: {} for v in chosen}
    for seed in sorted(set(seeds)):
        for variant, matrix in importance_at_init(model, chosen, width=width, seed=seed).items():
            out[variant][seed] = matrix
    return out


def importance_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    profile = chapter.skeleton.profile
    every = [c for c in (chapter.skeleton, chapter.table) if c.profile == profile]
    model = runs.SKELETON_MODEL[profile]
    where = f"fused {setting(chapter.skeleton, model)}{standing_in(model)}"

    def trained(variant: str, fn: Callable[[pd.DataFrame], float]) -> Seeds:
        return per_seed(every, model, variant, matrix_value(fn))

    seeds = set(trained("acnet", centre)) | set(trained("base", centre))
    init = importance_init(profile, seeds)

    def initial(variant: str, fn: Callable[[pd.DataFrame], float]) -> Seeds:
        return {s: fn(m) for s, m in init[variant].items()}

    for key, text, fn, direction in (
            ("importance_acnet_corner_max", "every corner's importance below 0.400 (largest corner)", corner_max, -1),
            ("importance_acnet_skeleton_min", "every skeleton position's importance above 0.666 (smallest)",
             skeleton_min, 1),
            ("importance_acnet_centre", "the centre is the largest position of every layer (importance 1.000)",
             centre, 1)):
        after, before = trained("acnet", fn), initial("acnet", fn)
        shown = ", ".join(f"{before[s]:.3f} -> {after[s]:.3f}" for s in sorted(set(before) & set(after)))
        paper = f"{'<' if direction < 0 else '>'} {ref(key).value:.3f}" if key != "importance_acnet_centre" else "1.000"
        claims.grade(f"ACNet: {text}; graded on what training changed", grade_change(before, after, direction=direction),
                     kind="trained", source=ref(key).cite, paper=paper, profile=profile,
                     evidence=f"{where}; the threshold already holds at initialisation, so the verdict is on the "
                              f"change trained − initialised (each run against its own initial weights){'; ' + shown if shown else ''}")
    after, before = trained("base", skeleton_gap), initial("base", skeleton_gap)
    claims.grade("base model: centre largest, corners smallest (skeleton − corner mean importance, trained − "
                 "initialised)", grade_change(before, after, direction=1), kind="trained",
                 source=ref("importance_base_pattern").cite, paper="> 0", profile=profile,
                 evidence=f"BN-folded {setting(chapter.skeleton, model)}{standing_in(model)}; a freshly initialised base "
                          "is flat, so training must create the pattern")
    after, before = trained("acnet", skeleton_gap), initial("acnet", skeleton_gap)
    claims.grade("ACNet: training strengthens the skeleton beyond what adding random kernels gives "
                 "(skeleton − corner mean importance, trained − initialised)", grade_change(before, after, direction=1),
                 kind="trained", source=ref("importance_skeleton_learned").cite, paper="> 0", profile=profile,
                 evidence=f"{where}; each run against its own initial weights")
    # border ACB: the border gains over the base, and gains less than the ACB's skeleton does
    base_border = trained("base", lambda m: region_mean(m, "border"))
    border_gain = difference(trained("border", lambda m: region_mean(m, "border")), base_border)
    skeleton_gain = difference(trained("acnet", lambda m: region_mean(m, "skeleton")),
                               trained("base", lambda m: region_mean(m, "skeleton")))
    grades = [grade_effect(border_gain, {s: 0.0 for s in border_gain}, direction=1),
              grade_effect(skeleton_gain, border_gain, direction=1)]
    gains = (f"border {mean_of(border_gain):+.3f} vs skeleton {mean_of(skeleton_gain):+.3f}"
             if border_gain and skeleton_gain else "")
    claims.add("border ACB strengthens the border, but less than the ACB strengthens the skeleton", kind="trained",
               source=ref("importance_border_weaker_than_skeleton").cite, paper="weaker than the skeleton",
               ours=gains, verdict=combine(grades), profile=profile, n=min(g.n for g in grades),
               evidence=f"{where}; mean importance of the region minus the base model's on the same positions, "
                        "paired by seed; both parts by grade_effect: " + "; ".join(g.rule for g in grades))


def pruning_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    profile = chapter.skeleton.profile
    model = runs.SKELETON_MODEL[profile]
    rows = merge(*[c for c in (chapter.skeleton, chapter.table) if c.profile == profile])
    rows = pruning_rows(Runs(rows.profile, [s for s in rows.specs if s.model == model],
                             [r for s, r in zip(rows.specs, rows.results) if s.model == model]))
    where = (f"fused {setting(chapter.skeleton, model)}{standing_in(model)}, {runs.PRUNING_TEST_IMAGES} test images, "
             "5 pruning draws per point")
    key = "pruning_acnet_corners_min_accuracy"
    corners = pruning_mean(rows, "acnet", "corners", last=True)
    claims.grade("ACNet with almost all corners pruned (44% sparsity) stays above 60% accuracy (%)",
                 grade_setting(mean_of(corners), ref(key).value, where), kind="trained", source=ref(key).cite,
                 paper=ref(key).value, profile=profile, evidence=f"mean over {seeds_text(corners)}")
    key = "pruning_acnet_skeleton_destroyed_sparsity"
    destroyed = destroyed_by_seed(rows, "acnet")
    claims.grade("ACNet: pruning only the skeleton destroys the model by 13% global sparsity (sparsity where the "
                 "accuracy falls to 20%, %)", grade_setting(mean_of(destroyed), ref(key).value, where),
                 kind="trained", source=ref(key).cite, paper=ref(key).value, profile=profile,
                 evidence=f"destroyed read as at most 20% accuracy (twice chance), interpolated between grid points; "
                          f"mean over {seeds_text(destroyed)}")
    source = ref("pruning_corners_less_harmful").cite
    gaps = {}
    for variant in ("base", "acnet"):
        corner, skel = pruning_mean(rows, variant, "corners"), pruning_mean(rows, variant, "skeleton")
        gaps[variant] = difference(corner, skel)
        claims.grade(f"{VARIANT_LABELS[variant]}: pruning corners hurts less than pruning the skeleton "
                     "(mean accuracy gap, pp)", grade_effect(corner, skel, direction=1), kind="trained",
                     source=source, paper="> 0", profile=profile,
                     evidence=f"{where}; mean over the shared sparsities, paired by training seed")
    claims.grade("the corners-vs-skeleton gap is larger in ACNet than in the base (pp)",
                 grade_effect(gaps["acnet"], gaps["base"], direction=1), kind="trained",
                 source=ref("pruning_acnet_larger_gap").cite, paper="larger", profile=profile,
                 evidence=f"{where}; paired by training seed")
    corner = pruning_mean(rows, "border", "corners")
    grades = [grade_effect(corner, pruning_mean(rows, "border", other), direction=1)
              for other in ("skeleton", "global", "border", "top_left")]
    smallest = min((g.ours for g in grades if g.ours is not None), default=None)
    claims.add("border variant: pruning the corners still gives the best accuracy (smallest gap to another region, "
               "pp)", kind="trained", source=ref("pruning_border_corners_best").cite, paper="> 0", ours=smallest,
               verdict=combine(grades), profile=profile, n=min(g.n for g in grades),
               evidence=f"{where}; corners against skeleton, global, border and top-left, each by grade_effect "
                        "paired by training seed, combined")
    border, top_left = pruning_mean(rows, "border", "border"), pruning_mean(rows, "border", "top_left")
    claims.grade("border variant: pruning the strengthened border is no better than pruning the top-left square "
                 "(border − top-left, pp)", grade_effect(border, top_left, direction=-1), kind="trained",
                 source=ref("pruning_border_no_better_than_top_left").cite, paper="<= 0", profile=profile,
                 evidence=f"{where}; reproduced only when border pruning is clearly worse")


def border_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    profile = chapter.skeleton.profile
    model = runs.SKELETON_MODEL[profile]
    every = [c for c in (chapter.skeleton, chapter.table) if c.profile == profile]
    border, acnet = per_seed(every, model, "border", accuracy), per_seed(every, model, "acnet", accuracy)
    where = setting(chapter.skeleton, model) + standing_in(model)
    key = "border_vs_normal_acnet"
    claims.grade("border variant is less accurate than the normal ACNet (border − ACNet, pp)",
                 grade_effect(border, acnet, direction=-1, paper=ref(key).value), kind="trained",
                 source=ref(key).cite, paper=ref(key).value, profile=profile,
                 evidence=f"{where}; {seeds_text(difference(border, acnet))}")
    key = "border_acnet_resnet56_cifar10"
    claims.grade(f"border variant accuracy, CIFAR-10{stand_in(model, profile)} (%)",
                 grade_setting(mean_of(border), ref(key).value, where), kind="trained", source=ref(key).cite,
                 paper=ref(key).value, profile=profile, evidence=f"mean over {seeds_text(border)}")
