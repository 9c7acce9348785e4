"""The GPU window: the plan that sizes the full profile, and the one-command script in its CPU dry mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from effconv.plan import campaign_specs
from effconv.experiments.window_plan import (BENCH_MINUTES, COMMAND_MINUTES, MARGIN_MINUTES, SETUP_MINUTES, WORKERS,
                                             Throughput, load_throughput, simulate)
from effconv.paths import repo_root, results_dir


def test_every_full_run_fits_a_job_at_the_estimate_and_only_analyses_push_some_past_the_first():
    """Since the estimate counts analyses (#36), the longest ACB runs no longer fit the first job, whose
    benchmarks take time; their training alone would, and every run fits a job without benchmarks."""
    first = (COMMAND_MINUTES - MARGIN_MINUTES - SETUP_MINUTES - BENCH_MINUTES) * 60
    later = (COMMAND_MINUTES - MARGIN_MINUTES - SETUP_MINUTES) * 60
    estimate = load_throughput()
    specs = campaign_specs("full")
    assert all(estimate.run_seconds(s, WORKERS) <= later for s in specs)
    past_first = [s for s in specs if estimate.run_seconds(s, WORKERS) > first]
    training = [s.recipe.epochs * estimate.epoch_seconds(s) * WORKERS / estimate.speedup(WORKERS) for s in past_first]
    assert all(t <= first for t in training) and all(s.analyses for s in past_first)


def test_the_twelve_acnet_headline_runs_fit_two_jobs():
    """With their analyses counted the ACB ResNet-56 runs wait for the second job (the first one benchmarks);
    the other nine headline runs train in the first."""
    plan = simulate(campaign_specs("full"), load_throughput())
    head = plan[plan["name"].isin(["resnet56-base", "resnet56-acnet", "vgg16-cifar-base", "vgg16-cifar-acnet"])]
    assert len(head) == 12 and set(head["window"]) <= {1, 2}
    assert (head["window"] == 1).sum() >= 9
    assert plan["window"].notna().all() and len(plan) == len(campaign_specs("full"))


def test_measured_benchmarks_replace_the_estimate(tmp_path):
    assert load_throughput(tmp_path).source == "estimate"
    (tmp_path / "epoch-window-gpu.json").write_text(json.dumps(
        {"rows": [{"model": "resnet56", "compile": False, "batch_size": 256, "seconds_per_epoch": 6.0}]}))
    (tmp_path / "concurrency-resnet56-gpu.json").write_text(json.dumps(
        {"rows": [{"workers": 1, "speedup": 1.0}, {"workers": 4, "speedup": 2.0}, {"workers": 8, "speedup": 2.0}]}))
    measured = load_throughput(tmp_path)
    assert measured.source == "measured" and measured.scale == pytest.approx(2.0)
    assert measured.speedup(8) == 2.0 and measured.speedup(2) == pytest.approx(1 + 1 / 3)
    # twice as slow per process and less concurrency: fewer runs per window, and some never fit one
    specs = campaign_specs("full")
    slow, estimated = simulate(specs, measured), simulate(specs, Throughput("estimate"))
    assert (slow["window"] == 1).sum() < (estimated["window"] == 1).sum()
    assert slow["window"].isna().any() and len(slow) == len(specs)


def test_train_does_not_import_upward():
    source = (Path(__file__).parents[1] / "src/effconv/train/bench.py").read_text()
    assert "effconv.experiments.campaign" not in source and "effconv.studies" not in source


def _snapshot(root: Path):
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.slow
def test_dry_window_benchmarks_trains_and_packs_within_its_limit(tmp_path):
    before = _snapshot(results_dir())
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo_root() / "src")}
    env.pop("EFFCONV_RESULTS", None)
    limit = 6.0
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "effconv.cli", "window", "--dry", "--out", str(tmp_path),
                           "--time-limit", str(limit), "--margin", "0.5"], env=env, cwd=repo_root(),
                          capture_output=True, text=True, timeout=limit * 60 + 60)
    took = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    assert took < (limit - 0.5) * 60 + 30  # the margin before the limit holds (plus interpreter start)
    with tarfile.open(tmp_path / "results.tar.gz") as tar:
        names = tar.getnames()
    bench = {Path(n).name.split("-")[0] for n in names if n.startswith("results/bench/")}
    assert {"epoch", "loader", "concurrency", "window"} <= bench, names
    assert sum(n.startswith("smoke-results/engine/window-dry-") for n in names) == 2, names
    summary = json.loads((tmp_path / "dry-results" / "bench").glob("window-smoke-*.json").__next__().read_text())
    assert summary["overlapped"] and [r["status"] for r in summary["runs"]] == ["stored", "stored"]
    assert (tmp_path / "window.log").read_text().count("\n") > 5
    assert _snapshot(results_dir()) == before  # nothing of a dry window lands in results/


def _cli(*args, env=None):
    full = {**os.environ, "PYTHONPATH": str(repo_root() / "src"), **(env or {})}
    full.pop("EFFCONV_OUT", None)
    return subprocess.run([sys.executable, "-m", "effconv.cli", *args], capture_output=True, text=True,
                          timeout=300, env=full, cwd=repo_root())


@pytest.mark.parametrize("args, message", [
    (["window", "--dry"], "no output folder"),
    (["window", "--dry", "--out", "x", "--time-limit", "1", "--margin", "1"], "leaves no time"),
    (["campaign", "--time-limit", "1", "--margin", "1"], "leaves no time"),
    (["campaign", "--time-limit", "1", "--workers", "0"], "integer >= 1, got 0"),
])
def test_window_and_campaign_bad_input_is_one_line(args, message):
    done = _cli(*args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_missing_archive_names_where_to_put_it(tmp_path, monkeypatch):
    from effconv.errors import EffconvError
    from effconv.window import find_data

    monkeypatch.delenv("EFFCONV_DATA", raising=False)
    with pytest.raises(EffconvError, match="shared/data"):
        find_data(tmp_path / "repo")
    (tmp_path / "repo" / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo" / "shared" / "data" / "cifar10-jpeg.tar.gz").write_bytes(b"x")
    assert find_data(tmp_path / "repo").parent.name == "data"


def _raise_on_purpose():
    raise RuntimeError("a benchmark step broke on purpose")


def _write_marker(path):
    Path(path).write_text("ran")


def test_a_failing_benchmark_step_is_logged_and_the_next_one_runs(tmp_path):
    from effconv.window import run_step

    lines = []
    assert not run_step("broken", _raise_on_purpose, timeout_s=120, log_path=tmp_path / "broken.log",
                        log=lines.append)
    assert "RuntimeError: a benchmark step broke on purpose" in (tmp_path / "broken.log").read_text()
    assert any("broken benchmark failed" in line and "the job goes on" in line for line in lines)
    import functools

    assert run_step("next", functools.partial(_write_marker, tmp_path / "marker"), timeout_s=120,
                    log_path=tmp_path / "next.log", log=lines.append)
    assert (tmp_path / "marker").read_text() == "ran"


def test_a_benchmark_step_past_its_cap_is_stopped(tmp_path):
    import functools

    from effconv.window import run_step

    lines = []
    started = time.perf_counter()
    assert not run_step("slow", functools.partial(time.sleep, 600), timeout_s=3, log_path=tmp_path / "slow.log",
                        log=lines.append)
    assert time.perf_counter() - started < 30 and any("stopped after" in line for line in lines)


@pytest.mark.parametrize("mode, workers, refused", [("Default", 8, False), ("Exclusive_Process", 1, False),
                                                    ("Exclusive_Process", 8, True), ("Prohibited", 1, True)])
def test_preflight_refuses_a_compute_mode_that_cannot_hold_the_workers(mode, workers, refused):
    from effconv.errors import EffconvError
    from effconv.window import preflight

    smi = lambda: f"NVIDIA H200, {mode}, 143771 MiB, 1 MiB, 570.1\n"  # noqa: E731
    lines = []
    if refused:
        with pytest.raises(EffconvError, match=f"compute mode is {mode}"):
            preflight(workers, lines.append, smi=smi)
    else:
        found = preflight(workers, lines.append, smi=smi)
        assert found["gpus"][0]["compute_mode"] == mode and found["torch"]
    assert any(f"compute mode {mode}" in line and "driver 570.1" in line for line in lines)
