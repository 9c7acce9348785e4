"""Chapter 3 (ACNet): the chapter's claims, every verdict decided by ``effconv.claims.rules``.

``ledger(profile)`` computes the committed claims (counted and trained) from the stored results and
deterministic checks, without papermill and without timing anything; ``live_table`` grades what the
chapter times or measures on the machine that builds it (never written to the committed ledger).

Which rule grades what:

- counted checks (random blocks fold, fused costs equal the base's): ``grade_count`` on how many cases
  pass against how many were checked (the paper says all);
- "A beats B" from trained runs: ``grade_effect``, paired by seed;
- "A is about the same as B" (180° rotated vs up-down flipped accuracy): ``grade_equivalence`` within
  ``ROTATION_MARGIN_PP``, each run tested both ways being one pair;
- a property that already holds at initialisation (the importance thresholds): ``grade_change``;
- absolute numbers from our narrow, short, JPEG CIFAR-10 setting: ``grade_setting`` ("not comparable");
- live timings: ``grade_timing`` over interleaved rounds.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import pandas as pd

from effconv.claims import (ClaimsTable, combine, grade_change, grade_count, grade_effect, grade_equivalence,
                            grade_setting, grade_timing)
from effconv.studies import acnet_runs as runs
from effconv.studies.acnet_report import (CHAPTER, FLOAT64_TOLERANCE, FUSION_TOLERANCE, MODEL_LABELS, PAPER_FAMILIES,
                                          VARIANT_LABELS, Runs, destroyed_at, load, merge, pruning_rows,
                                          pruning_summary, region_mean, variant_of)
from effconv.studies.paper import paper_value

LATENCY_SLACK = 1.10   # "no extra inference cost" read as: fused time at most 10% over the base's
ROTATION_MARGIN_PP = 0.5  # "similar" accuracies read as: 180° and up-down flip within 0.5 pp of each other
COUNTED = "counted"

Seeds = dict[int, float]


def ref(key: str):
    return paper_value(CHAPTER, key)


# --------------------------------------------------------------------------- loading


@dataclass
class ChapterRuns:
    """The chapter's three comparisons as stored for one profile (``load_runs``)."""

    table: Runs       # Table 1: base vs ACNet per model, every seed
    ablation: Runs    # the branch ablation on Cifar-quick
    skeleton: Runs    # base, ACNet and border of the skeleton model (importance, pruning)

    @property
    def profile(self) -> str:
        return self.table.profile

    def every(self) -> list[Runs]:
        """The comparisons of the table's profile (each run once when merged)."""
        return [c for c in (self.table, self.ablation, self.skeleton) if c.profile == self.table.profile]

    def merged(self) -> Runs:
        return merge(*self.every())


def load_runs(profile: str = "best", run_missing: bool = False, log: Callable = print) -> ChapterRuns:
    """The stored runs of every comparison of the chapter (training the missing ones with ``run_missing``)."""
    return ChapterRuns(load(runs.table_specs, profile, run_missing, log=log),
                       load(runs.ablation_specs, profile, run_missing, log=log),
                       load(runs.skeleton_specs, profile, run_missing, log=log))


def _quiet(*_args: Any, **_kwargs: Any) -> None:
    return None


# --------------------------------------------------------------------------- per-seed values


def per_seed(comparisons: Iterable[Runs], model: str, variant: str,
             value: Callable[[dict[str, Any]], float | None]) -> Seeds:
    """{seed: value(result)} over the stored runs of (model, variant); each seed once, NaN/None left out."""
    out: Seeds = {}
    for comparison in comparisons:
        for spec, result in zip(comparison.specs, comparison.results):
            if result is None or spec.model != model or variant_of(spec) != variant or spec.seed in out:
                continue
            number = value(result)
            if number is not None and not (isinstance(number, float) and math.isnan(number)):
                out[spec.seed] = float(number)
    return dict(sorted(out.items()))


def accuracy(result: dict[str, Any]) -> float:
    return 100 * result["metrics"]["final"]["test_acc"]


def rotated(condition: str) -> Callable[[dict[str, Any]], float | None]:
    def value(result: dict[str, Any]) -> float | None:
        stored = (result.get("analyses") or {}).get("acnet.rotation") or {}
        return 100 * stored[condition] if condition in stored else None
    return value


def matrix_value(fn: Callable[[pd.DataFrame], float]) -> Callable[[dict[str, Any]], float | None]:
    def value(result: dict[str, Any]) -> float | None:
        stored = (result.get("analyses") or {}).get("acnet.importance")
        return None if stored is None else fn(pd.DataFrame(stored["matrix"]))
    return value


