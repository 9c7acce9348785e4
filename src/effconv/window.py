"""One time-limited GPU job, one command: pre-flight checks, the carried CIFAR-10 archive, benchmarks,
then the campaign for the time left, all left in one archive under the output folder.

A time-limited job is any GPU allocation with a wall-clock limit: a Slurm job's ``--time``, a cloud
spot instance, a short interactive allocation. From the repository root on that machine::

    PYTHONPATH=src python -m effconv.cli window --out "$EFFCONV_OUT" --time-limit 60

The package need not be installed (every run-time import is in torch, torchvision, Lightning, pandas
and seaborn or their dependencies; ``check_imports`` says what is missing otherwise). The job ends
``margin`` minutes before its limit: runs that cannot finish, analyses included, are not started, runs
still going then are terminated and then killed, and the archive is rewritten after every benchmark
step and every finished run, so a job cut off loses only the runs in progress. The machine's disk is
assumed to be wiped afterwards, so no per-epoch checkpoints are written. ``--dry`` does the same on CPU
with the smoke profile and a tiny budget (tests).
"""

from __future__ import annotations

import functools
import importlib
import multiprocessing as mp
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from effconv.errors import EffconvError

# What the package imports at run time, beyond the standard library (matplotlib and seaborn only in the
# book's plots, which the job does not draw; they are listed so a missing one shows here, not later).
RUNTIME_IMPORTS = ("torch", "torchvision", "pytorch_lightning", "numpy", "pandas", "PIL", "filelock", "yaml",
                   "tqdm", "matplotlib", "seaborn")
ARCHIVE_NAME = "cifar10-jpeg.tar.gz"
# where the archive may have travelled: the repository's shared/ folder (sent with the working tree when
# present), the ignored .data/ folder (carried), or the project layout's ../shared/
DATA_CANDIDATES = ("shared/data", ".data", "../shared/data")
# compute modes (nvidia-smi's names) in which N processes cannot all open a context on the GPU
SINGLE_PROCESS_MODES = ("Exclusive_Process",)
NO_PROCESS_MODES = ("Prohibited",)


def check_imports(modules=RUNTIME_IMPORTS) -> None:
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise EffconvError(f"missing Python packages on this machine: {', '.join(missing)}; carry a folder with "
                           "them (pip install --target .deps ...) and add it to PYTHONPATH.")


def find_data(root: Path) -> Path:
    """The carried CIFAR-10 archive, or an error saying where to put it."""
    env = os.environ.get("EFFCONV_DATA")
    candidates = ([Path(env)] if env else []) + [root / folder / ARCHIVE_NAME for folder in DATA_CANDIDATES]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise EffconvError(f"no {ARCHIVE_NAME} in {', '.join(DATA_CANDIDATES)} under {root}; copy it there "
                       f"(mkdir -p shared/data && cp ../shared/data/{ARCHIVE_NAME} shared/data/) and carry it.")


def gpu_report(smi: Callable[[], str] | None = None) -> list[dict[str, str]]:
    """One dict per GPU from ``nvidia-smi`` (name, compute mode, memory, driver), read without opening a
    CUDA context in this process (in exclusive-process mode that context alone would lock the workers
    out); an empty list where nvidia-smi is absent."""
    fields = ("name", "compute_mode", "memory.total", "memory.used", "driver_version")
    if smi is None:
        if shutil.which("nvidia-smi") is None:
            return []

        def smi() -> str:
            return subprocess.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
                                  capture_output=True, text=True, timeout=30, check=True).stdout

    return [dict(zip(fields, (part.strip() for part in line.split(",")))) for line in smi().splitlines() if line.strip()]


def check_compute_mode(mode: str, workers: int) -> None:
    """Refuse ``workers`` training processes on a GPU whose compute mode cannot hold them, with the fix."""
    if mode in NO_PROCESS_MODES:
        raise EffconvError(f"the GPU's compute mode is {mode}: no process may use it; ask for a GPU in Default "
                           "mode (nvidia-smi -c DEFAULT, or the scheduler's option for it).")
    if mode in SINGLE_PROCESS_MODES and workers > 1:
        raise EffconvError(f"the GPU's compute mode is {mode}: one process at a time, but {workers} workers were "
                           "asked for; run with --workers 1, or ask for a GPU in Default mode.")


