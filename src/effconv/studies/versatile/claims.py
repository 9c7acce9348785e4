"""Chapter 5's claims, graded by the shared rules of ``effconv.claims``.

``ledger(profile)`` computes every claim from deterministic checks and counts (float64 identities,
layers and ImageNet networks counted on the ``meta`` device) and from the stored CIFAR-10 runs of
``profile``; it trains nothing, times nothing and runs no notebook.

- Counted numbers: ``grade_count`` with the decimals the figure is printed with. An exact identity
  (crop form = mask form, the loss gradient) is ``grade_bound``: the float64 difference, rounded to 1e-9
  so the ledger does not depend on the machine's last bits, must be at most 0.
- Trained effects ("A beats B"): ``grade_effect`` on final test accuracy (points) paired by random seed, on the
  direction alone (``DIRECTION``): our CIFAR-10 setting is not the papers' ImageNet one, so the size of an
  effect is shown beside the paper's but not graded. Each carries its t test's p, and the ledger adds the
  Holm-adjusted verdict over the chapter's trained tests (``ClaimsTable(..., holm=True)``).
- Absolute CIFAR-10 accuracies against the papers' ImageNet figures: ``grade_setting`` (not comparable).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from effconv.claims import (DIRECTION, ClaimsTable, Grade, combine, grade_bound, grade_count, grade_effect,
                            grade_setting)
from effconv.errors import EffconvError
from effconv.experiments import ExperimentSpec
from effconv.studies.paper import paper_table, paper_value
from effconv.studies.versatile import checks, costs, report
from effconv.studies.versatile import results as stored
from effconv.studies.versatile.plan import CHAPTER

COUNTED = "count"   # profile column of rows that no training profile changes
EXACT_DECIMALS = 9  # float64 identities: a difference that rounds to 0 at 1e-9 is equality


def printed_decimals(key: str) -> int:
    text = paper_table(CHAPTER).loc[key, "value"]
    return len(text.split(".", 1)[1]) if "." in text else 0


def _count(claims: ClaimsTable, claim: str, key: str, ours: float, evidence: str) -> str:
    ref = paper_value(CHAPTER, key)
    return claims.grade(claim, grade_count(ours, ref.value, decimals=printed_decimals(key)), kind="counted",
                        source=ref.cite, paper=ref.value, profile=COUNTED, evidence=evidence)


def _ratio(claims: ClaimsTable, claim: str, num_key: str, den_key: str, ours: float, evidence: str) -> str:
    """Our counted ratio against the ratio of two printed figures."""
    num, den = paper_value(CHAPTER, num_key), paper_value(CHAPTER, den_key)
    paper = num.value / den.value
    return claims.grade(claim, grade_count(ours, paper), kind="counted",
                        source=f"derived: {num.value:g} / {den.value:g} ({num.cite})", paper=paper,
                        profile=COUNTED, evidence=evidence)


def _exact(diff: float) -> Grade:
    """An identity checked in float64: the largest difference, rounded to 1e-9, against the bound 0 (a
    relative tolerance around 0 means nothing)."""
    return grade_bound(round(diff, EXACT_DECIMALS), 0.0, "<=")


def _identity(claims: ClaimsTable, claim: str, key: str, diff: float, evidence: str) -> str:
    return claims.grade(claim, _exact(diff), kind="counted", source=paper_value(CHAPTER, key).cite, paper=0.0,
                        profile=COUNTED, evidence=f"{evidence}; max |diff| rounded to 1e-{EXACT_DECIMALS}, which "
                                                  "must be 0")


def _definition_claims(claims: ClaimsTable) -> None:
    spatial = checks.spatial_check_table()
    crop = float(spatial[["max |crop - mask form|", "max |crop - dense conv|"]].to_numpy().max())
    _identity(claims, "secondary filter i = centre crop of size d-2(i-1) at padding reduced by i-1 (= mask form)",
              "crop_form", crop, f"{len(spatial)} layers (d = 3, 5, 7; stride 1, 2; reduced padding), random "
                                 "float64 inputs")
    channel = checks.channel_check_table()
    grades = [grade_count(float(got), float(want)) for got, want in
              zip(channel["n (layer)"], channel["n = (c - c_hat)/g + 1"])]
    grades.append(_exact(float(channel["max |layer - definition|"].max())))
    matched = sum(g.verdict == "reproduced" for g in grades[:-1])
    claims.add("channel versatile: n = (c - c_hat)/g + 1 outputs per primary and offset window", kind="counted",
               source=paper_value(CHAPTER, "method").cite, paper="n = (c - c_hat)/g + 1",
               ours=f"{matched}/{len(channel)} layers match", verdict=combine(grades), profile=COUNTED,
               evidence="VersatileConv2d against the definition, c in {8, 64}, several c_hat and g; outputs equal "
                        f"to 1e-{EXACT_DECIMALS} (combine over the layers)")
    ortho = checks.ortho_gradient_check()
    grad = float(ortho[["max |autograd - closed form|", "max |layer (STE) - closed form|"]].to_numpy().max())
    _identity(claims, "gradient of the orthogonal loss: 2/(d^4 c^2) M M^T M - 2/(d^2 c) M", "ortho_gradient", grad,
              f"autograd and the layer's straight-through backward, {len(ortho)} (s, d, c) settings")


def _cost_claims(claims: ClaimsTable) -> None:
    layer = costs.layer_cost_table().set_index("layer")
    v1 = layer.loc["versatile v1 (spatial)"]
    v2 = layer.loc["versatile v2, c_hat = c - 1, g = 1 (official)"]
    _count(claims, "spatial versatile 3x3 layer: FLOPs 10/18 of the standard layer", "spatial_3x3_flops_ratio",
           float(v1["FLOPs ratio"]), "count_flops, 64 -> 64 channels at 32x32")
    _count(claims, "spatial versatile 3x3 layer: parameters 1/(s n) = 1/2", "spatial_3x3_params_ratio",
           float(v1["params_official ratio"]), "weights of one 64 -> 64 layer, no bias")
    _count(claims, "spatial + channel versatile 3x3 layer (n = 2): parameters 1/(s n) = 1/4 (official storage)",
           "spatial_channel_3x3_params_ratio", float(v2["params_official ratio"]),
           f"official storage keeps c channels per primary; ours stores c_hat: {int(v2['params'])} vs "
           f"{int(v2['params_official'])}")

    table = costs.imagenet_complexity().set_index("model")
    base, r1, r2 = (table.loc[k] for k in ("ResNet-50", "Versatile-v1 ResNet-50", "Versatile-v2 ResNet-50"))
    fit = table.loc["Versatile-v2 ResNet-50 (c_hat = 15c/16)"]
    _count(claims, "ResNet-50 parameters (M)", "resnet50_params", float(base["params_M"]), "torchvision resnet50")
    _count(claims, "ResNet-50 GFLOPs", "resnet50_gflops", float(base["GFLOPs"]), "torchvision resnet50, 224x224")
    _count(claims, "ResNet-50 memory (MB)", "coco_resnet50_memory", float(base["memory_MB"]),
           "4 bytes per parameter, MB of 2^20 bytes")
    _count(claims, "Versatile-v1 ResNet-50 GFLOPs", "coco_resnet50_v1_gflops", float(r1["GFLOPs"]),
           "every kxk conv spatially versatile (7x7 stem: s = 4), 1x1 convs plain")
    _count(claims, "Versatile-v1 ResNet-50 memory (MB)", "coco_resnet50_v1_memory", float(r1["memory_MB"]),
           "4 bytes per parameter, MB of 2^20 bytes")
    _count(claims, "Versatile-v2 ResNet-50 parameters (M)", "resnet50_v2_params", float(r2["params_official_M"]),
           "official setting c_hat = c - 1, g = 1 on every conv; official storage (c channels per primary)")
    _count(claims, "Versatile-v2 ResNet-50 GFLOPs", "coco_resnet50_v2_gflops", float(r2["GFLOPs"]),
           f"official setting c_hat = c - 1, g = 1; our c/16 fit (not published) gives {fit['GFLOPs']:.3f}; "
           f"the transcribed NeurIPS table also says {paper_value(CHAPTER, 'resnet50_v2_gflops').value:.1f}")
    _count(claims, "Versatile-v2 ResNet-50 memory (MB)", "coco_resnet50_v2_memory", float(r2["memory_MB"]),
           "official storage, 4 bytes per parameter")
    _ratio(claims, "Versatile-v1 ResNet-50 memory / ResNet-50 memory", "coco_resnet50_v1_memory",
           "coco_resnet50_memory", float(r1["memory_MB"] / base["memory_MB"]),
           "counted; a ratio cancels a convention offset common to both")
    _ratio(claims, "Versatile-v2 ResNet-50 memory / ResNet-50 memory", "coco_resnet50_v2_memory",
           "coco_resnet50_memory", float(r2["memory_MB"] / base["memory_MB"]), "counted, official storage")


def _published_gap(a: str, b: str) -> tuple[float, str]:
    va, vb = paper_value(CHAPTER, a), paper_value(CHAPTER, b)
    return va.value - vb.value, f"derived: {va.value:g} - {vb.value:g} ImageNet top-1 ({va.cite})"


# (claim, treatment, control, direction, published gap keys or a paper_values key for a text claim)
EFFECTS = (
    ("spatial versatile filters (v1) are at least as accurate as the baseline at about half the parameters (direction only)",
     "versatile v1", "baseline", 1, ("imagenet_vgg16_v1_top1", "imagenet_vgg16_top1")),
    ("spatial + channel versatile filters (v2) lose accuracy against the baseline at a quarter of the parameters (direction only)",
     "versatile v2", "baseline", -1, ("imagenet_vgg16_v2_top1", "imagenet_vgg16_top1")),
    ("channel sliding costs accuracy: v1 beats v2 (direction only)", "versatile v1", "versatile v2", 1,
     ("imagenet_vgg16_v1_top1", "imagenet_vgg16_v2_top1")),
    ("learned masks: a mask set per primary (b) beats one set shared by the layer (a) (direction only)", "learned masks (b)",
     "learned masks (a)", 1, "masks_b_beats_a"),
)


ORTHO_CLAIM = "the orthogonal loss keeps the masks of one primary distinct (no copies of one filter; direction only)"


def _trained_claims(claims: ClaimsTable, profile: str, runs: pd.DataFrame, masks: pd.DataFrame,
                    setting: str) -> None:
    smoke = profile == "smoke"  # 1 epoch on 512 images: a plumbing check, never evidence
    for claim, treatment, control, direction, published in EFFECTS:
        if isinstance(published, tuple):
            paper, source = _published_gap(*published)
        else:
            paper, source = None, paper_value(CHAPTER, published).cite
        arms = ({}, {}) if smoke else (report.arm_values(runs, treatment), report.arm_values(runs, control))
        grade = grade_effect(*arms, direction=direction, paper=paper, scope=DIRECTION)
        claims.grade(claim, grade, same_dataset=not isinstance(published, tuple), kind="trained", source=source, paper=paper if paper is not None else
                     paper_value(CHAPTER, published).value, profile=profile,
                     evidence=f"{treatment} - {control}, final test accuracy (points), paired by random seed; "
                              f"random seeds stored {len(arms[0])} and {len(arms[1])}; {setting}"
                              + ("; smoke profile: no verdict" if smoke else ""))
    # the loss's effect: lambda > 0 against its lambda = 0 control, on how far a primary's masks lie apart
    treated, control = "learned masks (b)", "learned masks (b), lambda = 0"
    arms = ({}, {}) if smoke else (report.arm_values(masks, treated, "pairwise_hamming"),
                                   report.arm_values(masks, control, "pairwise_hamming"))
    equal = report.arm_values(masks, treated, "all_equal_fraction")
    claims.grade(ORTHO_CLAIM, grade_effect(*arms, direction=1, scope=DIRECTION), kind="trained",
                 source=paper_value(CHAPTER, "method").cite, paper="distinct", profile=profile,
                 evidence=f"{treated} - {control}: mean Hamming distance between a primary's masks after training, "
                          f"paired by random seed; random seeds stored {len(arms[0])} and {len(arms[1])}; "
                          f"identical-mask share with the loss at most "
                          f"{max(equal.values()) if equal else float('nan'):.3g}")


def _setting_claims(claims: ClaimsTable, profile: str, runs: pd.DataFrame, setting: str) -> None:
    """The papers' absolute ImageNet/COCO figures: our CIFAR-10 accuracy is shown beside them, ungraded."""
    for key, label, arm in (("imagenet_vgg16_top1", "VGG-16", "baseline"),
                            ("imagenet_vgg16_v1_top1", "VGG-16, spatial versatile", "versatile v1"),
                            ("imagenet_vgg16_v2_top1", "VGG-16, spatial + channel versatile", "versatile v2")):
        ref = paper_value(CHAPTER, key)
        accs = list(report.arm_values(runs, arm).values())
        ours = sum(accs) / len(accs) if accs and profile != "smoke" else None
        claims.grade(f"{label} top-1 (%): ImageNet (paper) against our CIFAR-10 test accuracy",
                     grade_setting(ours, ref.value, setting), same_dataset=False, kind="trained", source=ref.cite, paper=ref.value,
                     profile=profile, evidence=f"mean over {_seeds(len(accs))}")
    for key, claim, why in (("resnet50_v2_top1", "ImageNet Versatile-v2 ResNet-50 top-1 (%)", "no ImageNet here"),
                            ("coco_resnet50_v2_map", "COCO Faster R-CNN, Versatile-v2 ResNet-50 backbone, mAP (%)",
                             "no COCO detection here")):
        ref = paper_value(CHAPTER, key)
        claims.grade(claim, grade_setting(None, ref.value, why), kind="trained", source=ref.cite, paper=ref.value,
                     profile=COUNTED, evidence=why)


