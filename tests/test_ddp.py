"""Lightning's own DDP strategy, shown working with 2 CPU processes on gloo through the CLI."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_two_process_ddp_smoke_run(isolated):
    done = subprocess.run(
        [sys.executable, "-m", "effconv.cli", "train", "--model", "resnet20", "--width", "0.25", "--profile", "smoke",
         "--accelerator", "cpu", "--devices", "2"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PL_TORCH_DISTRIBUTED_BACKEND": "gloo"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    path = done.stdout.strip().splitlines()[-1].removeprefix("result: ")
    result = json.loads(open(path).read())
    assert result["provenance"]["devices"] == 2
    # each rank trained on its own half of the slice (the device loader shards by rank)
    assert len(result["curve"]) == 1 and 0 <= result["metrics"]["final"]["test_acc"] <= 1
    assert len(list((isolated / "cache" / "smoke-results" / "engine").glob("*.json"))) == 1  # one writer
