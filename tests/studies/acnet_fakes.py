"""Synthetic chapter-3 results (no training) for the tests of the acnet package: stored results shaped like
the store's, with the chapter's analyses, and comparisons of the cpu profile built from them."""

from __future__ import annotations

import pandas as pd

from effconv.studies.acnet import plan as runs
from effconv.studies.acnet import probes as study
from effconv.studies.acnet.results import Runs, variant_of


def fake_result(spec, acc: float, *, rotation: dict | None = None, importance: list | None = None,
                pruning: list | None = None, seconds: float = 10.0, fused_acc: float | None = None) -> dict:
    """A result dict shaped like the store's, with the chapter's analyses."""
    analyses = {"acnet.fusion": {"max_abs_error": 1e-7, "max_rel_error": 2e-7, "params_unfused": 150, "params_fused": 100,
                                 "macs_unfused": 1500, "macs_fused": 1000,
                                 "test_acc_fused": acc if fused_acc is None else fused_acc}}
    analyses["acnet.rotation"] = rotation or {"original": acc, "rot90_ccw": acc / 2, "rot180": acc / 3,
                                              "flip_ud": acc / 3}
    if importance is not None:
        frame = pd.DataFrame(importance)
        analyses["acnet.importance"] = {"matrix": importance, **study.importance_summary(frame)}
    if pruning is not None:
        analyses["acnet.pruning"] = pruning
    return {
        "key": spec.key, "spec": spec.to_dict(),
        "metrics": {"final": {"test_acc": acc, "test_loss": 1.0, "train_acc": acc, "train_loss": 1.0},
                    "best": {"test_acc": acc, "epoch": 1}},
        "curve": [{"epoch": 1, "seconds": seconds, "test_acc": acc}],
        "analyses": analyses, "model": {"params": 100, "macs": 1000, "input_size": [3, 32, 32]},
        "provenance": {"device": "test CPU", "wall_seconds": 60.0, "data": {"source": "jpeg"}, "seed": spec.seed},
    }


def comparison(spec_fn, accs: dict[tuple[str, str, int], float] | None = None,
               extra: dict[tuple[str, str, int], dict] | None = None) -> Runs:
    """``Runs`` of the cpu profile with results for the (model, variant, seed) keys in ``accs``; ``extra``
    holds ``fake_result`` options per key."""
    specs = spec_fn("cpu")
    accs, extra = accs or {}, extra or {}
    results = []
    for spec in specs:
        key = (spec.model, variant_of(spec), spec.seed)
        kwargs = extra.get(key, {})
        results.append(fake_result(spec, accs[key], **kwargs) if key in accs else None)
    return Runs("cpu", specs, results)


def pruning_curve(unpruned: float, corner_drop: float, skeleton_drop: float, regions=("corners", "skeleton", "global"),
                  extra: dict[str, float] | None = None) -> list[dict]:
    """Linear synthetic curves: accuracy = unpruned - drop * sparsity, the same for every repeat but one."""
    drops = {"corners": corner_drop, "skeleton": skeleton_drop, "global": (corner_drop + skeleton_drop) / 2,
             **(extra or {})}
    rows = []
    for region in regions:
        limit = study.region_fraction(region)
        for sparsity in runs.PRUNING_SPARSITIES:
            if sparsity > limit + 1e-9:
                continue
            for repeat in range(5):
                noise = 0.002 * (repeat - 2)
                accuracy = max(0.1, unpruned - drops[region] * sparsity) + (noise if sparsity else 0)
                rows.append({"region": region, "sparsity": sparsity, "repeat": repeat, "seed": repeat,
                             "pruned": sparsity, "accuracy": accuracy})
    return rows


def paper_like_runs():
    """Synthetic cpu runs in which every published effect holds clearly."""
    table_accs = {("cifar_quick", "base", 0): 0.80, ("cifar_quick", "base", 1): 0.802,
                  ("cifar_quick", "acnet", 0): 0.815, ("cifar_quick", "acnet", 1): 0.813,
                  ("resnet20", "base", 0): 0.85, ("resnet20", "acnet", 0): 0.86}
    ablation_accs = {("cifar_quick", v, 0): a for v, a in
                     {"base": 0.80, "hor": 0.807, "ver": 0.809, "sum-bn": 0.805, "acnet": 0.815}.items()}
    rotations = {
        ("cifar_quick", "base", 0): {"original": 0.800, "rot90_ccw": 0.30, "rot180": 0.350, "flip_ud": 0.352},
        ("cifar_quick", "hor", 0): {"original": 0.807, "rot90_ccw": 0.30, "rot180": 0.380, "flip_ud": 0.378},
        ("cifar_quick", "ver", 0): {"original": 0.809, "rot90_ccw": 0.30, "rot180": 0.360, "flip_ud": 0.361},
        ("cifar_quick", "sum-bn", 0): {"original": 0.805, "rot90_ccw": 0.30, "rot180": 0.360, "flip_ud": 0.360},
        ("cifar_quick", "acnet", 0): {"original": 0.815, "rot90_ccw": 0.30, "rot180": 0.370, "flip_ud": 0.370},
        ("cifar_quick", "base", 1): {"original": 0.802, "rot90_ccw": 0.30, "rot180": 0.352, "flip_ud": 0.352},
        ("cifar_quick", "acnet", 1): {"original": 0.813, "rot90_ccw": 0.30, "rot180": 0.371, "flip_ud": 0.371},
    }
    extra = {key: {"rotation": value} for key, value in rotations.items()}
    base_matrix = [[0.5, 0.7, 0.5], [0.7, 1.0, 0.7], [0.5, 0.7, 0.5]]
    acnet_matrix = [[0.2, 0.9, 0.2], [0.9, 1.0, 0.9], [0.2, 0.9, 0.2]]         # skeleton +0.16 over base
    border_matrix = [[0.5, 0.6, 0.65], [0.6, 0.9, 0.65], [0.65, 0.65, 1.0]]    # border +0.14 over base
    skeleton_extra = {
        ("resnet20", "base", 0): {"importance": base_matrix, "pruning": pruning_curve(0.85, 0.3, 2.0)},
        ("resnet20", "acnet", 0): {"importance": acnet_matrix, "pruning": pruning_curve(0.86, 0.4, 5.0)},
        ("resnet20", "border", 0): {"importance": border_matrix, "pruning": pruning_curve(
            0.855, 0.2, 3.0, regions=("corners", "skeleton", "global", "border", "top_left"),
            extra={"border": 3.0, "top_left": 2.5})},
    }
    skeleton_accs = {("resnet20", "base", 0): 0.85, ("resnet20", "acnet", 0): 0.86, ("resnet20", "border", 0): 0.852}
    return (comparison(runs.table_specs, table_accs, {**extra, **skeleton_extra}),
            comparison(runs.ablation_specs, ablation_accs, extra),
            comparison(runs.skeleton_specs, skeleton_accs, skeleton_extra))
