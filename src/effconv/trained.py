"""Trained weights to start from: a stored run trained again from its spec, its weights kept beside its result,
and loaded with one call.

``keep_weights(chapter, name, seed)`` retrains one planned run (training only: the spec's after-training
analyses never change the weights), compares the accuracy it reaches with the stored result's, and writes

- ``results/<chapter>/weights/<name>-<key>.pt``: the model's state dict (``torch.load(..., weights_only=True)``
  reads it; no pickled code), and
- ``results/<chapter>/weights/<name>-<key>.json``: the spec, the provenance of the retrain, the stored and the
  retrained accuracy, and the weights file's SHA-256,

where ``<key>`` is the stored result's key, so a weights file always names the result it re-makes (a smoke
run's weights stay beside its result, in the cache's smoke store).
``load_trained(chapter, name, seed)`` builds the model from that spec and loads the weights, in eval mode.

Whether a retrain re-makes the stored number exactly is the first end-to-end check that a committed result
can be reproduced: a seeded CPU run repeats itself at the same thread count on the same kind of CPU, but
another CPU's kernels (AVX2 against AVX-512) sum in another order, and the runs drift apart.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from effconv.errors import EffconvError
from effconv.experiments.runner import retrain
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore
from effconv.io import atomic_write_bytes, atomic_write_json
from effconv.models import create_model
from effconv.ops.reparam import reparameterize_model
from effconv.paths import cache_dir, results_dir
from effconv.provenance import git_state, machine

__all__ = ["keep_weights", "load_trained", "planned_spec", "trained_info", "trained_weights"]

WEIGHTS = "weights"  # the folder under results/<chapter>/


def _folder(chapter: str, root: Path | None = None) -> Path:
    return (root or results_dir()) / chapter / WEIGHTS


def planned_spec(chapter: str, name: str, seed: int = 0, profile: str = "cpu") -> ExperimentSpec:
    """The run ``chapter`` plans under ``name`` and ``seed`` for ``profile``; a name or seed it does not plan is
    refused with the ones it does."""
    from effconv.studies import get_chapter  # the chapter's plan: the top layer's business

    specs = get_chapter(chapter).experiments(profile)
    named = [s for s in specs if s.name == name]
    if not named:
        names = ", ".join(sorted({s.name for s in specs}))
        raise EffconvError(f"chapter {chapter!r} plans no run named {name!r} in profile {profile!r}; it plans: {names}.")
    for spec in named:
        if spec.seed == seed:
            return spec
    seeds = ", ".join(str(s.seed) for s in named)
    raise EffconvError(f"{chapter}/{name} is planned for seeds {seeds} in profile {profile!r}, not seed {seed}.")


def keep_weights(chapter: str, name: str, seed: int = 0, *, profile: str = "cpu", accelerator: str = "cpu",
                 root: Path | None = None, require_clean: bool = True, log=print) -> dict[str, Any]:
    """Retrain the stored run ``chapter/name`` (``seed``, ``profile``), save its weights and a record of how its
    accuracy compares with the stored result's; return that record. An interrupted retrain resumes from its
    checkpoints in the cache. ``require_clean``: refuse to run from uncommitted code (the weights are evidence)."""
    spec = planned_spec(chapter, name, seed, profile)
    store = ResultStore(root) if root else ResultStore.for_profile(profile)
    stored = store.load(spec)
    if stored is None:
        raise EffconvError(f"{chapter}/{name} seed {seed} has no stored result to re-make ({store.path(spec)}); "
                           f"run `effconv run {chapter} --profile {profile} --only {name}` first.")
    code = git_state()
    if require_clean and code.get("dirty_src"):
        raise EffconvError("src/ has uncommitted changes: weights kept as evidence must come from a clean commit; "
                           "commit (or stash) them and rerun.")
    workdir = cache_dir() / "retrain" / chapter / spec.filename.removesuffix(".json")
    log(f"retraining {chapter}/{name} seed {seed} ({profile}) in {workdir}")
    result = retrain(spec, workdir=workdir, accelerator=accelerator, analyses=False)
    checkpoint = torch.load(workdir / "last.ckpt", map_location="cpu", weights_only=False)
    state = {key.removeprefix("model."): tensor.contiguous() for key, tensor in checkpoint["state_dict"].items()
             if key.startswith("model.")}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    stem = spec.filename.removesuffix(".json")
    folder = _folder(chapter, store.root)  # beside the results it re-makes (a smoke run's stay in the cache)
    stored_acc = float(stored["metrics"]["final"]["test_acc"])
    retrained_acc = float(result["metrics"]["final"]["test_acc"])
    record = {
        "chapter": chapter, "name": name, "seed": seed, "profile": profile, "key": spec.key,
        "weights": f"{stem}.pt", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "spec": spec.to_dict(),
        "stored": {"test_acc": stored_acc, "provenance": stored["provenance"]},
        "retrained": {"test_acc": retrained_acc, "curve": result["curve"], "provenance": result["provenance"]},
        "exact": retrained_acc == stored_acc,
        "difference_pp": round((retrained_acc - stored_acc) * 100, 4),
    }
    atomic_write_bytes(folder / f"{stem}.pt", data)
    atomic_write_json(folder / f"{stem}.json", record)
    match = "exactly" if record["exact"] else f"{record['difference_pp']:+.2f} pp"
    log(f"{chapter}/{name} seed {seed}: stored {stored_acc:.2%}, retrained {retrained_acc:.2%} ({match}); "
        f"weights in {folder / record['weights']}")
    return record


def _records(root: Path | None = None) -> list[dict[str, Any]]:
    records = []
    for path in sorted((root or results_dir()).glob(f"*/{WEIGHTS}/*.json")):
        try:
            records.append(json.loads(path.read_text()) | {"_path": str(path)})
        except (OSError, ValueError) as err:
            raise EffconvError(f"the weights record {path} is unreadable ({err}); restore it with "
                               f"`git checkout -- {path}`.") from None
    return records


def trained_weights(root: Path | None = None) -> pd.DataFrame:
    """The trained weights available: chapter, name, seed, result key, the stored and the retrained accuracy (%),
    whether the retrain re-made the stored number exactly, and the machines both trained on."""
    rows = [{"chapter": r["chapter"], "name": r["name"], "seed": r["seed"], "key": r["key"],
             "stored_acc": r["stored"]["test_acc"] * 100, "retrained_acc": r["retrained"]["test_acc"] * 100,
             "difference_pp": r["difference_pp"], "exact": r["exact"], "megabytes": r["bytes"] / 1e6,
             "stored_on": machine(r["stored"]["provenance"]), "retrained_on": machine(r["retrained"]["provenance"])}
            for r in _records(root)]
    columns = ["chapter", "name", "seed", "key", "stored_acc", "retrained_acc", "difference_pp", "exact", "megabytes",
               "stored_on", "retrained_on"]
    return pd.DataFrame(rows, columns=columns)


def trained_info(chapter: str, name: str, seed: int = 0, root: Path | None = None) -> dict[str, Any]:
    """The record kept with the weights of ``chapter/name`` at ``seed`` (spec, provenance, accuracies)."""
    records = _records(root)
    for record in records:
        if (record["chapter"], record["name"], record["seed"]) == (chapter, name, seed):
            return record
    have = ", ".join(f"{r['chapter']}/{r['name']} seed {r['seed']}" for r in records) or "none"
    raise EffconvError(f"no trained weights for {chapter}/{name} seed {seed} in {_folder(chapter, root)}; "
                       f"available: {have}. Make them with `effconv weights {chapter} {name} --seed {seed}`.")


def load_trained(chapter: str, name: str, seed: int = 0, *, fused: bool = False, root: Path | None = None) -> nn.Module:
    """The trained model of the stored run ``chapter/name`` at ``seed``, in eval mode on the CPU; with
    ``fused=True``, re-parameterised (``reparameterize_model``) into plain convolutions.

    >>> model = load_trained("acnet", "cifar-quick-acnet", seed=0, fused=True)   # doctest: +SKIP
    """
    record = trained_info(chapter, name, seed, root)
    path = Path(record["_path"]).with_name(record["weights"])
    try:
        data = path.read_bytes()
    except OSError as err:
        raise EffconvError(f"the weights file {path} is missing ({err.strerror}); restore it with "
                           f"`git checkout -- {path}` or remake it with `effconv weights {chapter} {name} --seed {seed}`.") from None
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise EffconvError(f"the weights file {path} does not match its record's SHA-256 (corrupt or replaced); "
                           f"restore it with `git checkout -- {path}`.")
    spec = ExperimentSpec.from_dict(record["spec"])
    model = create_model(spec.model, **dict(spec.model_kwargs))
    model.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    model.eval()
    return reparameterize_model(model) if fused else model
