"""Chapter 3 (ACNet): the chapter's claims, every verdict decided by ``effconv.claims.rules``.

``ledger(profile)`` computes the committed claims (counted and trained) from the stored results and
deterministic checks, without papermill and without timing anything; ``live_claims`` grades what the
chapter times or measures on the machine that builds it (never written to the committed ledger).

The claims of the kernel-skeleton study (importance, pruning, border) are in ``acnet_skeleton_claims``,
the per-seed readers of the stored runs in ``acnet_evidence``; ``ledger`` puts them all together.

Which rule grades what:

- "every case" checks (random blocks fold, fused costs equal the base's, trained runs keep their accuracy
  when fused): ``every_case``, the number of failing cases against the bound 0 (``grade_bound``), since the
  paper says all of them and one failure contradicts it;
- "A beats B" from trained runs: ``grade_effect``, paired by random seed, on the direction only
  (``DIRECTION``: our short, narrow JPEG CIFAR-10 runs are not the paper's setting, so the size is shown
  beside the paper's, not graded; a paper figure from ImageNet is printed with its dataset and no delta);
- "A is about the same as B" (180° rotated vs up-down flipped accuracy): ``grade_equivalence`` within
  ``ROTATION_MARGIN_PP``, each run tested both ways being one pair;
- importance maps: within-model contrasts, graded on what training changed (``acnet_skeleton_claims``);
- absolute numbers from our narrow, short, JPEG CIFAR-10 setting: ``grade_setting`` ("not comparable");
- live timings: ``grade_timing`` over interleaved rounds.

The ledger carries each trained test's p and its Holm-adjusted verdict over the chapter's trained tests
(``ClaimsTable(CHAPTER, holm=True)``).
"""

from __future__ import annotations

import pandas as pd

from effconv.claims import (DIRECTION, ClaimsTable, Grade, grade_bound, grade_effect, grade_equivalence,
                            grade_setting, grade_timing)
from effconv.errors import EffconvError
from effconv.studies.acnet import checks
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet.evidence import (Seeds, graded_table, schedule_arms, accuracy, difference, mean_of, per_seed, quiet, ref, rotated,
                                            seeds_text, setting, stand_in, standing_in)
from effconv.studies.acnet.results import (FLOAT64_TOLERANCE, FUSION_TOLERANCE, MODEL_LABELS, PAPER_FAMILIES,
                                           VARIANT_LABELS, ChapterRuns, Runs, load_runs, merge, variant_of)
from effconv.studies.acnet.plan import CHAPTER
from effconv.studies.acnet.skeleton_claims import border_claims, importance_claims, pruning_claims

LATENCY_SLACK = 1.10   # "no extra inference cost" read as: fused time at most 10% over the base's
ROTATION_MARGIN_PP = 0.5  # "similar" accuracies read as: 180° and up-down flip within 0.5 pp of each other
COUNTED = "counted"


# --------------------------------------------------------------------------- counted


def every_case(passed: int, checked: int) -> Grade:
    """"Every case passes", shown as passed of checked but graded on the failing cases against the bound 0:
    a relative tolerance on the passing count would call 35 blocks of 36 "partly"; none checked is "not run"."""
    if not checked:
        return grade_bound(None, 0, "<=")
    failed = grade_bound(checked - passed, 0, "<=")
    return Grade(failed.verdict, ours=passed, delta=passed - checked,
                 rule=f"{checked - passed} of {checked} fail, none may: {failed.rule}")


