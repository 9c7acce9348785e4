"""Chapter 3 (ACNet): the claims of the kernel-skeleton study (importance, pruning, the border variant),
each verdict decided by ``effconv.claims.rules``.

- importance: within-model contrasts of each map (``effconv.analysis.kernel_contrast``), graded on what
  training changed (``grade_change`` against each run's own initial weights, ``importance_init``) or between
  two models paired by random seed (``grade_effect``); a printed direction over runs by ``grade_bound``;
- "A beats B" (pruning gaps, border against ACNet): ``grade_effect``, paired by random seed;
- the printed "stays above 60%" over runs: ``grade_bound`` with the margin ``PRUNED_MARGIN_PP``;
- absolute numbers from our setting (the destroying sparsity, accuracies): ``grade_setting``.

Every trained effect grades the direction only (``DIRECTION``): our ResNet-20 on short JPEG CIFAR-10 runs
stands in for the paper's ResNet-56, so the size of an effect is shown, not graded.
"""

from __future__ import annotations

import functools
from typing import Iterable

import pandas as pd

from effconv.analysis.kernel_contrast import CONTRASTS, contrasts_by_seed, region_contrast
from effconv.claims import DIRECTION, ClaimsTable, combine, grade_bound, grade_change, grade_effect, grade_setting
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet.evidence import (Seeds, accuracy, centre, centre_lead, destroyed_by_seed, difference,
                                            matrix_value, mean_of, per_seed, pruning_mean, ref, seeds_text, setting,
                                            stand_in, standing_in)
from effconv.studies.acnet.results import VARIANT_LABELS, ChapterRuns
from effconv.studies.acnet.skeleton import pruning_rows, skeleton_runs
from effconv.studies.acnet.probes import importance_at_init

IMPORTANCE_VARIANTS = ("base", "acnet", "border")
# "stays above 60%" read in our setting: our fused ResNet-20 ACNet is about 14 pp below the paper's ResNet-56
# (81.2% against 95.1%) before any weight is pruned, so a pruned accuracy up to 15 pp under the bound could be
# the setting's; beyond that the bound is clearly missed.
PRUNED_MARGIN_PP = 15.0


def importance_init(profile: str, seeds: Iterable[int], variants: Iterable[str] = IMPORTANCE_VARIANTS
                    ) -> dict[str, dict[int, pd.DataFrame]]:
    """{variant: {seed: importance matrix}} of the skeleton model before training: the run's own initial
    weights, since the runner also seeds torch with the run's seed right before ``create_model`` (the
    baseline the trained maps are graded against; deterministic, so computed once per process and shared by
    the ledger and the page). Treat the maps as read-only."""
    return _init_maps(profile, tuple(sorted(set(seeds))), tuple(variants))


@functools.lru_cache(maxsize=8)
def _init_maps(profile: str, seeds: tuple[int, ...], variants: tuple[str, ...]) -> dict[str, dict[int, pd.DataFrame]]:
    model = runs.SKELETON_MODEL[profile]
    width = runs.TABLE[profile][model]["width"]
    chosen = {v: dict(runs.VARIANTS[v]) for v in variants}
    out: dict[str, dict[int, pd.DataFrame]] = {v: {} for v in chosen}
    for seed in seeds:
        for variant, matrix in importance_at_init(model, chosen, width=width, seed=seed).items():
            out[variant][seed] = matrix
    return out


def importance_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    """The importance maps, each graded on a within-model contrast (``effconv.analysis.kernel_contrast``):
    one region's mean minus another's on the map divided by its own mean, paired by random seed. A flat map
    scores 0, so a contrast can fail either way; the paper's thresholds (corners below 0.400, skeleton above
    0.666, centre 1.000) are not graded, since a fused ACNet meets them at initialisation by construction."""
    profile = chapter.skeleton.profile
    every = [c for c in (chapter.skeleton, chapter.table) if c.profile == profile]
    model = runs.SKELETON_MODEL[profile]
    where = f"fused {setting(chapter.skeleton, model)}{standing_in(model)}"

    def trained(variant: str, pair: tuple[str, str]) -> Seeds:
        return per_seed(every, model, variant, matrix_value(lambda m: region_contrast(m, *pair)))

    seeds = set().union(*(per_seed(every, model, v, matrix_value(centre)) for v in IMPORTANCE_VARIANTS))
    init = importance_init(profile, seeds, IMPORTANCE_VARIANTS)

    def initial(variant: str, pair: tuple[str, str]) -> Seeds:
        return contrasts_by_seed(init[variant], *pair)

    skeleton, border = CONTRASTS["skeleton"], CONTRASTS["border"]
    contrast = "on each map divided by its own mean, so a flat map scores 0"
    claims.grade("base model: the skeleton carries more importance than the corners (direction; skeleton − corners "
                 "contrast, trained − initialised)",
                 grade_change(initial("base", skeleton), trained("base", skeleton), direction=1, scope=DIRECTION),
                 kind="trained", source=ref("importance_base_pattern").cite, paper="> 0", profile=profile,
                 evidence=f"BN-folded {setting(chapter.skeleton, model)}{standing_in(model)}; skeleton mean minus corner "
                          f"mean {contrast}; each run against its own initial weights (a fresh base is flat)")
    lead = per_seed(every, model, "base", matrix_value(centre_lead))
    claims.grade("base model: the centre is the largest position (direction; centre − largest other position)",
                 grade_bound(lead, 0, ">", margin=0), kind="trained", source=ref("importance_base_pattern").cite,
                 paper="> 0", profile=profile,
                 evidence=f"BN-folded {setting(chapter.skeleton, model)}{standing_in(model)}; the centre minus the "
                          f"largest of the other eight positions, {contrast}; not by construction in the base (its "
                          f"initial map is flat), and the sign is the claim, so the margin is 0; "
                          f"{seeds_text(lead)}")
    claims.grade("ACNet: training strengthens the skeleton beyond what adding random kernels gives "
                 "(direction; skeleton − corner mean importance, trained − initialised)",
                 grade_change(initial("acnet", skeleton), trained("acnet", skeleton), direction=1, scope=DIRECTION),
                 kind="trained", source=ref("importance_skeleton_learned").cite, paper="> 0", profile=profile,
                 evidence=f"{where}; skeleton mean minus corner mean {contrast}; each run against its own initial "
                          "weights, whose skeleton the added kernels already strengthen")
    source = ref("importance_border_weaker_than_skeleton").cite
    claims.grade("border ACB: training strengthens the border (direction; border − top-left contrast, trained − "
                 "initialised)",
                 grade_change(initial("border", border), trained("border", border), direction=1, scope=DIRECTION),
                 kind="trained", source=source, paper="> 0", profile=profile,
                 evidence=f"{where}; bottom row and right column mean minus the top-left 2x2 mean {contrast}; each "
                          "run against its own initial weights")
    claims.grade("border ACB strengthens its border less than the ACB strengthens its skeleton (direction; ACNet's "
                 "skeleton contrast − the border model's border contrast)",
                 grade_effect(trained("acnet", skeleton), trained("border", border), direction=1, scope=DIRECTION),
                 kind="trained", source=source, paper="> 0", profile=profile,
                 evidence=f"{where}; each model's own contrast ({contrast}), paired by random seed; both start equal "
                          "(the two placements add the same kernels), so the difference is what training made")


