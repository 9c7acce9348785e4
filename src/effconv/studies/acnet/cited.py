"""Chapter 3 (ACNet): every number the chapter's prose cites, formatted once, section by section.

Each function takes what the page already computed (tables, the ledger, the live claims) and returns
``{glue name: text}``; ``page.load`` collects them. A value that is not stored yet reads "not run" (through
``fmt``), so the prose fills in as the runs of a profile land.
"""

from __future__ import annotations

import re

import pandas as pd

from effconv.claims import ClaimsTable
from effconv.claims.verdicts import NOT_RUN
from effconv.wording import listing, plural
from effconv.studies.acnet import plan
from effconv.studies.acnet.claims import ROTATION_MARGIN_PP, claim
from effconv.studies.acnet.skeleton_claims import PRUNED_MARGIN_PP
from effconv.studies.acnet.results import FLOAT64_TOLERANCE, FUSION_TOLERANCE, MODEL_LABELS, ChapterRuns, Runs, fmt
from effconv.studies.acnet.skeleton import destroyed_at
from effconv.studies.paper import paper_value

Numbers = dict[str, str]


def _verdict_counts(frame: pd.DataFrame) -> str:
    """"16 reproduced, 14 inconclusive, ...": the verdicts of some claims, most frequent first."""
    return ", ".join(f"{n} {verdict}" for verdict, n in frame["verdict"].value_counts().items())


def count(n: int | str, noun: str) -> str:
    """"1 paired random seed", "5 paired random seeds": ``effconv.wording.plural`` for counts stored as text too."""
    return plural(int(n or 0), noun)


def plan_numbers(chapter: ChapterRuns) -> Numbers:
    """The profiles shown and how much of each is stored, and the cpu and full plans the setting describes."""
    out: Numbers = {}
    comparisons: dict[str, Runs] = {"table": chapter.table, "ablation": chapter.ablation, "skeleton": chapter.skeleton}
    for name, comparison in comparisons.items():
        out[f"profile_{name}"] = comparison.profile
        out[f"stored_{name}"] = f"{comparison.stored} of {len(comparison.specs)}"
    full_epochs = [cfg["recipe"]["epochs"] for cfg in plan.TABLE["full"].values()]
    out.update(cpu_families=cpu_families(), cpu_side_seeds=str(plan.SIDE_ARM_SEEDS["cpu"]),
               cpu_cq_epochs=f'{plan.TABLE["cpu"]["cifar_quick"]["recipe"]["epochs"]} epochs',  # Table 1's schedule
               full_epochs=f"{min(full_epochs)} to {max(full_epochs)}")
    return out


def cpu_families() -> str:
    """The cpu profile's CIFAR-10 table in words: each family's width, epochs and paired seeds (the schedule
    model at each of its schedules)."""
    def one(model: str, cfg: dict) -> str:
        width = "full width" if cfg["width"] == 1 else f"width {cfg['width']:g}"
        pairs = count(len(plan.table_seeds("cpu", model)), "pair")
        epochs = [cfg["recipe"]["epochs"]]
        if model == plan.SCHEDULE_MODEL:   # its longer schedules train the same seeds
            epochs += plan.LONGER_EPOCHS["cpu"]
        each = " each" if len(epochs) > 1 else ""
        return f"{MODEL_LABELS[model]} at {width} for {listing(map(str, epochs), '')} epochs ({pairs}{each})"
    return listing((one(model, cfg) for model, cfg in plan.TABLE["cpu"].items()), "no family")


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
    # the claim names Cifar-quick's width where a profile trains it narrow ("Cifar-quick (at width 0.5, ...)")
    frame = ledger.frame()
    graded = frame[frame["claim"].str.startswith("CIFAR-10 Cifar-quick")
                   & frame["claim"].str.contains("ACNet gain", regex=False)].iloc[0]
    repo_gain = (paper_value("acnet", "repo_cifar10_cifar_quick_acnet").value
                 - paper_value("acnet", "repo_cifar10_cifar_quick_base").value)
    return {"cq_gain": fmt(quick["gain"], signed=True, unit=" pp"), "cq_base": fmt(quick["base_mean"], unit="%"),
            "cq_acnet": fmt(quick["acnet_mean"], unit="%"), "cq_pairs": count(int(quick["paired_seeds"]), "paired random seed"),
            "cq_verdict": graded["verdict"], "cq_interval": graded["interval"] or "none (fewer than 3 pairs)",
            "cq_repo_gain": f"{repo_gain:+.2f} pp", "table_gains": table_gains(frame),
            "power_result": power_result(frame)}


