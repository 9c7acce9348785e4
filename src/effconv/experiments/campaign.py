"""Run a profile's missing experiments within a time budget, most valuable first, and pack the results.

Made for lent GPUs with a per-command time limit and a few files of output: each call trains what fits
in ``minutes`` (it does not start a run it expects to overshoot, judging by the longest run so far),
and writes every new result into one ``.tar.gz`` that can be carried back and unpacked into the repo.
"""

from __future__ import annotations

import tarfile
import time
from pathlib import Path
from typing import Sequence

from effconv.errors import EffconvError
from effconv.experiments.runner import lookup, run_experiment
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore
from effconv.paths import results_dir
from effconv.studies import CHAPTERS, runs_module

# The costliest and most valuable experiments first (ACNet's CIFAR-10 table, then DAC's baseline and sweeps).
PRIORITY = ("acnet", "dac", "versatile", "shufflenet")


def campaign_specs(profile: str, chapters: Sequence[str] = PRIORITY) -> list[ExperimentSpec]:
    """Every experiment of ``chapters`` for ``profile``, in priority order, without duplicates."""
    unknown = [c for c in chapters if c not in CHAPTERS]
    if unknown:
        raise EffconvError(f"unknown chapters {unknown}; chapters: {', '.join(CHAPTERS)}.")
    seen: dict[str, ExperimentSpec] = {}
    for chapter in chapters:
        runs = runs_module(chapter)
        if runs is None:
            continue
        for spec in runs.experiments(profile):
            seen.setdefault(spec.key, spec)
    return list(seen.values())


def run_campaign(profile: str, minutes: float, *, chapters: Sequence[str] = PRIORITY, archive: Path | None = None,
                 accelerator: str = "auto", log=print) -> list[Path]:
    """Train missing experiments until the budget is spent; returns the result files written."""
    if minutes <= 0:
        raise EffconvError(f"the time budget must be positive, got {minutes} minutes.")
    planned = campaign_specs(profile, chapters)
    specs = [spec for spec, result in zip(planned, lookup(planned)) if result is None]
    log(f"{len(specs)} {profile} experiments missing; budget {minutes:g} minutes")
    started, longest, written = time.perf_counter(), 0.0, []
    for spec in specs:
        elapsed = time.perf_counter() - started
        if elapsed + longest > minutes * 60:
            log(f"stopping: {elapsed / 60:.1f} min used, the next run could take {longest / 60:.1f} min")
            break
        clock = time.perf_counter()
        result = run_experiment(spec, accelerator=accelerator)
        took = time.perf_counter() - clock
        longest = max(longest, took)
        written.append(ResultStore.for_profile(spec.profile).path(spec))
        log(f"{spec.chapter}/{spec.name} seed {spec.seed}: test acc {result['metrics']['final'].get('test_acc', 0):.4f} "
            f"in {took / 60:.1f} min")
    if archive is not None and written:
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:gz") as tar:
            for path in written:
                tar.add(path, arcname=str(path.relative_to(results_dir().parent)))
        log(f"packed {len(written)} results into {archive} (unpack at the repository root)")
    return written
