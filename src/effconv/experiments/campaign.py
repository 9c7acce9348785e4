"""Train a list of missing experiments on this machine within a wall-clock limit, and pack the results.

This is the local executor of a time-limited job (a Slurm allocation with ``--time``, a cloud spot
instance, any short GPU allocation): it trains what fits in ``minutes``, most valuable first, and
writes every new result, with each run's log, into one ``.tar.gz`` that can be carried back and
merged (``effconv results merge``). With ``workers > 1`` several training processes share the one
device (a CIFAR-sized run uses a small part of a large GPU); each goes through the results store, so
its writes are atomic and locked as for a single run.

Why a pool of our own and not submitit's local executor: that executor starts every job it is given
at once (it has no cap on concurrent jobs), and a time-limited job must decide, run by run, whether
the time left can still hold the next one, from the runs it has already finished.

A run is started only when the time left can hold it, training and the analyses after it. Its
duration is taken, in this order, from runs of the same configuration finished in this campaign (their
seconds per epoch, and their seconds after training for the same analyses), from the caller's model of
the device (``epoch_seconds`` and ``after_seconds``, e.g. ``window_plan.Throughput``), or from the
longest run so far; the very first run, with nothing to go by, always starts. The plan (which specs, in
which order) comes from the caller: this layer never imports the chapters' studies.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from effconv.errors import EffconvError
from effconv.wording import plural
from effconv.experiments.job import TrainJob, child_env, log_name
from effconv.experiments.runner import lookup
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore

PRIORITY = ("acnet", "dac", "versatile", "shufflenet")
STOP_GRACE_SECONDS = 10.0  # between SIGTERM and SIGKILL at a hard stop

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


def order_specs(specs: Sequence[ExperimentSpec]) -> list[ExperimentSpec]:
    """``specs`` most valuable first (see ``TIERS``; a named tier row by row, any other tier seed 0 of every
    row before seed 1); a stable sort, so the given order breaks ties."""
    return sorted(specs, key=lambda s: (*_tier(s), s.seed))


def config_of(spec: ExperimentSpec) -> tuple[str, str, int]:
    """(model, options, batch size): runs sharing it train at the same seconds per epoch."""
    return spec.model, json.dumps(dict(spec.model_kwargs), sort_keys=True), spec.recipe.batch_size


def after_key(spec: ExperimentSpec) -> tuple:
    """Runs sharing it spend about as long after training: the same model and the same analyses."""
    return (*config_of(spec), json.dumps(sorted(spec.analyses)))


def archive_name(spec: ExperimentSpec) -> str:
    """Where a result goes in the archive: ``results/...`` (unpack at the repository root); smoke results
    as ``smoke-results/...`` (they live in the cache, never in ``results/``)."""
    top = "smoke-results" if spec.profile == "smoke" else "results"
    return f"{top}/{spec.chapter}/{spec.filename}"


def pack(archive: Path, members: Sequence[tuple[Path, str]]) -> Path:
    """Write ``members`` ((file, name in the archive)) into ``archive`` atomically: a temporary file renamed
    over the old one, so a command killed while packing leaves the previous complete archive. Members that
    do not exist (a log a run never wrote) are left out."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".partial")
    with tarfile.open(tmp, "w:gz") as tar:
        for path, name in members:
            if Path(path).exists():
                tar.add(path, arcname=name)
    os.replace(tmp, archive)
    return archive