def _seeds(n: int) -> str:
    return f"{n} stored random seed{'' if n == 1 else 's'}"


def add_counted(claims: ClaimsTable) -> ClaimsTable:
    """The definition checks and the counted layer and ImageNet costs (no profile involved)."""
    _definition_claims(claims)
    _cost_claims(claims)
    return claims


def add_trained(claims: ClaimsTable, profile: str, specs: Sequence[ExperimentSpec],
                results: Sequence[dict | None]) -> ClaimsTable:
    """The trained claims of ``profile`` from its runs (``results[i]`` is None where ``specs[i]`` is not run)."""
    if not specs:
        raise EffconvError(f"no experiments listed for profile {profile!r}; check versatile.plan.experiments.")
    runs = stored.run_table(specs, results)
    masks = stored.final_masks(specs, results)
    setting = (f"CIFAR-10 (JPEG) VGG-16 at width {specs[0].model_kwargs['width']:g}, {specs[0].recipe.epochs} "
               f"epochs (profile {profile}) instead of ImageNet")
    _trained_claims(claims, profile, runs, masks, setting)
    _setting_claims(claims, profile, runs, setting)
    return claims


def ledger(profile: str = "best") -> ClaimsTable:
    """Every claim of the chapter for ``profile`` (``best``: the best committed profile), from stored runs
    and deterministic counts; nothing is trained."""
    runs = stored.load_runs(profile, log=lambda *_: None)
    return add_trained(add_counted(ClaimsTable(CHAPTER, holm=True)), runs.profile, runs.specs, runs.results)


def live_claims(claims: ClaimsTable) -> ClaimsTable:
    """``claims`` unchanged: the papers make no timing claim, so the layer timings the chapter measures live
    are shown beside the counted costs and graded nowhere."""
    return claims
