"""Run experiments through the store: a hit returns the stored result, a miss trains and saves."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from effconv.analysis.flops import count_flops
from effconv.checks import check_accelerator, check_count
from effconv.data.cifar import load_cifar10, subset
from effconv.errors import EffconvError
from effconv.experiments.analyses import AnalysisContext, get_analysis
from effconv.provenance import git_state, now, provenance
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore
from effconv.io import atomic_write_json, check_writable
from effconv.models import create_model
from effconv.paths import cache_dir

PROFILE_RANK = {"smoke": 0, "cpu": 1, "full": 2}


def _is_ddp_child() -> bool:
    """Ranks > 0 must not write results: those Lightning's DDP launcher starts (``LOCAL_RANK``,
    ``NODE_RANK``) and, in a multi-task Slurm job, the tasks ``srun`` starts (``SLURM_PROCID``)."""
    return any(int(os.environ.get(name, "0") or 0) > 0 for name in ("LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


def run_experiment(spec: ExperimentSpec, *, store: ResultStore | None = None, retrain: bool = False,
                   accelerator: str = "auto", devices: int = 1, num_nodes: int = 1, progress: bool | None = None,
                   checkpoints: bool = True) -> dict[str, Any]:
    """Return the result of ``spec``: from the store if present, else by training now and saving.

    ``checkpoints=False``: no per-epoch checkpoints (a job whose cache is wiped when it ends could never
    resume from them). ``num_nodes`` > 1: one run across nodes (see ``effconv.train.trainer.fit``).
    """
    check_accelerator(accelerator)  # a typo is refused even when the result is already stored
    check_count("devices", devices)
    check_count("num_nodes", num_nodes)
    store = store or ResultStore.for_profile(spec.profile)
    if not retrain and (hit := store.load(spec)) is not None:
        return hit
    options = {"devices": devices, "num_nodes": num_nodes, "progress": progress, "checkpoints": checkpoints}
    if _is_ddp_child():
        return _train(spec, accelerator, **options)
    with store.lock(spec):
        if not retrain and (hit := store.load(spec)) is not None:  # another process finished it meanwhile
            return hit
        # an unwritable or missing results / cache folder is found now, not after training
        store.check_writable(spec)
        check_writable(_workdir(spec))
        result = _train(spec, accelerator, **options)
        try:
            store.save(spec, result)
        except EffconvError as err:
            raise EffconvError(f"{str(err).rstrip('.')}; {_keep_unsaved(spec, store, result)}") from None
        return store.load(spec) or result


def _keep_unsaved(spec: ExperimentSpec, store: ResultStore, result: dict[str, Any]) -> str:
    """A trained result that could not be stored (disk full, folder turned read-only) is kept in the cache
    when possible, so hours of training are not lost; returns what to tell the user."""
    spare = cache_dir() / "unsaved" / spec.chapter / spec.filename
    try:
        atomic_write_json(spare, store.payload(spec, result))
    except (EffconvError, OSError):
        return "the trained result could not be kept anywhere; free space and rerun."
    return f"the trained result was kept in {spare}: copy it to {store.path(spec)} once there is room."


def retrain(spec: ExperimentSpec, *, workdir, accelerator: str = "auto", analyses: bool = True,
            progress: bool | None = None) -> dict[str, Any]:
    """Train ``spec`` again outside the store (nothing is saved but the checkpoints in ``workdir``, where an
    interrupted retrain resumes): to check that a stored result can be re-made, or to keep its weights.
    ``analyses=False`` skips the spec's after-training analyses, which never change the weights."""
    check_accelerator(accelerator)
    check_writable(workdir)
    return _train(spec, accelerator, devices=1, num_nodes=1, progress=progress, checkpoints=True,
                  workdir=Path(workdir), analyses=analyses)


