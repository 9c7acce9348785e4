"""Run a profile's missing experiments within a time budget, most valuable first, and pack the results.

Made for lent GPUs with a per-command time limit and a few files of output: each call trains what fits
in ``minutes`` and writes every new result into one ``.tar.gz`` that can be carried back and unpacked
into the repo. With ``workers > 1`` several training processes share the one device (a CIFAR-sized run
uses a small part of a large GPU); each goes through the results store, so its writes are atomic and
locked as for a single run.

A run is started only when the time left can hold it. Its duration is taken, in this order, from runs
of the same configuration finished in this campaign (seconds per epoch), from ``epoch_seconds`` (the
caller's model of the device, e.g. ``window_plan.Throughput.campaign_estimate()``), or from
the longest run so far; the very first run, with nothing to go by, always starts.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from effconv.errors import EffconvError
from effconv.experiments.runner import lookup, run_experiment
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore
from effconv.studies import CHAPTERS, get_chapter, planned_specs

PRIORITY = ("acnet", "dac", "versatile", "shufflenet")

# Value tiers, most valuable first: a (chapter, names) pair matches those experiments, (chapter, None) the
# rest of the chapter. ACNet's ResNet-56 and VGG-16 rows decide the chapter's headline claims; DAC's
# full-width baseline carries every DAC sweep and is chapter 5's baseline row; then the versatile
# variants, the other ACNet rows (Cifar-quick, WRN, DenseNet, ablation, skeleton) and ShuffleNet.
TIERS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    # longest first, so that the shorter VGG runs fill the workers the ResNet-56 runs leave free
    ("acnet", ("resnet56-acnet", "resnet56-base", "vgg16-cifar-acnet", "vgg16-cifar-base")),
    ("dac", None),
    ("versatile", None),
    ("acnet", None),
    ("shufflenet", None),
)


def _tier(spec: ExperimentSpec) -> tuple[int, int]:
    """(tier, position of the row in a named tier)."""
    for index, (chapter, names) in enumerate(TIERS):
        if spec.chapter == chapter and (names is None or spec.name in names):
            return index, names.index(spec.name) if names else 0
    return len(TIERS), 0


def campaign_specs(profile: str, chapters: Sequence[str] = PRIORITY) -> list[ExperimentSpec]:
    """Every experiment of ``chapters`` for ``profile``, most valuable first (see ``TIERS``; a named tier
    row by row, any other tier seed 0 of every row before seed 1), without duplicates."""
    unknown = [c for c in chapters if c not in CHAPTERS]
    if unknown:
        raise EffconvError(f"unknown chapters {unknown}; chapters: {', '.join(CHAPTERS)}.")
    # stable sort: the chapter's own order breaks ties
    return sorted(planned_specs(profile, chapters), key=lambda s: (*_tier(s), s.seed))


def config_of(spec: ExperimentSpec) -> tuple[str, str, int]:
    """(model, options, batch size): runs sharing it train at the same seconds per epoch."""
    return spec.model, json.dumps(dict(spec.model_kwargs), sort_keys=True), spec.recipe.batch_size


def archive_name(spec: ExperimentSpec) -> str:
    """Where a result goes in the archive: ``results/...`` (unpack at the repository root); smoke results
    as ``smoke-results/...`` (they live in the cache, never in ``results/``)."""
    top = "smoke-results" if spec.profile == "smoke" else "results"
    return f"{top}/{spec.chapter}/{spec.filename}"


def pack(archive: Path, members: Sequence[tuple[Path, str]]) -> Path:
    """Write ``members`` ((file, name in the archive)) into ``archive`` atomically: a temporary file renamed
    over the old one, so a command killed while packing leaves the previous complete archive."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".partial")
    with tarfile.open(tmp, "w:gz") as tar:
        for path, name in members:
            tar.add(path, arcname=name)
    os.replace(tmp, archive)
    return archive


@dataclass
class _Running:
    spec: ExperimentSpec
    process: mp.process.BaseProcess
    started: float
    expected: float | None


