"""The intro's answer in brief: totals, the strongest and the weakest findings, the scale, what would change.

Everything is read from the committed ledgers (``results/*/claims.csv``) and the stored runs, never typed:
the totals by evidence kind and verdict; the strongest trained findings and the contradicted ones, chosen by
the rules stated in ``STRONGEST_RULE`` and ``WEAKEST_RULE``; the scale of the training behind the trained
rows (``run_counts``); and what the ``full`` profile would regrade. ``write_intro_answer`` writes it as the
Markdown include ``book/intro.md`` opens with (``effconv book`` calls it; the file is a build product).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from effconv.claims.ledger import KINDS, load_ledger
from effconv.claims.verdicts import INCONCLUSIVE, NOT_COMPARABLE, NOT_REPRODUCED, NOT_RUN, REPRODUCED, VERDICTS
from effconv.io import atomic_write_text
from effconv.studies import CHAPTERS
from effconv.studies.findings import KEY_CLAIMS, TITLES
from effconv.studies.run_counts import hours_text, planned_runs, run_counts, stored_text
from effconv.wording import plural

STRONGEST_RULE = ("the trained claims graded reproduced whose 95% interval clears zero by the largest multiple "
                  "of its own half-width (a t statistic over its critical value: 1 just clears, 3 clears "
                  "three times over), the Holm-adjusted verdict included where the ledger carries it")
WEAKEST_RULE = ("every claim graded not reproduced: the trained ones first, most decisive first by the same "
                "measure, then the counted ones")
TOP = 3
_INTERVAL = re.compile(r"^\[\s*([-+0-9.e]+)\s*,\s*([-+0-9.e]+)\s*\]$")
_PAGES = {"splitting": "01_splitting", "shufflenet": "02_shufflenet", "acnet": "03_acnet", "dac": "04_dac",
          "versatile": "05_versatile"}


def totals(ledger: pd.DataFrame) -> pd.DataFrame:
    """Claims by evidence kind (rows, with "all") and verdict (columns, with "total"); committed rows only."""
    table = (ledger.groupby(["kind", "verdict"]).size().unstack(fill_value=0)
             .reindex(index=[k for k in KINDS if k != "live"], columns=list(VERDICTS), fill_value=0))
    table.loc["all"] = table.sum()
    table["total"] = table.sum(axis=1)
    return table.astype(int)


def clearance(interval: str) -> float:
    """How many of its own half-widths a 95% interval "[lo, hi]" stays clear of zero (NaN when it holds zero
    or is not an interval)."""
    match = _INTERVAL.match(str(interval).strip())
    if not match:
        return math.nan
    low, high = float(match.group(1)), float(match.group(2))
    if low <= 0 <= high or high <= low:
        return math.nan
    return min(abs(low), abs(high)) / ((high - low) / 2) + 1  # the centre sits (1 + this) half-widths out


def _labels(ledger: pd.DataFrame) -> pd.Series:
    """A reader's label per row: the findings box's where the claim is a key claim, else the ledger's."""
    named = {(chapter, claim): label for chapter, pairs in KEY_CLAIMS.items() for claim, label in pairs}
    return pd.Series([named.get((c, claim), claim) for c, claim in zip(ledger["chapter"], ledger["claim"])],
                     index=ledger.index)


def strongest(ledger: pd.DataFrame, top: int = TOP) -> pd.DataFrame:
    """The ``top`` strongest trained findings by ``STRONGEST_RULE``, with ``label`` and ``clearance``."""
    rows = ledger[(ledger["kind"] == "trained") & (ledger["verdict"] == REPRODUCED)]
    if "verdict_holm" in rows.columns:
        rows = rows[rows["verdict_holm"].isin(["", REPRODUCED])]
    rows = rows.assign(clearance=rows["interval"].map(clearance), label=_labels(rows)).dropna(subset=["clearance"])
    return rows.sort_values("clearance", ascending=False, kind="stable").head(top)


def weakest(ledger: pd.DataFrame) -> pd.DataFrame:
    """Every contradicted claim, ordered by ``WEAKEST_RULE``, with ``label`` and ``clearance``."""
    rows = ledger[ledger["verdict"] == NOT_REPRODUCED]
    rows = rows.assign(clearance=rows["interval"].map(clearance), label=_labels(rows),
                       trained=rows["kind"] == "trained")
    return rows.sort_values(["trained", "clearance"], ascending=[False, False], na_position="last", kind="stable")


