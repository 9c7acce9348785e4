"""The claim record and the ledger: ``results/<chapter>/claims.csv``, one row per claim.

Columns: ``claim, kind, source, paper, ours, delta, interval, n, verdict, profile, evidence``. ``kind``
says what the evidence is: ``counted`` (layers counted, formulas checked), ``trained`` (stored training
runs) or ``live`` (timed on the machine that builds the book). Live rows are shown in a chapter but
never written into the committed ledger, so a ledger is the same on every build.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from effconv.claims.rules import Grade
from effconv.claims.verdicts import check_verdict
from effconv.errors import EffconvError
from effconv.io import atomic_write_text
from effconv.paths import results_dir

#: The ledger's columns, in order (``results/<chapter>/claims.csv``).
COLUMNS = ["claim", "kind", "source", "paper", "ours", "delta", "interval", "n", "verdict", "profile", "evidence"]
#: What a claim's evidence is: counted layers, stored training runs, or a live measurement.
KINDS = ("counted", "trained", "live")


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
    """Collects a chapter's claims; ``write`` stores the committed ones (not the live ones)."""

    def __init__(self, chapter: str):
        self.chapter = chapter
        self.rows: list[dict[str, str]] = []

    def add(self, claim: str, *, kind: str, source: str, paper, ours, verdict: str, profile: str, evidence: str,
            delta=None, interval: str = "", n: int | None = None) -> None:
        """Record a claim. ``paper``/``ours`` may be numbers or short text ("< 1/32")."""
        check_verdict(verdict)
        if kind not in KINDS:
            raise EffconvError(f"claim kind must be one of {', '.join(KINDS)}, got {kind!r}.")
        if delta is None and isinstance(paper, (int, float)) and isinstance(ours, (int, float)):
            delta = ours - paper
        self.rows.append({
            "claim": claim, "kind": kind, "source": source, "paper": fmt(paper), "ours": fmt(ours),
            "delta": fmt(delta), "interval": interval, "n": "" if not n else str(n), "verdict": verdict,
            "profile": profile, "evidence": evidence,
        })

    def grade(self, claim: str, grade: Grade, *, kind: str, source: str, paper, profile: str, evidence: str) -> str:
        """Record a claim decided by one of ``effconv.claims.rules``; returns its verdict."""
        self.add(claim, kind=kind, source=source, paper=paper, ours=grade.ours, verdict=grade.verdict,
                 profile=profile, evidence=f"{evidence} ({grade.rule})" if grade.rule else evidence,
                 delta=grade.delta, interval=grade.interval, n=grade.n)
        return grade.verdict

    def frame(self, *, live: bool = True) -> pd.DataFrame:
        """The claims as a DataFrame with ``COLUMNS``; ``live=False`` leaves out the live rows."""
        frame = pd.DataFrame(self.rows, columns=COLUMNS)
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
