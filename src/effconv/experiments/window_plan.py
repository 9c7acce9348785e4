"""How many time-limited GPU jobs the ``full`` profile needs, from the measured throughput or, until a
GPU run exists, from stated assumptions.

A time-limited job ("window") is any GPU allocation with a wall-clock limit: a Slurm job's ``--time``,
a cloud spot instance, a short interactive allocation. In it :mod:`effconv.window` decodes the data,
benchmarks (first job only), runs the campaign with ``WORKERS`` processes and keeps a margin before the
limit. The default limit, ``COMMAND_MINUTES``, is the one the ``full`` schedules were sized for; pass
your allocation's own. The campaign part is simulated here: runs start in the campaign's order whenever
a worker is free and the minutes left can hold them, training and analyses; N runs training at once
each progress at ``speedup(N) / N`` of their one-process speed (processor sharing).

The assumed figures are an ESTIMATE, not a measurement: no GPU has run this code yet. They are replaced
by the benchmark files in ``results/bench/`` as soon as a GPU job has written them (see
:func:`load_throughput`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from effconv.experiments.spec import ExperimentSpec
from effconv.paths import results_dir

WORKERS = 8
COMMAND_MINUTES = 10.0   # the default job time limit: the full profile's schedules were sized to fit it
MARGIN_MINUTES = 1.0     # kept free before that limit so the archive is complete when the job ends
SETUP_MINUTES = 0.5      # import check, decoding 60,000 JPEGs once (~12 s on one core), spawning workers
BENCH_MINUTES = 2.5      # first job only: epoch (eager), loader and concurrency benchmarks

# ESTIMATE. Seconds per training epoch of ONE process on one H200, bf16 autocast, channels_last, eager,
# device-resident loader, batch 256. Assumptions: CIFAR-sized models are launch-bound in eager PyTorch
# (ResNet-56: ~1,000 kernels per step at ~15 us each over 196 steps ~ 3 s, while its 37.5 TFLOP per
# epoch take ~0.3 s at 150 TFLOPS achieved); VGG-16 has a third of the layers and 2.5x the MACs;
# WRN-16-8 (1.55 GMACs, 465 TFLOP per epoch) is compute-bound; DenseNet-40 and ShuffleNet are dominated
# by small concat, grouped and depthwise kernels.
ASSUMED_BATCH = 256
ASSUMED_EPOCH_SECONDS = {"resnet56": 3.0, "vgg16_cifar": 1.5, "cifar_quick": 0.5, "wrn16_8": 4.0,
                         "densenet40": 6.0, "shufflenet_v1_cifar": 4.0, "resnet20": 1.2}
# ESTIMATE. A converted conv costs this many plain convs (ACB: three conv+BN branches summed).
ASSUMED_CONV_FACTOR = {None: 1.0, "acb": 2.0, "versatile_v1": 1.5, "versatile_v2": 1.5, "versatile_mask": 2.0}
# ESTIMATE. Aggregate throughput of N processes sharing the GPU, relative to one: without MPS the GPU
# time-slices between processes, which fills the gaps a launch-bound process leaves, up to a point.
ASSUMED_SPEEDUP = {1: 1.0, 2: 1.7, 4: 2.5, 8: 3.0, 12: 3.1}
# ESTIMATE. Time after training per analysis a spec names, in training epochs, where no stored run of the
# same model has the same analyses to measure it by (see ``inventory.after_training_epochs``).
ASSUMED_AFTER_EPOCHS_PER_ANALYSIS = 2.0


@dataclass
class Throughput:
    """Seconds per epoch of one process per model configuration, and the speedup of N processes."""

    source: str                                   # "estimate" or "measured"
    scale: float = 1.0                            # measured / assumed, for ResNet-56
    speedups: dict[int, float] = field(default_factory=lambda: dict(ASSUMED_SPEEDUP))
    note: str = ""
    # (model, analyses) -> seconds after training in units of a training epoch, measured on stored runs
    after_epochs: dict[str, float] = field(default_factory=dict)

    def epoch_seconds(self, spec: ExperimentSpec) -> float:
        """One process, this spec's model, conv and batch size (launch-bound: time ~ steps ~ 1/batch)."""
        base = ASSUMED_EPOCH_SECONDS.get(spec.model, 4.0)
        factor = ASSUMED_CONV_FACTOR.get(dict(spec.model_kwargs).get("conv"), 2.0)
        return self.scale * base * factor * ASSUMED_BATCH / spec.recipe.batch_size

    def speedup(self, workers: int) -> float:
        """Aggregate speedup at ``workers`` processes, interpolated linearly between measured counts."""
        points = sorted(self.speedups.items())
        if workers <= points[0][0]:
            return points[0][1] * workers / points[0][0]
        for (n0, s0), (n1, s1) in zip(points, points[1:]):
            if workers <= n1:
                return s0 + (s1 - s0) * (workers - n0) / (n1 - n0)
        return points[-1][1]

    def after_seconds(self, spec: ExperimentSpec) -> float:
        """One process's seconds after training (the spec's analyses): the stored runs' ratio of time after
        training to a training epoch for the same model and analyses, times this spec's epoch; where none
        is stored, ``ASSUMED_AFTER_EPOCHS_PER_ANALYSIS`` per analysis (an ESTIMATE). The ratio carries over
        from CPU runs on the assumption that an evaluation costs the same share of an epoch on a GPU."""
        from effconv.experiments.inventory import analysis_key

        if not spec.analyses:
            return 0.0
        ratio = self.after_epochs.get(analysis_key(spec.model, spec.analyses))
        if ratio is None:
            ratio = ASSUMED_AFTER_EPOCHS_PER_ANALYSIS * len(spec.analyses)
        return ratio * self.epoch_seconds(spec)

    def run_seconds(self, spec: ExperimentSpec, workers: int) -> float:
        """A run's wall time, training and analyses, while ``workers`` runs share the device."""
        single = spec.recipe.epochs * self.epoch_seconds(spec) + self.after_seconds(spec)
        return single * workers / self.speedup(workers)

    def campaign_estimate(self):
        """``epoch_seconds(spec, workers)`` for :func:`effconv.experiments.campaign.run_campaign`."""
        return lambda spec, workers: self.epoch_seconds(spec) * workers / self.speedup(workers)

    def after_estimate(self):
        """``after_seconds(spec, workers)`` for :func:`effconv.experiments.campaign.run_campaign`."""
        return lambda spec, workers: self.after_seconds(spec) * workers / self.speedup(workers)