def counted_claims(claims: ClaimsTable, blocks: pd.DataFrame, costs: pd.DataFrame) -> None:
    """The fusion checked on random blocks and the counted cost of the fused models."""
    folds = ((blocks["max_rel"] < FUSION_TOLERANCE) & (blocks["max_rel_float64"] < FLOAT64_TOLERANCE)
             & blocks["same_geometry"])
    source = ref("fusion_equivalent_outputs").cite
    claims.grade(f"an ACB folds into one kxk conv with the same output (random blocks that fold, of {len(blocks)})",
                 every_case(int(folds.sum()), len(blocks)), kind="counted", source=source,
                 paper=len(blocks), profile=COUNTED,
                 evidence=f"block_exactness_table: kernels 3/5, strides 1/2, padding below/at/above k//2, dense/"
                          f"grouped/depthwise, odd and even inputs, random BN statistics; folds = relative error "
                          f"below {FUSION_TOLERANCE:g} (float32) and {FLOAT64_TOLERANCE:g} (float64), same geometry")
    beyond = ~blocks["in_seed_demo"]
    claims.grade("the fusion also holds where the specification's demo never looked: stride 2, groups, depthwise, "
                 "border, "
                 f"BN after the sum (blocks that fold, of {int(beyond.sum())})",
                 every_case(int((folds & beyond).sum()), int(beyond.sum())), kind="counted",
                 source=ref("seed_demo_scope").cite, paper=int(beyond.sum()), profile=COUNTED,
                 evidence="the specification's demo loops over (kernel, padding) at stride 1 and never passes its groups "
                          "variable; the algebra needs the branches to share sliding windows, which our crop/pad "
                          "alignment keeps for every stride")
    claims.grade(f"the fused ACNet has exactly the base model's parameters and FLOPs (families equal, of {len(costs)})",
                 every_case(int(costs["same_as_base"].sum()), len(costs)), kind="counted",
                 source=ref("fusion_no_extra_inference_cost").cite, paper=len(costs), profile=COUNTED,
                 evidence="count_flops of the fused ACNet vs the BN-folded base on the meta device (width 1, 32x32): "
                          + ", ".join(MODEL_LABELS.get(m, m) for m in costs["model"]))


# --------------------------------------------------------------------------- trained: fusion, Table 1


def fusion_change(stored: dict, result: dict) -> float:
    """Fused minus unfused test accuracy (pp) of one run: the fp32 pair where the run stored it (any device),
    else the fused model against the run's final accuracy (runs before the pair existed: fp32 CPU runs)."""
    if "test_acc_fused_exact" in stored:
        return 100 * (stored["test_acc_fused_exact"] - stored["test_acc_unfused_exact"])
    return 100 * stored["test_acc_fused"] - accuracy(result)


def fusion_claim(claims: ClaimsTable, every: list[Runs], profile: str) -> None:
    """Each trained ACB model keeps its test accuracy when folded: the fusion is exact, so the paper's
    claim is that every run does (same accuracy to the printed two decimals, i.e. not one test image)."""
    changes = []
    merged = merge(*every)   # a run shared by two comparisons counts once
    for spec, result in zip(merged.specs, merged.results):
        stored = ((result or {}).get("analyses") or {}).get("acnet.fusion")
        if stored is None or variant_of(spec) == "base":
            continue
        changes.append(fusion_change(stored, result))
    same = sum(round(change, 2) == 0 for change in changes)
    # float noise below 1e-3 pp is not a change (and "+ 0.0" keeps it from printing as -0.000)
    worst = round(max(changes, key=abs), 3) + 0.0 if changes else None
    grade = every_case(same, len(changes))
    claims.add(f"trained ACNets keep their test accuracy when fused (runs unchanged, of {len(changes)})",
               kind="trained", source=ref("fusion_equivalent_outputs").cite, paper=len(changes),
               ours=same if changes else None, delta=grade.delta, verdict=grade.verdict, profile=profile,
               evidence=(f"stored acnet.fusion of {len(changes)} trained ACB runs; unchanged = same test accuracy "
                         f"to two decimals; largest change {worst:+.3f} pp ({grade.rule})") if changes
               else "no trained ACB runs stored")


def _graded_at(chapter: ChapterRuns, table: Runs) -> str:
    """Which schedule the schedule model's claim is graded at (``graded_table``), of those the profile plans."""
    arms = schedule_arms(chapter)
    if len(arms) < 2:
        return ""
    epochs = next(s.recipe.epochs for s in table.specs if s.model == runs.SCHEDULE_MODEL)
    return (f"; graded at {epochs} epochs, the longest schedule run with all its pairs (planned: "
            f"{', '.join(str(a[0]) for a in arms)} epochs)")


