"""Chapter 3 (ACNet): every number the chapter's prose cites, formatted once, section by section.

Each function takes what the page already computed (tables, the ledger, the live claims) and returns
``{glue name: text}``; ``page.load`` collects them. A value that is not stored yet reads "not run" (through
``fmt``), so the prose fills in as the runs of a profile land.
"""

from __future__ import annotations

import pandas as pd

from effconv.claims import ClaimsTable
from effconv.studies.acnet import plan
from effconv.studies.acnet.claims import ROTATION_MARGIN_PP, claim
from effconv.studies.acnet.results import FLOAT64_TOLERANCE, FUSION_TOLERANCE, MODEL_LABELS, ChapterRuns, Runs, fmt
from effconv.studies.acnet.skeleton import accuracy_at, destroyed_at
from effconv.studies.paper import paper_value

Numbers = dict[str, str]


def _verdict_counts(frame: pd.DataFrame) -> str:
    """"16 reproduced, 14 inconclusive, ...": the verdicts of some claims, most frequent first."""
    return ", ".join(f"{n} {verdict}" for verdict, n in frame["verdict"].value_counts().items())


def plan_numbers(chapter: ChapterRuns) -> Numbers:
    """The profiles shown and how much of each is stored, and the cpu and full plans the setting describes."""
    out: Numbers = {}
    comparisons: dict[str, Runs] = {"table": chapter.table, "ablation": chapter.ablation, "skeleton": chapter.skeleton}
    for name, comparison in comparisons.items():
        out[f"profile_{name}"] = comparison.profile
        out[f"stored_{name}"] = f"{comparison.stored} of {len(comparison.specs)}"
    quick, resnet = plan.TABLE["cpu"]["cifar_quick"], plan.TABLE["cpu"]["resnet20"]
    full_epochs = [cfg["recipe"]["epochs"] for cfg in plan.TABLE["full"].values()]
    out.update(cpu_cq_seeds=str(len(quick["seeds"])), cpu_side_seeds=str(plan.SIDE_ARM_SEEDS["cpu"]),
               cpu_cq_epochs=str(quick["recipe"]["epochs"]), cpu_r20_width=f"{resnet['width']:g}",
               cpu_r20_epochs=str(resnet["recipe"]["epochs"]), full_epochs=f"{min(full_epochs)} to {max(full_epochs)}")
    return out


def block_numbers(blocks: pd.DataFrame) -> Numbers:
    """The random blocks folded live (``checks.block_exactness_table``)."""
    folds = (blocks["max_rel"] < FUSION_TOLERANCE) & (blocks["max_rel_float64"] < FLOAT64_TOLERANCE)
    return {"blocks_n": str(len(blocks)), "blocks_fold": str(int(folds.sum())),
            "blocks_worst32": f"{blocks['max_rel'].max():.1e}",
            "blocks_worst64": f"{blocks['max_rel_float64'].max():.1e}",
            "blocks_outside_demo": str(int((~blocks["in_seed_demo"]).sum())),
            "blocks_stride2_worst": f"{blocks.loc[blocks['stride'] == 2, 'max_rel'].max():.1e}"}


def model_numbers(models: pd.DataFrame) -> Numbers:
    """Whole models folded live, with BN statistics drawn at random and measured on random images."""
    drawn = models[models["bn_statistics"] == "drawn at random"]
    measured = models[models["bn_statistics"] != "drawn at random"]
    return {"models_drawn_worst": f"{drawn['max_rel'].max():.1e}",
            "models_f64_worst": f"{models['max_rel_float64'].max():.1e}",
            "models_measured_worst": f"{measured['max_rel'].max():.1e}",
            "models_measured_floor": f"{measured['float32_rounding'].max():.1e}"}


def cost_numbers(costs: pd.DataFrame) -> Numbers:
    """The counted cost of the five families (``checks.cost_table``)."""
    return {"costs_equal": f"{int(costs['same_as_base'].sum())} of {len(costs)}",
            "costs_train_min": f"{costs['train_macs_ratio'].min():.2f}",
            "costs_train_max": f"{costs['train_macs_ratio'].max():.2f}",
            "resnet56_train_macs": f"{costs.set_index('model').loc['resnet56', 'train_macs_ratio']:.2f}"}


def cifar10_numbers(cifar10: pd.DataFrame, ledger: ClaimsTable) -> Numbers:
    """Cifar-quick's row of the CIFAR-10 table (every profile trains it) and its graded gain."""
    quick = cifar10[cifar10["model"].str.startswith("Cifar-quick")].iloc[0]
    graded = claim(ledger, "CIFAR-10 Cifar-quick: ACNet gain")
    repo_gain = (paper_value("acnet", "repo_cifar10_cifar_quick_acnet").value
                 - paper_value("acnet", "repo_cifar10_cifar_quick_base").value)
    return {"cq_gain": fmt(quick["gain"], signed=True, unit=" pp"), "cq_base": fmt(quick["base_mean"], unit="%"),
            "cq_acnet": fmt(quick["acnet_mean"], unit="%"), "cq_pairs": str(int(quick["paired_seeds"])),
            "cq_verdict": graded["verdict"], "cq_interval": graded["interval"] or "none (fewer than 3 pairs)",
            "cq_repo_gain": f"{repo_gain:+.2f} pp"}


