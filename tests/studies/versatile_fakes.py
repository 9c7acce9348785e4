"""Synthetic chapter-5 results (no training) for the tests of the versatile package: a stand-in for the counted
CIFAR table, and stored runs with chosen accuracies and mask statistics."""

import pandas as pd

from effconv.studies.versatile import plan
from effconv.studies.versatile import results as versatile_results

LABELS = list(versatile_results.VARIANTS.values())


def counted_frame() -> pd.DataFrame:
    """A stand-in for cifar_vgg16_complexity(): baseline 1.0M params, v1 half, v2 a quarter."""
    rows = [("baseline", 1.0, 0.0, 4.0, 20.0, 20.0), ("versatile v1", 0.5, 0.0, 2.0, 11.0, 11.0),
            ("versatile v2", 0.25, 0.0, 1.0, 10.0, 10.0), ("learned masks (a)", 0.5, 0.01, 2.0, 11.0, 20.0),
            ("learned masks (b)", 0.5, 0.5, 2.1, 11.0, 20.0),
            ("learned masks (b), lambda = 0", 0.5, 0.5, 2.1, 11.0, 20.0)]
    return pd.DataFrame(rows, columns=["model", "params_M", "mask_Mbit", "memory_MB", "MFLOPs", "MFLOPs_executed"])


def mask_overall(changed: float, equal: float = 0.0, hamming: float = 8 / 9) -> dict:
    return {"density": 5 / 9, "changed_from_init": changed, "pairwise_hamming": hamming, "all_equal_fraction": equal,
            "ortho_loss": 33 / 81, "layers": 13, "primaries": 100}


def fake_result(acc: float, *, epochs: int = 3, masked: bool = False, changed: float = 0.0, equal: float = 0.0,
                hamming: float = 8 / 9, complexity: dict | None = None) -> dict:
    curve = []
    for epoch in range(1, epochs + 1):
        row = {"epoch": epoch, "test_acc": acc - 0.01 * (epochs - epoch), "seconds": 10.0 + epoch, "lr": 0.1,
               "train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0}
        if masked:
            row["versatile.masks"] = {"overall": mask_overall(changed * epoch / epochs, equal, hamming), "layers": {}}
        curve.append(row)
    analyses = {}
    if complexity is not None:
        analyses["versatile.complexity"] = complexity
    if masked:
        analyses["versatile.masks"] = {"overall": mask_overall(changed, equal, hamming), "layers": {
            "features.0.conv": {**mask_overall(changed, equal, hamming), "mask_sets": 8, "mask_entries": 27, "s": 2,
                                "strategy": "b"}}}
    return {
        "key": "k", "spec": {},
        "metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc + 0.002, "epoch": epochs}},
        "curve": curve, "analyses": analyses, "model": {"params": 1, "macs": 1, "input_size": [3, 32, 32]},
        "provenance": {"device": "test cpu", "wall_seconds": 120.0, "data": {"source": "jpeg"}},
    }


COMPLEXITY = {"params": 480_000, "params_official": 480_000, "mask_bits": 0, "memory_mb": 1.83,
              "memory_mb_official": 1.83, "macs": 11_000_000, "macs_executed": 11_000_000}


def cpu_results(accs: dict, profile: str = "cpu", **mask_kwargs) -> tuple[list, list]:
    """Synthetic results: ``accs[label]`` is one accuracy for every seed of the arm, or {seed: accuracy}
    (seeds left out are not run); ``mask_kwargs[label]`` may override the mask statistics of one arm."""
    specs = plan.experiments(profile)
    results = []
    for spec in specs:
        label = versatile_results.VARIANTS[spec.name]
        acc = accs.get(label)
        acc = acc.get(spec.seed) if isinstance(acc, dict) else acc
        masked = label in versatile_results.MASKED
        per_arm = any(key in versatile_results.MASKED for key in mask_kwargs)
        kwargs = (mask_kwargs.get(label, {}) if per_arm else mask_kwargs) if masked else {}
        kwargs = {k: v[spec.seed] if isinstance(v, dict) else v for k, v in kwargs.items()
                  if not isinstance(v, dict) or spec.seed in v}
        results.append(None if acc is None else fake_result(
            acc, masked=masked, complexity=None if label == "baseline" else COMPLEXITY, **kwargs))
    return specs, results


def first_seed(specs, results):
    """Only seed 0 of each arm stored (the state of the committed cpu results)."""
    return [r if s.seed == 0 else None for s, r in zip(specs, results)]
