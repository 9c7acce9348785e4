"""The CPU precision benchmark: interleaved modes, ratios to fp32, one result file per ISA level."""

import json

import torch

from effconv.plan import campaign_specs
from effconv.paths import results_dir
from effconv.train.bench import precision_benchmark


def test_precision_benchmark_writes_one_file_per_isa_level(isolated):
    spec = next(s for s in campaign_specs("smoke", ["acnet"]) if s.model == "cifar_quick")
    result = precision_benchmark("smoke", specs=[spec], steps=1, rounds=1, modes=("fp32", "bf16"), log=lambda _: None)
    (row,) = result["rows"]
    assert row["model"] == "cifar_quick" and row["ratio_to_fp32"]["fp32"] == 1.0
    assert row["images_per_second"]["bf16"] > 0
    isa = torch.backends.cpu.get_cpu_capability().lower()
    written = json.loads((results_dir() / "bench" / f"precision-smoke-{isa}.json").read_text())
    assert written["provenance"]["cpu_capability"].lower() == isa and written["modes"] == ["fp32", "bf16"]