@dataclass
class CampaignLog:
    """What a campaign did: one row per run (started/finished in seconds from the campaign start)."""

    runs: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def overlapped(self) -> bool:
        """Whether any two runs were training at the same time."""
        spans = sorted((r["started"], r["finished"]) for r in self.runs)
        return any(b0 < a1 for (_, a1), (b0, _) in zip(spans, spans[1:]))


def _work(spec_dict: dict, accelerator: str, threads: int | None) -> None:
    """One run in a worker process (spawned: CUDA cannot be forked)."""
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)
    spec = ExperimentSpec.from_dict(spec_dict)
    if spec.chapter in CHAPTERS:  # a fresh process: a chapter's analyses register when its package is imported
        get_chapter(spec.chapter)
    run_experiment(spec, accelerator=accelerator)


def run_campaign(profile: str, minutes: float, *, chapters: Sequence[str] = PRIORITY,
                 specs: Sequence[ExperimentSpec] | None = None, workers: int = 1, archive: Path | None = None,
                 accelerator: str = "auto", threads: int | None = None,
                 epoch_seconds: Callable[[ExperimentSpec, int], float] | None = None,
                 hard_stop_minutes: float | None = None, extra_files: Sequence[tuple[Path, str]] = (),
                 log=print) -> CampaignLog:
    """Train missing experiments with ``workers`` processes until the budget is spent.

    ``specs`` replaces the profile's plan (tests); ``threads`` sets each worker's CPU threads;
    ``epoch_seconds(spec, workers)`` estimates a run's seconds per epoch when ``workers`` share the device;
    ``hard_stop_minutes`` terminates runs still going then (their epoch checkpoints stay in the cache).
    The archive is rewritten after every finished run, with ``extra_files`` (e.g. benchmarks) in it.
    """
    if minutes <= 0:
        raise EffconvError(f"the time budget must be positive, got {minutes} minutes.")
    if workers < 1:
        raise EffconvError(f"workers must be >= 1, got {workers}.")
    planned = list(specs) if specs is not None else campaign_specs(profile, chapters)
    pending = [spec for spec, result in zip(planned, lookup(planned)) if result is None]
    log(f"{len(pending)} {profile} experiments missing; budget {minutes:g} minutes, {workers} worker(s)")
    budget = minutes * 60
    hard_stop = hard_stop_minutes * 60 if hard_stop_minutes else None
    context = mp.get_context("spawn")
    t0 = time.perf_counter()
    running: list[_Running] = []
    record = CampaignLog()
    per_epoch: dict[tuple, float] = {}  # measured seconds per epoch under this campaign's concurrency
    members: list[tuple[Path, str]] = list(extra_files)

    def expected(spec: ExperimentSpec) -> float | None:
        if config_of(spec) in per_epoch:
            return per_epoch[config_of(spec)] * spec.recipe.epochs
        if epoch_seconds is not None:
            return epoch_seconds(spec, workers) * spec.recipe.epochs
        return max((r["seconds"] for r in record.runs), default=None)

    def finish(item: _Running, now: float, killed: bool = False) -> None:
        took = now - item.started
        stored = ResultStore.for_profile(item.spec.profile).load(item.spec)
        row = {"chapter": item.spec.chapter, "name": item.spec.name, "seed": item.spec.seed,
               "key": item.spec.key, "epochs": item.spec.recipe.epochs, "started": round(item.started - t0, 2),
               "finished": round(now - t0, 2), "seconds": round(took, 2),
               "expected_seconds": None if item.expected is None else round(item.expected, 1),
               "workers": workers, "status": "stopped" if killed else ("stored" if stored else "failed")}
        record.runs.append(row)
        label = f"{item.spec.chapter}/{item.spec.name} seed {item.spec.seed}"
        if stored is None:
            log(f"{label}: {row['status']} after {took / 60:.1f} min (exit code {item.process.exitcode})")
            return
        per_epoch.setdefault(config_of(item.spec), took / item.spec.recipe.epochs)
        members.append((ResultStore.for_profile(item.spec.profile).path(item.spec), archive_name(item.spec)))
        log(f"{label}: test acc {stored['metrics']['final'].get('test_acc', 0):.4f} in {took / 60:.1f} min")
        if archive is not None:
            pack(archive, members)

    while pending or running:
        now = time.perf_counter()
        for item in [r for r in running if not r.process.is_alive()]:
            item.process.join()
            running.remove(item)
            finish(item, time.perf_counter())
        if hard_stop is not None and now - t0 > hard_stop and running:
            log(f"hard stop at {hard_stop / 60:.1f} min: stopping {len(running)} run(s) still going")
            for item in running:
                item.process.terminate()
            for item in running:
                item.process.join(30)
                finish(item, time.perf_counter(), killed=True)
            running.clear()
            break
        while pending and len(running) < workers:
            spec = pending.pop(0)
            guess = expected(spec)
            elapsed = time.perf_counter() - t0
            if guess is not None and elapsed + guess > budget:
                record.skipped.append(f"{spec.chapter}/{spec.filename}")
                log(f"not starting {spec.chapter}/{spec.name} seed {spec.seed}: about {guess / 60:.1f} min, "
                    f"{max(budget - elapsed, 0) / 60:.1f} min left")
                continue
            process = context.Process(target=_work, args=(spec.to_dict(), accelerator, threads),
                                      name=f"effconv-{spec.name}")
            process.start()
            running.append(_Running(spec, process, time.perf_counter(), guess))
            log(f"started {spec.chapter}/{spec.name} seed {spec.seed}"
                + (f" (about {guess / 60:.1f} min)" if guess is not None else ""))
        if running:
            time.sleep(0.2)
    log(f"{sum(r['status'] == 'stored' for r in record.runs)} runs stored, {len(record.skipped)} not started, "
        f"{(time.perf_counter() - t0) / 60:.1f} min")
    if archive is not None:
        pack(archive, members)
        log(f"packed {len(members)} files into {archive} (unpack at the repository root)")
    return record