def power_result(frame: pd.DataFrame) -> str:
    """The ResNet-20 gain at the pairs its power plan fixed, as the ledger grades it, in words; "not graded yet
    (5 of 6 pairs stored)" until all of them are."""
    power = plan.power_plan("cpu", "resnet20")
    rows = frame[frame["claim"].str.contains("ResNet-20 at width", regex=False)
                 & frame["claim"].str.contains("ACNet gain", regex=False)]
    if power is None or rows.empty:
        return "not planned"
    row = rows.iloc[0]
    stored = int(row["n"] or 0)
    if stored < power.pairs:
        return f"not graded yet ({stored} of {count(power.pairs, 'pair')} stored)"
    return f"{_signed_pp(row['ours'])} (95% interval {row['interval']}), {row['verdict']}"


def table_gains(frame: pd.DataFrame) -> str:
    """Every family's graded gain in the ledger's order, in words: "Cifar-quick +0.65 pp (reproduced), ...,
    ResNet-56 (as ResNet-20) -0.49 pp (inconclusive) and DenseNet-40 not run"."""
    rows = frame[frame["claim"].str.startswith("CIFAR-10 ") & frame["claim"].str.contains("ACNet gain", regex=False)]
    parts = []
    for text, ours, verdict in zip(rows["claim"], rows["ours"], rows["verdict"]):
        family = re.match(r"CIFAR-10 ([^\s:]+)(?: \((\S+) at width [\d.]+ stands in)?", text)
        name = family[1] + (f" (as {family[2]})" if family[2] else "")
        parts.append(f"{name} not run" if verdict == NOT_RUN else f"{name} {_signed_pp(ours)} ({verdict})")
    return listing(parts, "not run")


def ablation_numbers(ledger: ClaimsTable) -> Numbers:
    """The verdicts of the ablation claims and the fewest seed pairs any of them has."""
    frame = ledger.frame()
    rows = frame[frame["claim"].str.startswith("ablation")]
    return {"ablation_verdicts": _verdict_counts(rows),
            "ablation_pairs": count(rows["n"].replace("", "0").astype(int).min(), "pair")}


def rotation_numbers(points: pd.DataFrame, gaps: pd.DataFrame, ledger: ClaimsTable) -> Numbers:
    """The seed-noise band of the rotation figure (``plots.rotation_gap_points``) and the graded 180° gaps as the
    ledger has them (mean over the paired random seeds, the figure's diamonds)."""
    points = points.set_index("condition")
    noise = points.loc["rot180", "noise_pp"].iloc[0]
    hor_base = claim(ledger, "horizontal-only − base, 180°")
    hor_ver = claim(ledger, "horizontal-only − vertical-only, 180°")
    return {"rot_noise_180": "not run" if pd.isna(noise) else f"±{noise:.2f} pp",
            "rot_base_seeds": str(int(points["noise_seeds"].max())),
            "rot_hor_base_180": _signed_pp(hor_base["ours"]), "rot_hor_ver_180": _signed_pp(hor_ver["ours"]),
            "rot_pairs_180": count(hor_base["n"], "paired random seed"), "rot_interval_180": hor_base["interval"] or "none",
            "rot_verdict_180": hor_base["verdict"]}


def _signed_pp(text: str) -> str:
    """A ledger value (pp) with its sign, two decimals: "+0.71 pp"; empty (not run) reads "not run"."""
    return fmt(float(text) if text else None, signed=True, unit=" pp")


def importance_numbers(at_init: pd.DataFrame, model: str, width: float) -> Numbers:
    """The importance maps at initialisation (``skeleton.importance_summary_table``, averaged over the runs'
    random seeds) against the paper's three thresholds for trained ACNets, and the skeleton model."""
    summary = at_init.set_index("key")
    acnet, base = summary.loc["acnet"], summary.loc["base"]
    met = sum([acnet["corner_max"] < paper_value("acnet", "importance_acnet_corner_max").value,
               acnet["skeleton_min"] > paper_value("acnet", "importance_acnet_skeleton_min").value,
               round(acnet["centre"], 3) >= paper_value("acnet", "importance_acnet_centre").value])
    return {"init_corner_max": f"{acnet['corner_max']:.3f}", "init_skeleton_min": f"{acnet['skeleton_min']:.3f}",
            "init_centre": f"{acnet['centre']:.3f}", "init_thresholds_met": f"{met} of the paper's three thresholds",
            "init_base_gap": fmt(base["skeleton_contrast"], 3, signed=True),
            "init_acnet_contrast": fmt(acnet["skeleton_contrast"], 3, signed=True),
            "skeleton_label": f"{MODEL_LABELS[model]} at width {width:g}"}


def peak_numbers(peaks: pd.DataFrame) -> Numbers:
    """Where the base model's trained maps peak (``skeleton.peak_positions``): how many runs peak off the centre,
    and at which positions, by random seed."""
    if peaks.empty:
        return {"base_peaks_off_centre": "not run", "base_peaks_where": "not run"}
    groups = peaks.groupby("position", sort=False)["seed"].apply(list)
    where = "; ".join(f"{position} in random seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
                      for position, seeds in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])))
    return {"base_peaks_off_centre": f"{int((~peaks['centre']).sum())} of {len(peaks)}", "base_peaks_where": where}


