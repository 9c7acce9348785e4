"""Benchmarks of the training step, written to ``results/bench/``.

- ``loader_benchmark``: training images/s with the device-resident loader vs the plain DataLoader
  pipeline; same model, device, precision and step in one process, only the input pipeline differs.
- ``epoch_benchmark``: seconds per epoch of every model configuration a profile trains, eager and
  under ``torch.compile``, and the total training time the profile needs on this device.
- ``concurrency_benchmark``: aggregate training images/s when 1, 4, 8 ... processes train at once on
  one device (what ``effconv campaign --workers N`` gains over one process).

The step mirrors the Lightning module's (cross-entropy, SGD with momentum, bf16 autocast on GPU,
channels_last) but runs in a bare loop, so the numbers measure the model and the pipeline, not the framework.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import time
from queue import Empty
from typing import Any, Sequence

import torch

from effconv.data.cifar import load_cifar10
from effconv.data.loader import DeviceLoader
from effconv.errors import EffconvError
from effconv.data.torchvision_pipeline import torchvision_loader
from effconv.provenance import now, provenance
from effconv.io import atomic_write_json
from effconv.models import create_model
from effconv.paths import results_dir
from effconv.train.backends import use_fast_backends
from effconv.train.trainer import precision_for, resolve_accelerator, to_channels_last


def _time_training(model_name: str, batches, steps: int, warmup: int, device: torch.device, bf16: bool,
                   model_kwargs: dict | None = None, compile: bool = False) -> float:
    """Seconds for ``steps`` training steps after ``warmup`` steps (synchronised on CUDA), with the backend
    settings training uses (cuDNN autotuning, TF32 matmuls on a GPU), so the time predicts a run's."""
    use_fast_backends("gpu" if device.type == "cuda" else "cpu")
    torch.manual_seed(0)
    model = to_channels_last(create_model(model_name, **(model_kwargs or {})).to(device))
    forward = torch.compile(model) if compile else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    started = 0.0
    for step, (images, labels) in enumerate(itertools.islice(batches, warmup + steps)):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        labels = labels.to(device, non_blocking=True)
        with autocast:
            loss = torch.nn.functional.cross_entropy(forward(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def _endless(loader):
    """Cycle through epochs so a long benchmark never runs out of batches."""
    epoch = 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def loader_benchmark(model_name: str = "resnet56", *, steps: int | None = None, batch_size: int = 128,
                     accelerator: str = "auto", save: bool = True, log=print) -> dict[str, Any]:
    accelerator = resolve_accelerator(accelerator)
    device = torch.device("cuda" if accelerator == "gpu" else "cpu")
    bf16 = precision_for(accelerator) == "bf16-mixed"
    steps = steps or (390 if device.type == "cuda" else 20)  # one epoch on GPU, a short window on CPU
    warmup = 20 if device.type == "cuda" else 3
    data = load_cifar10()
    pipelines = {
        "device": DeviceLoader(data.train_x, data.train_y, batch_size=batch_size, train=True, mean=data.mean,
                               std=data.std, device=device, seed=0),
        "torchvision": torchvision_loader(data.train_x, data.train_y, batch_size=batch_size, train=True,
                                          mean=data.mean, std=data.std, pin_memory=device.type == "cuda"),
    }
    rates = {}
    for name, loader in pipelines.items():
        seconds = _time_training(model_name, _endless(loader), steps, warmup, device, bf16)
        rates[name] = steps * batch_size / seconds
        log(f"{name:>11} loader: {rates[name]:8.0f} images/s ({seconds:.2f} s for {steps} steps)")
    ratio = rates["device"] / rates["torchvision"]
    epoch_seconds = len(data.train_y) / rates["device"]
    log(f"device / torchvision = {ratio:.2f}x; one {model_name} epoch ~ {epoch_seconds:.1f} s with the device loader")
    result = {
        "benchmark": "loader", "model": model_name, "batch_size": batch_size, "steps": steps, "warmup": warmup,
        "precision": "bf16-mixed" if bf16 else "32-true", "channels_last": True,
        "images_per_second": {k: round(v, 1) for k, v in rates.items()}, "ratio": round(ratio, 3),
        "epoch_seconds_device_loader": round(epoch_seconds, 2), "data": data.source,
        "provenance": {**provenance(device), "finished": now()},
    }
    if save:
        slug = "gpu" if device.type == "cuda" else "cpu"
        path = atomic_write_json(results_dir() / "bench" / f"loader-{model_name}-{slug}.json", result)
        log(f"written {path}")
    return result


def _specs_by_config(specs: Sequence[Any]) -> dict[tuple, list]:
    """Experiment specs grouped by (model, options) configuration. The caller passes the specs (the CLI
    takes them from the campaign's plan), so this module needs nothing above ``train``."""
    import json

    groups: dict[tuple, list] = {}
    for spec in specs:
        config = (spec.model, json.dumps(dict(spec.model_kwargs), sort_keys=True))
        groups.setdefault(config, []).append(spec)
    return groups


def epoch_benchmark(specs: Sequence[Any], profile: str = "full", *, steps: int | None = None,
                    compile_modes=(False, True), accelerator: str = "auto", save: bool = True,
                    name: str | None = None, log=print) -> dict[str, Any]:
    """Seconds per epoch of every model configuration in ``specs`` (a profile's experiments), with and
    without torch.compile, and from them the training time those runs need (epochs x seconds per epoch,
    summed). ``name`` replaces the profile in the file name (for a subset of the profile)."""
    import json

    accelerator = resolve_accelerator(accelerator)
    device = torch.device("cuda" if accelerator == "gpu" else "cpu")
    bf16 = precision_for(accelerator) == "bf16-mixed"
    steps = steps or (100 if device.type == "cuda" else 5)
    warmup = 15 if device.type == "cuda" else 2
    data = load_cifar10()
    rows = []
    for (model, options), group in _specs_by_config(specs).items():
        kwargs = json.loads(options)
        batch = group[0].recipe.batch_size
        loader = DeviceLoader(data.train_x, data.train_y, batch_size=batch, train=True, mean=data.mean,
                              std=data.std, device=device, seed=0)
        for compiled in compile_modes:
            seconds = _time_training(model, _endless(loader), steps, warmup, device, bf16, kwargs, compiled)
            epoch = len(data.train_y) / (steps * batch / seconds)
            planned = sum(s.recipe.epochs for s in group)
            rows.append({"model": model, "options": options, "compile": compiled, "runs": len(group),
                         "batch_size": batch, "epochs_planned": planned, "seconds_per_epoch": round(epoch, 2),
                         "training_minutes": round(planned * epoch / 60, 1)})
            log(f"{model:>20} {options:<60} compile={compiled!s:<5} {epoch:7.2f} s/epoch; "
                f"{len(group)} runs, {planned} epochs -> {planned * epoch / 60:6.1f} min")
    best = {}
    for row in rows:
        key = (row["model"], row["options"])
        best[key] = min(best.get(key, float("inf")), row["training_minutes"])
    total = round(sum(best.values()), 1)
    log(f"the {profile} profile needs about {total} minutes of training on this device "
        "(fastest of compiled / eager per configuration; analyses not included)")
    result = {"benchmark": "epoch", "profile": profile, "steps": steps, "warmup": warmup,
              "precision": "bf16-mixed" if bf16 else "32-true", "rows": rows, "total_training_minutes": total,
              "data": data.source, "provenance": {**provenance(device), "finished": now()}}
    if save:
        slug = "gpu" if device.type == "cuda" else "cpu"
        path = atomic_write_json(results_dir() / "bench" / f"epoch-{name or profile}-{slug}.json", result)
        log(f"written {path}")
    return result


def _concurrent_worker(rank: int, model_name: str, model_kwargs: dict, steps: int, warmup: int, batch_size: int,
                       device_type: str, bf16: bool, threads: int, barrier, results) -> None:
    torch.set_num_threads(threads)
    device = torch.device(device_type)
    data = load_cifar10()
    loader = DeviceLoader(data.train_x, data.train_y, batch_size=batch_size, train=True, mean=data.mean,
                          std=data.std, device=device, seed=rank)
    barrier.wait()  # data loaded and the device initialised everywhere: the timed steps overlap
    seconds = _time_training(model_name, _endless(loader), steps, warmup, device, bf16, model_kwargs)
    results.put((rank, steps * batch_size / seconds))


def concurrency_benchmark(model_name: str = "resnet56", *, workers: Sequence[int] = (1, 4, 8),
                          model_kwargs: dict | None = None, steps: int | None = None, batch_size: int = 128,
                          threads: int = 1, accelerator: str = "auto", save: bool = True,
                          log=print) -> dict[str, Any]:
    """Aggregate training images/s with N processes training ``model_name`` at once on one device.

    Each process loads the data and starts on a barrier, then times its own steps; the aggregate is the
    sum of their rates (they run at the same time, so that is the device's throughput under N workers).
    Processes are spawned, as the campaign's are, so CUDA works in them.
    """
    accelerator = resolve_accelerator(accelerator)
    device_type = "cuda" if accelerator == "gpu" else "cpu"
    bf16 = precision_for(accelerator) == "bf16-mixed"
    steps = steps or (150 if device_type == "cuda" else 4)
    warmup = 15 if device_type == "cuda" else 1
    context = mp.get_context("spawn")
    rows = []
    for count in workers:
        barrier, queue = context.Barrier(count), context.Queue()
        processes = [context.Process(target=_concurrent_worker,
                                     args=(rank, model_name, model_kwargs or {}, steps, warmup, batch_size,
                                           device_type, bf16, threads, barrier, queue)) for rank in range(count)]
        for process in processes:
            process.start()
        rates = []
        while len(rates) < count:  # poll, so a worker that crashed fails the benchmark instead of hanging it
            try:
                rates.append(queue.get(timeout=1.0)[1])
            except Empty:
                if any(p.exitcode not in (None, 0) for p in processes):
                    for process in processes:
                        process.kill()
                    raise EffconvError(f"a benchmark worker failed (exit codes {[p.exitcode for p in processes]}); "
                                       "run it alone with `effconv bench loader` to see its error.") from None
        for process in processes:
            process.join()
        total = sum(rates)
        rows.append({"workers": count, "aggregate_images_per_second": round(total, 1),
                     "per_worker_images_per_second": round(total / count, 1)})
        log(f"{count:>3} workers: {total:9.0f} images/s in all, {total / count:8.0f} per worker")
    single = rows[0]["aggregate_images_per_second"]
    for row in rows:
        row["speedup"] = round(row["aggregate_images_per_second"] / single, 3)
    result = {"benchmark": "concurrency", "model": model_name, "model_kwargs": model_kwargs or {},
              "batch_size": batch_size, "steps": steps, "warmup": warmup, "threads_per_worker": threads,
              "precision": "bf16-mixed" if bf16 else "32-true", "channels_last": True, "rows": rows,
              "provenance": {**provenance(torch.device(device_type)), "finished": now()}}
    if save:
        slug = "gpu" if device_type == "cuda" else "cpu"
        path = atomic_write_json(results_dir() / "bench" / f"concurrency-{model_name}-{slug}.json", result)
        log(f"written {path}")
    return result


PRECISION_MODES = {"fp32": (False, False), "bf16": (True, False), "fp32+compile": (False, True),
                   "bf16+compile": (True, True)}


def precision_benchmark(profile: str = "cpu", *, specs: Sequence[Any], steps: int = 4, rounds: int = 3, threads: int = 1,
                        modes: tuple[str, ...] = tuple(PRECISION_MODES), save: bool = True,
                        log=print) -> dict[str, Any]:
    """Training images/s in fp32 and bf16 autocast, eager and compiled, for every model configuration the
    profile trains, on the CPU with ``threads`` threads.

    The modes are interleaved: each round times ``steps`` steps of every mode in turn, so a neighbour's
    load falls on all of them alike. The median round is reported, and each mode's ratio to fp32.
    """
    import json
    import statistics

    unknown = set(modes) - set(PRECISION_MODES)
    if unknown or "fp32" not in modes:
        raise EffconvError(f"unknown precision modes {sorted(unknown)}; use fp32 and any of "
                           f"{', '.join(PRECISION_MODES)}." if unknown else "the modes must include fp32, the reference.")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    device = torch.device("cpu")
    data = load_cifar10()
    rows = []
    try:
        for (model, options), specs in _specs_by_config(specs).items():
            kwargs = json.loads(options)
            batch = specs[0].recipe.batch_size
            loader = _endless(DeviceLoader(data.train_x, data.train_y, batch_size=batch, train=True, mean=data.mean,
                                           std=data.std, device=device, seed=0))
            timings: dict[str, list[float]] = {mode: [] for mode in modes}
            for round_ in range(rounds):
                for mode in modes:
                    bf16, compiled = PRECISION_MODES[mode]
                    # the first round pays compilation and allocation in its warm-up steps
                    seconds = _time_training(model, loader, steps, 2 if round_ == 0 or compiled else 1, device,
                                             bf16, kwargs, compiled)
                    timings[mode].append(steps * batch / seconds)
            rates = {mode: statistics.median(values) for mode, values in timings.items()}
            row = {"model": model, "options": options, "runs": len(specs), "batch_size": batch,
                   "images_per_second": {m: round(v, 1) for m, v in rates.items()},
                   "ratio_to_fp32": {m: round(v / rates["fp32"], 3) for m, v in rates.items()}}
            rows.append(row)
            log(f"{model:>16} {options:<58} " + "  ".join(f"{m} {row['ratio_to_fp32'][m]:.2f}x" for m in modes))
    finally:
        torch.set_num_threads(previous)
    result = {"benchmark": "precision", "profile": profile, "steps": steps, "rounds": rounds, "threads": threads,
              "modes": list(modes), "rows": rows, "data": data.source,
              "provenance": {**provenance(device), "finished": now()}}
    if save:
        # one file per ISA level: whether bf16 pays off depends on it (AVX-512 has native bf16, AVX2 has not)
        isa = torch.backends.cpu.get_cpu_capability().lower()
        path = atomic_write_json(results_dir() / "bench" / f"precision-{profile}-{isa}.json", result)
        log(f"written {path}")
    return result