def cifar10_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    table, profile = graded_table(chapter), chapter.table.profile
    skeleton_model = runs.SKELETON_MODEL.get(profile, "resnet56")
    trained = {s.model for s in table.specs}
    for model, (label, key) in PAPER_FAMILIES.items():
        ours_model = skeleton_model if model == "resnet56" and model not in trained else model
        base = per_seed([table], ours_model, "base", accuracy)
        acnet = per_seed([table], ours_model, "acnet", accuracy)
        if model == "cifar_quick":     # no published value: the authors' own PyTorch re-run
            paper, source, note = (ref("repo_cifar10_cifar_quick_acnet").value - ref("repo_cifar10_cifar_quick_base").value,
                                   ref("repo_cifar10_cifar_quick_acnet").cite, "")
        elif model == "vgg16_cifar":   # the ACNet paper's VGG-16 row is unverified; the DBB paper's is not
            paper, source, note = ref("dbb_cifar10_vgg16_gain").value, ref("dbb_cifar10_vgg16_acnet").cite, ""
        else:
            base_ref, acnet_ref = ref(f"cifar10_{key}_base"), ref(f"cifar10_{key}_acnet")
            paper, source = acnet_ref.value - base_ref.value, acnet_ref.cite
            note = "; the paper's value is transcribed, unverified" if acnet_ref.tag == "transcribed" else ""
        where = setting(table, ours_model) + (standing_in(ours_model) if model == "resnet56" else "")
        named = f"CIFAR-10 {label}{stand_in(ours_model, profile, model) if ours_model in trained else ''}"
        power = runs.power_plan(profile, ours_model)
        planned = f"; seeds planned by power: {power.text()}" if power else ""
        if ours_model == runs.SCHEDULE_MODEL:   # the paper's claim is graded at the longest schedule run
            where += _graded_at(chapter, table)
        claims.grade(f"{named}: ACNet gain over the base (direction, pp)",
                     grade_effect(acnet, base, direction=1, paper=round(paper, 2),
                                  planned=power.pairs if power else None, scope=DIRECTION), kind="trained",
                     source=source, paper=round(paper, 2), profile=profile,
                     evidence=(f"{where}; {seeds_text(difference(acnet, base))}{note}{planned}" if base or acnet
                               else f"not run: {where}{note}"))
        if ours_model not in trained:
            continue
        # absolute accuracies of our short, narrow runs: shown with their setting, not graded
        for arm, values in (("base", base), ("acnet", acnet)):
            if model == "cifar_quick":
                paper_ref = ref(f"repo_cifar10_cifar_quick_{arm}")
            else:
                paper_ref = ref(f"cifar10_{key}_{arm}")
            arm_label = "ACNet" if arm == "acnet" else "base"
            claims.grade(f"{named}: {arm_label} "
                         "accuracy (%)", grade_setting(mean_of(values), paper_ref.value, where), kind="trained",
                         source=paper_ref.cite, paper=paper_ref.value, profile=profile,
                         evidence=f"mean over {seeds_text(values)}")
    no_data = grade_effect({}, {}, scope=DIRECTION)
    claims.grade("CIFAR-100: ACNet improves every family (direction)", no_data, kind="trained",
                 source=ref("cifar100_results").cite, paper="gains reported", profile=profile,
                 evidence="no CIFAR-100 data offline")
    for key, label in (("imagenet_alexnet_top1_gain", "AlexNet"), ("imagenet_resnet18_top1_gain", "ResNet-18"),
                       ("imagenet_densenet121_top1_gain", "DenseNet-121")):
        claims.grade(f"ImageNet {label}: ACNet top-1 gain (direction, pp)", no_data, kind="trained", source=ref(key).cite,
                     paper=ref(key).value, profile=profile, evidence="needs ImageNet training; not available here")


# --------------------------------------------------------------------------- trained: ablation, rotation