def corner_max(matrix: pd.DataFrame) -> float:
    return float(matrix.to_numpy()[[0, 0, -1, -1], [0, -1, 0, -1]].max())


def skeleton_min(matrix: pd.DataFrame) -> float:
    values, k = matrix.to_numpy(), matrix.shape[0] // 2
    return float(min(values[k, :].min(), values[:, k].min()))


def centre(matrix: pd.DataFrame) -> float:
    k = matrix.shape[0] // 2
    return float(matrix.to_numpy()[k, k])


def skeleton_gap(matrix: pd.DataFrame) -> float:
    """Mean skeleton importance minus mean corner importance."""
    return region_mean(matrix, "skeleton") - region_mean(matrix, "corners")


def difference(a: Seeds, b: Seeds) -> Seeds:
    """{seed: a - b} over the seeds both have."""
    return {s: a[s] - b[s] for s in sorted(set(a) & set(b))}


def pruning_mean(rows: pd.DataFrame, variant: str, region: str, *, last: bool = False) -> Seeds:
    """{training seed: mean pruned accuracy of ``region``}: at the region's last point (``last``: all of the
    region pruned), or averaged over the sparsities > 0 that every region of the run shares."""
    out: Seeds = {}
    part = rows[rows["variant"] == variant] if len(rows) else rows
    for seed, group in (part.groupby("run_seed") if len(part) else []):
        summary = pruning_summary(group.drop(columns="run_seed"))
        curve = summary[summary["region"] == region].sort_values("sparsity")
        if curve.empty:
            continue
        if last:
            out[int(seed)] = float(curve["mean"].iloc[-1])
        else:
            shared = set(summary.loc[summary["sparsity"] > 0, "sparsity"])
            for other in set(summary["region"]):
                shared &= set(summary.loc[summary["region"] == other, "sparsity"])
            points = curve[curve["sparsity"].isin(shared)]
            if len(points):
                out[int(seed)] = float(points["mean"].mean())
    return out


def destroyed_by_seed(rows: pd.DataFrame, variant: str) -> Seeds:
    part = rows[rows["variant"] == variant] if len(rows) else rows
    out = {int(seed): destroyed_at(pruning_summary(group.drop(columns="run_seed")), variant)
           for seed, group in (part.groupby("run_seed") if len(part) else [])}
    return {s: v for s, v in out.items() if not math.isnan(v)}


def _mean(values: Seeds) -> float | None:
    return statistics.fmean(values.values()) if values else None


def _seeds(values: Seeds) -> str:
    return f"seed{'s' if len(values) != 1 else ''} {', '.join(map(str, values))}" if values else "no runs"


def setting(comparison: Runs, model: str) -> str:
    """Our setting of ``model`` in words, for evidence and not-comparable rows."""
    specs = [s for s in comparison.specs if s.model == model]
    if not specs:
        return f"not in the {comparison.profile} profile"
    spec = specs[0]
    width = spec.model_kwargs.get("width", 1.0)
    return (f"{MODEL_LABELS.get(model, model)} at width {width:g}, {spec.recipe.epochs} epochs, "
            "JPEG CIFAR-10 (quality 75)")


def _standing_in(model: str) -> str:
    return "" if model == "resnet56" else ", standing in for ResNet-56"


def stand_in(model: str, profile: str) -> str:
    """How a claim about ResNet-56 names the model that stands in for it in ``profile`` ("" for ResNet-56)."""
    if model == "resnet56":
        return ""
    width = runs.TABLE[profile][model]["width"]
    return f" ({MODEL_LABELS.get(model, model)} at width {width:g} stands in for ResNet-56)"


# --------------------------------------------------------------------------- counted


