"""measure_latency and device_description: real timings of known durations, state restored, bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from torch import nn

from effconv.analysis.latency import LatencyResult, device_description, measure_latency
from effconv.errors import EffconvError


def test_times_a_known_duration():
    calls = []

    def sleepy(x):
        calls.append(torch.is_inference_mode_enabled())
        time.sleep(0.004)
        return x

    result = measure_latency(sleepy, (1, 3), warmup=2, repeats=5)
    assert isinstance(result, LatencyResult)
    assert len(calls) == 7 and all(calls)  # warmup + repeats, every call under inference mode
    assert 4.0 <= result.q25_ms <= result.median_ms <= result.q75_ms
    assert result.median_ms < 200  # a loaded machine may be slow, but not 50x
    assert result.repeats == 5 and len(result.times_ms) == 5
    assert result.iqr_ms == pytest.approx(result.q75_ms - result.q25_ms)
    assert "times_ms" not in result.as_dict() and result.as_dict()["median_ms"] == result.median_ms


def test_longer_work_takes_longer():
    short = measure_latency(lambda x: time.sleep(0.002), (1,), warmup=0, repeats=3)
    long = measure_latency(lambda x: time.sleep(0.02), (1,), warmup=0, repeats=3)
    assert long.median_ms > short.median_ms + 10


def test_module_runs_in_eval_mode_and_its_mode_is_restored():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(self.training)
            return x * 2

    probe = Probe().train()
    measure_latency(probe, torch.ones(2, 2), warmup=1, repeats=2)
    assert seen == [False, False, False]
    assert probe.training


def test_threads_are_set_for_the_run_and_restored():
    before = torch.get_num_threads()
    seen = []
    result = measure_latency(lambda x: seen.append(torch.get_num_threads()), (1,), warmup=0, repeats=2, threads=1)
    assert seen == [1, 1] and result.threads == 1
    assert torch.get_num_threads() == before


def test_inputs_as_shape_tensor_or_tuple():
    conv = nn.Conv2d(3, 4, 3)
    for inputs in [(1, 3, 8, 8), torch.Size([1, 3, 8, 8]), torch.randn(1, 3, 8, 8)]:
        assert measure_latency(conv, inputs, warmup=0, repeats=1).median_ms > 0
    pair = (torch.randn(2, 3), torch.randn(2, 3))
    assert measure_latency(torch.add, pair, warmup=0, repeats=2).repeats == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(repeats=0), "repeats must be an integer >= 1"),
    (dict(warmup=-1), "warmup must be an integer >= 0"),
    (dict(threads=0), "threads must be an integer >= 1"),
    (dict(device="tpu"), "not a device name|cpu' or 'cuda"),
    (dict(device="meta"), "'cpu' or 'cuda'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(EffconvError, match=message):
        measure_latency(nn.Identity(), (1, 2), **kwargs)


@pytest.mark.parametrize("inputs", [(1, 0, 4), "1x3", [], (1.5, 2)])
def test_bad_inputs(inputs):
    with pytest.raises(EffconvError, match="shape|inputs must be"):
        measure_latency(nn.Identity(), inputs)


def test_meta_module_and_non_callable_are_rejected():
    with torch.device("meta"):
        conv = nn.Conv2d(3, 3, 1)
    with pytest.raises(EffconvError, match="meta"):
        measure_latency(conv, (1, 3, 4, 4))
    with pytest.raises(EffconvError, match="nn.Module or a function to time, got int"):
        measure_latency(42, (1,))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_cuda_requested_without_cuda():
    with pytest.raises(EffconvError, match="cuda.is_available"):
        measure_latency(nn.Identity(), (1,), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_timing_synchronises():
    conv = nn.Conv2d(64, 64, 3, padding=1)
    result = measure_latency(conv, (8, 64, 64, 64), device="cuda", warmup=2, repeats=5)
    assert result.device_name == torch.cuda.get_device_name(0)
    assert result.median_ms > 0.001


def test_device_description_names_the_cpu():
    text = device_description("cpu")
    threads = torch.get_num_threads()
    assert text.endswith(f"({threads} thread{'s' if threads > 1 else ''})")
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "model name" in cpuinfo.read_text():
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                     if line.startswith("model name"))
        assert text.startswith(model)
    assert measure_latency(nn.Identity(), (1,), repeats=1).device_name == text