def pruning_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    profile = chapter.skeleton.profile
    model = runs.SKELETON_MODEL[profile]
    rows = pruning_rows(skeleton_runs(chapter))
    where = (f"fused {setting(chapter.skeleton, model)}{standing_in(model)}, {runs.PRUNING_TEST_IMAGES} test images, "
             "5 pruning draws per point")
    key = "pruning_acnet_corners_min_accuracy"
    corners = pruning_mean(rows, "acnet", "corners", last=True)
    claims.grade("ACNet with almost all corners pruned (44% sparsity) stays above 60% accuracy (%)",
                 grade_bound(corners, ref(key).value, ">", margin=PRUNED_MARGIN_PP, paper=ref(key).value),
                 kind="trained", source=ref(key).cite, paper=f"> {ref(key).value:g}", profile=profile,
                 evidence=f"{where}; {seeds_text(corners)}; the margin of {PRUNED_MARGIN_PP:g} pp is the unpruned "
                          "accuracy our setting already lacks (about 14 pp below the paper's ResNet-56)")
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
                     "(direction; mean accuracy gap, pp)", grade_effect(corner, skel, direction=1, scope=DIRECTION),
                     kind="trained",
                     source=source, paper="> 0", profile=profile,
                     evidence=f"{where}; mean over the shared sparsities, paired by training seed")
    claims.grade("the corners-vs-skeleton gap is larger in ACNet than in the base (direction, pp)",
                 grade_effect(gaps["acnet"], gaps["base"], direction=1, scope=DIRECTION), kind="trained",
                 source=ref("pruning_acnet_larger_gap").cite, paper="larger", profile=profile,
                 evidence=f"{where}; paired by training seed")
    corner = pruning_mean(rows, "border", "corners")
    grades = [grade_effect(corner, pruning_mean(rows, "border", other), direction=1, scope=DIRECTION)
              for other in ("skeleton", "global", "border", "top_left")]
    smallest = min((g.ours for g in grades if g.ours is not None), default=None)
    claims.add("border variant: pruning the corners still gives the best accuracy (direction; smallest gap to "
               "another region, pp)", kind="trained", source=ref("pruning_border_corners_best").cite, paper="> 0", ours=smallest,
               verdict=combine(grades), profile=profile, n=min(g.n for g in grades),
               evidence=f"{where}; corners against skeleton, global, border and top-left, each a paired effect by "
                        "training seed, and every one must hold; direction only (settings differ: the size is shown, "
                        "not graded)")
    border, top_left = pruning_mean(rows, "border", "border"), pruning_mean(rows, "border", "top_left")
    claims.grade("border variant: pruning the strengthened border is no better than pruning the top-left square "
                 "(direction; border − top-left, pp)", grade_effect(border, top_left, direction=-1, scope=DIRECTION),
                 kind="trained",
                 source=ref("pruning_border_no_better_than_top_left").cite, paper="<= 0", profile=profile,
                 evidence=f"{where}; reproduced only when border pruning is clearly worse")


def border_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    profile = chapter.skeleton.profile
    model = runs.SKELETON_MODEL[profile]
    every = [c for c in (chapter.skeleton, chapter.table) if c.profile == profile]
    border, acnet = per_seed(every, model, "border", accuracy), per_seed(every, model, "acnet", accuracy)
    where = setting(chapter.skeleton, model) + standing_in(model)
    key = "border_vs_normal_acnet"
    claims.grade("border variant is less accurate than the normal ACNet (direction; border − ACNet, pp)",
                 grade_effect(border, acnet, direction=-1, paper=ref(key).value, scope=DIRECTION), kind="trained",
                 source=ref(key).cite, paper=ref(key).value, profile=profile,
                 evidence=f"{where}; {seeds_text(difference(border, acnet))}")
    key = "border_acnet_resnet56_cifar10"
    claims.grade(f"border variant accuracy, CIFAR-10{stand_in(model, profile)} (%)",
                 grade_setting(mean_of(border), ref(key).value, where), kind="trained", source=ref(key).cite,
                 paper=ref(key).value, profile=profile, evidence=f"mean over {seeds_text(border)}")