def ablation_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    every, model = chapter.every(), runs.ABLATION_MODEL
    profile, label = chapter.ablation.profile, MODEL_LABELS[runs.ABLATION_MODEL]
    arm = {v: per_seed(every, model, v, accuracy) for v in runs.ABLATION_VARIANTS}
    where = setting(chapter.ablation, model)
    source = ref("ablation_removing_any_design_hurts").cite
    for variant, what in (("hor", "the vertical kernel"), ("ver", "the horizontal kernel"),
                          ("sum-bn", "the per-branch BN (one BN after the sum)")):
        claims.grade(f"ablation ({label}): removing {what} lowers accuracy (direction; full ACB − {variant}, pp)",
                     grade_effect(arm["acnet"], arm[variant], direction=1, scope=DIRECTION), kind="trained",
                     source=source,
                     paper="> 0", profile=profile,
                     evidence=f"{where}; {seeds_text(difference(arm['acnet'], arm[variant]))}")
    source = ref("ablation_hor_and_ver_each_help").cite
    # square + hor against the base on original images is also the rotation table's first contrast: one row
    also = {"hor": f"; the paper's rotation test gives {ref('imagenet_resnet18_hor_vs_base_original').value:g} pp for "
                   "it on ImageNet ResNet-18 (original images)"}
    for variant in ("hor", "ver"):
        claims.grade(f"ablation ({label}): {VARIANT_LABELS[variant]} beats the base (direction, pp)",
                     grade_effect(arm[variant], arm["base"], direction=1, scope=DIRECTION), kind="trained",
                     source=source, paper="> 0", profile=profile,
                     evidence=f"{where}; {seeds_text(difference(arm[variant], arm['base']))}{also.get(variant, '')}")


def rotation_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    every, model = chapter.every(), runs.ABLATION_MODEL
    profile = chapter.ablation.profile
    label = f"rotation ({MODEL_LABELS[model]} on CIFAR-10; paper: ImageNet ResNet-18)"
    where = setting(chapter.ablation, model)

    def acc(variant: str, condition: str) -> Seeds:
        return per_seed(every, model, variant, rotated(condition))

    # ImageNet figures beside CIFAR-10 runs: printed with their dataset, never subtracted (no delta)
    for key, (a, b), condition, text in (
            ("imagenet_resnet18_hor_vs_base_rot180", ("hor", "base"), "rot180",
             "horizontal-only − base, 180° rotated (direction, pp)"),
            ("imagenet_resnet18_hor_vs_ver_rot180", ("hor", "ver"), "rot180",
             "horizontal-only − vertical-only, 180° rotated (direction, pp)"),
            ("rotation_hor_beats_base_flipud", ("hor", "base"), "flip_ud",
             "horizontal-only − base, up-down flipped (direction, pp)")):
        paper = ref(key).value
        printed = f"{paper:g} (ImageNet)" if isinstance(paper, float) else paper
        treatment, control = acc(a, condition), acc(b, condition)
        claims.grade(f"{label}: {text}", grade_effect(treatment, control, direction=1, scope=DIRECTION),
                     kind="trained", source=ref(key).cite, paper=printed, profile=profile,
                     evidence=f"{where}; {seeds_text(difference(treatment, control))}")
    hor, ver = acc("hor", "original"), acc("ver", "original")
    claims.grade(f"rotation ({MODEL_LABELS[model]}): horizontal-only slightly below vertical-only on original "
                 "images (direction, pp)", grade_effect(hor, ver, direction=-1, scope=DIRECTION), kind="trained",
                 source=ref("imagenet_resnet18_hor_vs_ver_original").cite, paper="< 0 (slightly)", profile=profile,
                 evidence=f"{where}; {seeds_text(difference(hor, ver))}")
    at180 = difference(acc("hor", "rot180"), acc("base", "rot180"))
    at90 = difference(acc("hor", "rot90_ccw"), acc("base", "rot90_ccw"))
    claims.grade(f"rotation ({MODEL_LABELS[model]}): the horizontal-only model's advantage over the base is larger "
                 "at 180° than at 90° (direction, pp)", grade_effect(at180, at90, direction=1, scope=DIRECTION),
                 kind="trained",
                 source=ref("rotation_hor_advantage_rot180_over_rot90").cite, paper="> 0", profile=profile,
                 evidence=f"{where}; (hor − base at 180°) − (hor − base at 90°), {seeds_text(difference(at180, at90))}")
    # 180° = up-down flip + left-right flip, and training flips left-right: the two accuracies should agree.
    # Each stored run of every ablation variant is one pair (the same model tested both ways).
    turn = {(v, s): x for v in runs.ABLATION_VARIANTS for s, x in acc(v, "rot180").items()}
    flip = {(v, s): x for v in runs.ABLATION_VARIANTS for s, x in acc(v, "flip_ud").items()}
    grade = grade_equivalence(turn, flip, margin=ROTATION_MARGIN_PP)
    shared = sorted(set(turn) & set(flip))
    claims.grade("rotation: 180° rotated and up-down flipped accuracies agree (180° − up-down, pp)", grade,
                 kind="trained", source=ref("rotation_rot180_similar_to_flipud").cite,
                 paper=f"about 0 (within ±{ROTATION_MARGIN_PP:g})", profile=profile,
                 evidence=f"{where}; {len(shared)} runs of {len({v for v, _ in shared})} variants, each tested both "
                          f"ways; the margin ±{ROTATION_MARGIN_PP:g} pp is our reading of \"similar\"")


