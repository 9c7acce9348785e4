"""The plan of a profile: which runs the chapters plan, in which order, which are stored, what is left.

It sits at the top with the command line: it reads the chapters' plans through ``effconv.studies`` and
hands plain specs (and the modules that register their analyses) down to the campaign and the
executors, which never import a study themselves.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from effconv.errors import EffconvError
from effconv.experiments.campaign import PRIORITY, order_specs
from effconv.experiments.runner import lookup
from effconv.experiments.spec import ExperimentSpec
from effconv.studies import CHAPTERS, planned_specs


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
