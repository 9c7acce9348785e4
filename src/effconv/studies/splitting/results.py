"""Chapter 1, splitting and grouping convolutions: the stored runs, of which there are none.

The survey's plan is empty (every number is counted or timed when the chapter is built), so loading its
runs through the shared loader gives an empty comparison; the chapter's pages and numbers read the
count of stored runs from here like every other chapter.
"""

from __future__ import annotations

from effconv.experiments import StoredRuns
from effconv.studies.splitting import plan


def load_runs(profile: str = "best", *, run_missing: bool = False, log=print) -> StoredRuns:
    """The chapter's stored runs for ``profile`` (always none: the survey trains nothing)."""
    return StoredRuns.load(plan.experiments, profile, run_missing=run_missing, log=log)