# --------------------------------------------------------------------------- the ledger and the live rows


def ledger(profile: str = "best", chapter: ChapterRuns | None = None, *, blocks: pd.DataFrame | None = None,
           costs: pd.DataFrame | None = None) -> ClaimsTable:
    """Every counted and trained claim of the chapter, from the stored results and deterministic checks.

    The chapter page passes what it already loaded and computed (``chapter``, ``blocks``, ``costs``); left
    out, they are loaded or recomputed (the same seeded checks, so the same rows)."""
    chapter = chapter or load_runs(profile, log=quiet)
    claims = ClaimsTable(CHAPTER, holm=True)
    counted_claims(claims, checks.block_exactness_table() if blocks is None else blocks,
                   checks.cost_table() if costs is None else costs)
    fusion_claim(claims, chapter.every(), chapter.profile)
    cifar10_claims(claims, chapter)
    ablation_claims(claims, chapter)
    rotation_claims(claims, chapter)
    importance_claims(claims, chapter)
    pruning_claims(claims, chapter)
    border_claims(claims, chapter)
    return claims


def live_claims(models: pd.DataFrame | None = None, latency: pd.DataFrame | None = None) -> ClaimsTable:
    """The claims the chapter checks on the build's machine: whole models folded (float rounding depends on
    the machine) and inference time. Shown in the chapter, never written to the committed ledger."""
    claims = ClaimsTable(CHAPTER, holm=True)
    source = ref("fusion_equivalent_outputs").cite
    if models is not None and len(models):
        drawn = models[models["bn_statistics"] == "drawn at random"]
        folds = (drawn["max_rel"] < FUSION_TOLERANCE) & (drawn["max_rel_float64"] < FLOAT64_TOLERANCE)
        claims.grade(f"whole converted models fold exactly (models that fold, of {len(drawn)})",
                     every_case(int(folds.sum()), len(drawn)), kind="live", source=source,
                     paper=len(drawn), profile="live",
                     evidence="model_exactness_table with random BN statistics: " + ", ".join(drawn["model"]))
    if latency is None or latency.empty:
        return claims
    source = ref("fusion_no_extra_inference_cost").cite
    for _, row in latency[latency["variant"] == "ACNet fused"].iterrows():
        claims.grade(f"fused ACNet inference time / base ({MODEL_LABELS.get(row['model'], row['model'])}, batch "
                     f"{row['batch']}; direction: at most {LATENCY_SLACK:g}x)",
                     grade_timing(row["round_ratios"], LATENCY_SLACK, direction=-1, paper=1.0, scope=DIRECTION),
                     kind="live", source=source, paper=1.0, profile="live",
                     evidence=f"per-round ratio of the fastest calls, interleaved, on {row['device']}; claim read as "
                              f"at most {LATENCY_SLACK:g}x the base")
    return claims


def claim(table: ClaimsTable | pd.DataFrame, fragment: str) -> pd.Series:
    """The one claim whose text contains ``fragment`` (for the chapter's glue); an error names the matches."""
    frame = table.frame() if isinstance(table, ClaimsTable) else table
    matches = frame[frame["claim"].str.contains(fragment, regex=False)]
    if len(matches) != 1:
        raise EffconvError(f"{len(matches)} claims match {fragment!r}; give a fragment that names exactly one.")
    return matches.iloc[0]
