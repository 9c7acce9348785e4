"""Published values the book compares against, one CSV per chapter in ``paper_values/``.

Columns: ``key, value, unit, tag, source, note``. ``tag`` is one of seed | paper | repo | transcribed |
derived (see the book's introduction); ``value`` is numeric where the claim is a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

from effconv.errors import EffconvError

TAGS = ("seed", "paper", "repo", "transcribed", "derived")


@dataclass(frozen=True)
class PaperValue:
    key: str
    value: float | str
    unit: str
    tag: str
    source: str
    note: str

    @property
    def cite(self) -> str:
        """Short provenance for a claims row, e.g. ``paper: MobileNet Table 8``."""
        return f"{self.tag}: {self.source}"


@lru_cache(maxsize=None)
def paper_table(chapter: str) -> pd.DataFrame:
    try:
        text = resources.files("effconv.studies").joinpath("paper_values", f"{chapter}.csv").read_text()
    except FileNotFoundError as err:
        raise EffconvError(f"no published values recorded for chapter {chapter!r}.") from err
    import io

    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    bad = sorted(set(table["tag"]) - set(TAGS))
    if bad:
        raise EffconvError(f"paper_values/{chapter}.csv has unknown tags {bad}; use one of {TAGS}.")
    return table.set_index("key")


def paper_value(chapter: str, key: str) -> PaperValue:
    """One published value; numbers come back as float, anything else as text."""
    table = paper_table(chapter)
    if key not in table.index:
        raise EffconvError(f"no published value {key!r} for chapter {chapter!r}.")
    row = table.loc[key]
    try:
        value: float | str = float(row["value"])
    except ValueError:
        value = row["value"]
    return PaperValue(key, value, row["unit"], row["tag"], row["source"], row["note"])
