"""Chapter 5, Versatile filters: stored CIFAR-10 runs -> tables and figures.

Everything here copes with missing runs: a variant without a stored result shows as "not run", and its
complexity falls back to the count of a freshly built model. Verdicts are not decided here: the claims
are graded in ``versatile_claims`` by the shared rules of ``effconv.claims``; this module only gathers
each arm's stored values by seed (``arm_values``) for them.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from effconv.claims import grade_effect
from effconv.experiments import ExperimentSpec, analysis, results_table

CHAPTER = "versatile"

# run name -> label, in the order of the tables (labels as in studies.versatile.CIFAR_VARIANTS)
VARIANTS: dict[str, str] = {
    "vgg16-baseline": "baseline",
    "vgg16-v1": "versatile v1",
    "vgg16-v2": "versatile v2",
    "vgg16-masks-a": "learned masks (a)",
    "vgg16-masks-b": "learned masks (b)",
    "vgg16-masks-b-lambda0": "learned masks (b), lambda = 0",
}
MASKED = ("learned masks (a)", "learned masks (b)", "learned masks (b), lambda = 0")
MASK_STATS = ("density", "changed_from_init", "pairwise_hamming", "all_equal_fraction", "ortho_loss")
COMPLEXITY_KEYS = ("params", "params_official", "mask_bits", "memory_mb", "memory_mb_official", "macs",
                   "macs_executed")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------------------------------------
# Runs and the CIFAR-10 table
# ---------------------------------------------------------------------------------------------

def run_table(specs: Sequence[ExperimentSpec], results: Sequence[dict | None]) -> pd.DataFrame:
    """One row per run (stored or not): variant label, seed, status, accuracy in %, epochs, time."""
    table = results_table(specs, results)
    table.insert(0, "variant", [VARIANTS.get(name, name) for name in table["name"]])
    table["test_acc_%"] = table["test_acc"] * 100
    table["best_acc_%"] = table["best_acc"] * 100
    keep = ["variant", "profile", "seed", "status", "test_acc_%", "best_acc_%", "epochs", "epochs_planned",
            "seconds_per_epoch", "minutes", "device", "data", "file"]
    for column in keep:
        if column not in table:
            table[column] = math.nan
    return table[keep]


def stored_complexity(specs: Sequence[ExperimentSpec], results: Sequence[dict | None]) -> dict[str, dict]:
    """Per variant, the mean over its stored runs of the ``versatile.complexity`` analysis (trained model)."""
    found: dict[str, list[dict]] = {}
    for spec, result in zip(specs, results):
        data = analysis(result, "versatile.complexity")
        if data:
            found.setdefault(VARIANTS.get(spec.name, spec.name), []).append(data)
    return {label: {**{k: sum(d[k] for d in runs) / len(runs) for k in COMPLEXITY_KEYS}, "runs": len(runs)}
            for label, runs in found.items()}


def cifar_table(profile: str, specs: Sequence[ExperimentSpec], results: Sequence[dict | None],
                counted: pd.DataFrame) -> pd.DataFrame:
    """The chapter's CIFAR-10 VGG-16 table: complexity, accuracy over the stored seeds, status.

    ``counted`` is ``studies.versatile.cifar_vgg16_complexity(width)`` at the runs' width: the complexity of
    a variant comes from its trained model when stored (learned masks change their paper-convention FLOPs
    and nothing else), else from that count (masks at their concentric initialisation).
    """
    runs = run_table(specs, results)
    trained = stored_complexity(specs, results)
    by_label = counted.set_index("model")
    rows = []
    for label in VARIANTS.values():
        mine = runs[runs["variant"] == label]
        if mine.empty:
            continue
        stored = mine[mine["status"] == "stored"]
        accs = stored["test_acc_%"].astype(float)
        if label in trained:
            c = trained[label]
            params, mask_bits, memory = c["params"], c["mask_bits"], c["memory_mb"]
            macs, executed = c["macs"], c["macs_executed"]
            source = f"trained model ({c['runs']} run{'s' if c['runs'] > 1 else ''})"
        else:
            row = by_label.loc[label]
            params, mask_bits, memory = row["params_M"] * 1e6, row["mask_Mbit"] * 1e6, row["memory_MB"]
            macs, executed = row["MFLOPs"] * 1e6, row["MFLOPs_executed"] * 1e6
            source = "counted (fresh model)"
        rows.append({
            "variant": label, "profile": profile, "params_M": params / 1e6, "mask_kbit": mask_bits / 1e3,
            "memory_MB": memory, "MFLOPs": macs / 1e6, "MFLOPs_executed": executed / 1e6,
            "test_acc_%": accs.mean() if len(accs) else math.nan,
            "std_%": accs.std() if len(accs) > 1 else math.nan,
            "seeds": f"{len(stored)}/{len(mine)}", "status": "stored" if len(stored) == len(mine) else (
                "not run" if stored.empty else "partial"),
            "complexity from": source,
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    base = table.iloc[0]
    table["params_ratio"] = table["params_M"] / base["params_M"]
    table["memory_ratio"] = table["memory_MB"] / base["memory_MB"]
    table["FLOPs_ratio"] = table["MFLOPs"] / base["MFLOPs"]
    table["executed_ratio"] = table["MFLOPs_executed"] / base["MFLOPs"]  # against the baseline's (dense) FLOPs
    table["delta_vs_baseline"] = table["test_acc_%"] - base["test_acc_%"]
    order = ["variant", "profile", "seeds", "status", "test_acc_%", "std_%", "delta_vs_baseline", "params_M",
             "params_ratio", "mask_kbit", "memory_MB", "memory_ratio", "MFLOPs", "FLOPs_ratio", "MFLOPs_executed",
             "executed_ratio", "complexity from"]
    return table[order]


# ---------------------------------------------------------------------------------------------
# Accuracy comparisons and their verdicts
# ---------------------------------------------------------------------------------------------

def arm_values(runs: pd.DataFrame, label: str, column: str = "test_acc_%") -> dict[int, float]:
    """{seed: value} of one arm's stored runs (``runs`` from ``run_table`` or ``final_masks``)."""
    stored = runs[(runs["variant"] == label) & (runs["status"] == "stored")]
    return {int(seed): float(value) for seed, value in zip(stored["seed"], stored[column]) if not _is_missing(value)}


