"""Everything in ``results/``, as tables for the provenance page.

Runs kept in a chapter's ``history/`` (no current plan uses them) are listed and labelled as history, and
their times count where only timing matters (epoch times, estimates); they are never evidence (accuracy
checks, precision pairs).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from effconv.data.cifar import SHIPPED_QUALITY, jpeg_scale, reencode_quality
from effconv.experiments.store import is_history, read_result, stored_files
from effconv.errors import EffconvError
from effconv.paths import results_dir
from effconv.provenance import machine


def _stored(root: Path | None, *, history: bool = False):
    """(path, result or the error reading it) for every training result under ``root`` (not benchmarks), and
    with ``history`` those kept in the chapters' ``history/`` folders too."""
    for path in stored_files(root or results_dir(), history=history):
        try:
            yield path, read_result(path)
        except EffconvError as err:
            yield path, err


def results_inventory(root: Path | None = None) -> pd.DataFrame:
    """One row per stored training result: what it is, how good, and where/how it was produced; ``kept as``
    says "history" for a run no current plan uses (``results/<chapter>/history/``), "current" otherwise."""
    rows = []
    for path, result in _stored(root, history=True):
        kept = "history" if is_history(path) else "current"
        if isinstance(result, EffconvError):
            chapter = path.parent.parent.name if kept == "history" else path.parent.name
            rows.append({"chapter": chapter, "kept as": kept, "file": path.name, "problem": str(result)})
            continue
        spec, prov = result["spec"], result["provenance"]
        rows.append({
            "chapter": spec["chapter"], "kept as": kept, "name": spec["name"], "profile": spec["profile"], "seed": spec["seed"],
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
    """Seconds per training epoch of every stored run, grouped by model configuration, device and precision.

    The median epoch of each run is used (the first epoch carries one-off warm-up); the table then
    gives, per (profile, model, options, device, precision), the median over runs and the total time
    spent. A CPU's ISA level joins its device name: the same EPYC core trains about twice as fast with
    AVX-512 as with AVX2 (runs from before the level was recorded say so).
    """
    rows = []
    for _, result in _stored(root, history=True):
        if isinstance(result, EffconvError):
            continue
        spec, prov = result["spec"], result["provenance"]
        seconds = sorted(r["seconds"] for r in result.get("curve", []) if "seconds" in r)
        if not seconds:
            continue
        options = ", ".join(f"{k}={json.dumps(v, separators=(',', ':')) if isinstance(v, dict) else v}"
                            for k, v in sorted(spec.get("model_kwargs", {}).items()))
        rows.append({"profile": spec["profile"], "model": spec["model"], "options": options, "device": machine(prov),
                     "precision": prov.get("precision") or "not recorded",
                     "seconds_per_epoch": seconds[len(seconds) // 2], "epochs": len(seconds),
                     "minutes": prov.get("wall_seconds", 0) / 60})
    columns = ["profile", "model", "options", "device", "precision"]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=[*columns, "runs", "seconds_per_epoch", "minutes"])
    return (table.groupby(columns)
            .agg(runs=("epochs", "size"), seconds_per_epoch=("seconds_per_epoch", "median"),
                 minutes=("minutes", "sum"))
            .reset_index().round({"seconds_per_epoch": 1, "minutes": 1}))


# The engine's accuracy sanity targets (issue #3): a plain model under a profile must reach this test
# accuracy. The ResNet-56 paper baseline is 94.31% on lossless CIFAR-10; ours trains on JPEG images.
ACCURACY_TARGETS = (
    {"model": "resnet20", "profile": "cpu", "target": 0.88, "why": "the cpu profile trains a real model"},
    {"model": "resnet56", "profile": "full", "target": 0.935, "why": "paper 94.31 (He et al. 2016), JPEG data"},
)


def _recipe_changes(spec: dict) -> str:
    """The recipe fields of a stored run that differ from its profile's base recipe (epochs aside)."""
    from effconv.train.recipes import recipe_for

    base = recipe_for(spec["profile"]).to_dict()
    changed = {k: v for k, v in spec["recipe"].items() if k != "epochs" and base.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))


def _plain_engine_runs(root: Path | None) -> list[tuple[Path, dict]]:
    """Stored ``effconv train`` runs of full-width models with standard convs, read once."""
    return [(path, result) for path, result in _stored(root) if not isinstance(result, EffconvError)
            and result["spec"]["chapter"] == "engine"
            and result["spec"].get("model_kwargs") in (None, {}, {"width": 1.0})]


def accuracy_checks(root: Path | None = None) -> pd.DataFrame:
    """Each accuracy target against every stored plain run of that model and profile (``effconv train``).

    Plain means full width, standard convs and the data as shipped (``jpeg`` or ``raw``): a narrowed,
    block-swapped or deliberately degraded (``jpeg-q<N>``) run does not count. A target with no such run
    is 'not run'; every stored run is listed with its schedule and recipe changes, so an attempt that
    meets the target shows beside the default one that does not.
    """
    engine_runs = [(path, result) for path, result in _plain_engine_runs(root)
                   if result["spec"].get("data", "jpeg") in ("jpeg", "raw")]
    rows = []
    for goal in ACCURACY_TARGETS:
        found = False
        for path, result in engine_runs:
            spec = result["spec"]
            if spec["model"] != goal["model"] or spec["profile"] != goal["profile"]:
                continue
            found = True
            acc = result["metrics"]["final"].get("test_acc")
            rows.append({**goal, "epochs": spec["recipe"]["epochs"], "recipe_changes": _recipe_changes(spec),
                         "data": spec.get("data", "jpeg"), "seed": spec["seed"], "test_acc": acc,
                         "verdict": "met" if acc is not None and acc >= goal["target"] else "missed",
                         "minutes": round(result["provenance"].get("wall_seconds", 0) / 60, 1),
                         "device": result["provenance"].get("device"), "file": path.name})
        if not found:
            rows.append({**goal, "verdict": "not run"})
    columns = ["model", "profile", "target", "epochs", "recipe_changes", "data", "seed", "test_acc", "verdict",
               "minutes", "device", "why", "file"]
    return pd.DataFrame(rows).reindex(columns=columns).astype({"epochs": "Int64", "seed": "Int64"})


def jpeg_cost(root: Path | None = None) -> pd.DataFrame:
    """What JPEG loss costs: plain runs on the copy as shipped against identical runs on a re-encoded copy.

    Runs are paired when model, profile, recipe and seed are equal and only the data differs (a
    re-encoding at quality 75 or above is skipped: it cannot be coarser than the copy it starts from). Each
    pair gives the accuracy lost per step of quantisation scale; drawing that line back to scale 0
    estimates the accuracy on lossless images. It is a rough estimate: re-encoding a JPEG stacks two
    losses, and accuracy need not be linear in the scale.
    """
    runs = {}
    for _, result in _plain_engine_runs(root):
        spec = result["spec"]
        key = (spec["model"], spec["profile"], json.dumps(spec["recipe"], sort_keys=True), spec["seed"])
        runs.setdefault(key, {})[spec.get("data", "jpeg")] = result["metrics"]["final"].get("test_acc")
    rows = []
    for (model, profile, recipe_json, seed), by_data in sorted(runs.items()):
        epochs = json.loads(recipe_json)["epochs"]
        shipped = by_data.get("jpeg")
        for data, acc in sorted(by_data.items()):
            quality = reencode_quality(data)
            # only a coarser re-encoding is a step along the scale; a finer one still carries the q75 loss
            if shipped is None or quality is None or acc is None or quality >= SHIPPED_QUALITY:
                continue
            slope = (acc - shipped) / (jpeg_scale(quality) - jpeg_scale(SHIPPED_QUALITY))
            rows.append({"model": model, "profile": profile, "epochs": epochs, "seed": seed,
                         "acc_q75": shipped, "data": data, "scale_pct": jpeg_scale(quality),
                         "acc_reencoded": acc, "delta": acc - shipped,
                         "estimated_lossless": shipped - slope * jpeg_scale(SHIPPED_QUALITY)})
    columns = ["model", "profile", "epochs", "seed", "acc_q75", "data", "scale_pct", "acc_reencoded", "delta",
               "estimated_lossless"]
    return pd.DataFrame(rows).reindex(columns=columns)


def _options(model_kwargs: dict) -> dict:
    """A model's options as every spelling of the same model gives them: width 1.0 is every builder's default
    (a run that spells it out builds the same model), and floats are read to 9 digits (a spec's stored form
    rounds 1/3 to 0.333333333333, a benchmark's does not)."""
    kwargs = json.loads(json.dumps(model_kwargs), parse_float=lambda text: float(f"{float(text):.9g}"))
    return {k: v for k, v in sorted(kwargs.items()) if (k, v) != ("width", 1.0)}


def _timing_keys(spec: dict) -> tuple[tuple, tuple]:
    """(exact, near) keys under which a run's epoch time estimates another's: the same profile, model,
    options and batch size; or the same but for explicit stage widths (a FLOP-matched variant)."""
    kwargs = _options(spec.get("model_kwargs", {}))
    near = {k: v for k, v in kwargs.items() if k != "channels"}
    batch = spec["recipe"].get("batch_size")
    return ((spec["profile"], spec["model"], json.dumps(kwargs, sort_keys=True), batch),
            (spec["profile"], spec["model"], json.dumps(near, sort_keys=True), batch))


def _benchmarked_rates(root: Path | None) -> list[dict[tuple, float]]:
    """fp32 training images/s of each (model, options) configuration in each CPU precision benchmark, newest
    file first, options spelled as in ``_timing_keys``. Speeds are compared within one file only: each
    file was timed on one machine."""
    files = []
    for path in ((root or results_dir()) / "bench").glob("precision-*.json"):
        payload = json.loads(path.read_text())
        rates = {}
        for row in payload.get("rows", []):
            options = json.dumps(_options(json.loads(row["options"])), sort_keys=True)
            rates[(row["model"], options)] = row["images_per_second"]["fp32"]
        files.append((payload.get("provenance", {}).get("finished") or "", rates))
    return [rates for _, rates in sorted(files, key=lambda item: item[0], reverse=True)]


def _scaled_epoch(key: tuple, exact: dict[tuple, list[float]], benchmarks: list[dict[tuple, float]]) -> float | None:
    """Seconds per epoch of configuration ``key`` (no stored run) from a stored configuration of the same
    profile, model and batch size, scaled by their speed ratio in the newest benchmark that timed both;
    with several, the median of their estimates (a benchmark of a few steps is noisy)."""
    for rates in benchmarks:
        rate = rates.get(key[1:3])
        timed = [k for k in exact if (k[0], k[1], k[3]) == (key[0], key[1], key[3]) and rates.get(k[1:3])]
        if rate and timed:
            return float(pd.Series([pd.Series(exact[k]).median() * rates[k[1:3]] / rate for k in timed]).median())
    return None


def _after_training_key(spec: dict) -> tuple:
    """Runs sharing it spend about as long after training: the analyses run on the same model."""
    return spec["profile"], spec["model"], json.dumps(sorted(spec.get("analyses", {})))


def analysis_key(model: str, analyses) -> str:
    """The key under which runs spend a comparable time after training: the model and the analyses' names."""
    return json.dumps([model, sorted(analyses)])


def after_training_epochs(root: Path | None = None) -> dict[str, float]:
    """For each (model, analyses) pair stored, the time a run spent after training (its analyses: test-set
    evaluations, SVDs, pruning sweeps) in units of its own median training epoch, the median over runs.

    A ratio, not seconds, so that it carries over to another device and width: evaluating the test set
    costs about the same fraction of a training epoch wherever both run (an assumption, stated where it is
    used). Runs without a training time (none here) are skipped."""
    ratios: dict[str, list[float]] = {}
    for _, result in _stored(root, history=True):
        if isinstance(result, EffconvError):
            continue
        prov, spec = result.get("provenance", {}), result["spec"]
        seconds = sorted(r["seconds"] for r in result.get("curve", []) if r.get("seconds"))
        if not seconds or not prov.get("wall_seconds") or not prov.get("train_seconds"):
            continue
        after = max(prov["wall_seconds"] - prov["train_seconds"], 0.0)
        ratios.setdefault(analysis_key(spec["model"], spec.get("analyses", {})), []).append(
            after / seconds[len(seconds) // 2])
    return {key: float(pd.Series(values).median()) for key, values in ratios.items()}


Timings = dict[tuple, list[tuple[str, float]]]   # a configuration's key -> (machine, seconds) of each stored run


def _stored_timings(root: Path | None) -> tuple[Timings, Timings, Timings]:
    """The stored runs' median epoch (the first carries warm-up) under their exact and near timing keys, and
    their seconds after training (wall minus training) under their analysis key, each with its machine."""
    exact: Timings = {}
    near: Timings = {}
    after: Timings = {}
    for _, result in _stored(root, history=True):
        if isinstance(result, EffconvError):
            continue
        prov = result.get("provenance", {})
        where = machine(prov)
        seconds = sorted(r["seconds"] for r in result.get("curve", []) if "seconds" in r)
        if seconds:
            key_exact, key_near = _timing_keys(result["spec"])
            exact.setdefault(key_exact, []).append((where, seconds[len(seconds) // 2]))
            near.setdefault(key_near, []).append((where, seconds[len(seconds) // 2]))
        if prov.get("wall_seconds") and prov.get("train_seconds"):
            after.setdefault(_after_training_key(result["spec"]), []).append(
                (where, max(prov["wall_seconds"] - prov["train_seconds"], 0.0)))
    return exact, near, after


def machine_speed(here: str, root: Path | None = None) -> tuple[float, int]:
    """How long machine ``here`` takes for an epoch relative to the other machines that stored runs: the
    median, over the configurations timed both here and elsewhere, of (median here / median elsewhere), and
    how many configurations that is (1.0 and 0 when none is shared). Stored machines differ by up to 7x in
    epoch time (ISA level, the run beside), so a plan sized on one is sized by the other's times only
    through this ratio."""
    return _speed(_stored_timings(root)[0], here)


def _speed(exact: Timings, here: str) -> tuple[float, int]:
    ratios = []
    for times in exact.values():
        mine = [s for m, s in times if m == here]
        theirs = [s for m, s in times if m != here]
        if mine and theirs:
            ratios.append(float(pd.Series(mine).median() / pd.Series(theirs).median()))
    return (float(pd.Series(ratios).median()), len(ratios)) if ratios else (1.0, 0)


def _as_timed_on(timings: Timings, here: str | None, speed: float) -> dict[tuple, list[float]]:
    """Seconds per key as machine ``here`` should take them: its own runs where it stored any, else the
    others' scaled by its speed; every machine's as stored when ``here`` is None."""
    seconds = {}
    for key, times in timings.items():
        mine = [s for m, s in times if m == here]
        seconds[key] = mine or [s * speed for _, s in times]
    return seconds


def estimate_minutes(specs, root: Path | None = None, here: str | None = None) -> list[float | None]:
    """Minutes each spec should take, from the stored runs' times (None: nothing comparable stored).

    Training: a run's time per epoch is its median epoch (the first carries warm-up); runs of the same
    configuration are combined by their median, times the spec's epochs. A configuration with no stored run
    borrows the epoch times of stored configurations of the same model, scaled by the ratio of their fp32
    training speeds in the CPU precision benchmark (``effconv bench precision``), which times every
    configuration the cpu profile held when it was run (``_scaled_epoch``); one added since gets no estimate
    until a run of it is stored. After training: the median of
    wall minus training time of stored runs with the same model and analyses (DAC's rank sweeps take longer
    than its training), nothing where none is stored. Stored runs were timed on one thread of the machine
    named in their provenance, often with a second run beside them, so estimates hold for that setting.

    ``here`` (a ``provenance.machine`` label, such as ``this_machine()``) sizes the plan for that machine:
    its own stored times where it has them, the others' scaled by ``machine_speed`` elsewhere. Without it
    (the book's plan tables, which must not depend on where the book is built) every machine's times count.
    """
    exact, near, after = _stored_timings(root)
    speed = _speed(exact, here)[0] if here else 1.0
    exact, near, after = (_as_timed_on(t, here, speed) for t in (exact, near, after))
    benchmarks = _benchmarked_rates(root)
    estimates = []
    for spec in specs:
        spec_dict = spec.to_dict()
        key_exact, key_near = _timing_keys(spec_dict)
        per_epoch = exact.get(key_exact) or near.get(key_near)
        if not per_epoch:
            scaled = _scaled_epoch(key_exact, exact, benchmarks)
            per_epoch = [scaled] if scaled is not None else None
        if not per_epoch:
            estimates.append(None)
            continue
        analyses = after.get(_after_training_key(spec_dict))
        estimates.append((float(pd.Series(per_epoch).median()) * spec.recipe.epochs
                          + (float(pd.Series(analyses).median()) if analyses else 0.0)) / 60)
    return estimates


def precision_bench(root: Path | None = None) -> pd.DataFrame:
    """The CPU precision benchmarks (``effconv bench precision``, one file per ISA level): training images/s
    of every model configuration in each mode timed, and each mode's speed as a multiple of fp32's."""
    rows = []
    for path in sorted(((root or results_dir()) / "bench").glob("precision-*.json")):
        payload = json.loads(path.read_text())
        isa = payload.get("provenance", {}).get("cpu_capability")
        for row in payload.get("rows", []):
            rows.append({"isa": isa, "model": row["model"], "options": row["options"],
                         **{f"{mode} img/s": rate for mode, rate in row["images_per_second"].items()},
                         **{f"{mode} / fp32": ratio for mode, ratio in row["ratio_to_fp32"].items() if mode != "fp32"},
                         "file": path.name})
    return pd.DataFrame(rows)


def _twin_key(spec: dict, prov: dict) -> tuple:
    """What two runs must share to differ only in precision: profile, model and options, data, seed and the
    recipe but for its precision field (chapter, name and the analyses run after training may differ)."""
    recipe = {k: v for k, v in sorted(spec["recipe"].items()) if k != "precision"}
    options = json.dumps(_options(spec.get("model_kwargs", {})), sort_keys=True)
    return (spec["profile"], spec["model"], options, prov.get("data", {}).get("source"), spec["seed"],
            json.dumps(recipe), json.dumps(spec.get("epoch_analyses", {}), sort_keys=True))


def precision_pairs(root: Path | None = None) -> pd.DataFrame:
    """Every stored run trained in bf16 autocast beside its fp32 twin (``_twin_key``), one row per pair, by the
    precision each run's provenance records it trained in (``auto`` is bf16 on a GPU, fp32 on a CPU)."""
    arms: dict[tuple, dict[str, dict]] = {}
    for _, result in _stored(root):
        if isinstance(result, EffconvError):
            continue
        precision = result["provenance"].get("precision")
        if precision in ("32-true", "bf16-mixed"):
            arms.setdefault(_twin_key(result["spec"], result["provenance"]), {}).setdefault(precision, result)
    rows = []
    for key, pair in arms.items():
        if len(pair) < 2:
            continue
        fp32, bf16 = pair["32-true"], pair["bf16-mixed"]
        rows.append({"model": key[1], "options": key[2], "epochs": fp32["spec"]["recipe"]["epochs"], "seed": key[4],
                     "fp32 acc": fp32["metrics"]["final"]["test_acc"], "bf16 acc": bf16["metrics"]["final"]["test_acc"],
                     "fp32 device": fp32["provenance"].get("device"), "bf16 device": bf16["provenance"].get("device"),
                     "fp32 run": f"{fp32['spec']['chapter']}/{fp32['spec']['name']}",
                     "bf16 run": f"{bf16['spec']['chapter']}/{bf16['spec']['name']}"})
    columns = ["model", "options", "epochs", "seed", "fp32 acc", "bf16 acc", "fp32 device", "bf16 device", "fp32 run",
               "bf16 run"]
    return pd.DataFrame(rows, columns=columns).sort_values(["model", "options", "epochs", "seed"], ignore_index=True)