def _train(spec: ExperimentSpec, accelerator: str, *, devices: int, num_nodes: int, progress: bool | None,
           checkpoints: bool, workdir: Path | None = None, analyses: bool = True) -> dict[str, Any]:
    from effconv.train.trainer import fit, resolve_accelerator

    started = now()
    code = git_state()  # the commit whose code this process runs
    clock = time.perf_counter()
    data = load_cifar10(spec.data)
    data = subset(data, spec.recipe.train_subset, spec.recipe.test_subset, seed=spec.seed)
    torch.manual_seed(spec.seed)  # model initialisation is part of the seeded run
    model = create_model(spec.model, **dict(spec.model_kwargs))
    counted = count_flops(model, (3, 32, 32))
    accelerator = resolve_accelerator(accelerator)
    device = torch.device("cuda" if accelerator == "gpu" else "cpu")
    context = AnalysisContext(data=data, device=device, spec=spec)
    hooks = {name: _bind(get_analysis(name, spec.chapter), context) for name in spec.epoch_analyses}
    workdir = workdir or _workdir(spec)
    outcome = fit(model, spec.recipe, data, seed=spec.seed, workdir=workdir, accelerator=accelerator,
                  devices=devices, num_nodes=num_nodes, progress=progress, epoch_hooks=hooks,
                  checkpoints=checkpoints)
    trained = outcome.model.to(device)
    measured = {}
    for name, kwargs in (spec.analyses.items() if analyses else ()):
        measured[name] = get_analysis(name, spec.chapter)(trained, context, **dict(kwargs))
    return {
        "metrics": {"final": outcome.final, "best": outcome.best},
        "curve": outcome.history,
        "analyses": measured,
        "model": {"params": counted.params, "macs": counted.macs, "input_size": [3, 32, 32]},
        "provenance": {
            **provenance(device, git=code), "seed": spec.seed, "profile": spec.profile,
            "data": {"source": data.source, "mean": list(data.mean), "std": list(data.std), "subset": data.subset},
            "accelerator": outcome.accelerator, "precision": outcome.precision, "devices": outcome.devices,
            **({"num_nodes": num_nodes} if num_nodes > 1 else {}),
            # a resumed run counts the training time of its earlier sessions too
            "started": started, "finished": now(),
            "wall_seconds": round(time.perf_counter() - clock - outcome.session_seconds + outcome.wall_seconds, 2),
            "train_seconds": round(outcome.wall_seconds, 2), "resumed_from_epoch": outcome.resumed_from_epoch,
        },
    }


def _workdir(spec: ExperimentSpec):
    """Where a run keeps its checkpoints and logs (in the cache, never committed)."""
    return cache_dir() / "runs" / spec.chapter / spec.filename.removesuffix(".json")


def _bind(fn, context: AnalysisContext):
    return lambda model: fn(model, context)


def lookup(specs: Iterable[ExperimentSpec], store: ResultStore | None = None) -> list[dict[str, Any] | None]:
    """Stored results for ``specs`` (None where missing), without training anything."""
    return [(store or ResultStore.for_profile(s.profile)).load(s) for s in specs]


def run_all(specs: Iterable[ExperimentSpec], *, run_missing: bool, log=print, **kwargs: Any) -> list[dict[str, Any] | None]:
    """Results for every spec; trains the missing ones only when ``run_missing`` (and then prints a short
    summary). The tables a chapter shows mark what is missing as "not run"."""
    specs = list(specs)
    results = lookup(specs)
    missing = [i for i, r in enumerate(results) if r is None]
    if run_missing and missing:
        for count, index in enumerate(missing, 1):
            spec = specs[index]
            log(f"[{count}/{len(missing)}] training {spec.chapter}/{spec.name} ({spec.profile}, seed {spec.seed})")
            results[index] = run_experiment(spec, **kwargs)
            final = results[index]["metrics"]["final"].get("test_acc")
            log(f"    -> test acc {final:.4f} in {results[index]['provenance']['wall_seconds']:.0f} s")
    if run_missing:  # a summary of the training it did; a page that only reads results prints nothing
        done = sum(r is not None for r in results)
        log(f"{done}/{len(specs)} experiments available")
    return results


def choose_profile(specs_by_profile: Mapping[str, list[ExperimentSpec]], requested: str = "best") -> str:
    """The profile a comparison shows: the requested one, or for ``best`` the highest committed profile
    that has all its results, else the highest with any (the rest shown as not run), else (nothing
    stored) the profile this machine would train: ``full`` with a GPU, ``cpu`` without."""
    if requested != "best":
        if requested not in specs_by_profile:
            raise EffconvError(f"profile {requested!r} is not defined here; use one of {sorted(specs_by_profile)} or best.")
        return requested
    ranked = sorted((p for p in specs_by_profile if p != "smoke"), key=PROFILE_RANK.__getitem__, reverse=True)
    present = {p: [r is not None for r in lookup(specs_by_profile[p])] for p in ranked}
    for profile in ranked:
        if present[profile] and all(present[profile]):
            return profile
    for profile in ranked:
        if any(present[profile]):
            return profile
    if "full" in ranked and torch.cuda.is_available():
        return "full"
    return "cpu" if "cpu" in ranked else (ranked[-1] if ranked else "smoke")
