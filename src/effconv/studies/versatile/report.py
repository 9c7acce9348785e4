"""Chapter 5 (versatile filters): the tables the chapter shows from the stored runs (``results``).

Verdicts are not decided here: the claims are graded in ``claims`` by the shared rules of
``effconv.claims``; this module only gathers each arm's stored values by seed (``arm_values``) for them.
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from effconv.claims import grade_effect
from effconv.experiments import ExperimentSpec
from effconv.studies.versatile.results import (VARIANTS, _is_missing, run_table,
                                              stored_complexity)


# ---------------------------------------------------------------------------------------------
# Runs and the CIFAR-10 table
# ---------------------------------------------------------------------------------------------


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
    pairs = f"{grade.n} paired random seed{'s' if grade.n > 1 else ''}"
    return f"{a} - {b} = {grade.ours:+.2f} points, mean over {pairs}{interval} (profile {profile})"


def epoch_time_sentence(runs: pd.DataFrame, profile: str) -> str:
    """Median training seconds per epoch of each stored variant, or "not run"."""
    stored = runs[runs["status"] == "stored"]
    if stored.empty:
        return f"not run yet (no stored {profile} run)"
    times = stored.groupby("variant", sort=False)["seconds_per_epoch"].median()
    devices = ", ".join(sorted(set(stored["device"].dropna().astype(str))))
    return "; ".join(f"{v} {t:.0f} s" for v, t in times.items()) + f" (profile {profile}, {devices})"
