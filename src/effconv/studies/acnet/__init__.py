"""Chapter 3, ACNet: asymmetric convolution blocks, folded into one conv after training.

The chapter's entry points, the same in every chapter package: ``CHAPTER``, ``experiments(profile)`` (what
a profile trains), ``ledger(profile)`` (the committed claims), ``live_claims`` (claims timed on the
build's machine, shown but never committed), ``load(profile)`` (the chapter page: its tables, figures and
cited numbers) and ``numbers(profile)`` (those numbers as the page prints them). Importing the package
registers the analyses its runs do on their trained weights.
"""

from effconv.studies.acnet import analyses as _analyses  # noqa: F401  (registers the runs' analyses)
from effconv.studies.acnet.claims import ledger, live_claims
from effconv.studies.acnet.page import load, numbers
from effconv.studies.acnet.plan import CHAPTER, experiments

__all__ = ["CHAPTER", "experiments", "ledger", "live_claims", "load", "numbers"]
