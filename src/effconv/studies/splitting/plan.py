"""What chapter 1 trains: nothing. Every number of the survey is counted on real layers or timed live
when the chapter is built, so its plan is empty for every profile."""

from __future__ import annotations

from effconv.experiments import ExperimentSpec
from effconv.train.recipes import check_profile

CHAPTER = "splitting"


def experiments(profile: str) -> list[ExperimentSpec]:
    """No training runs (the profile is still checked, so a misspelt one is an error here too)."""
    check_profile(profile)
    return []
