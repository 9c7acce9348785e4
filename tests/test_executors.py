"""submitit executors: a 2-spec smoke campaign through the debug executor, the Slurm array as far as it can go
without a cluster (the script submitit writes, a missing sbatch), and a job requeued after an interruption."""

from __future__ import annotations

import os
import stat
from pathlib import Path
import sys
import time

import pytest

from effconv.errors import EffconvError
from effconv.experiments.executors import ClusterOptions, job_minutes, load_options, submit
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore
from effconv.train.recipes import recipe_for


def _tiny(name: str, seed: int, epochs: int = 1, train: int = 128) -> ExperimentSpec:
    recipe = recipe_for("smoke", train_subset=train, test_subset=64, batch_size=32, eval_batch_size=64, epochs=epochs)
    return ExperimentSpec(chapter="engine", name=name, model="cifar_quick", model_kwargs={"width": 0.25},
                          recipe=recipe, profile="smoke", seed=seed)


def test_debug_executor_runs_a_two_spec_campaign_into_a_scratch_store(isolated, single_thread):
    specs = [_tiny("executor-debug", seed) for seed in (301, 302)]
    lines = []
    jobs = submit(specs, executor="debug", folder=isolated / "submitit", log=lines.append)
    assert len(jobs) == 2 and len(lines) == 2
    store = ResultStore.for_profile("smoke")
    assert str(store.root).startswith(str(isolated))  # the scratch store, not the real cache
    for spec, job in zip(specs, jobs):
        assert store.load(spec) is not None and job.result() == str(store.path(spec))


def test_slurm_dry_run_prints_the_array_script(tmp_path):
    specs = [_tiny("executor-slurm", seed) for seed in range(5)]
    lines = []
    options = ClusterOptions(gpus_per_node=2, cpus_per_task=6, partition="gpu", account="lab", max_concurrent=3)
    assert submit(specs, executor="slurm", folder=tmp_path, estimates=[20.0, 30.0, None, 10.0, 5.0],
                  options=options, dry_run=True, log=lines.append) == []
    script = "\n".join(lines)
    assert "#SBATCH --array=0-4%3" in script and "#SBATCH --time=45" in script  # 30 min + 50%
    assert "#SBATCH --gpus-per-node=2" in script and "#SBATCH --cpus-per-task=6" in script
    assert "#SBATCH --partition=gpu" in script and "#SBATCH --account=lab" in script
    assert "export OMP_NUM_THREADS=6" in script and "#SBATCH --signal=USR2@90" in script


def _fake_tool(folder, name, body):
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_slurm_submission_writes_the_array_it_was_asked_for(tmp_path, monkeypatch):
    """A fake sbatch keeps the script submitit really submits: one array, its cap, time and GPUs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_tool(bin_dir, "sbatch", f'cp "$1" {tmp_path}/submitted.sh; echo "Submitted batch job 4242"')
    _fake_tool(bin_dir, "srun", "exit 0")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    specs = [_tiny("executor-slurm", seed) for seed in range(3)]
    jobs = submit(specs, executor="slurm", folder=tmp_path / "jobs", estimates=[12.0] * 3,
                  options=ClusterOptions(max_concurrent=2), setup_modules=(), log=lambda _: None)
    assert [job.job_id for job in jobs] == ["4242_0", "4242_1", "4242_2"]
    script = (tmp_path / "submitted.sh").read_text()
    assert "#SBATCH --array=0-2%2" in script and "#SBATCH --time=18" in script
    assert "#SBATCH --gpus-per-node=1" in script


def test_a_missing_sbatch_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EffconvError, match="no `sbatch` on this machine"):
        submit([_tiny("executor-slurm", 1)], executor="slurm", folder=tmp_path, log=lambda _: None)


def test_options_file_and_overrides(tmp_path):
    path = tmp_path / "effconv-slurm.json"
    path.write_text('{"partition": "a100", "cpus_per_task": 8}')
    options = load_options(path, partition="h200", gpus_per_node=None)
    assert (options.partition, options.cpus_per_task, options.gpus_per_node) == ("h200", 8, 1)
    with pytest.raises(EffconvError, match="max_concurrent must be an integer >= 1"):
        load_options(path, max_concurrent=0)
    assert job_minutes([None, None], 0.5) == 10 and job_minutes([40.0], 0.25) == 50


@pytest.mark.slow
def test_an_interrupted_job_is_requeued_and_ends_as_an_uninterrupted_run(isolated, monkeypatch):
    """Through submitit's local executor (the same requeue path as on Slurm): a signal mid-run makes the
    job checkpoint and requeue; the rerun resumes from the last epoch checkpoint and its metrics equal
    those of the same spec trained without interruption."""
    import submitit

    from effconv.experiments.job import TrainJob
    from effconv.experiments.runner import _workdir, run_experiment

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = _tiny("executor-requeue", 401, epochs=4, train=4096)  # long enough to be caught mid-run
    executor = submitit.LocalExecutor(folder=isolated / "submitit")
    executor.update_parameters(timeout_min=10)
    job = executor.submit(TrainJob(spec.to_dict(), threads=1))
    checkpoint = _workdir(spec) / "last.ckpt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.5)
    assert checkpoint.exists() and not job.done(), job.stderr()
    # what Slurm does at a pre-emption: USR2 to the task (submitit's local controller only forwards SIGTERM)
    import signal

    controller = job._process.pid
    tasks = Path(f"/proc/{controller}/task/{controller}/children").read_text().split()
    for task in tasks:
        os.kill(int(task), signal.SIGUSR2)
    job.result()
    interrupted = ResultStore.for_profile("smoke").load(spec)
    assert interrupted["provenance"]["resumed_from_epoch"] >= 1, job.stdout()
    assert "Requeued" in (job.stderr() or "") + (job.stdout() or "")
    # the same spec, uninterrupted, into another store
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("EFFCONV_CACHE", str(isolated / "cache2"))
    (isolated / "cache2").mkdir()
    for npz in (isolated / "cache").glob("cifar10-*.npz"):
        (isolated / "cache2" / npz.name).symlink_to(npz.resolve())
    straight = run_experiment(spec)
    assert straight["metrics"] == interrupted["metrics"]
    assert [r["test_acc"] for r in straight["curve"]] == [r["test_acc"] for r in interrupted["curve"]]