def comparison_sentence(runs: pd.DataFrame, a: str, b: str, profile: str) -> str:
    """One plain sentence for the prose: the paired difference ``a`` - ``b`` over shared seeds, or "not run"."""
    acc_a, acc_b = arm_values(runs, a), arm_values(runs, b)
    grade = grade_effect(acc_a, acc_b)
    if grade.n == 0:
        missing = [v for v, acc in ((a, acc_a), (b, acc_b)) if not acc]
        return (f"not run yet ({' and '.join(missing)}: no stored {profile} run)" if missing
                else f"not run yet (no seed stored for both {a} and {b}, profile {profile})")
    interval = f", 95% interval {grade.interval}" if grade.interval else ""
    return (f"{a} - {b} = {grade.ours:+.2f} points, mean over {grade.n} paired seed(s){interval} "
            f"(profile {profile})")


def epoch_time_sentence(runs: pd.DataFrame, profile: str) -> str:
    """Median training seconds per epoch of each stored variant, or "not run"."""
    stored = runs[runs["status"] == "stored"]
    if stored.empty:
        return f"not run yet (no stored {profile} run)"
    times = stored.groupby("variant", sort=False)["seconds_per_epoch"].median()
    devices = ", ".join(sorted(set(stored["device"].dropna().astype(str))))
    return "; ".join(f"{v} {t:.0f} s" for v, t in times.items()) + f" (profile {profile}, {devices})"


# ---------------------------------------------------------------------------------------------
# Learned masks over training
# ---------------------------------------------------------------------------------------------

def mask_curves(specs: Sequence[ExperimentSpec], results: Sequence[dict | None],
                initial: dict[str, dict] | None = None) -> pd.DataFrame:
    """Long table (variant, seed, epoch, statistic, value) of the ``versatile.masks`` overall statistics
    stored in every curve row of the learned-mask runs; ``initial`` (variant -> ``mask_statistics()``
    overall of a freshly built model) adds epoch 0."""
    rows = []
    for spec, result in zip(specs, results):
        label = VARIANTS.get(spec.name, spec.name)
        if label not in MASKED or result is None:
            continue
        points = [(0, (initial or {}).get(label))] if initial and label in initial else []
        points += [(row.get("epoch"), (row.get("versatile.masks") or {}).get("overall"))
                   for row in result.get("curve", [])]
        for epoch, overall in points:
            if not overall or epoch is None:
                continue
            for stat in MASK_STATS:
                if not _is_missing(overall.get(stat)):
                    rows.append({"variant": label, "seed": spec.seed, "epoch": int(epoch), "statistic": stat,
                                 "value": float(overall[stat])})
    return pd.DataFrame(rows, columns=["variant", "seed", "epoch", "statistic", "value"])


def final_masks(specs: Sequence[ExperimentSpec], results: Sequence[dict | None]) -> pd.DataFrame:
    """The ``versatile.masks`` overall statistics after training, one row per learned-mask run (or not run)."""
    rows = []
    for spec, result in zip(specs, results):
        label = VARIANTS.get(spec.name, spec.name)
        if label not in MASKED:
            continue
        overall = (analysis(result, "versatile.masks") or {}).get("overall")
        row: dict[str, Any] = {"variant": label, "profile": spec.profile, "seed": spec.seed,
                               "status": "stored" if overall else "not run"}
        row.update({stat: (overall or {}).get(stat, math.nan) for stat in MASK_STATS})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["variant", "profile", "seed", "status", *MASK_STATS])
    return frame.fillna({stat: math.nan for stat in MASK_STATS}).astype({stat: float for stat in MASK_STATS})


