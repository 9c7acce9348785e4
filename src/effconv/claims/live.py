"""Live claims of one book build: what each chapter timed while ``effconv book`` rendered it.

Live rows never enter the committed ledger. So that the overview (rendered after the chapters) can still
count them, ``effconv book`` names a build folder in ``EFFCONV_LIVE_DIR``; a chapter rendered by it
leaves its live rows there (``<chapter>.csv``, with the machine and the time). A notebook run on its
own has no such folder and writes nothing: rendering writes no tracked file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from effconv.claims.ledger import COLUMNS
from effconv.errors import EffconvError
from effconv.io import atomic_write_text

ENV = "EFFCONV_LIVE_DIR"
EXTRA = ["machine", "rendered"]


def live_dir() -> Path | None:
    """The build's folder for live rows, or None outside ``effconv book``."""
    folder = os.environ.get(ENV, "").strip()
    return Path(folder) if folder else None


def keep_live(chapter: str, table: pd.DataFrame, machine: str) -> Path | None:
    """Leave ``chapter``'s live rows (the ``kind == "live"`` rows of ``table``) for the overview of this
    build; does nothing (returns None) when the page is not rendered by ``effconv book``."""
    folder = live_dir()
    if folder is None:
        return None
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise EffconvError(f"keep_live() takes a claims table with the ledger's columns; it lacks {sorted(missing)}.")
    rows = table.loc[table["kind"] == "live", COLUMNS].copy()
    rows["machine"] = machine
    rows["rendered"] = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    folder.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(folder / f"{chapter}.csv", rows.to_csv(index=False))


def load_live(chapters: tuple[str, ...], folder: Path | None = None) -> dict[str, pd.DataFrame]:
    """The live rows each chapter left in this build, by chapter; a chapter not rendered by this build
    is absent (and everything is absent outside ``effconv book``)."""
    folder = folder or live_dir()
    found: dict[str, pd.DataFrame] = {}
    if folder is None:
        return found
    for chapter in chapters:
        path = folder / f"{chapter}.csv"
        if path.exists():
            found[chapter] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return found
