"""Chapter 2, ShuffleNet V1: grouped pointwise convolutions and the channel shuffle between them.

The chapter's entry points, the same in every chapter package: ``CHAPTER``, ``experiments(profile)``,
``ledger(profile)`` and ``live_claims``, and the page the notebook shows: ``load(profile)`` and
``numbers(profile)``.
"""

from effconv.studies.shufflenet.claims import ledger, live_claims
from effconv.studies.shufflenet.page import load, numbers
from effconv.studies.shufflenet.plan import CHAPTER, experiments

__all__ = ["CHAPTER", "experiments", "ledger", "live_claims", "load", "numbers"]
