"""Everything in ``results/``, as tables for the provenance page."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from effconv.experiments.store import read_result
from effconv.errors import EffconvError
from effconv.paths import results_dir


def _stored(root: Path | None):
    """(path, result or the error reading it) for every training result under ``root`` (not benchmarks)."""
    for path in sorted((root or results_dir()).glob("*/*.json")):
        if path.parent.name == "bench":
            continue
        try:
            yield path, read_result(path)
        except EffconvError as err:
            yield path, err


def results_inventory(root: Path | None = None) -> pd.DataFrame:
    """One row per stored training result: what it is, how good, and where/how it was produced."""
    rows = []
    for path, result in _stored(root):
        if isinstance(result, EffconvError):
            rows.append({"chapter": path.parent.name, "file": path.name, "problem": str(result)})
            continue
        spec, prov = result["spec"], result["provenance"]
        rows.append({
            "chapter": spec["chapter"], "name": spec["name"], "profile": spec["profile"], "seed": spec["seed"],
            "model": spec["model"], "test_acc": result["metrics"]["final"].get("test_acc"),
            "epochs": len(result.get("curve", [])), "minutes": round(prov.get("wall_seconds", 0) / 60, 1),
            "device": prov.get("device"), "data": prov.get("data", {}).get("source"),
            "torch": prov.get("versions", {}).get("torch"), "commit": (prov.get("git", {}).get("commit") or "")[:10],
            "finished": prov.get("finished"), "file": path.name,
        })
    return pd.DataFrame(rows)


def bench_inventory(root: Path | None = None) -> pd.DataFrame:
    """The benchmark results in ``results/bench``."""
    rows = []
    for path in sorted(((root or results_dir()) / "bench").glob("*.json")):
        payload = json.loads(path.read_text())
        rows.append({"file": path.name, "benchmark": payload.get("benchmark"), "model": payload.get("model"),
                     **{f"{k} img/s": v for k, v in payload.get("images_per_second", {}).items()},
                     "ratio": payload.get("ratio"), "device": payload.get("provenance", {}).get("device"),
                     "finished": payload.get("provenance", {}).get("finished")})
    return pd.DataFrame(rows)


def epoch_times(root: Path | None = None) -> pd.DataFrame:
    """Seconds per training epoch of every stored run, grouped by model configuration and device.

    The median epoch of each run is used (the first epoch carries one-off warm-up); the table then
    gives, per (profile, model, options, device), the median over runs and the total time spent.
    """
    rows = []
    for _, result in _stored(root):
        if isinstance(result, EffconvError):
            continue
        spec, prov = result["spec"], result["provenance"]
        seconds = sorted(r["seconds"] for r in result.get("curve", []) if "seconds" in r)
        if not seconds:
            continue
        kwargs = spec.get("model_kwargs", {})
        options = ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items()) if k not in ("conv_kwargs",))
        rows.append({"profile": spec["profile"], "model": spec["model"], "options": options,
                     "device": prov.get("device"), "seconds_per_epoch": seconds[len(seconds) // 2],
                     "epochs": len(seconds), "minutes": prov.get("wall_seconds", 0) / 60})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["profile", "model", "options", "device", "runs", "seconds_per_epoch", "minutes"])
    return (table.groupby(["profile", "model", "options", "device"])
            .agg(runs=("epochs", "size"), seconds_per_epoch=("seconds_per_epoch", "median"),
                 minutes=("minutes", "sum"))
            .reset_index().round({"seconds_per_epoch": 1, "minutes": 1}))


# The engine's accuracy sanity targets (issue #3): a plain model under a profile must reach this test
# accuracy. The ResNet-56 paper baseline is 94.31% on lossless CIFAR-10; ours trains on JPEG images.
ACCURACY_TARGETS = (
    {"model": "resnet20", "profile": "cpu", "target": 0.88, "why": "the cpu profile trains a real model"},
    {"model": "resnet56", "profile": "full", "target": 0.935, "why": "paper 94.31 (He et al. 2016), JPEG data"},
)


def accuracy_checks(root: Path | None = None) -> pd.DataFrame:
    """Each accuracy target against every stored plain run of that model and profile (``effconv train``).

    Plain means full width and standard convs: a narrowed or block-swapped model does not count. A target
    with no such run is 'not run'; every stored run is listed, so a longer schedule that meets the target
    shows beside the default one that does not.
    """
    engine_runs = [(path, result) for path, result in _stored(root) if not isinstance(result, EffconvError)
                   and result["spec"]["chapter"] == "engine"
                   and result["spec"].get("model_kwargs") in (None, {}, {"width": 1.0})]  # read once, plain only
    rows = []
    for goal in ACCURACY_TARGETS:
        found = False
        for path, result in engine_runs:
            spec = result["spec"]
            if spec["model"] != goal["model"] or spec["profile"] != goal["profile"]:
                continue
            found = True
            acc = result["metrics"]["final"].get("test_acc")
            rows.append({**goal, "epochs": spec["recipe"]["epochs"], "seed": spec["seed"], "test_acc": acc,
                         "verdict": "met" if acc is not None and acc >= goal["target"] else "missed",
                         "minutes": round(result["provenance"].get("wall_seconds", 0) / 60, 1),
                         "device": result["provenance"].get("device"), "file": path.name})
        if not found:
            rows.append({**goal, "verdict": "not run"})
    columns = ["model", "profile", "target", "epochs", "seed", "test_acc", "verdict", "minutes", "device", "why",
               "file"]
    return pd.DataFrame(rows).reindex(columns=columns).astype({"epochs": "Int64", "seed": "Int64"})