def mask_layers(result: dict | None) -> pd.DataFrame:
    """Per-layer mask statistics after training for one run (empty when not run)."""
    layers = (analysis(result, "versatile.masks") or {}).get("layers", {})
    columns = ["layer", "primaries", "mask_sets", "mask_entries", *MASK_STATS]
    rows = [{"layer": name, **{k: v.get(k) for k in columns[1:]}} for name, v in layers.items()]
    return pd.DataFrame(rows, columns=columns)


STAT_TITLES = {"density": "density (share of ones)", "changed_from_init": "changed from the concentric init",
               "pairwise_hamming": "Hamming distance of a primary's masks",
               "all_equal_fraction": "primaries with identical masks", "ortho_loss": "orthogonal loss (unweighted)"}


def plot_mask_curves(curves: pd.DataFrame, profile: str, *, optimum: dict[str, float] | None = None) -> plt.Figure:
    """Mask statistics per epoch for strategies a and b; dotted lines: the orthogonal loss's relaxed optimum.

    When no learned-mask run is stored, each panel says so (the figure is still drawn).
    """
    stats = ("density", "pairwise_hamming", "changed_from_init", "ortho_loss")
    # two rows of two: four panels side by side would shrink their text at the page width
    fig, grid = plt.subplots(2, 2, figsize=(7.5, 5.6))
    axes = list(grid.flat)
    targets = {} if optimum is None else {"density": optimum.get("relaxed_density"),
                                          "pairwise_hamming": optimum.get("relaxed_hamming"),
                                          "ortho_loss": optimum.get("relaxed_loss")}
    for ax, stat in zip(axes, stats):
        data = curves[curves["statistic"] == stat] if not curves.empty else curves
        if target := targets.get(stat):
            ax.axhline(target, color="grey", linestyle=":", linewidth=1)
        if data is not None and not data.empty:
            sns.lineplot(data=data, x="epoch", y="value", hue="variant", hue_order=list(MASKED), style="variant",
                         style_order=list(MASKED), markers=True, markersize=5, ax=ax, legend=stat == stats[0],
                         errorbar=None)
        else:
            ax.text(0.5, 0.5, f"not run yet\n(profile {profile})", ha="center", va="center", transform=ax.transAxes,
                    color="grey")
            ax.set_xlabel("epoch")
        ax.set_title(STAT_TITLES[stat], fontsize=9)
        ax.set_ylabel("")
    handles, labels = axes[0].get_legend_handles_labels()
    if axes[0].get_legend() is not None:
        axes[0].get_legend().remove()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"Learned masks during training (profile {profile}; epoch 0 = initialisation)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05 if handles else 0, 1, 1))
    return fig


def accuracy_curves(specs: Sequence[ExperimentSpec], results: Sequence[dict | None]) -> pd.DataFrame:
    """Test accuracy (%) per epoch of every stored run."""
    rows = [{"variant": VARIANTS.get(spec.name, spec.name), "seed": spec.seed, "epoch": row["epoch"],
             "test_acc_%": 100 * row["test_acc"]}
            for spec, result in zip(specs, results) if result is not None
            for row in result.get("curve", []) if "test_acc" in row and "epoch" in row]
    return pd.DataFrame(rows, columns=["variant", "seed", "epoch", "test_acc_%"])


def plot_cifar(table: pd.DataFrame, curves: pd.DataFrame, profile: str) -> plt.Figure:
    """Left: parameters, memory and FLOPs (paper convention and executed) relative to the baseline (counted);
    right: test accuracy per epoch of the stored runs (or a "not run yet" note)."""
    # one panel a row: the variant names and the legends need the page's width
    fig, (left, right) = plt.subplots(2, 1, figsize=(7.5, 7.0))
    ratios = table.melt(id_vars="variant", value_vars=["params_ratio", "memory_ratio", "FLOPs_ratio",
                                                       "executed_ratio"], var_name="quantity", value_name="ratio")
    ratios["quantity"] = ratios["quantity"].map({"params_ratio": "parameters", "memory_ratio": "memory",
                                                 "FLOPs_ratio": "FLOPs (paper)", "executed_ratio": "FLOPs (executed)"})
    sns.barplot(data=ratios, x="variant", y="ratio", hue="quantity", ax=left)
    left.axhline(1.0, color="black", linewidth=0.8)
    left.set_xlabel("")
    left.set_ylabel("relative to the baseline")
    left.tick_params(axis="x", labelrotation=15, labelsize=9)
    left.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    left.set_title(f"Complexity, CIFAR-10 VGG-16 (profile {profile})", fontsize=10)
    if curves.empty:
        right.text(0.5, 0.5, f"no stored run yet (profile {profile})", ha="center", va="center",
                   transform=right.transAxes, color="grey")
    else:
        present = [v for v in VARIANTS.values() if v in set(curves["variant"])]
        sns.lineplot(data=curves, x="epoch", y="test_acc_%", hue="variant", hue_order=present, ax=right, marker="o",
                     markersize=4, errorbar=("pi", 100) if curves["seed"].nunique() > 1 else None)
        right.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy (%)")
    right.set_title(f"Test accuracy per epoch (profile {profile})", fontsize=10)
    fig.tight_layout()
    return fig
