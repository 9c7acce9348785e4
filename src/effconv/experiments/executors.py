"""Submit missing runs as jobs through submitit: a Slurm job array, or submitit's in-process debug executor.

One job per missing spec, each a ``TrainJob`` (so a job that hits its time limit or is pre-empted is
requeued by submitit and resumes from its last epoch checkpoint). On Slurm the jobs form one array
(``map_array``) with a cap on the jobs running at once (``slurm_array_parallelism``) and one time limit:
the longest run's estimate plus a margin, since an array has a single ``--time``. Jobs write into the
results store named by ``EFFCONV_RESULTS`` and keep their checkpoints under ``EFFCONV_CACHE``; on a
cluster both must be on a filesystem every node sees (see ``effconv.io`` for why two nodes finishing
the same key cannot tear a file). The local executor is the campaign's own pool
(:mod:`effconv.experiments.campaign`), which can cap concurrency and hold to a time limit.

The options (GPUs, CPUs, partition, account, memory) come from the command line or from a small JSON
file, by default ``effconv-slurm.json`` beside the results folder.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Sequence

from effconv.checks import check_count, check_number, check_positive
from effconv.errors import EffconvError
from effconv.experiments.job import TrainJob, child_env
from effconv.experiments.spec import ExperimentSpec
from effconv.paths import results_dir

EXECUTORS = ("local", "slurm", "debug")
CONFIG_NAME = "effconv-slurm.json"
MIN_JOB_MINUTES = 10  # a floor under the estimate: start-up, data decoding and scheduling jitter


@dataclass
class ClusterOptions:
    """What each job asks the scheduler for, and how the array runs."""

    gpus_per_node: int = 1
    cpus_per_task: int = 4
    partition: str | None = None
    account: str | None = None
    mem_gb: int | None = None
    max_concurrent: int = 8       # jobs of the array running at once
    time_margin: float = 0.5      # the time limit is the estimate times (1 + margin)
    max_requeues: int = 3         # time limits a job may hit and be requeued after

    def checked(self) -> "ClusterOptions":
        check_number("gpus_per_node", self.gpus_per_node, low=0, integer=True)
        check_count("cpus_per_task", self.cpus_per_task)
        check_count("max_concurrent", self.max_concurrent)
        check_number("time_margin", self.time_margin, low=0)
        check_number("max_requeues", self.max_requeues, low=0, integer=True)
        if self.mem_gb is not None:
            check_count("mem_gb", self.mem_gb)
        return self


def config_path() -> Path:
    """Where the cluster options file is looked for: beside the results folder."""
    return results_dir().parent / CONFIG_NAME


def load_options(path: Path | None = None, **overrides: Any) -> ClusterOptions:
    """Options from ``path`` (default ``config_path()``, skipped when absent), then the non-None ``overrides``."""
    path = path or config_path()
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise EffconvError(f"cluster options file {path} is not valid JSON ({err}); fix or delete it.") from None
        known = {f.name for f in fields(ClusterOptions)}
        unknown = sorted(set(values) - known) if isinstance(values, dict) else ["(not an object)"]
        if unknown:
            raise EffconvError(f"cluster options file {path} has unknown keys {unknown}; known: {', '.join(sorted(known))}.")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ClusterOptions(**values).checked()


def job_minutes(estimates: Sequence[float | None], margin: float) -> int:
    """One time limit for the array: the longest estimated run plus ``margin``, at least ``MIN_JOB_MINUTES``.
    A run with no estimate gets the floor; if it runs longer, it is requeued from its checkpoint."""
    known = [e for e in estimates if e is not None]
    return max(MIN_JOB_MINUTES, math.ceil(max(known, default=0.0) * (1 + margin)))


def _jobs(specs: Sequence[ExperimentSpec], setup_modules: Sequence[str], accelerator: str,
          threads: int | None) -> list[TrainJob]:
    return [TrainJob(spec.to_dict(), accelerator=accelerator, threads=threads, setup_modules=tuple(setup_modules))
            for spec in specs]


def slurm_parameters(options: ClusterOptions, minutes: int, count: int) -> dict[str, Any]:
    """The parameters of submitit's Slurm executor for an array of ``count`` jobs of ``minutes`` each."""
    params: dict[str, Any] = {
        "job_name": "effconv", "time": minutes, "nodes": 1, "ntasks_per_node": 1,
        "cpus_per_task": options.cpus_per_task, "gpus_per_node": options.gpus_per_node or None,
        "partition": options.partition, "mem": f"{options.mem_gb}G" if options.mem_gb else None,
        "array_parallelism": min(options.max_concurrent, count),
        # OpenMP reads its thread count when torch is imported: it must be in the job's environment already
        "setup": [f"export {k}={v}" for k, v in child_env(options.cpus_per_task).items()],
    }
    if options.account:
        params["account"] = options.account
    return params


