"""The claim record and the ledger: ``results/<chapter>/claims.csv``, one row per claim.

Columns: ``claim, kind, source, paper, ours, delta, interval, n, verdict, profile, evidence``. ``kind``
says what the evidence is: ``counted`` (layers counted, formulas checked), ``trained`` (stored training
runs) or ``live`` (timed on the machine that builds the book). Live rows are shown in a chapter but
never written into the committed ledger, so a ledger is the same on every build.

A chapter that opts in (``ClaimsTable(chapter, holm=True)``) adds ``HOLM_COLUMNS`` after these: for each
trained row decided by a t test, its p, the Holm-adjusted p over the chapter's trained tests, and the
verdict that survives it (``effconv.claims.multiplicity``). Without the opt-in a ledger is exactly as
before, so the committed ledgers stay byte for byte until their chapters adopt it.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from effconv.checks import check_number
from effconv.claims.multiplicity import holm_adjust, holm_verdict
from effconv.claims.rules import Grade
from effconv.claims.verdicts import check_verdict
from effconv.errors import EffconvError
from effconv.io import atomic_write_text
from effconv.paths import results_dir

#: The ledger's columns, in order (``results/<chapter>/claims.csv``).
COLUMNS = ["claim", "kind", "source", "paper", "ours", "delta", "interval", "n", "verdict", "profile", "evidence"]
#: What a claim's evidence is: counted layers, stored training runs, or a live measurement.
KINDS = ("counted", "trained", "live")
#: the columns a ledger gains with ``ClaimsTable(chapter, holm=True)``: raw and Holm-adjusted p, adjusted verdict
HOLM_COLUMNS = ["p", "p_holm", "verdict_holm"]


def fmt(value) -> str:
    """A number as the ledger prints it: four significant digits, thousands separated, never 1e+04."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if abs(value) < 1e3:
            text = f"{value:.4g}"
            return "0" if text == "-0" else text
        return f"{value:,.0f}" if value == round(value) else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 1e4 else str(value)
    return str(value)


class ClaimsTable:
    """Collects a chapter's claims; ``write`` stores the committed ones (not the live ones). ``holm``: add
    ``HOLM_COLUMNS`` (see the module docstring)."""

    def __init__(self, chapter: str, *, holm: bool = False):
        self.chapter = chapter
        self.holm = holm
        self.rows: list[dict] = []

    def add(self, claim: str, *, kind: str, source: str, paper, ours, verdict: str, profile: str, evidence: str,
            delta=None, interval: str = "", n: int | None = None, p: float | None = None,
            same_dataset: bool = True) -> None:
        """Record a claim. ``paper``/``ours`` may be numbers or short text ("< 1/32"). ``p``: the two-sided p of
        the t test behind a trained verdict (``Grade.p``), which puts the row in the chapter's Holm family.
        ``same_dataset=False``: the paper's number comes from another dataset (ImageNet beside our CIFAR-10),
        so the two are shown side by side and never subtracted (no delta)."""
        check_verdict(verdict)
        if kind not in KINDS:
            raise EffconvError(f"claim kind must be one of {', '.join(KINDS)}, got {kind!r}.")
        if p is not None:
            check_number("a claim's p-value", p, low=0, high=1)
        if not same_dataset:
            delta = None
        elif delta is None and isinstance(paper, (int, float)) and isinstance(ours, (int, float)):
            delta = ours - paper
        self.rows.append({
            "claim": claim, "kind": kind, "source": source, "paper": fmt(paper), "ours": fmt(ours),
            "delta": fmt(delta), "interval": interval, "n": "" if not n else str(n), "verdict": verdict,
            "profile": profile, "evidence": evidence, "_p": p,   # "_p" is kept out of COLUMNS: see frame()
        })

    def grade(self, claim: str, grade: Grade, *, kind: str, source: str, paper, profile: str, evidence: str,
              same_dataset: bool = True) -> str:
        """Record a claim decided by one of ``effconv.claims.rules``; returns its verdict (``same_dataset``:
        see ``add``)."""
        self.add(claim, kind=kind, source=source, paper=paper, ours=grade.ours, verdict=grade.verdict,
                 profile=profile, evidence=f"{evidence} ({grade.rule})" if grade.rule else evidence,
                 delta=grade.delta, interval=grade.interval, n=grade.n, p=grade.p, same_dataset=same_dataset)
        return grade.verdict

    def _family(self) -> list[int]:
        """The rows of the chapter's Holm family: trained rows decided by a t test (with a p)."""
        return [i for i, row in enumerate(self.rows) if row["kind"] == "trained" and row.get("_p") is not None]

    @property
    def tests(self) -> int:
        """How many trained tests the chapter ran: the m of its Holm adjustment."""
        return len(self._family())

    def frame(self, *, live: bool = True) -> pd.DataFrame:
        """The claims as a DataFrame with ``COLUMNS``; ``live=False`` leaves out the live rows."""
        frame = pd.DataFrame(self.rows, columns=COLUMNS)
        if self.holm:
            family = self._family()
            adjusted = dict(zip(family, holm_adjust([self.rows[i]["_p"] for i in family])))
            frame["p"] = [fmt(self.rows[i]["_p"]) if i in adjusted else "" for i in range(len(self.rows))]
            frame["p_holm"] = [fmt(adjusted[i]) if i in adjusted else "" for i in range(len(self.rows))]
            frame["verdict_holm"] = [holm_verdict(self.rows[i]["verdict"], adjusted[i]) if i in adjusted else ""
                                     for i in range(len(self.rows))]
        return frame if live else frame[frame["kind"] != "live"].reset_index(drop=True)

    def csv(self) -> str:
        """The committed ledger's text: the claims without the live rows, as CSV."""
        buffer = io.StringIO()
        self.frame(live=False).to_csv(buffer, index=False)
        return buffer.getvalue()

    def write(self, root: Path | None = None) -> Path:
        """The committed ledger: every claim but the live ones."""
        return atomic_write_text((root or results_dir()) / self.chapter / "claims.csv", self.csv())


def load_ledger(root: Path | None = None, chapters: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every chapter's committed claims in one table with a ``chapter`` column, in ``chapters`` order
    (book order when given); a malformed file is an error that says how to rebuild it."""
    root = root or results_dir()
    paths = [root / c / "claims.csv" for c in chapters] if chapters else sorted(root.glob("*/claims.csv"))
    frames = []
    for path in paths:
        if not path.exists():
            continue
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise EffconvError(f"{path} is not a readable claims table ({err}); rebuild it with `effconv claims`.") from err
        missing = set(COLUMNS) - set(frame.columns)
        if missing:
            raise EffconvError(f"{path} lacks columns {sorted(missing)}; rebuild it with `effconv claims`.")
        frame.insert(0, "chapter", path.parent.name)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["chapter", *COLUMNS])
    return pd.concat(frames, ignore_index=True)
