"""Chapter 2 (ShuffleNet V1): the stored runs of Tables 2 and 3, loaded together so they never mix profiles."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from effconv.experiments import ExperimentSpec, StoredRuns, results_table
from effconv.studies.shufflenet import plan


class Runs(StoredRuns):
    """The chapter's experiments for one profile (``StoredRuns``), as one frame per run."""

    @property
    def table(self) -> pd.DataFrame:
        return run_table(self.specs, self.results)


def load_runs(profile: str = "best", *, run_missing: bool = False, log=print) -> Runs:
    """Resolve every chapter experiment (Table 2 and Table 3 specs) under one profile."""
    return Runs.load(plan.experiments, profile, run_missing=run_missing, log=log)


def run_table(specs: Sequence[ExperimentSpec], results: Sequence[dict[str, Any] | None]) -> pd.DataFrame:
    """``results_table`` plus ``width`` (a float), ``shuffle`` and ``error_%`` (100 - final test accuracy %)."""
    table = results_table(specs, results)
    if "width" not in table:
        table["width"] = 1.0
    if "shuffle" not in table:
        table["shuffle"] = True
    table["width"] = table["width"].astype(float)
    table["shuffle"] = table["shuffle"].astype(bool)
    table["error_%"] = 100.0 * (1.0 - table["test_acc"].astype(float))
    return table
