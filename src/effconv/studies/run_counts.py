"""How many runs a profile plans and stores per chapter, and the core-hours the stored ones took.

One count for every page: a chapter's findings box, the intro, the performance page and the provenance page
all read these rows, so a run count or a core-hour total reads the same wherever it is printed. A chapter
counts every run its claims use, a run it shares with another chapter included (the versatile chapter
reuses DAC's baseline runs); the book's total counts such a run once.
"""

from __future__ import annotations

import pandas as pd

from effconv.experiments.runner import lookup
from effconv.studies import CHAPTERS, get_chapter

#: the label of the book-wide row in ``run_counts``
BOOK = "book"


def planned_runs(profile: str, chapters=CHAPTERS) -> pd.DataFrame:
    """One row per (chapter, planned run): ``chapter`` (the chapter that plans it), ``key``, ``name``,
    ``seed``, ``folder`` and ``file`` (where its result lives under ``results/``), ``stored`` and ``minutes``
    (its own wall time when stored, else NaN)."""
    rows = []
    for chapter in chapters:
        specs = list({s.key: s for s in get_chapter(chapter).experiments(profile)}.values())
        for spec, result in zip(specs, lookup(specs)):
            seconds = (result or {}).get("provenance", {}).get("wall_seconds") if result else None
            rows.append({"chapter": chapter, "key": spec.key, "name": spec.name, "seed": spec.seed,
                         "folder": spec.chapter, "file": spec.filename, "stored": result is not None,
                         "minutes": seconds / 60 if seconds is not None else float("nan")})
    columns = ["chapter", "key", "name", "seed", "folder", "file", "stored", "minutes"]
    return pd.DataFrame(rows, columns=columns).astype({"stored": bool, "minutes": float})


def run_counts(runs: pd.DataFrame, chapters=CHAPTERS) -> pd.DataFrame:
    """Per chapter (in book order) and for the whole book: runs planned, runs stored, core-hours stored (one
    thread a run). ``runs`` is ``planned_runs(profile)``; the ``book`` row counts a shared run once."""

    def count(frame: pd.DataFrame) -> dict:
        return {"planned": len(frame), "stored": int(frame["stored"].sum()),
                "core_hours": float(frame.loc[frame["stored"], "minutes"].sum() / 60)}

    table = {chapter: count(runs[runs["chapter"] == chapter]) for chapter in chapters}  # a chapter with no plan: 0
    table[BOOK] = count(runs.drop_duplicates("key"))
    return pd.DataFrame.from_dict(table, orient="index").rename_axis("chapter")


def stored_text(counts: pd.DataFrame, chapter: str = BOOK) -> str:
    """The phrase every page uses for a count: "90 of 164 planned runs stored"."""
    row = counts.loc[chapter]
    return f"{int(row['stored'])} of {int(row['planned'])} planned runs stored"


def hours_text(hours: float) -> str:
    """Core-hours as every page prints them (one decimal)."""
    return f"{hours:.1f} core-hours"


def used_by(inventory: pd.DataFrame, runs: pd.DataFrame) -> pd.Series:
    """For each stored file of ``inventory`` (``results_inventory()``): the chapters whose plan in ``runs``
    uses it, joined ("dac, versatile"), or "" for a file outside the plan (an earlier width, an engine check)."""
    chapters = runs[runs["stored"]].groupby(["folder", "file"], sort=False)["chapter"].agg(", ".join)
    return pd.Series([chapters.get((folder, file), "") for folder, file in zip(inventory["chapter"], inventory["file"])],
                     index=inventory.index, dtype=str)


def folder_summary(inventory: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per ``results/`` folder: files stored, how many the chapters' plan in ``runs`` uses and how many it
    does not, and the core-hours all of them took."""
    used = used_by(inventory, runs) != ""
    table = pd.DataFrame({"folder": inventory["chapter"], "used": used, "hours": inventory["minutes"] / 60})
    summary = table.groupby("folder", sort=False).agg(files=("used", "size"), in_the_plan=("used", "sum"),
                                                       core_hours=("hours", "sum"))
    summary["outside_the_plan"] = summary["files"] - summary["in_the_plan"]
    return summary[["files", "in_the_plan", "outside_the_plan", "core_hours"]]