def _doc(chapter: str) -> str:
    return f"{{doc}}`{TITLES[chapter]} <_generated/{_PAGES[chapter]}>`"


def _finding(row) -> str:
    ours = f"ours {row.ours}" + (f", 95% interval {row.interval}" if row.interval else "")
    seeds = f" over {plural(int(row.n), 'paired seed')}" if str(row.n).isdigit() else ""
    paper = f"paper {row.paper}; " if len(str(row.paper)) <= 24 else ""
    return f"- {row.label}: {paper}{ours}{seeds} ({_doc(row.chapter)})"


def _table(table: pd.DataFrame) -> str:
    """The totals as a narrow Markdown table: one row per verdict (and the total), one column per kind."""
    columns = list(table.index)
    lines = ["| verdict | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for verdict in table.columns:
        name = f"**{verdict}**" if verdict == "total" else verdict
        lines.append("| " + " | ".join([name, *(str(table.loc[k, verdict]) for k in columns)]) + " |")
    return "\n".join(lines)


def answer(ledger: pd.DataFrame | None = None, cpu_runs: pd.DataFrame | None = None,
           full_runs: pd.DataFrame | None = None) -> str:
    """The answer as MyST Markdown (``ledger``, ``cpu_runs``, ``full_runs`` default to the committed state)."""
    ledger = load_ledger(chapters=CHAPTERS) if ledger is None else ledger
    cpu = run_counts(planned_runs("cpu") if cpu_runs is None else cpu_runs)
    full = run_counts(planned_runs("full") if full_runs is None else full_runs)
    table = totals(ledger)
    counted, trained = table.loc["counted"], table.loc["trained"]
    best, worst = strongest(ledger), weakest(ledger)
    open_trained = {v: int(trained[v]) for v in (INCONCLUSIVE, NOT_COMPARABLE, NOT_RUN)}
    lines = [
        f"**{plural(int(table.loc['all', 'total']), 'claim')} from five chapters, each graded by the same rules.** "
        f"Of the {int(counted['total'])} *counted* claims (networks built and their layers counted, formulas "
        f"checked: exact), {int(counted[REPRODUCED])} are reproduced, {int(counted['partly'])} partly and "
        f"{int(counted[NOT_REPRODUCED])} not reproduced. Of the {int(trained['total'])} *trained* claims (networks "
        f"trained here), {int(trained[REPRODUCED])} are reproduced and {int(trained[NOT_REPRODUCED])} not "
        f"reproduced; {open_trained[INCONCLUSIVE]} are inconclusive, {open_trained[NOT_COMPARABLE]} not comparable "
        f"and {open_trained[NOT_RUN]} not run.",
        "",
        _table(table),
        "",
        f"**Strongest trained findings.** Chosen by rule: {STRONGEST_RULE}.",
        "",
        *(_finding(row) for row in best.itertuples()),
        *([] if len(best) else ["- none: no trained claim is reproduced yet."]),
        "",
        f"**Weakest: the claims our evidence contradicts** ({WEAKEST_RULE}).",
        "",
        *(_finding(row) for row in worst.itertuples()),
        *([] if len(worst) else ["- none: no claim is graded not reproduced."]),
        "",
        f"**The scale of the evidence.** A counted claim is exact. A trained claim rests on the `cpu` profile: "
        f"{stored_text(cpu)} ({hours_text(cpu.loc['book', 'core_hours'])} on one thread each, a run two chapters "
        "share counted once): narrow models, short schedules and JPEG CIFAR-10. At that scale a "
        "trained verdict says whether an effect's *direction* holds, not whether its *size* matches the paper.",
        "",
        f"**What would change the verdicts.** The `full` profile ({{doc}}`how to run it <full_profile>`) trains "
        f"the papers' CIFAR models at full width with longer schedules on a GPU: {stored_text(full)} so far. "
        f"Its runs could decide the {open_trained[INCONCLUSIVE]} inconclusive trained claims, grade sizes as well "
        "as directions, and run the CIFAR-10 claims still marked not run. It cannot touch the claims made on "
        "ImageNet, COCO, VOC or CIFAR-100: no profile here has that data, so they stay not run, and the "
        f"{open_trained[NOT_COMPARABLE]} not comparable accuracy levels stay ungraded wherever the paper's "
        "setting is one of those.",
    ]
    return "\n".join(lines) + "\n"


def write_intro_answer(path: Path) -> Path:
    """Write the answer where ``book/intro.md`` includes it."""
    return atomic_write_text(path, answer())