def counted_claims(claims: ClaimsTable, blocks: pd.DataFrame, costs: pd.DataFrame) -> None:
    """The fusion checked on random blocks and the counted cost of the fused models."""
    folds = ((blocks["max_rel"] < FUSION_TOLERANCE) & (blocks["max_rel_float64"] < FLOAT64_TOLERANCE)
             & blocks["same_geometry"])
    source = ref("fusion_equivalent_outputs").cite
    claims.grade(f"an ACB folds into one kxk conv with the same output (random blocks that fold, of {len(blocks)})",
                 grade_count(int(folds.sum()), len(blocks), decimals=0), kind="counted", source=source,
                 paper=len(blocks), profile=COUNTED,
                 evidence=f"block_exactness_table: kernels 3/5, strides 1/2, padding below/at/above k//2, dense/"
                          f"grouped/depthwise, odd and even inputs, random BN statistics; folds = relative error "
                          f"below {FUSION_TOLERANCE:g} (float32) and {FLOAT64_TOLERANCE:g} (float64), same geometry")
    beyond = ~blocks["in_seed_demo"]
    claims.grade("the fusion also holds where the seed's demo never looked: stride 2, groups, depthwise, border, "
                 f"BN after the sum (blocks that fold, of {int(beyond.sum())})",
                 grade_count(int((folds & beyond).sum()), int(beyond.sum()), decimals=0), kind="counted",
                 source=ref("seed_demo_scope").cite, paper=int(beyond.sum()), profile=COUNTED,
                 evidence="the seed's demo loops over (kernel, padding) at stride 1 and never passes its groups "
                          "variable; the algebra needs the branches to share sliding windows, which our crop/pad "
                          "alignment keeps for every stride")
    claims.grade(f"the fused ACNet has exactly the base model's parameters and FLOPs (families equal, of {len(costs)})",
                 grade_count(int(costs["same_as_base"].sum()), len(costs), decimals=0), kind="counted",
                 source=ref("fusion_no_extra_inference_cost").cite, paper=len(costs), profile=COUNTED,
                 evidence="count_flops of the fused ACNet vs the BN-folded base on the meta device (width 1, 32x32): "
                          + ", ".join(MODEL_LABELS.get(m, m) for m in costs["model"]))


# --------------------------------------------------------------------------- trained: fusion, Table 1


def fusion_claim(claims: ClaimsTable, every: list[Runs], profile: str) -> None:
    """Each trained ACB model keeps its test accuracy when folded: the fusion is exact, so the paper's
    claim is that every run does (same accuracy to the printed two decimals, i.e. not one test image)."""
    changes = []
    merged = merge(*every)   # a run shared by two comparisons counts once
    for spec, result in zip(merged.specs, merged.results):
        stored = ((result or {}).get("analyses") or {}).get("acnet.fusion")
        if stored is None or variant_of(spec) == "base":
            continue
        changes.append(100 * stored["test_acc_fused"] - accuracy(result))
    same = sum(round(change, 2) == 0 for change in changes)
    worst = round(max(changes, key=abs), 3) if changes else None   # float noise below 1e-3 pp is not a change
    grade = grade_count(same if changes else None, len(changes), decimals=0)
    claims.add(f"trained ACNets keep their test accuracy when fused (runs unchanged, of {len(changes)})",
               kind="trained", source=ref("fusion_equivalent_outputs").cite, paper=len(changes),
               ours=same if changes else None, delta=grade.delta, verdict=grade.verdict, profile=profile,
               evidence=(f"stored acnet.fusion of {len(changes)} trained ACB runs; unchanged = same test accuracy "
                         f"to two decimals; largest change {worst:+.3f} pp ({grade.rule})") if changes
               else "no trained ACB runs stored")