def preflight(workers: int, log: Callable[[str], None], smi: Callable[[], str] | None = None) -> dict[str, Any]:
    """Print the GPU (compute mode, memory, driver) and the library versions, and refuse a compute mode in
    which the workers cannot all run. Returns what it found (stored in the job's summary)."""
    import torch

    gpus = gpu_report(smi)
    found = {"gpus": gpus, "torch": torch.__version__, "cuda": torch.version.cuda,
             "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}
    for gpu in gpus:
        log(f"GPU {gpu.get('name')}: compute mode {gpu.get('compute_mode')}, memory {gpu.get('memory.used')} used "
            f"of {gpu.get('memory.total')}, driver {gpu.get('driver_version')}")
    if not gpus:
        log("no nvidia-smi here: the GPU's compute mode is unknown (a mode that forbids several processes "
            "would fail every worker but the first)")
    log(f"torch {found['torch']}, CUDA {found['cuda']}, cuDNN {found['cudnn']}")
    for gpu in gpus[:1]:  # the campaign uses the first visible GPU
        check_compute_mode(gpu.get("compute_mode", ""), workers)
    return found


class _Log:
    """Print and append to ``window.log`` under the output folder (flushed: the job may be cut off)."""

    def __init__(self, path: Path, t0: float):
        self.path, self.t0 = path, t0
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, message: str) -> None:
        line = f"[{(time.perf_counter() - self.t0) / 60:5.2f} min] {message}"
        print(line, flush=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


@dataclass
class _Step:
    """A benchmark step in a process of its own: its output and traceback go to ``log_path``."""

    call: Callable[[], Any]
    log_path: str

    def __call__(self) -> None:
        import traceback

        from effconv.experiments.job import redirect_output

        redirect_output(Path(self.log_path))
        try:
            self.call()
        except BaseException:
            traceback.print_exc()
            raise


def run_step(label: str, call: Callable[[], Any], *, timeout_s: float, log_path: Path,
             log: Callable[[str], None], threads: int | None = None) -> bool:
    """Run ``call`` in a spawned process for at most ``timeout_s``; True when it succeeded. A failure or a
    timeout is logged with where its traceback is, and the job goes on: a benchmark is worth less than the
    training it would otherwise cost. A process of its own also keeps CUDA out of this one."""
    from effconv.experiments.campaign import start_process, stop_processes

    started = time.perf_counter()
    process = start_process(mp.get_context("spawn"), _Step(call, str(log_path)), threads=threads,
                            name=f"effconv-bench-{label}")
    process.join(timeout_s)
    if process.is_alive():
        stop_processes([process])
        log(f"{label} benchmark stopped after {timeout_s / 60:.1f} min (its time cap); output in {log_path}")
        return False
    if process.exitcode != 0:
        log(f"{label} benchmark failed (exit code {process.exitcode}) after {(time.perf_counter() - started):.0f} s; "
            f"its traceback is in {log_path}; the job goes on")
        return False
    log(f"{label} benchmark done in {(time.perf_counter() - started):.0f} s")
    return True


def _bench_steps(dry: bool) -> list[tuple[str, Callable[[], Any]]]:
    """The benchmark steps, as picklable calls. torch.compile is not among them: the campaign never
    compiles (the recipes say compile=False), and compiling takes minutes of a time-limited job; time it
    on its own with ``effconv bench epoch``."""
    from effconv.plan import campaign_specs
    from effconv.train import bench as benchmarks

    plan = campaign_specs("full")
    resnet56 = [s for s in plan if s.model == "resnet56" and "conv" not in s.model_kwargs][:1]
    if dry:
        return [
            ("epoch", functools.partial(benchmarks.epoch_benchmark, [_shrunk(s) for s in resnet56], "full",
                                        name="window", steps=1, compile_modes=(False,), accelerator="cpu")),
            ("loader", functools.partial(benchmarks.loader_benchmark, "resnet20", steps=2, batch_size=32,
                                         accelerator="cpu")),
            ("concurrency", functools.partial(benchmarks.concurrency_benchmark, "resnet20", workers=(1, 2),
                                              steps=2, batch_size=32, accelerator="cpu")),
        ]
    batch = resnet56[0].recipe.batch_size
    return [
        ("epoch", functools.partial(benchmarks.epoch_benchmark, resnet56, "full", name="window", steps=100,
                                    compile_modes=(False,), accelerator="gpu")),
        ("loader", functools.partial(benchmarks.loader_benchmark, "resnet56", steps=150, batch_size=batch,
                                     accelerator="gpu")),
        ("concurrency", functools.partial(benchmarks.concurrency_benchmark, "resnet56", workers=(1, 4, 8),
                                          steps=100, batch_size=batch, accelerator="gpu")),
    ]


def run_window(out: Path, *, dry: bool = False, limit_minutes: float = 10.0, margin_minutes: float = 1.0,
               workers: int | None = None, bench: str = "auto", log: Callable[[str], None] | None = None,
               steps: list[tuple[str, Callable[[], Any]]] | None = None) -> dict:
    """Pre-flight, benchmark and train for one time-limited job; returns a summary (also in the archive as
    ``results/bench/``).

    ``bench``: ``auto`` benchmarks unless this working tree already has a GPU benchmark
    (``results/bench/epoch-window-gpu.json``), ``always`` or ``never``. ``dry``: CPU, smoke profile,
    tiny steps, results and benchmarks kept out of ``results/``. ``steps`` replaces the benchmark steps
    (tests: a step that raises).
    """
    from effconv.checks import check_positive

    t0 = time.perf_counter()
    out = Path(out).resolve()
    say = log or _Log(out / "window.log", t0)
    check_positive("the time limit in minutes", limit_minutes)
    deadline = (limit_minutes - margin_minutes) * 60
    if deadline <= 0:
        raise EffconvError(f"the margin ({margin_minutes} min) leaves no time in a {limit_minutes} min job.")
    from effconv.paths import cache_dir, repo_root

    root = repo_root()
    if dry:
        # nothing of a dry run may land in results/: benchmarks go to a folder under the output
        os.environ["EFFCONV_RESULTS"] = str(out / "dry-results")
    check_imports()
    os.environ["EFFCONV_DATA"] = str(find_data(root))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")

    import torch

    from effconv.data.cifar import load_cifar10
    from effconv.experiments.campaign import pack, run_campaign
    from effconv.experiments.window_plan import WORKERS, load_throughput
    from effconv.io import atomic_write_json
    from effconv.paths import results_dir
    from effconv.plan import setup_modules

    accelerator = "cpu" if dry else "gpu"
    # is_available() asks the driver how many devices there are; it opens no context in this process
    if not dry and not torch.cuda.is_available():
        raise EffconvError("no CUDA device visible; on a CPU machine use --dry.")
    profile = "smoke" if dry else "full"
    workers = workers or (2 if dry else WORKERS)
    found = {"gpus": []} if dry else preflight(workers, say)
    device = "cpu" if dry else (found["gpus"][0]["name"] if found["gpus"] else "a CUDA device")
    say(f"time-limited job on {device}: profile {profile}, {workers} workers, stop by {deadline / 60:.1f} min; "
        f"data {os.environ['EFFCONV_DATA']}; cache {cache_dir()}")
    data = load_cifar10()  # decoded once here, before the workers all want it
    say(data.describe())

    bench_dir = results_dir() / "bench"
    slug = "cpu" if dry else "gpu"
    archive = out / "results.tar.gz"
    do_bench = bench == "always" or (bench == "auto" and not (bench_dir / f"epoch-window-{slug}.json").exists())
    members: list[tuple[Path, str]] = []
    bench_status: dict[str, str] = {}
    if do_bench:
        for label, call in (steps if steps is not None else _bench_steps(dry)):
            # the benchmarks may take at most half the job: the campaign is what the job is for
            left = deadline / 2 - (time.perf_counter() - t0)
            if left <= 5:
                say(f"skipping the {label} benchmark: half the job's time is spent")
                bench_status[label] = "skipped"
                continue
            step_log = out / "logs" / "bench" / f"{label}.log"
            ok = run_step(label, call, timeout_s=left, log_path=step_log, log=say, threads=1 if dry else None)
            bench_status[label] = "done" if ok else "failed"
            # packed the moment the step ends: a later failure cannot lose what this one wrote
            members = [(p, f"results/bench/{p.name}") for p in sorted(bench_dir.glob(f"*-{slug}.json"))]
            members += [(p, f"logs/bench/{p.name}") for p in sorted((out / "logs" / "bench").glob("*.log"))]
            pack(archive, members)
        say(f"benchmarks over at {(time.perf_counter() - t0) / 60:.1f} min: "
            + ", ".join(f"{k} {v}" for k, v in bench_status.items()))
    throughput = load_throughput(bench_dir)
    say(f"run lengths from the {throughput.source} throughput ({throughput.note})")

    left = (deadline - (time.perf_counter() - t0)) / 60
    summary = {"profile": profile, "device": device, "workers": workers, "benchmarked": do_bench,
               "benchmarks": bench_status, "preflight": found, "throughput": throughput.source,
               "campaign_minutes": round(left, 2)}
    if left > 0.2:
        if dry:  # a dry job always trains: its tiny runs are dropped from the smoke store first
            from effconv.experiments.store import ResultStore

            specs = _dry_specs()
            for spec in specs:
                ResultStore.for_profile("smoke").path(spec).unlink(missing_ok=True)
        else:
            from effconv.plan import campaign_specs

            specs = campaign_specs(profile)
        record = run_campaign(specs, left, workers=workers, setup_modules=setup_modules(specs),
                              # the CPU cores shared out: the device loader keeps the CPU side light
                              accelerator=accelerator, threads=1 if dry else max(1, (os.cpu_count() or 1) // workers),
                              archive=archive, log_dir=out / "logs", checkpoints=False,
                              epoch_seconds=None if dry else throughput.campaign_estimate(),
                              after_seconds=None if dry else throughput.after_estimate(),
                              hard_stop_minutes=left, extra_files=members, log=say)
        summary.update(runs=record.runs, not_started=record.skipped, overlapped=record.overlapped())
    else:
        say(f"no time left for the campaign ({left:.1f} min)")
        summary.update(runs=[], not_started=[])
    summary["minutes"] = round((time.perf_counter() - t0) / 60, 2)
    summary_path = atomic_write_json((out / "dry-results" if dry else results_dir()) / "bench"
                                     / f"window-{profile}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json",
                                     summary)
    stored = [_result_member(profile, r) for r in summary["runs"] if r["status"] == "stored"]
    logs = [(out / r["log"], r["log"]) for r in summary["runs"] if r.get("log")]
    everything = members + [(summary_path, f"results/bench/{summary_path.name}")] + stored + logs
    pack(archive, everything)
    say(f"{len(stored)} results and {len(everything) - len(stored)} benchmark and log files in {archive} "
        f"({archive.stat().st_size / 2**20:.2f} MiB); merge them with: effconv results merge {archive.name}")
    return summary


def _result_member(profile: str, row: dict) -> tuple[Path, str]:
    """(stored file, name in the archive) of a campaign row."""
    from effconv.experiments.store import ResultStore

    filename = f"{row['name']}-{row['key']}.json"
    top = "smoke-results" if profile == "smoke" else "results"
    return ResultStore.for_profile(profile).root / row["chapter"] / filename, f"{top}/{row['chapter']}/{filename}"


def _shrunk(spec):
    """A spec at a CPU-sized batch, for the dry benchmark."""
    import dataclasses

    return dataclasses.replace(spec, recipe=spec.recipe.replace(batch_size=16))


def _dry_specs():
    """Tiny smoke runs for the dry job: two Cifar-quick runs at quarter width on a few hundred images."""
    from effconv.experiments.spec import ExperimentSpec
    from effconv.train.recipes import recipe_for

    recipe = recipe_for("smoke", train_subset=128, test_subset=64, batch_size=32, eval_batch_size=64)
    return [ExperimentSpec(chapter="engine", name="window-dry", model="cifar_quick", model_kwargs={"width": 0.25},
                           recipe=recipe, profile="smoke", seed=seed) for seed in (201, 202)]
