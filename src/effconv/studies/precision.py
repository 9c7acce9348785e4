"""Does bf16 autocast train to the same accuracy as fp32? Runs paired by seed, graded by the shared
equivalence rule; the speed side is the ``effconv bench precision`` table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from effconv.claims import grade_equivalence
from effconv.experiments.inventory import precision_pairs

PARITY_MARGIN_PP = 0.5  # "the same accuracy": bf16 - fp32 within +-0.5 pp, the size of the smallest effects graded


def precision_parity(root: Path | None = None, *, margin: float = PARITY_MARGIN_PP) -> pd.DataFrame:
    """One row per configuration with runs in both precisions: pairs, mean accuracies, the mean paired
    difference bf16 - fp32 in pp with its 95% interval, and the verdict of ``grade_equivalence``."""
    pairs = precision_pairs(root)
    rows = []
    for (model, options, epochs), group in pairs.groupby(["model", "options", "epochs"], sort=True):
        fp32 = dict(zip(group["seed"], 100 * group["fp32 acc"]))
        bf16 = dict(zip(group["seed"], 100 * group["bf16 acc"]))
        grade = grade_equivalence(bf16, fp32, margin=margin)
        rows.append({"model": model, "options": options, "epochs": epochs, "pairs": grade.n,
                     "fp32 mean %": group["fp32 acc"].mean() * 100, "bf16 mean %": group["bf16 acc"].mean() * 100,
                     "bf16 - fp32 (pp)": grade.ours, "95% interval": grade.interval, "verdict": grade.verdict,
                     "rule": grade.rule})
    columns = ["model", "options", "epochs", "pairs", "fp32 mean %", "bf16 mean %", "bf16 - fp32 (pp)",
               "95% interval", "verdict", "rule"]
    return pd.DataFrame(rows, columns=columns)
