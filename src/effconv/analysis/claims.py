"""The claims ledger: every claim a chapter checks, with paper value, ours, delta and a verdict.

Each chapter builds a ``ClaimsTable`` and writes ``results/<chapter>/claims.csv`` with the columns
``claim, source, paper, ours, delta, verdict, profile, evidence``; the book's overview page stacks
all of them into one ledger (``load_ledger``).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from effconv.errors import EffconvError
from effconv.io import atomic_write_text
from effconv.paths import results_dir

COLUMNS = ["claim", "source", "paper", "ours", "delta", "verdict", "profile", "evidence"]
VERDICTS = ("reproduced", "partly", "not reproduced", "not run")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if abs(value) < 1e3:
            return f"{value:.4g}"
        return f"{value:,.0f}" if value == round(value) else f"{value:,.1f}"  # never 1.53e+04
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 1e4 else str(value)
    return str(value)


def numeric_verdict(paper: float, ours: float | None, *, tolerance: float, partly: float | None = None,
                    relative: bool = False) -> str:
    """``reproduced`` when |ours - paper| <= tolerance, ``partly`` within ``partly``, else ``not reproduced``.

    With ``relative`` the tolerances are fractions of |paper|. ``ours=None`` means the experiment
    was not run.
    """
    if ours is None or (isinstance(ours, float) and math.isnan(ours)):
        return "not run"
    scale = abs(paper) if relative else 1.0
    gap = abs(ours - paper)
    if gap <= tolerance * scale:
        return "reproduced"
    if partly is not None and gap <= partly * scale:
        return "partly"
    return "not reproduced"


class ClaimsTable:
    """Collects a chapter's claims and writes them as ``results/<chapter>/claims.csv``."""

    def __init__(self, chapter: str):
        self.chapter = chapter
        self.rows: list[dict[str, str]] = []

    def add(self, claim: str, *, source: str, paper, ours, verdict: str, profile: str, evidence: str,
            delta=None) -> None:
        """Record a claim. ``paper``/``ours`` may be numbers or short text ("< 1/32")."""
        if verdict not in VERDICTS:
            raise EffconvError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}.")
        if delta is None and isinstance(paper, (int, float)) and isinstance(ours, (int, float)):
            delta = ours - paper
        self.rows.append({
            "claim": claim, "source": source, "paper": _fmt(paper), "ours": _fmt(ours),
            "delta": _fmt(delta), "verdict": verdict, "profile": profile, "evidence": evidence,
        })

    def compare(self, claim: str, *, source: str, paper: float, ours: float | None, profile: str,
                evidence: str, tolerance: float, partly: float | None = None, relative: bool = False) -> str:
        """Add a numeric claim whose verdict follows from the tolerances; returns the verdict."""
        verdict = numeric_verdict(paper, ours, tolerance=tolerance, partly=partly, relative=relative)
        self.add(claim, source=source, paper=paper, ours=ours, verdict=verdict, profile=profile,
                 evidence=evidence, delta=None if ours is None else ours - paper)
        return verdict

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def write(self, root: Path | None = None) -> Path:
        path = (root or results_dir()) / self.chapter / "claims.csv"
        buffer = io.StringIO()
        self.frame().to_csv(buffer, index=False)
        return atomic_write_text(path, buffer.getvalue())


def load_ledger(root: Path | None = None) -> pd.DataFrame:
    """Every chapter's claims in one table, with a ``chapter`` column; a malformed file is an error."""
    root = root or results_dir()
    frames = []
    for path in sorted(root.glob("*/claims.csv")):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise EffconvError(f"{path} is not a readable claims table ({err}); rerun its chapter.") from err
        missing = set(COLUMNS) - set(frame.columns)
        if missing:
            raise EffconvError(f"{path} lacks columns {sorted(missing)}; rerun its chapter to rewrite it.")
        frame.insert(0, "chapter", path.parent.name)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["chapter", *COLUMNS])
    return pd.concat(frames, ignore_index=True)
