"""Chapter 5, versatile filters: secondary filters cut from one primary filter, and learnable masks.

The chapter's entry points, the same in every chapter package: ``CHAPTER``, ``experiments(profile)``,
``ledger(profile)`` and ``live_claims``, and for the notebook ``load(profile)`` (the page: tables, figures
and every number the prose cites) and ``numbers(profile)``. Importing the package registers the analyses
its runs do on their trained weights (and those of the VGG-16 baseline it shares with chapter 4).
"""

from effconv.studies.versatile import analyses as _analyses  # noqa: F401  (registers the runs' analyses)
from effconv.studies.versatile.claims import ledger, live_claims
from effconv.studies.versatile.page import load, numbers
from effconv.studies.versatile.plan import CHAPTER, experiments

__all__ = ["CHAPTER", "experiments", "ledger", "live_claims", "load", "numbers"]