def profile_plan(profile: str, chapters: Sequence[str] = PRIORITY) -> "pd.DataFrame":
    """Every planned run of ``profile``: whether it is stored, and its minutes on one thread (measured for
    stored runs; for missing ones, estimated from the stored runs' epoch and analysis times, NaN when nothing
    compares)."""
    import pandas as pd

    from effconv.experiments.inventory import estimate_minutes

    specs = campaign_specs(profile, chapters)
    results = lookup(specs)
    estimates = estimate_minutes(specs)
    rows = [{"chapter": s.chapter, "name": s.name, "seed": s.seed, "status": "stored" if r else "missing",
             "minutes": (r["provenance"].get("wall_seconds", 0) / 60 if r else e)}
            for s, r, e in zip(specs, results, estimates)]
    return pd.DataFrame(rows, columns=["chapter", "name", "seed", "status", "minutes"]).astype({"minutes": float})


def plan_summary(plan: "pd.DataFrame") -> "pd.DataFrame":
    """Per chapter: runs stored and missing, and core-hours spent and still to spend (one thread a run)."""
    hours = plan.assign(hours=plan["minutes"] / 60)
    table = (hours.pivot_table(index="chapter", columns="status", values="hours", aggfunc=["size", "sum"],
                               fill_value=0, sort=False)
             .reindex(columns=[(how, status) for how in ("size", "sum") for status in ("stored", "missing")],
                      fill_value=0))
    table.columns = ["runs stored", "runs missing", "core-hours spent", "core-hours left"]
    table.loc["total"] = table.sum()
    return table.round(1).astype({"runs stored": int, "runs missing": int})


def arms_short(plan: "pd.DataFrame") -> "pd.DataFrame":
    """The planned arms (runs that differ only in their seed) still missing seeds: seeds stored of those
    planned, the missing seeds, and the core-hours they should take (NaN where nothing compares)."""
    import pandas as pd

    rows = []
    for (chapter, name), arm in plan.groupby(["chapter", "name"], sort=False):
        missing = arm[arm["status"] == "missing"]
        if len(missing):
            rows.append({"chapter": chapter, "arm": name, "seeds stored": f"{len(arm) - len(missing)}/{len(arm)}",
                         "missing seeds": ", ".join(str(seed) for seed in sorted(missing["seed"])),
                         "core-hours left": missing["minutes"].sum(min_count=len(missing)) / 60})
    return pd.DataFrame(rows, columns=["chapter", "arm", "seeds stored", "missing seeds", "core-hours left"])