def cifar10_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    table, profile = chapter.table, chapter.table.profile
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
        where = setting(table, ours_model) + (_standing_in(ours_model) if model == "resnet56" else "")
        claims.grade(f"CIFAR-10 {label}{stand_in(ours_model, profile) if model == 'resnet56' else ''}: ACNet gain over "
                     "the base (pp)", grade_effect(acnet, base, direction=1, paper=round(paper, 2)), kind="trained",
                     source=source, paper=round(paper, 2), profile=profile,
                     evidence=(f"{where}; {_seeds(difference(acnet, base))}{note}" if base or acnet
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
            claims.grade(f"CIFAR-10 {label}{stand_in(ours_model, profile) if model == 'resnet56' else ''}: {arm_label} "
                         "accuracy (%)", grade_setting(_mean(values), paper_ref.value, where), kind="trained",
                         source=paper_ref.cite, paper=paper_ref.value, profile=profile,
                         evidence=f"mean over {_seeds(values)}")
    no_data = grade_effect({}, {})
    claims.grade("CIFAR-100: ACNet improves every family", no_data, kind="trained",
                 source=ref("cifar100_results").cite, paper="gains reported", profile=profile,
                 evidence="no CIFAR-100 data offline")
    for key, label in (("imagenet_alexnet_top1_gain", "AlexNet"), ("imagenet_resnet18_top1_gain", "ResNet-18"),
                       ("imagenet_densenet121_top1_gain", "DenseNet-121")):
        claims.grade(f"ImageNet {label}: ACNet top-1 gain (pp)", no_data, kind="trained", source=ref(key).cite,
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
        claims.grade(f"ablation ({label}): removing {what} lowers accuracy (full ACB − {variant}, pp)",
                     grade_effect(arm["acnet"], arm[variant], direction=1), kind="trained", source=source,
                     paper="> 0", profile=profile,
                     evidence=f"{where}; {_seeds(difference(arm['acnet'], arm[variant]))}")
    source = ref("ablation_hor_and_ver_each_help").cite
    for variant in ("hor", "ver"):
        claims.grade(f"ablation ({label}): {VARIANT_LABELS[variant]} beats the base (pp)",
                     grade_effect(arm[variant], arm["base"], direction=1), kind="trained", source=source,
                     paper="> 0", profile=profile,
                     evidence=f"{where}; {_seeds(difference(arm[variant], arm['base']))}")


def rotation_claims(claims: ClaimsTable, chapter: ChapterRuns) -> None:
    every, model = chapter.every(), runs.ABLATION_MODEL
    profile = chapter.ablation.profile
    label = f"rotation ({MODEL_LABELS[model]} on CIFAR-10; paper: ImageNet ResNet-18)"
    where = setting(chapter.ablation, model)

    def acc(variant: str, condition: str) -> Seeds:
        return per_seed(every, model, variant, rotated(condition))

    for key, (a, b), condition, text in (
            ("imagenet_resnet18_hor_vs_base_original", ("hor", "base"), "original", "horizontal-only − base, original images"),
            ("imagenet_resnet18_hor_vs_base_rot180", ("hor", "base"), "rot180", "horizontal-only − base, 180° rotated"),
            ("imagenet_resnet18_hor_vs_ver_rot180", ("hor", "ver"), "rot180", "horizontal-only − vertical-only, 180° rotated"),
            ("rotation_hor_beats_base_flipud", ("hor", "base"), "flip_ud", "horizontal-only − base, up-down flipped")):
        paper = ref(key).value
        treatment, control = acc(a, condition), acc(b, condition)
        claims.grade(f"{label}: {text} (pp)",
                     grade_effect(treatment, control, direction=1, paper=paper if isinstance(paper, float) else None),
                     kind="trained", source=ref(key).cite, paper=paper, profile=profile,
                     evidence=f"{where}; {_seeds(difference(treatment, control))}")
    hor, ver = acc("hor", "original"), acc("ver", "original")
    claims.grade(f"rotation ({MODEL_LABELS[model]}): horizontal-only slightly below vertical-only on original "
                 "images (pp)", grade_effect(hor, ver, direction=-1), kind="trained",
                 source=ref("imagenet_resnet18_hor_vs_ver_original").cite, paper="< 0 (slightly)", profile=profile,
                 evidence=f"{where}; {_seeds(difference(hor, ver))}")
    at180 = difference(acc("hor", "rot180"), acc("base", "rot180"))
    at90 = difference(acc("hor", "rot90_ccw"), acc("base", "rot90_ccw"))
    claims.grade(f"rotation ({MODEL_LABELS[model]}): the horizontal-only model's advantage over the base is larger "
                 "at 180° than at 90° (pp)", grade_effect(at180, at90, direction=1), kind="trained",
                 source=ref("rotation_hor_advantage_rot180_over_rot90").cite, paper="> 0", profile=profile,
                 evidence=f"{where}; (hor − base at 180°) − (hor − base at 90°), {_seeds(difference(at180, at90))}")
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


# --------------------------------------------------------------------------- trained: kernel skeletons


def importance_init(profile: str, seeds: Iterable[int], variants: Iterable[str] = ("base", "acnet")
                    ) -> dict[str, dict[int, pd.DataFrame]]:
    """{variant: {seed: importance matrix}} of the skeleton model before training: the run's own initial
    weights, since the runner also seeds torch with the run's seed right before ``create_model`` (the
    baseline the trained maps are graded against; deterministic)."""
    from effconv.studies.acnet import importance_at_init

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
    where = f"fused {setting(chapter.skeleton, model)}{_standing_in(model)}"

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
                 evidence=f"BN-folded {setting(chapter.skeleton, model)}{_standing_in(model)}; a freshly initialised base "
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
    gains = (f"border {_mean(border_gain):+.3f} vs skeleton {_mean(skeleton_gain):+.3f}"
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
    where = (f"fused {setting(chapter.skeleton, model)}{_standing_in(model)}, {runs.PRUNING_TEST_IMAGES} test images, "
             "5 pruning draws per point")
    key = "pruning_acnet_corners_min_accuracy"
    corners = pruning_mean(rows, "acnet", "corners", last=True)
    claims.grade("ACNet with almost all corners pruned (44% sparsity) stays above 60% accuracy (%)",
                 grade_setting(_mean(corners), ref(key).value, where), kind="trained", source=ref(key).cite,
                 paper=ref(key).value, profile=profile, evidence=f"mean over {_seeds(corners)}")
    key = "pruning_acnet_skeleton_destroyed_sparsity"
    destroyed = destroyed_by_seed(rows, "acnet")
    claims.grade("ACNet: pruning only the skeleton destroys the model by 13% global sparsity (sparsity where the "
                 "accuracy falls to 20%, %)", grade_setting(_mean(destroyed), ref(key).value, where),
                 kind="trained", source=ref(key).cite, paper=ref(key).value, profile=profile,
                 evidence=f"destroyed read as at most 20% accuracy (twice chance), interpolated between grid points; "
                          f"mean over {_seeds(destroyed)}")
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
    where = setting(chapter.skeleton, model) + _standing_in(model)
    key = "border_vs_normal_acnet"
    claims.grade("border variant is less accurate than the normal ACNet (border − ACNet, pp)",
                 grade_effect(border, acnet, direction=-1, paper=ref(key).value), kind="trained",
                 source=ref(key).cite, paper=ref(key).value, profile=profile,
                 evidence=f"{where}; {_seeds(difference(border, acnet))}")
    key = "border_acnet_resnet56_cifar10"
    claims.grade(f"border variant accuracy, CIFAR-10{stand_in(model, profile)} (%)",
                 grade_setting(_mean(border), ref(key).value, where), kind="trained", source=ref(key).cite,
                 paper=ref(key).value, profile=profile, evidence=f"mean over {_seeds(border)}")


# --------------------------------------------------------------------------- the ledger and the live rows


def ledger(profile: str = "best", chapter: ChapterRuns | None = None, *, blocks: pd.DataFrame | None = None,
           costs: pd.DataFrame | None = None) -> ClaimsTable:
    """Every counted and trained claim of the chapter, from the stored results and deterministic checks.

    The notebook passes what it already loaded and computed (``chapter``, ``blocks``, ``costs``); left out,
    they are loaded or recomputed (the same seeded checks, so the same rows)."""
    from effconv.studies import acnet_checks as checks

    chapter = chapter or load_runs(profile, log=_quiet)
    claims = ClaimsTable(CHAPTER)
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


def live_table(models: pd.DataFrame | None = None, latency: pd.DataFrame | None = None) -> ClaimsTable:
    """The claims the chapter checks on the build's machine: whole models folded (float rounding depends on
    the machine) and inference time. Shown in the chapter, never written to the committed ledger."""
    claims = ClaimsTable(CHAPTER)
    source = ref("fusion_equivalent_outputs").cite
    if models is not None and len(models):
        drawn = models[models["bn_statistics"] == "drawn at random"]
        folds = (drawn["max_rel"] < FUSION_TOLERANCE) & (drawn["max_rel_float64"] < FLOAT64_TOLERANCE)
        claims.grade(f"whole converted models fold exactly (models that fold, of {len(drawn)})",
                     grade_count(int(folds.sum()), len(drawn), decimals=0), kind="live", source=source,
                     paper=len(drawn), profile="live",
                     evidence="model_exactness_table with random BN statistics: " + ", ".join(drawn["model"]))
    if latency is None or latency.empty:
        return claims
    source = ref("fusion_no_extra_inference_cost").cite
    for _, row in latency[latency["variant"] == "ACNet fused"].iterrows():
        claims.grade(f"fused ACNet inference time / base ({MODEL_LABELS.get(row['model'], row['model'])}, batch "
                     f"{row['batch']})", grade_timing(row["round_ratios"], LATENCY_SLACK, direction=-1, paper=1.0),
                     kind="live", source=source, paper=1.0, profile="live",
                     evidence=f"per-round ratio of the fastest calls, interleaved, on {row['device']}; claim read as "
                              f"at most {LATENCY_SLACK:g}x the base")
    return claims


def claim(table: ClaimsTable | pd.DataFrame, fragment: str) -> pd.Series:
    """The one claim whose text contains ``fragment`` (for the chapter's glue); an error names the matches."""
    from effconv.errors import EffconvError

    frame = table.frame() if isinstance(table, ClaimsTable) else table
    matches = frame[frame["claim"].str.contains(fragment, regex=False)]
    if len(matches) != 1:
        raise EffconvError(f"{len(matches)} claims match {fragment!r}; give a fragment that names exactly one.")
    return matches.iloc[0]
