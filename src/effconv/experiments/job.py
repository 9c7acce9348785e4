"""One run as a job: a picklable callable that any executor can run, with its output in its own log.

The campaign's worker processes, submitit's Slurm array tasks and its debug executor all run the same
``TrainJob``: it prepares the process (threads, the modules that register the chapter's analyses),
sends everything the run prints, Lightning's messages and, on failure, the traceback into the run's
log file, and trains through the results store. Under submitit it is also checkpointable: on a time
limit or a pre-emption submitit calls ``checkpoint``, which requeues the same job, and the requeued
run resumes from its last Lightning epoch checkpoint.

Everything heavy is imported inside ``__call__``, so unpickling a job costs nothing until it runs.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence


def log_name(spec: Mapping[str, Any]) -> str:
    """``<chapter>/<name>-<key>.log``: where a run's log goes under a job's log folder (and the archive)."""
    from effconv.experiments.spec import ExperimentSpec

    parsed = ExperimentSpec.from_dict(spec)
    return f"{parsed.chapter}/{parsed.filename.removesuffix('.json')}.log"


def child_env(threads: int | None) -> dict[str, str]:
    """Environment for a job's process: OpenMP reads ``OMP_NUM_THREADS`` once, when torch is imported, so
    it must be in the environment the process starts with, not set by the job afterwards."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {}


def redirect_output(path: Path) -> None:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so C++ and Lightning output too)
    to ``path``, appended: a requeued run adds to the same log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", closefd=False)


@dataclass
class TrainJob:
    """Train one spec through the store (a stored result is returned at once).

    ``setup_modules``: modules to import first (the chapter's plan registers its analyses; the caller,
    which built the spec, names them, so this layer imports no study). ``log_path``: redirect the
    process's output there (for jobs in processes of their own). ``checkpoints``: per-epoch checkpoints
    in the cache (off where the cache does not outlive the job).
    """

    spec: dict[str, Any]
    accelerator: str = "auto"
    threads: int | None = None
    setup_modules: Sequence[str] = ()
    log_path: str | None = None
    checkpoints: bool = True

    def __call__(self) -> str:
        """Run; returns the stored result's path. A failure's traceback goes to the log before re-raising."""
        if self.log_path:
            redirect_output(Path(self.log_path))
        try:
            return str(self._run())
        except BaseException:
            if self.log_path:
                traceback.print_exc(file=sys.stderr)
                sys.stderr.flush()
            raise

    def _run(self) -> Path:
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        for module in self.setup_modules:
            importlib.import_module(module)
        from effconv.experiments.runner import run_experiment
        from effconv.experiments.spec import ExperimentSpec
        from effconv.experiments.store import ResultStore

        spec = ExperimentSpec.from_dict(self.spec)
        print(f"job: {spec.chapter}/{spec.name} seed {spec.seed} ({spec.profile}), key {spec.key}", flush=True)
        run_experiment(spec, accelerator=self.accelerator, checkpoints=self.checkpoints)
        return ResultStore.for_profile(spec.profile).path(spec)

    def checkpoint(self, *args: Any, **kwargs: Any):
        """submitit's hook on a time limit or pre-emption: requeue this same job. The Lightning checkpoint of
        the last finished epoch is already in the cache, so the requeued run resumes there."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)
