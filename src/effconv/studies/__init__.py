"""One module per book chapter: its experiments, tables, plots and claims.

Chapter notebooks stay thin; they call into these modules. Chapter ids: ``splitting``,
``shufflenet``, ``acnet``, ``dac``, ``versatile``.
"""

import importlib
from types import ModuleType

CHAPTERS = ("splitting", "shufflenet", "acnet", "dac", "versatile")


def runs_module(chapter: str) -> ModuleType | None:
    """The chapter's ``<chapter>_runs`` module (its experiments and analyses), or None when it trains nothing.

    Only the absence of that module itself means "trains nothing"; an import error inside it propagates.
    """
    name = f"effconv.studies.{chapter}_runs"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return None