def load_throughput(bench: Path | None = None, results: Path | None = None) -> Throughput:
    """The measured throughput when a GPU job has stored its benchmarks, else the estimate; either way with
    the after-training ratios measured on the stored runs under ``results`` (default ``results/``)."""
    from effconv.experiments.inventory import after_training_epochs

    bench = bench or results_dir() / "bench"
    after = after_training_epochs(results)
    epoch_file, concurrency_file = bench / "epoch-window-gpu.json", bench / "concurrency-resnet56-gpu.json"
    if not epoch_file.exists():
        return Throughput("estimate", after_epochs=after, note="no GPU benchmark stored: the assumed figures of "
                                                                "effconv.experiments.window_plan")
    epoch = json.loads(epoch_file.read_text())
    eager = [r for r in epoch["rows"] if r["model"] == "resnet56" and not r["compile"]]
    if not eager:
        return Throughput("estimate", after_epochs=after, note=f"{epoch_file.name} has no eager ResNet-56 row")
    row = eager[0]
    # the measured batch may differ from the assumed one: compare at the same batch
    assumed = ASSUMED_EPOCH_SECONDS["resnet56"] * ASSUMED_BATCH / row.get("batch_size", ASSUMED_BATCH)
    result = Throughput("measured", scale=row["seconds_per_epoch"] / assumed, after_epochs=after,
                        note=f"ResNet-56 {row['seconds_per_epoch']} s/epoch measured ({epoch_file.name}); other "
                             "models scaled from it by the assumed ratios")
    if concurrency_file.exists():
        rows = json.loads(concurrency_file.read_text())["rows"]
        result.speedups = {r["workers"]: r["speedup"] for r in rows}
        result.note += f"; speedups from {concurrency_file.name}"
    return result


def simulate(specs: Sequence[ExperimentSpec], throughput: Throughput, *, workers: int = WORKERS,
             first_window_bench: bool = True, max_windows: int = 100,
             job_minutes: float = COMMAND_MINUTES) -> pd.DataFrame:
    """Assign ``specs`` (in campaign order) to windows as the campaign would; one row per run with its
    window, start and end minute inside the campaign part of that window. A run longer than a whole
    window gets window ``None`` (it can never run)."""
    rows, pending, window = [], list(specs), 0
    while pending and window < max_windows:
        window += 1
        budget = (job_minutes - MARGIN_MINUTES - SETUP_MINUTES
                  - (BENCH_MINUTES if window == 1 and first_window_bench else 0)) * 60
        clock, active, waiting = 0.0, [], []   # active: [spec, single-process seconds left, start]
        queue = list(pending)
        while queue or active:
            # start what fits: judged, like the campaign, at the speed of a full set of workers
            while queue and len(active) < workers:
                spec = queue.pop(0)
                if clock + throughput.run_seconds(spec, workers) > budget:
                    waiting.append(spec)
                    continue
                single = spec.recipe.epochs * throughput.epoch_seconds(spec) + throughput.after_seconds(spec)
                active.append([spec, single, clock])
            if not active:
                break
            rate = throughput.speedup(len(active)) / len(active)
            step = min(item[1] for item in active) / rate
            clock += step
            for item in active:
                item[1] -= step * rate
            for item in [a for a in active if a[1] <= 1e-9]:
                active.remove(item)
                rows.append({"window": window, "chapter": item[0].chapter, "name": item[0].name,
                             "seed": item[0].seed, "epochs": item[0].recipe.epochs,
                             "start_min": round(item[2] / 60, 2), "end_min": round(clock / 60, 2)})
        if len(waiting) == len(pending):  # nothing started in a fresh window: these can never fit
            for spec in waiting:
                rows.append({"window": None, "chapter": spec.chapter, "name": spec.name, "seed": spec.seed,
                             "epochs": spec.recipe.epochs, "start_min": math.nan, "end_min": math.nan})
            break
        pending = waiting
    return pd.DataFrame(rows)


def window_summary(plan: pd.DataFrame) -> pd.DataFrame:
    """Runs and windows per chapter/row name from :func:`simulate`."""
    return (plan.groupby(["chapter", "name"], sort=False)
            .agg(runs=("seed", "size"), epochs=("epochs", "first"), first_window=("window", "min"),
                 last_window=("window", "max")).reset_index())