def sbatch_script(folder: Path, params: dict[str, Any], count: int) -> str:
    """The sbatch script submitit writes for an array of ``count`` jobs with ``params``. submitit has no public
    dry run, and its Slurm executor cannot even be built where ``srun`` is absent, so this calls the function
    it writes the script with (private; its signature is pinned with submitit 1.5.4)."""
    import shlex
    import sys

    from submitit.slurm.slurm import _make_sbatch_string

    command = f"{shlex.quote(sys.executable)} -u -m submitit.core._submit {shlex.quote(str(folder))}"
    return _make_sbatch_string(command=command, folder=folder, map_count=count, **params)


def slurm_executor(folder: Path, params: dict[str, Any], options: ClusterOptions):
    """A submitit Slurm executor with ``params``; a machine without Slurm's commands is one clear line."""
    import submitit

    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if missing:
        raise EffconvError(f"no `{missing[0]}` on this machine: the slurm executor submits from a Slurm login node; "
                           "use --dry-run to see the array, or --executor local here.")
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=options.max_requeues)
    executor.update_parameters(**params)
    return executor


def submit(specs: Sequence[ExperimentSpec], *, executor: str, folder: Path, setup_modules: Sequence[str] = (),
           estimates: Sequence[float | None] = (), options: ClusterOptions | None = None,
           accelerator: str = "auto", dry_run: bool = False, log: Callable[[str], None] = print) -> list[Any]:
    """Run ``specs`` (the missing ones, in order) as jobs on ``executor`` (``slurm`` or ``debug``); returns
    submitit's jobs (for ``debug``, already finished), or nothing for a dry run.

    ``estimates``: minutes per spec (None where unknown), for the Slurm time limit. ``folder``: where
    submitit keeps the pickled jobs and each job's stdout/stderr (with any traceback).
    """
    if executor not in ("slurm", "debug"):
        raise EffconvError(f"unknown executor {executor!r} for submitit; use slurm or debug (local runs the "
                           "campaign's own pool).")
    options = (options or ClusterOptions()).checked()
    specs = list(specs)
    if not specs:
        log("nothing to submit: every planned run is stored")
        return []
    folder = Path(folder)
    if executor == "debug":
        import submitit

        if dry_run:
            log(f"would run {len(specs)} jobs one after the other in this process (submitit's debug executor)")
            return []
        debug = submitit.DebugExecutor(folder=folder)
        jobs = [debug.submit(job) for job in _jobs(specs, setup_modules, accelerator, None)]
        for spec, job in zip(specs, jobs):
            job.result()  # the debug executor runs a job when its result is asked for; errors surface here
            log(f"{spec.chapter}/{spec.name} seed {spec.seed}: done")
        return jobs
    minutes = job_minutes(list(estimates) or [None] * len(specs), options.time_margin)
    params = slurm_parameters(options, minutes, len(specs))
    if dry_run:
        log(f"would submit one array of {len(specs)} jobs, at most {min(options.max_concurrent, len(specs))} at once, "
            f"{minutes} min each (the longest estimate plus {options.time_margin:.0%}), "
            f"{options.gpus_per_node} GPU(s) and {options.cpus_per_task} CPUs per job; the script:")
        log(sbatch_script(folder, params, len(specs)))
        for spec in specs:
            log(f"  {spec.chapter}/{spec.filename}")
        return []
    slurm = slurm_executor(folder, params, options)
    # each TrainJob is submitted as the job's function itself (not wrapped), so submitit finds its
    # ``checkpoint`` and requeues it on a time limit; inside ``batch()`` the submissions form one array
    with slurm.batch():
        jobs = [slurm.submit(job) for job in _jobs(specs, setup_modules, accelerator, options.cpus_per_task)]
    log(f"submitted array {jobs[0].job_id.split('_')[0]}: {len(jobs)} jobs, {minutes} min each; their logs are in "
        f"{folder}; merge nothing: they write into {results_dir()} directly")
    return jobs
