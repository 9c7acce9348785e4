"""Chapter 5 (versatile filters): the stored CIFAR-10 runs as frames, one row per run, and the labels of
the variants every table and figure uses.

Everything here copes with missing runs: a variant without a stored result is a "not run" row, and its
complexity falls back to the count of a freshly built model.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd
import torch

from effconv.errors import EffconvError
from effconv.experiments import ExperimentSpec, StoredRuns, analysis, results_table
from effconv.models import create_model
from effconv.ops.versatile_masks import mask_statistics
from effconv.studies.versatile import plan

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


def initial_masks(specs: Sequence[ExperimentSpec]) -> dict[str, dict]:
    """Per learned-mask variant, the overall ``mask_statistics`` of a freshly built network of its spec (its
    seed): the concentric start, epoch 0 of ``mask_curves``."""
    initial = {}
    for spec in specs:
        label = VARIANTS.get(spec.name)
        if label in MASKED:
            torch.manual_seed(spec.seed)
            initial[label] = mask_statistics(create_model(spec.model, **spec.model_kwargs))["overall"]
    return initial


def masked_spec(specs: Sequence[ExperimentSpec]) -> ExperimentSpec:
    """The first learned-mask run of the plan (its recipe is the schedule the masks train under)."""
    for spec in specs:
        if VARIANTS.get(spec.name) in MASKED:
            return spec
    raise EffconvError("the plan lists no learned-mask run; check versatile.plan.experiments for this profile.")


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


def accuracy_curves(specs: Sequence[ExperimentSpec], results: Sequence[dict | None]) -> pd.DataFrame:
    """Test accuracy (%) per epoch of every stored run."""
    rows = [{"variant": VARIANTS.get(spec.name, spec.name), "seed": spec.seed, "epoch": row["epoch"],
             "test_acc_%": 100 * row["test_acc"]}
            for spec, result in zip(specs, results) if result is not None
            for row in result.get("curve", []) if "test_acc" in row and "epoch" in row]
    return pd.DataFrame(rows, columns=["variant", "seed", "epoch", "test_acc_%"])


def load_runs(profile: str = "best", *, run_missing: bool = False, log=print) -> StoredRuns:
    """Every run of the chapter for ``profile`` (``best``: the best committed one), None where not run."""
    return StoredRuns.load(plan.experiments, profile, run_missing=run_missing, log=log)
