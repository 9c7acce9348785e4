"""The plan of a profile: which runs the chapters plan, in which order, which are stored, what is left, and
which stored runs no plan of any profile uses (they belong in the chapter's ``history/`` folder).

It sits at the top with the command line: it reads the chapters' plans through ``effconv.studies`` and
hands plain specs (and the modules that register their analyses) down to the campaign and the
executors, which never import a study themselves.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import pandas as pd

from effconv.errors import EffconvError
from effconv.experiments.campaign import PRIORITY, order_specs
from effconv.experiments.runner import lookup
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import stored_files
from effconv.paths import results_dir
from effconv.studies import CHAPTERS, planned_specs
from effconv.train.recipes import PROFILES


def campaign_specs(profile: str, chapters: Sequence[str] = PRIORITY) -> list[ExperimentSpec]:
    """Every experiment of ``chapters`` for ``profile``, most valuable first (``campaign.order_specs``),
    without duplicates."""
    unknown = [c for c in chapters if c not in CHAPTERS]
    if unknown:
        raise EffconvError(f"unknown chapters {unknown}; chapters: {', '.join(CHAPTERS)}.")
    return order_specs(planned_specs(profile, chapters))


def setup_modules(specs: Sequence[ExperimentSpec]) -> tuple[str, ...]:
    """The modules a fresh process imports before it runs ``specs``: each chapter's package, which registers
    the analyses its specs name (engine runs need none)."""
    return tuple(sorted({f"effconv.studies.{s.chapter}" for s in specs if s.chapter in CHAPTERS}))


def profile_plan(profile: str, chapters: Sequence[str] = PRIORITY) -> pd.DataFrame:
    """Every planned run of ``profile``, once for each chapter that plans it (``key`` tells a shared run):
    whether it is stored, and its minutes on one thread (measured for stored runs; for missing ones,
    estimated from the stored runs' epoch and analysis times, NaN when nothing compares)."""
    from effconv.experiments.inventory import estimate_minutes
    from effconv.studies.run_counts import planned_runs

    unknown = [c for c in chapters if c not in CHAPTERS]
    if unknown:
        raise EffconvError(f"unknown chapters {unknown}; chapters: {', '.join(CHAPTERS)}.")
    specs = campaign_specs(profile, chapters)
    estimated = dict(zip((s.key for s in specs), estimate_minutes(specs)))
    runs = planned_runs(profile, [c for c in chapters if c in CHAPTERS])
    minutes = [m if stored else estimated.get(key) for key, stored, m in zip(runs["key"], runs["stored"], runs["minutes"])]
    plan = runs.assign(status=runs["stored"].map({True: "stored", False: "missing"}), minutes=minutes)
    return plan[["chapter", "key", "name", "seed", "status", "minutes"]].astype({"minutes": float})


def plan_summary(plan: pd.DataFrame) -> pd.DataFrame:
    """Per chapter: runs stored and missing, and core-hours spent and still to spend (one thread a run); the
    total counts a run two chapters share once (by ``key``, when the plan has one)."""

    def summary(rows: pd.DataFrame) -> list:
        stored, missing = rows[rows["status"] == "stored"], rows[rows["status"] == "missing"]
        return [len(stored), len(missing), stored["minutes"].sum() / 60, missing["minutes"].sum() / 60]

    columns = ["runs stored", "runs missing", "core-hours spent", "core-hours left"]
    table = pd.DataFrame({chapter: summary(rows) for chapter, rows in plan.groupby("chapter", sort=False)},
                         index=columns).T
    table.loc["total"] = summary(plan.drop_duplicates("key") if "key" in plan.columns else plan)
    return table.round(1).astype({"runs stored": int, "runs missing": int})


def arms_short(plan: pd.DataFrame) -> pd.DataFrame:
    """The planned arms (runs that differ only in their seed) still missing seeds: seeds stored of those
    planned, the missing seeds, and the core-hours they should take (NaN where nothing compares)."""


    rows = []
    for (chapter, name), arm in plan.groupby(["chapter", "name"], sort=False):
        missing = arm[arm["status"] == "missing"]
        if len(missing):
            rows.append({"chapter": chapter, "arm": name, "seeds stored": f"{len(arm) - len(missing)}/{len(arm)}",
                         "missing seeds": ", ".join(str(seed) for seed in sorted(missing["seed"])),
                         "core-hours left": missing["minutes"].sum(min_count=len(missing)) / 60})
    return pd.DataFrame(rows, columns=["chapter", "arm", "seeds stored", "missing seeds", "core-hours left"])


@lru_cache(maxsize=1)
def planned_files() -> frozenset[tuple[str, str]]:
    """(chapter, file name) of every run a plan of any profile names (read once: the plans are code)."""
    return frozenset((spec.chapter, spec.filename) for profile in PROFILES for spec in planned_specs(profile))


def is_planned(spec: ExperimentSpec) -> bool:
    """Whether some profile's plan runs ``spec`` (runs outside the chapters, such as ``engine``, have no plan
    and count as planned: ``effconv train`` made them on purpose)."""
    return spec.chapter not in CHAPTERS or (spec.chapter, spec.filename) in planned_files()


def unplanned_results(root: Path | None = None) -> list[Path]:
    """The result files directly in a chapter's folder that no plan of any profile uses: runs of earlier plans
    (other widths, dropped arms) that a reader could take for evidence; ``effconv results history`` moves them
    to the chapter's ``history/``."""
    return [path for path in stored_files(root or results_dir(), history=False)
            if path.parent.name in CHAPTERS and (path.parent.name, path.name) not in planned_files()]