def skeleton_claim_numbers(ledger: ClaimsTable) -> Numbers:
    """The graded within-model contrasts of the importance maps, as the ledger has them."""
    out: Numbers = {}
    for name, fragment in (("base_lead", "base model: the centre is the largest"),
                           ("base_skeleton", "base model: the skeleton carries more"),
                           ("acnet_skeleton", "ACNet: training strengthens the skeleton"),
                           ("border_border", "border ACB: training strengthens the border"),
                           ("border_vs_skeleton", "border ACB strengthens its border less")):
        row = claim(ledger, fragment)
        out.update({f"{name}_ours": fmt(float(row["ours"]) if row["ours"] else None, 3, signed=True),
                    f"{name}_interval": row["interval"] or "none", f"{name}_verdict": row["verdict"],
                    f"{name}_n": count(row["n"], "random seed")})
    return out


def pruning_numbers(summary: pd.DataFrame, ledger: ClaimsTable) -> Numbers:
    """The fused ACNet's accuracy with every corner pruned (the graded mean over random seeds, its interval and
    verdict against the paper's 60%), and where skeleton pruning destroys it."""
    corners = claim(ledger, "stays above 60% accuracy")
    return {"prune_corners_44": fmt(float(corners["ours"]) if corners["ours"] else None, 1, unit="%"),
            "prune_corners_interval": corners["interval"] or "none", "prune_corners_verdict": corners["verdict"],
            "prune_margin": f"{PRUNED_MARGIN_PP:g} pp", "prune_destroyed": fmt(destroyed_at(summary, "acnet"), 1, unit="%")}


def border_numbers(ledger: ClaimsTable) -> Numbers:
    """The border variant against the normal ACNet, as the ledger grades it."""
    graded = claim(ledger, "less accurate than the normal ACNet")
    return {"border_minus_acnet": fmt(float(graded["ours"]) if graded["ours"] else None, signed=True, unit=" pp"),
            "border_pairs": count(graded["n"], "paired random seed"), "border_verdict": graded["verdict"]}


def latency_numbers(latency: pd.DataFrame, live: ClaimsTable) -> Numbers:
    """Live: ResNet-56's inference time fused and unfused over the base's, and its graded timing claim."""
    ratio = latency.set_index(["model", "variant"])["ratio"]
    graded = claim(live, "inference time / base (ResNet-56")
    return {"lat_fused_resnet56": f"{ratio.loc[('resnet56', 'ACNet fused')]:.2f}",
            "lat_unfused_resnet56": f"{ratio.loc[('resnet56', 'ACNet unfused')]:.2f}",
            "lat_device": latency["device"].iloc[0], "lat_verdict_resnet56": graded["verdict"],
            "lat_interval_resnet56": graded["interval"] or "none"}


def claims_numbers(shown: ClaimsTable, live: ClaimsTable, committed: ClaimsTable) -> Numbers:
    """How many claims the page shows (ledger and live rows), how many are live, and their verdicts; how many
    trained tests the committed ledger ran (the m of its Holm adjustment) and how many decided verdicts
    survive the adjustment."""
    frame = shown.frame()
    ledger = committed.frame()
    tested = ledger[ledger["p_holm"] != ""]
    decided = tested[tested["verdict"].isin(("reproduced", "partly", "not reproduced"))]
    survive = decided[decided["verdict_holm"] == decided["verdict"]]
    return {"n_claims": str(len(frame)), "n_live": str(len(live.frame())),
            "rotation_margin": f"{ROTATION_MARGIN_PP:g} pp", "verdict_counts": _verdict_counts(frame),
            "n_tests": str(committed.tests), "n_decided": str(len(decided)), "n_survive_holm": str(len(survive))}


def schedule_numbers(gains: pd.DataFrame) -> Numbers:
    """The training lengths of the gain-against-epochs figure, where the claim is graded, what the longest
    length has stored, and the seeds the power plan fixed for the ResNet-20 gain."""
    lengths = [str(e) for e in gains["epochs"]]
    complete = gains[gains["pairs"] >= gains["planned"]]
    longest = gains.iloc[-1] if len(gains) else None
    power = plan.power_plan("cpu", "resnet20")
    return {"schedule_lengths": " and ".join([", ".join(lengths[:-1]), lengths[-1]] if len(lengths) > 1 else lengths),
            "schedule_graded_at": f"{int(complete['epochs'].max())} epochs" if len(complete) else "not run",
            "schedule_longest_stored": ("not run" if longest is None else
                                        f"{int(longest['pairs'])} of {count(int(longest['planned']), 'planned pair')}"),
            "power_pairs": count(power.pairs, "pair") if power else "not planned",
            "power_first_stage": count(power.first_stage, "pair") if power else "not planned",
            "power_sd": f"{power.sd:.2f} pp" if power else "not planned"}
