"""One package per book chapter, each with the same modules and entry points.

``effconv.studies.<chapter>`` hands on ``CHAPTER``, ``experiments(profile)`` (what a profile trains),
``ledger(profile)`` (the committed claims) and ``live_claims`` (claims timed on the build's machine);
inside it, ``plan``, ``results``, ``claims``, ``report`` and ``plots`` play the same part in every chapter,
beside the chapter's own idea modules. This module is the registry of chapters, in book order.
"""

from __future__ import annotations

import difflib
import importlib
from types import ModuleType

from effconv.errors import EffconvError

_CHAPTERS: dict[str, str] = {}  # chapter id -> its package, in book order


def register_chapter(chapter: str, package: str | None = None) -> None:
    """Add a chapter (its package defaults to ``effconv.studies.<chapter>``); a second one of the same id is
    refused, so two packages can never answer for one chapter."""
    if chapter in _CHAPTERS:
        raise EffconvError(f"chapter {chapter!r} is registered twice (by {_CHAPTERS[chapter]}); "
                           "give the new chapter another id.")
    _CHAPTERS[chapter] = package or f"{__name__}.{chapter}"


for _chapter in ("splitting", "shufflenet", "acnet", "dac", "versatile"):
    register_chapter(_chapter)

CHAPTERS = tuple(_CHAPTERS)


def list_chapters() -> list[str]:
    """The registered chapter ids, in book order."""
    return list(_CHAPTERS)


def get_chapter(chapter: str) -> ModuleType:
    """The chapter's package; an unknown id is one clear line naming the known ones."""
    if chapter not in _CHAPTERS:
        close = difflib.get_close_matches(str(chapter), _CHAPTERS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise EffconvError(f"unknown chapter {chapter!r}.{hint} Chapters: {', '.join(_CHAPTERS)}.")
    return importlib.import_module(_CHAPTERS[chapter])


def planned_specs(profile: str, chapters=CHAPTERS) -> list:
    """Every run ``profile`` plans for ``chapters``, in the chapters' own order, a run two chapters share
    (the DAC baseline is also the versatile chapter's) once."""
    specs = {}
    for chapter in chapters:
        for spec in get_chapter(chapter).experiments(profile):
            specs.setdefault(spec.key, spec)
    return list(specs.values())


def ledger(chapter: str, profile: str = "best"):
    """The chapter's committed claims (counted and trained; live timings stay in the chapter), computed
    from the stored results and deterministic counts without running a notebook."""
    return get_chapter(chapter).ledger(profile)
