"""Chapter 3 (ACNet): stored runs -> the tables the chapter shows: Table 1 on CIFAR-10, the branch
ablation, rotation robustness, the fusion of trained runs and the counted costs.

The runs and the shared labels are in ``results``, the kernel-skeleton tables (importance, pruning) in
``skeleton``. Figures: ``plots``; claims: ``claims``; the page that shows them all: ``page``.

Every function copes with missing runs: a comparison whose runs are not stored yet gives rows marked
"not run". Accuracies are shown in percent; differences in percentage points (pp). Nothing here
decides a verdict: every verdict comes from ``effconv.claims.rules`` (see ``claims``).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from effconv.claims import DIRECTION, grade_effect
from effconv.errors import EffconvError
from effconv.experiments import analysis
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet.plan import CHAPTER
from effconv.studies.acnet.results import (CONDITIONS, MODEL_LABELS, PAPER_FAMILIES, VARIANT_LABELS, Runs,
                                           is_missing, variant_of)
from effconv.studies.acnet.evidence import schedule_arms
from effconv.studies.acnet.results import ChapterRuns
from effconv.studies.paper import paper_value

# --------------------------------------------------------------------------- Table 1: CIFAR-10


def _paper_pair(prefix: str, key: str) -> tuple[float, float, str]:
    """(base, acnet, tag) for ``{prefix}cifar10_{key}_base/_acnet``; NaN where not recorded."""
    values, tag = [], ""
    for arm in ("base", "acnet"):
        try:
            ref = paper_value(CHAPTER, f"{prefix}cifar10_{key}_{arm}")
        except EffconvError:  # no such row: the source has no value
            values.append(math.nan)
            continue
        values.append(ref.value if isinstance(ref.value, float) else math.nan)
        tag = ref.tag
    return values[0], values[1], tag


def cifar10_table(comparison: Runs) -> pd.DataFrame:
    """The Table 1 analogue: base vs ACNet per model, ours (mean, std over seeds; gain over paired seeds)
    beside the paper's and the authors' repository re-run, plus a CIFAR-100 row (no data: not run).

    One row per paper family, plus our profile's models that are not paper families (the cpu profile's
    ResNet-20). Numeric columns are NaN where not run; ``status`` says why.
    """
    table = comparison.table()
    trained = list(dict.fromkeys(table["model"]))
    models = list(PAPER_FAMILIES)
    for model in trained:  # our extra models go right after the paper family they stand in for
        if model not in models:
            models.insert(models.index("resnet56") + 1, model)
    rows = []
    for model in models:
        part = table[table["model"] == model]
        label = MODEL_LABELS.get(model, model)
        row: dict[str, Any] = {"dataset": "CIFAR-10", "model": label, "profile": comparison.profile}
        if len(part):
            width, epochs = part["width"].iloc[0], part["epochs_planned"].iloc[0]
            seeds = ", ".join(str(seed) for seed in sorted(set(part["seed"])))
            row["ours_setting"] = f"width {width:g}, {epochs} epochs, seed{'s' if ',' in seeds else ''} {seeds}"
            if width != 1:
                row["model"] = f"{label} (width {width:g})"
        else:
            row["ours_setting"] = f"not in the {comparison.profile} profile"
        arms = {}
        for arm in ("base", "acnet"):
            stored = part[(part["variant"] == arm) & (part["status"] == "stored")]
            arms[arm] = stored.set_index("seed")["acc_pct"]
            row[f"{arm}_mean"] = stored["acc_pct"].mean() if len(stored) else math.nan
            row[f"{arm}_std"] = stored["acc_pct"].std() if len(stored) > 1 else math.nan
            row[f"{arm}_seeds"] = len(stored)
        paired = arms["base"].index.intersection(arms["acnet"].index)
        row["gain"] = (arms["acnet"][paired] - arms["base"][paired]).mean() if len(paired) else math.nan
        row["paired_seeds"] = len(paired)
        key = PAPER_FAMILIES.get(model, (None, None))[1]
        for prefix, name in (("", "paper"), ("repo_", "repo")):
            base, acnet, tag = _paper_pair(prefix, key) if key else (math.nan, math.nan, "")
            row[f"{name}_base"], row[f"{name}_acnet"] = base, acnet
            row[f"{name}_gain"] = acnet - base
            row[f"{name}_tag"] = tag
        planned = len(part[part["variant"].isin(["base", "acnet"])])
        done = row["base_seeds"] + row["acnet_seeds"]
        row["status"] = ("not run" if not planned or not done else
                         "stored" if done == planned else f"partial ({done} of {planned} runs)")
        if not planned:
            row["status"] = f"not in the {comparison.profile} profile"
        rows.append(row)
    rows.append({"dataset": "CIFAR-100", "model": "all five families", "profile": comparison.profile,
                 "ours_setting": "no CIFAR-100 data offline", "status": "not run (no data)",
                 "paper_tag": paper_value(CHAPTER, "cifar100_results").tag})
    return pd.DataFrame(rows)


def _pm(mean: float, std: float, seeds: int) -> str:
    if is_missing(mean):
        return "not run"
    return f"{mean:.2f} ± {std:.2f} ({seeds} seeds)" if seeds > 1 and not is_missing(std) else f"{mean:.2f}"


def _num(value: float, digits: int = 2, signed: bool = False) -> str:
    if is_missing(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def cifar10_display(table: pd.DataFrame) -> pd.DataFrame:
    """``cifar10_table`` as text: mean ± std, "not run", the paper's and the repository's base → ACNet."""
    seeds = {arm: table[f"{arm}_seeds"].fillna(0).astype(int) for arm in ("base", "acnet")}
    models = [m if d == "CIFAR-10" else f"{d}: {m}" for d, m in zip(table["dataset"], table["model"])]
    return pd.DataFrame({
        "model": models,
        "ours: base %": [_pm(m, s, n) for m, s, n in zip(table["base_mean"], table["base_std"], seeds["base"])],
        "ours: ACNet %": [_pm(m, s, n) for m, s, n in zip(table["acnet_mean"], table["acnet_std"], seeds["acnet"])],
        "ours: gain pp": [_num(g, signed=True) if not is_missing(g) else "not run" for g in table["gain"]],
        "paper": [_arrow(b, a, t) for b, a, t in zip(table["paper_base"], table["paper_acnet"], table["paper_tag"])],
        "repo re-run": [_arrow(b, a, "") for b, a in zip(table["repo_base"], table["repo_acnet"])],
        "our runs": [setting if status in ("stored", "not run") or status.startswith("not in") else
                     f"{setting}; {status}" for setting, status in zip(table["ours_setting"], table["status"])],
    })


def _arrow(base: float, acnet: float, tag: str) -> str:
    if is_missing(base) or is_missing(acnet):
        return "–"
    note = " *" if tag == "transcribed" else ""
    return f"{base:.2f} → {acnet:.2f} ({acnet - base:+.2f}){note}"


# --------------------------------------------------------------------------- Table 4: ablation


def ablation_table(comparison: Runs) -> pd.DataFrame:
    """Branch and BN ablation on the ablation model, over every stored seed: accuracy (mean, sd, n), and the
    differences from the base and from the full ACB, each the mean over the seeds both arms have (paired)."""
    table = comparison.table()
    kwargs = {v: runs.VARIANTS[v].get("conv_kwargs", {}) for v in runs.ABLATION_VARIANTS}
    stored = table[table["status"] == "stored"]
    by_seed = {v: dict(zip(stored.loc[stored["variant"] == v, "seed"], stored.loc[stored["variant"] == v, "acc_pct"]))
               for v in runs.ABLATION_VARIANTS}

    def paired(variant: str, reference: str) -> tuple[float, int]:
        seeds = sorted(set(by_seed[variant]) & set(by_seed[reference]))
        diffs = [by_seed[variant][s] - by_seed[reference][s] for s in seeds]
        return (sum(diffs) / len(diffs) if diffs else math.nan), len(diffs)

    rows = []
    for variant in runs.ABLATION_VARIANTS:
        options = kwargs[variant]
        branches = options.get("branches", ["square", "hor", "ver"]) if variant != "base" else ["square"]
        accs = pd.Series(list(by_seed[variant].values()), dtype=float)
        vs_base, n_base = paired(variant, "base")
        vs_acb, n_acb = paired(variant, "acnet")
        rows.append({
            "variant": VARIANT_LABELS[variant], "key": variant,
            "horizontal 1xk": "yes" if "hor" in branches else "–",
            "vertical kx1": "yes" if "ver" in branches else "–",
            "BN": "after the conv" if variant == "base" else (
                "one, after the sum" if options.get("norm") == "sum" else "one per branch"),
            "acc_pct": accs.mean() if len(accs) else math.nan, "acc_std": accs.std() if len(accs) > 1 else math.nan,
            "n": len(accs), "planned": int((table["variant"] == variant).sum()),
            "vs_base_pp": vs_base, "pairs_base": n_base, "vs_acb_pp": vs_acb, "pairs_acb": n_acb,
        })
    out = pd.DataFrame(rows)
    out.insert(0, "profile", comparison.profile)
    return out


def ablation_display(table: pd.DataFrame) -> pd.DataFrame:
    """``ablation_table`` as text for the page: mean ± sd (seeds), and paired differences with their pairs."""
    def diff(value: float, pairs: int) -> str:
        return "–" if is_missing(value) else f"{value:+.2f} ({pairs} paired)"

    return pd.DataFrame({
        "variant": table["variant"], "1xk": table["horizontal 1xk"], "kx1": table["vertical kx1"], "BN": table["BN"],
        "accuracy %": [_pm(m, s, n) for m, s, n in zip(table["acc_pct"], table["acc_std"], table["n"])],
        "seeds": [f"{n}/{p}" for n, p in zip(table["n"], table["planned"])],
        "vs base pp": [diff(v, n) for v, n in zip(table["vs_base_pp"], table["pairs_base"])],
        "vs ACB pp": [diff(v, n) for v, n in zip(table["vs_acb_pp"], table["pairs_acb"])],
    })


# --------------------------------------------------------------------------- rotation robustness


def rotation_table(comparison: Runs, model: str = runs.ABLATION_MODEL) -> pd.DataFrame:
    """Accuracy (%) on original, 90° ccw, 180° and up-down flipped test images, per variant and seed."""
    rows = []
    for spec, result in zip(comparison.specs, comparison.results):
        if spec.model != model:
            continue
        stored = analysis(result, "acnet.rotation")
        row = {"profile": comparison.profile, "variant": variant_of(spec), "seed": spec.seed,
               "status": "stored" if stored else "not run"}
        for key in CONDITIONS:
            row[key] = 100 * stored[key] if stored and key in stored else math.nan
        rows.append(row)
    order = {v: i for i, v in enumerate(runs.ABLATION_VARIANTS + ("border",))}
    table = pd.DataFrame(rows, columns=["profile", "variant", "seed", "status", *CONDITIONS])
    return table.sort_values(["variant", "seed"], key=lambda s: s.map(order) if s.name == "variant" else s,
                             ignore_index=True)


def rotation_display(rotation: pd.DataFrame) -> pd.DataFrame:
    """``rotation_table`` as text: one row per variant and seed, one column per test condition."""
    out = pd.DataFrame({"variant": rotation["variant"].map(lambda v: VARIANT_LABELS.get(v, v)),
                        "seed": rotation["seed"]})
    for key, label in CONDITIONS.items():
        out[label] = [_num(v) if not is_missing(v) else "not run" for v in rotation[key]]
    return out


def rotation_gaps(rotation: pd.DataFrame) -> pd.DataFrame:
    """Differences (pp) the paper discusses (hor - base, ver - base, hor - ver, ACB - base): per test condition,
    the mean over every random seed both variants have (paired, as the claims are graded), and how many pair."""
    rows = []
    for a, b in (("hor", "base"), ("ver", "base"), ("hor", "ver"), ("acnet", "base")):
        first = rotation[rotation["variant"] == a].set_index("seed")
        second = rotation[rotation["variant"] == b].set_index("seed")
        row: dict[str, object] = {"comparison": f"{a} − {b}"}
        pairs = 0
        for condition in CONDITIONS:
            gaps = (first[condition] - second[condition]).dropna()   # aligned on seed: the paired seeds
            row[condition] = float(gaps.mean()) if len(gaps) else math.nan
            pairs = max(pairs, len(gaps))
        row["pairs"] = pairs
        rows.append(row)
    return pd.DataFrame(rows, columns=["comparison", *CONDITIONS, "pairs"])


# --------------------------------------------------------------------------- fusion of trained runs, cost


def trained_fusion_table(comparison: Runs) -> pd.DataFrame:
    """The stored fusion check of every trained ACB run: accuracy unfused and fused, errors, MACs."""
    rows = []
    for spec, result in zip(comparison.specs, comparison.results):
        if variant_of(spec) == "base":
            continue
        stored = analysis(result, "acnet.fusion")
        row = {"profile": comparison.profile, "model": MODEL_LABELS.get(spec.model, spec.model),
               "variant": variant_of(spec), "seed": spec.seed}
        if stored is None:
            rows.append({**row, "status": "not run"})
            continue
        accuracy = 100 * result["metrics"]["final"]["test_acc"]
        base = comparison.result(spec.model, "base", spec.seed) or comparison.result(spec.model, "base")
        rows.append({**row, "acc_pct": accuracy, "acc_fused_pct": 100 * stored["test_acc_fused"],
                     "delta_pp": 100 * stored["test_acc_fused"] - accuracy,
                     "max_rel_error": stored["max_rel_error"], "macs_unfused": stored["macs_unfused"],
                     "macs_fused": stored["macs_fused"],
                     "base_macs": base["model"]["macs"] if base else math.nan, "status": "stored"})
    columns = ["profile", "model", "variant", "seed", "acc_pct", "acc_fused_pct", "delta_pp", "max_rel_error",
               "macs_unfused", "macs_fused", "base_macs", "status"]
    return pd.DataFrame(rows).reindex(columns=columns)


def trained_fusion_display(table: pd.DataFrame) -> pd.DataFrame:
    """``trained_fusion_table`` as text."""
    def num(values: pd.Series, pattern: str) -> list[str]:
        return [pattern.format(v) if not is_missing(v) else "not run" for v in values]

    same = ["yes" if m == b else ("NO" if not (is_missing(m) or is_missing(b)) else "not run")
            for m, b in zip(table["macs_fused"], table["base_macs"])]
    return pd.DataFrame({
        "model": table["model"], "variant": table["variant"].map(lambda v: VARIANT_LABELS.get(v, v)),
        "seed": table["seed"], "accuracy %": num(table["acc_pct"], "{:.2f}"),
        "fused %": num(table["acc_fused_pct"], "{:.2f}"), "change pp": num(table["delta_pp"], "{:+.3f}"),
        "output rel. error": num(table["max_rel_error"], "{:.1e}"), "fused MACs = base MACs": same,
    })


def training_time_table(comparison: Runs) -> pd.DataFrame:
    """Median seconds per epoch per model, variant and machine (over the seeds stored there), and the ratio to
    the base trained on the same machine: machines differ by several times in speed, so a ratio across two
    of them would measure the machines, not the block (NaN where that machine trained no base)."""
    columns = ["profile", "model", "variant", "device", "runs", "seconds_per_epoch", "ratio_to_base"]
    table = comparison.table()
    stored = table[table["status"] == "stored"]
    if stored.empty:
        return pd.DataFrame(columns=columns)
    grouped = (stored.groupby(["model", "variant", "device"], sort=False)
               .agg(runs=("seconds_per_epoch", "size"), seconds_per_epoch=("seconds_per_epoch", "median"))
               .reset_index())
    base = grouped[grouped["variant"] == "base"].set_index(["model", "device"])["seconds_per_epoch"]
    grouped["ratio_to_base"] = [t / base.get((m, d), math.nan)
                                for m, d, t in zip(grouped["model"], grouped["device"], grouped["seconds_per_epoch"])]
    grouped["model"] = grouped["model"].map(lambda m: MODEL_LABELS.get(m, m))
    grouped.insert(0, "profile", comparison.profile)
    return grouped[columns]


def cost_display(costs: pd.DataFrame) -> pd.DataFrame:
    """``cost_table`` transposed (one column per family), integers with thousands separators."""
    rows = {
        "params: base": "base_params", "params: base, BN folded": "base_fused_params",
        "params: ACNet, training": "acnet_params", "params: ACNet, fused": "acnet_fused_params",
        "MACs: base": "base_macs", "MACs: ACNet, training": "acnet_macs", "MACs: ACNet, fused": "acnet_fused_macs",
    }
    out = pd.DataFrame({label: [f"{int(v):,}" for v in costs[column]] for label, column in rows.items()},
                       index=[MODEL_LABELS.get(m, m) for m in costs["model"]])
    out["fused = folded base"] = ["yes" if same else "NO" for same in costs["same_as_base"]]
    out["training MACs / base"] = [f"{r:.3f}" for r in costs["train_macs_ratio"]]
    return out.T


def models_display(models: pd.DataFrame) -> pd.DataFrame:
    """``model_exactness_table`` as text."""
    return pd.DataFrame({
        "model": models["model"], "ACBs from": models["route"], "BN statistics": models["bn_statistics"],
        "ACBs": models["blocks"], "float32": [f"{v:.1e}" for v in models["max_rel"]],
        "float64": [f"{v:.1e}" for v in models["max_rel_float64"]],
        "float32 floor": [f"{v:.1e}" for v in models["float32_rounding"]],
        "fused = folded base": ["yes" if same else "NO" for same in models["same_as_base"]],
    })




def schedule_gains(chapter: ChapterRuns) -> pd.DataFrame:
    """ACNet minus base accuracy of the schedule model at each training length: mean over the paired random
    seeds, the shared rule's 95% interval and verdict, and the pairs stored of those planned."""
    rows = []
    for epochs, planned, acnet, base in schedule_arms(chapter):
        grade = grade_effect(acnet, base, direction=1, scope=DIRECTION)
        rows.append({"model": MODEL_LABELS[runs.SCHEDULE_MODEL], "epochs": epochs, "pairs": grade.n,
                     "planned": planned, "gain_pp": grade.ours, "low": grade.low, "high": grade.high,
                     "verdict": grade.verdict})
    return pd.DataFrame(rows, columns=["model", "epochs", "pairs", "planned", "gain_pp", "low", "high", "verdict"])
