"""Chapter 4, DAC: trained convolutions split, without data, into depthwise + pointwise pairs by SVD.

The chapter's entry points, the same in every chapter package: ``CHAPTER``, ``experiments(profile)``,
``ledger(profile)``, ``live_claims``, and for the notebook ``load(profile)`` (the page: tables, figures and
every number the prose cites) and ``numbers(profile)``. Importing the package registers the rank sweeps its
baseline runs do on their trained weights.
"""

from effconv.studies.dac import analyses as _analyses  # noqa: F401  (registers the runs' analyses)
from effconv.studies.dac.claims import ledger, live_claims
from effconv.studies.dac.page import load, numbers
from effconv.studies.dac.plan import CHAPTER, experiments

__all__ = ["CHAPTER", "experiments", "ledger", "live_claims", "load", "numbers"]