def ablation_numbers(ledger: ClaimsTable) -> Numbers:
    """The verdicts of the ablation claims and the fewest seed pairs any of them has."""
    frame = ledger.frame()
    rows = frame[frame["claim"].str.startswith("ablation")]
    return {"ablation_verdicts": _verdict_counts(rows),
            "ablation_pairs": str(rows["n"].replace("", "0").astype(int).min())}


def rotation_numbers(points: pd.DataFrame, gaps: pd.DataFrame, ledger: ClaimsTable) -> Numbers:
    """The 180° gaps on seed 0 (``report.rotation_gaps``), the seed-noise band of the figure
    (``plots.rotation_gap_points``) and the graded horizontal-only gain at 180°."""
    points = points.set_index("condition")
    noise = points.loc["rot180", "noise_pp"].iloc[0]
    hor = gaps.set_index("comparison")
    return {"rot_noise_180": "not run" if pd.isna(noise) else f"±{noise:.2f} pp",
            "rot_base_seeds": str(int(points["noise_seeds"].max())),
            "rot_hor_base_180": fmt(hor.loc["hor − base", "rot180"], signed=True, unit=" pp"),
            "rot_hor_ver_180": fmt(hor.loc["hor − ver", "rot180"], signed=True, unit=" pp"),
            "rot_verdict_180": claim(ledger, "horizontal-only − base, 180°")["verdict"]}


def importance_numbers(at_init: pd.DataFrame, model: str, width: float) -> Numbers:
    """The importance maps at initialisation (``skeleton.importance_summary_table``) against the paper's
    three thresholds for trained ACNets, and the skeleton model the maps are for."""
    summary = at_init.set_index("key")
    acnet, base = summary.loc["acnet"], summary.loc["base"]
    met = sum([acnet["corner_max"] < paper_value("acnet", "importance_acnet_corner_max").value,
               acnet["skeleton_min"] > paper_value("acnet", "importance_acnet_skeleton_min").value,
               round(acnet["centre"], 3) >= paper_value("acnet", "importance_acnet_centre").value])
    return {"init_corner_max": f"{acnet['corner_max']:.3f}", "init_skeleton_min": f"{acnet['skeleton_min']:.3f}",
            "init_centre": f"{acnet['centre']:.3f}", "init_thresholds_met": f"{met} of the paper's three thresholds",
            "init_base_gap": f"{base['mean_skeleton'] - base['mean_corners']:+.3f}",
            "skeleton_label": f"{MODEL_LABELS[model]} at width {width:g}"}


def pruning_numbers(summary: pd.DataFrame) -> Numbers:
    """The fused ACNet's accuracy with every corner pruned, and where skeleton pruning destroys it."""
    return {"prune_corners_44": fmt(accuracy_at(summary, "acnet", "corners"), 1, unit="%"),
            "prune_destroyed": fmt(destroyed_at(summary, "acnet"), 1, unit="%")}


def border_numbers(ledger: ClaimsTable) -> Numbers:
    """The border variant against the normal ACNet, as the ledger grades it."""
    graded = claim(ledger, "less accurate than the normal ACNet")
    return {"border_minus_acnet": fmt(float(graded["ours"]) if graded["ours"] else None, signed=True, unit=" pp"),
            "border_pairs": graded["n"] or "0", "border_verdict": graded["verdict"]}


def latency_numbers(latency: pd.DataFrame, live: ClaimsTable) -> Numbers:
    """Live: ResNet-56's inference time fused and unfused over the base's, and its graded timing claim."""
    ratio = latency.set_index(["model", "variant"])["ratio"]
    graded = claim(live, "inference time / base (ResNet-56")
    return {"lat_fused_resnet56": f"{ratio.loc[('resnet56', 'ACNet fused')]:.2f}",
            "lat_unfused_resnet56": f"{ratio.loc[('resnet56', 'ACNet unfused')]:.2f}",
            "lat_device": latency["device"].iloc[0], "lat_verdict_resnet56": graded["verdict"],
            "lat_interval_resnet56": graded["interval"] or "none"}


def claims_numbers(shown: ClaimsTable, live: ClaimsTable) -> Numbers:
    """How many claims the page shows (ledger and live rows), how many are live, and their verdicts."""
    frame = shown.frame()
    return {"n_claims": str(len(frame)), "n_live": str(len(live.frame())),
            "rotation_margin": f"{ROTATION_MARGIN_PP:g} pp", "verdict_counts": _verdict_counts(frame)}
