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


def planned_specs(profile: str, chapters=CHAPTERS) -> list:
    """Every run ``profile`` plans for ``chapters``, in the chapters' own order, a run two chapters share
    (the DAC baseline is also the versatile chapter's) once."""
    specs = {}
    for chapter in chapters:
        runs = runs_module(chapter)
        for spec in runs.experiments(profile) if runs else ():
            specs.setdefault(spec.key, spec)
    return list(specs.values())


def chapter_module(chapter: str) -> ModuleType:
    """The chapter's study module (``effconv.studies.<chapter>``); an unknown name is a clear error."""
    from effconv.errors import EffconvError

    if chapter not in CHAPTERS:
        raise EffconvError(f"unknown chapter {chapter!r}; chapters: {', '.join(CHAPTERS)}.")
    return importlib.import_module(f"effconv.studies.{chapter}")


def ledger(chapter: str, profile: str = "best"):
    """The chapter's committed claims (counted and trained; live timings stay in the chapter), computed
    from the stored results and deterministic counts without running a notebook."""
    from effconv.errors import EffconvError

    module = chapter_module(chapter)
    if not hasattr(module, "ledger"):
        raise EffconvError(f"chapter {chapter!r} does not build its ledger in the library yet; "
                           "render its notebook instead.")
    return module.ledger(profile)