def stop_processes(processes: Sequence[mp.process.BaseProcess], grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """Terminate ``processes``, then kill those still alive after ``grace_seconds``: a child that ignores or
    is stuck past SIGTERM would otherwise keep the job (and the interpreter's exit) past its limit."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(5)


def start_process(context, target: Callable[[], object], *, threads: int | None, name: str) -> mp.process.BaseProcess:
    """Spawn ``target`` with the thread settings in its starting environment (see ``job.child_env``)."""
    extra = child_env(threads)
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        process = context.Process(target=target, name=name)
        process.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return process


@dataclass
class _Running:
    spec: ExperimentSpec
    process: mp.process.BaseProcess
    started: float
    expected: float | None
    log: Path | None


@dataclass
class CampaignLog:
    """What a campaign did: one row per run (started/finished in seconds from the campaign start)."""

    runs: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def overlapped(self) -> bool:
        """Whether any two runs were training at the same time."""
        spans = sorted((r["started"], r["finished"]) for r in self.runs)
        return any(b0 < a1 for (_, a1), (b0, _) in zip(spans, spans[1:]))


def run_campaign(specs: Sequence[ExperimentSpec], minutes: float | None, *, workers: int = 1, archive: Path | None = None,
                 accelerator: str = "auto", threads: int | None = None, setup_modules: Sequence[str] = (),
                 epoch_seconds: Callable[[ExperimentSpec, int], float] | None = None,
                 after_seconds: Callable[[ExperimentSpec, int], float] | None = None,
                 hard_stop_minutes: float | None = None, extra_files: Sequence[tuple[Path, str]] = (),
                 log_dir: Path | None = None, checkpoints: bool = True, job_target=TrainJob,
                 log=print) -> CampaignLog:
    """Train the missing ones of ``specs`` (in the given order) with ``workers`` processes until the budget
    is spent (``minutes=None``: no budget, every missing run).

    ``threads``: each worker's CPU threads; ``setup_modules``: modules each worker imports first (those
    that register the specs' analyses); ``epoch_seconds(spec, workers)`` / ``after_seconds(spec, workers)``:
    the caller's estimate of a run's seconds per epoch and seconds after training when ``workers`` share
    the device; ``hard_stop_minutes``: runs still going are stopped (terminated, then killed) so that the
    campaign ends by then; ``log_dir``: each run's output and traceback go to ``log_dir/<chapter>/<run>.log``
    (default: next to the archive, else in the cache); ``checkpoints``: per-epoch checkpoints (off in jobs
    whose cache is wiped). The archive is rewritten after every finished run, with ``extra_files`` (e.g.
    benchmarks) and the runs' logs in it. ``job_target`` builds the worker's callable (tests swap it).
    """
    from effconv.checks import check_count, check_positive

    if minutes is not None:
        check_positive("the time budget in minutes", minutes)
    check_count("workers", workers)
    planned = list(specs)
    pending = [spec for spec, result in zip(planned, lookup(planned)) if result is None]
    log(f"{len(pending)} of {len(planned)} experiments missing; "
        f"{'no time limit' if minutes is None else f'budget {minutes:g} minutes'}, {workers} worker(s)")
    budget = math.inf if minutes is None else minutes * 60
    # stop early enough that the grace period before SIGKILL still ends inside the limit
    hard_stop = max(hard_stop_minutes * 60 - STOP_GRACE_SECONDS, 0.0) if hard_stop_minutes else None
    if log_dir is None:
        from effconv.paths import cache_dir

        log_dir = archive.parent / "logs" if archive is not None else cache_dir() / "logs"
    context = mp.get_context("spawn")
    t0 = time.perf_counter()
    running: list[_Running] = []
    record = CampaignLog()
    per_epoch: dict[tuple, float] = {}  # measured seconds per epoch under this campaign's concurrency
    after: dict[tuple, float] = {}      # measured seconds after training (analyses, start-up, saving)
    members: list[tuple[Path, str]] = list(extra_files)

    def expected(spec: ExperimentSpec) -> float | None:
        epoch = per_epoch.get(config_of(spec))
        if epoch is None and epoch_seconds is not None:
            epoch = epoch_seconds(spec, workers)
        if epoch is None:
            return max((r["seconds"] for r in record.runs), default=None)
        rest = after.get(after_key(spec))
        if rest is None and after_seconds is not None:
            rest = after_seconds(spec, workers)
        return epoch * spec.recipe.epochs + (rest or 0.0)

    def finish(item: _Running, now: float, killed: bool = False) -> None:
        took = now - item.started
        stored = ResultStore.for_profile(item.spec.profile).load(item.spec)
        row = {"chapter": item.spec.chapter, "name": item.spec.name, "seed": item.spec.seed,
               "key": item.spec.key, "epochs": item.spec.recipe.epochs, "started": round(item.started - t0, 2),
               "finished": round(now - t0, 2), "seconds": round(took, 2),
               "expected_seconds": None if item.expected is None else round(item.expected, 1),
               "workers": workers, "status": "stored" if stored else ("stopped" if killed else "failed"),
               "log": None if item.log is None else f"logs/{log_name(item.spec.to_dict())}"}
        record.runs.append(row)
        if item.log is not None:
            members.append((item.log, row["log"]))
        label = f"{item.spec.chapter}/{item.spec.name} seed {item.spec.seed}"
        if stored is None:
            log(f"{label}: {row['status']} after {took / 60:.1f} min (exit code {item.process.exitcode}); "
                f"its output and traceback: {item.log}")
        else:
            train = stored["provenance"].get("train_seconds") or took
            per_epoch.setdefault(config_of(item.spec), train / item.spec.recipe.epochs)
            after.setdefault(after_key(item.spec), max(took - train, 0.0))
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
            log(f"hard stop at {(now - t0) / 60:.1f} min: stopping {plural(len(running), 'run')} still going")
            stop_processes([item.process for item in running])
            for item in running:
                finish(item, time.perf_counter(), killed=True)
            running.clear()
            record.skipped += [f"{s.chapter}/{s.filename}" for s in pending]
            break
        while pending and len(running) < workers:
            spec = pending.pop(0)
            guess = expected(spec)
            elapsed = time.perf_counter() - t0
            if guess is not None and elapsed + guess > budget:
                record.skipped.append(f"{spec.chapter}/{spec.filename}")
                log(f"not starting {spec.chapter}/{spec.name} seed {spec.seed}: about {guess / 60:.1f} min with "
                    f"its analyses, {max(budget - elapsed, 0) / 60:.1f} min left")
                continue
            run_log = log_dir / log_name(spec.to_dict())
            job = job_target(spec.to_dict(), accelerator=accelerator, threads=threads,
                             setup_modules=tuple(setup_modules), log_path=str(run_log), checkpoints=checkpoints)
            process = start_process(context, job, threads=threads, name=f"effconv-{spec.name}")
            running.append(_Running(spec, process, time.perf_counter(), guess, run_log))
            log(f"started {spec.chapter}/{spec.name} seed {spec.seed}"
                + (f" (about {guess / 60:.1f} min)" if guess is not None else ""))
        if running:
            time.sleep(0.2)
    log(f"{sum(r['status'] == 'stored' for r in record.runs)} runs stored, {len(record.skipped)} not started, "
        f"{(time.perf_counter() - t0) / 60:.1f} min")
    if archive is not None:
        pack(archive, members)
        log(f"packed {len(members)} files into {archive} (merge with `effconv results merge {archive}`)")
    return record
