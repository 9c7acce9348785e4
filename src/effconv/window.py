"""One GPU window, one command: check the imports, find and decode the carried CIFAR-10 archive, benchmark,
run the campaign for the time left, and leave everything in one archive under ``$OUT``.

On the device machine, from the repository root::

    PYTHONPATH=src python -m effconv.cli window --out "$OUT"

The package is not installed there (no network for pip, and nothing needs installing: every run-time
import is in torch, torchvision, Lightning, pandas and seaborn or their dependencies; ``check_imports``
says what is missing otherwise). The whole command ends ``margin`` minutes before the device tool's
10-minute limit, and the archive is rewritten after every finished run, so a command cut off loses only
the runs in progress. ``--dry`` does the same on CPU with the smoke profile and a tiny budget (tests).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from typing import Callable

from effconv.errors import EffconvError

# What the package imports at run time, beyond the standard library (matplotlib and seaborn only in the
# book's plots, which the window does not draw; they are listed so a missing one shows here, not later).
RUNTIME_IMPORTS = ("torch", "torchvision", "pytorch_lightning", "numpy", "pandas", "PIL", "filelock", "yaml",
                   "tqdm", "matplotlib", "seaborn")
ARCHIVE_NAME = "cifar10-jpeg.tar.gz"
# where the archive may have travelled: the repository's shared/ folder (sent with the working tree when
# present), the ignored .data/ folder (carried), or the project layout's ../shared/
DATA_CANDIDATES = ("shared/data", ".data", "../shared/data")


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


class _Log:
    """Print and append to ``window.log`` under the output folder (flushed: the command may be cut off)."""

    def __init__(self, path: Path, t0: float):
        self.path, self.t0 = path, t0
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, message: str) -> None:
        line = f"[{(time.perf_counter() - self.t0) / 60:5.2f} min] {message}"
        print(line, flush=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def run_window(out: Path, *, dry: bool = False, limit_minutes: float = 10.0, margin_minutes: float = 1.0,
               workers: int | None = None, bench: str = "auto", log: Callable[[str], None] | None = None) -> dict:
    """Benchmark and train for one window; returns a summary (also in the archive as results/bench/).

    ``bench``: ``auto`` benchmarks unless this working tree already has a GPU benchmark
    (``results/bench/epoch-window-gpu.json``), ``always`` or ``never``. ``dry``: CPU, smoke profile,
    tiny steps, results and benchmarks kept out of ``results/``.
    """
    t0 = time.perf_counter()
    out = Path(out).resolve()
    say = log or _Log(out / "window.log", t0)
    deadline = (limit_minutes - margin_minutes) * 60
    if deadline <= 0:
        raise EffconvError(f"the margin ({margin_minutes} min) leaves no time in a {limit_minutes} min window.")
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
    from effconv.experiments.campaign import campaign_specs, pack, run_campaign
    from effconv.experiments.window_plan import WORKERS, load_throughput
    from effconv.io import atomic_write_json
    from effconv.paths import results_dir
    from effconv.train import bench as benchmarks

    accelerator = "cpu" if dry else "gpu"
    if not dry and not torch.cuda.is_available():
        raise EffconvError("no CUDA device visible; on a CPU machine use --dry.")
    profile = "smoke" if dry else "full"
    workers = workers or (2 if dry else WORKERS)
    device = torch.cuda.get_device_name(0) if not dry else "cpu"
    say(f"window on {device}: profile {profile}, {workers} workers, stop by {deadline / 60:.1f} min; "
        f"data {os.environ['EFFCONV_DATA']}; cache {cache_dir()}")
    data = load_cifar10()  # decoded once here, before the workers all want it
    say(data.describe())

    bench_dir = results_dir() / "bench"
    slug = "cpu" if dry else "gpu"
    do_bench = bench == "always" or (bench == "auto" and not (bench_dir / f"epoch-window-{slug}.json").exists())
    written: list[Path] = []
    if do_bench:
        plan = campaign_specs("full")
        resnet56 = [s for s in plan if s.model == "resnet56" and "conv" not in s.model_kwargs][:1]
        if dry:  # one tiny step count; compile is skipped on CPU (a C++ toolchain and a minute per model)
            pieces = [
                ("epoch", lambda: benchmarks.epoch_benchmark([_shrunk(s) for s in resnet56], "full", name="window",
                                                             steps=1, compile_modes=(False,), accelerator="cpu",
                                                             log=say)),
                ("loader", lambda: benchmarks.loader_benchmark("resnet20", steps=2, batch_size=32, accelerator="cpu",
                                                               log=say)),
                ("concurrency", lambda: benchmarks.concurrency_benchmark("resnet20", workers=(1, 2), steps=2,
                                                                         batch_size=32, accelerator="cpu", log=say)),
            ]
        else:
            batch = resnet56[0].recipe.batch_size
            pieces = [
                ("epoch", lambda: benchmarks.epoch_benchmark(resnet56, "full", name="window", steps=100,
                                                             compile_modes=(False, True), accelerator="gpu", log=say)),
                ("loader", lambda: benchmarks.loader_benchmark("resnet56", steps=150, batch_size=batch,
                                                               accelerator="gpu", log=say)),
                ("concurrency", lambda: benchmarks.concurrency_benchmark("resnet56", workers=(1, 4, 8), steps=100,
                                                                         batch_size=batch, accelerator="gpu",
                                                                         log=say)),
            ]
        for label, piece in pieces:
            # the benchmark may take at most half the window: the campaign is what the window is for
            if time.perf_counter() - t0 > deadline / 2:
                say(f"skipping the {label} benchmark: half the window is spent")
                continue
            piece()
        written = sorted(p for p in bench_dir.glob(f"*-{slug}.json"))
        say(f"benchmarks done at {(time.perf_counter() - t0) / 60:.1f} min")
    throughput = load_throughput(bench_dir)
    say(f"run lengths from the {throughput.source} throughput ({throughput.note})")

    extra = [(path, f"results/bench/{path.name}") for path in written]
    archive = out / "results.tar.gz"
    left = (deadline - (time.perf_counter() - t0)) / 60
    summary = {"profile": profile, "device": device, "workers": workers, "benchmarked": do_bench,
               "throughput": throughput.source, "campaign_minutes": round(left, 2)}
    if left > 0.2:
        specs = None
        if dry:  # a dry window always trains: its tiny runs are dropped from the smoke store first
            from effconv.experiments.store import ResultStore

            specs = _dry_specs()
            for spec in specs:
                ResultStore.for_profile("smoke").path(spec).unlink(missing_ok=True)
        record = run_campaign(profile, left, specs=specs, workers=workers,
                              # the 16 CPU cores shared out: the device loader keeps the CPU side light
                              accelerator=accelerator, threads=1 if dry else max(1, (os.cpu_count() or 1) // workers),
                              archive=archive,
                              epoch_seconds=None if dry else throughput.campaign_estimate(),
                              hard_stop_minutes=left, extra_files=extra, log=say)
        summary.update(runs=record.runs, not_started=record.skipped, overlapped=record.overlapped())
    else:
        say(f"no time left for the campaign ({left:.1f} min)")
        summary.update(runs=[], not_started=[])
    summary["minutes"] = round((time.perf_counter() - t0) / 60, 2)
    summary_path = atomic_write_json((out / "dry-results" if dry else results_dir()) / "bench"
                                     / f"window-{profile}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json",
                                     summary)
    stored = [_result_member(profile, r) for r in summary["runs"] if r["status"] == "stored"]
    members = extra + [(summary_path, f"results/bench/{summary_path.name}")] + stored
    pack(archive, members)
    say(f"{len(stored)} results, {len(members) - len(stored)} benchmark files in {archive} "
        f"({archive.stat().st_size / 2**20:.2f} MiB); unpack at the repository root: tar -xzf results.tar.gz")
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
    """Tiny smoke runs for the dry window: two Cifar-quick runs at quarter width on a few hundred images."""
    from effconv.experiments.spec import ExperimentSpec
    from effconv.train.recipes import recipe_for

    recipe = recipe_for("smoke", train_subset=128, test_subset=64, batch_size=32, eval_batch_size=64)
    return [ExperimentSpec(chapter="engine", name="window-dry", model="cifar_quick", model_kwargs={"width": 0.25},
                           recipe=recipe, profile="smoke", seed=seed) for seed in (201, 202)]


def main(argv=None) -> int:
    """``python -m effconv.window`` (the same as ``effconv window``)."""
    from effconv.cli import main as cli_main

    return cli_main(["window", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
