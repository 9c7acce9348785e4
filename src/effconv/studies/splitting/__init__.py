"""Chapter 1, splitting and grouping convolutions: a survey whose cost formulas are checked by counting
real layers and timing them live.

The chapter's entry points, the same in every chapter package: ``CHAPTER``, ``experiments(profile)``
(empty: the survey trains nothing), ``ledger(profile)`` and ``live_claims``; and for the notebook and
other pages, ``load(profile)`` (the page: tables, figures, numbers) and ``numbers(profile)``.
"""

from effconv.studies.splitting.claims import ledger, live_claims
from effconv.studies.splitting.page import load, numbers
from effconv.studies.splitting.plan import CHAPTER, experiments

__all__ = ["CHAPTER", "experiments", "ledger", "live_claims", "load", "numbers"]
