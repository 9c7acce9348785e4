"""Wall-clock latency of a module or function: warm up, time each call, report median and quartiles.

FLOP counts say how much arithmetic a layer needs; latency says how long the hardware takes. The
two disagree for memory-bound ops (depthwise convs, channel shuffles), which is why chapters
measure both.

Why not ``torch.utils.benchmark.Timer``: its ``blocked_autorange`` runs for a time budget rather
than a fixed number of calls, and its ``timeit`` adds two warm-up calls to every measurement, so a
notebook could not predict its own run time. We keep its rules (inference mode, explicit thread
count, accelerator synchronisation around the clock) in a loop of ``warmup + repeats`` calls.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from effconv.errors import EffconvError
from effconv.provenance import device_name


@dataclass(frozen=True)
class LatencyResult:
    """Per-call wall-clock time in milliseconds over ``repeats`` timed calls."""

    median_ms: float
    q25_ms: float
    q75_ms: float
    repeats: int
    device_name: str
    threads: int
    times_ms: tuple[float, ...] = ()

    @property
    def iqr_ms(self) -> float:
        """The interquartile range of the timed calls, in milliseconds."""
        return self.q75_ms - self.q25_ms

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict, without the individual times (for a table row)."""
        out = asdict(self)
        out.pop("times_ms")
        return out

    def __str__(self) -> str:
        return (f"{self.median_ms:.3f} ms (IQR {self.q25_ms:.3f}-{self.q75_ms:.3f}, {self.repeats} runs, "
                f"{self.device_name})")


def _resolve_device(device: str | torch.device) -> torch.device:
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise EffconvError(f"device {device!r} is not a device name; use 'cpu' or 'cuda'.") from err
    if device.type not in ("cpu", "cuda"):
        raise EffconvError(f"latency can be measured on 'cpu' or 'cuda', not {device.type!r}.")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EffconvError("device 'cuda' was requested but torch.cuda.is_available() is False; use device='cpu'.")
    return device


def device_description(device: str | torch.device = "cpu") -> str:
    """A human name for ``device``: the CPU model (from /proc/cpuinfo) with its thread count, or the GPU's name."""
    return device_name(_resolve_device(device))


def _example_inputs(inputs: Any, device: torch.device) -> tuple[torch.Tensor, ...]:
    """A shape becomes one random tensor; tensors are moved to ``device``."""
    if isinstance(inputs, torch.Tensor):
        return (inputs.to(device),)
    if isinstance(inputs, Sequence) and inputs and all(isinstance(s, int) and not isinstance(s, bool) for s in inputs):
        if any(s < 1 for s in inputs):
            raise EffconvError(f"input shape {tuple(inputs)} has a non-positive size; give e.g. (1, 3, 224, 224).")
        return (torch.randn(tuple(inputs), device=device),)
    if isinstance(inputs, Sequence) and inputs and all(isinstance(t, torch.Tensor) for t in inputs):
        return tuple(t.to(device) for t in inputs)
    raise EffconvError(
        f"inputs must be a shape such as (1, 3, 224, 224), a tensor, or a tuple of tensors; got {inputs!r:.80}."
    )


def _check_count(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise EffconvError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def measure_latency(
    module_or_fn: nn.Module | Callable[..., Any],
    inputs: Sequence[int] | torch.Tensor | Sequence[torch.Tensor],
    *,
    device: str | torch.device = "cpu",
    warmup: int = 3,
    repeats: int = 15,
    threads: int | None = None,
) -> LatencyResult:
    """Time ``module_or_fn(*inputs)`` on ``device``: ``warmup`` untimed calls, then ``repeats`` timed ones.

    ``inputs`` is a shape (batch included; a random tensor is made), a tensor, or a tuple of tensors.
    A module is moved to ``device`` (in place, like ``nn.Module.to``) and run in eval mode; its
    previous train/eval mode is restored afterwards. Calls run under ``torch.inference_mode``;
    on CUDA the clock is read only after ``torch.cuda.synchronize()``. ``threads`` sets
    ``torch.set_num_threads`` for the measurement (``None`` keeps the current setting).
    """
    device = _resolve_device(device)
    _check_count("warmup", warmup, 0)
    _check_count("repeats", repeats, 1)
    if threads is not None:
        _check_count("threads", threads, 1)
    if not callable(module_or_fn):
        raise EffconvError(f"expected an nn.Module or a function to time, got {type(module_or_fn).__name__}.")
    module = module_or_fn if isinstance(module_or_fn, nn.Module) else None
    if module is not None and any(p.is_meta for p in module.parameters()):
        raise EffconvError("the module lives on the 'meta' device and cannot run; build it on 'cpu' to time it.")
    args = _example_inputs(inputs, device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    previous_threads = torch.get_num_threads()
    was_training = module.training if module is not None else False
    if module is not None:
        module.to(device).eval()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        used_threads = torch.get_num_threads()
        name = device_description(device)
        times = []
        with torch.inference_mode():
            for _ in range(warmup):
                module_or_fn(*args)
            sync()
            for _ in range(repeats):
                start = time.perf_counter()
                module_or_fn(*args)
                sync()
                times.append((time.perf_counter() - start) * 1e3)
    finally:
        torch.set_num_threads(previous_threads)
        if module is not None:
            module.train(was_training)

    if len(times) > 1:
        q25, median, q75 = statistics.quantiles(times, n=4, method="inclusive")
    else:
        q25 = median = q75 = times[0]
    return LatencyResult(median_ms=median, q25_ms=q25, q75_ms=q75, repeats=repeats, device_name=name,
                         threads=used_threads, times_ms=tuple(times))
