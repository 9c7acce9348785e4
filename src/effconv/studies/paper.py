"""Published values the book compares against, one CSV per chapter in ``paper_values/``.

Columns: ``key, value, unit, tag, source, note``. ``tag`` is one of seed | paper | repo | transcribed |
derived (see the book's introduction); ``value`` is numeric where the claim is a number. ``seed`` marks the
texts this project was specified from (the survey, specifications 001-004); ``citation`` is how a reader
sees a source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

from effconv.errors import EffconvError

TAGS = ("seed", "paper", "repo", "transcribed", "derived")

# "seed" names a specification text in the CSVs; the book's reader knows a seed as a random seed
_SEED_TEXT = re.compile(r"\b[Ss]eed\b(?P<number> \d+(?= §))?")


def citation(tag: str, source: str) -> str:
    """A published value's provenance as a claims row shows it: ``tag: source`` (``paper: MobileNet
    Table 8``), except that a specification text names itself with no tag (``specification 003, §4.1``,
    ``the survey, sec. 2.3``); "seed" in any source reads "specification"."""
    named = _SEED_TEXT.sub(lambda m: f"specification{m['number']}," if m["number"] else "specification", source)
    return named if tag == "seed" else f"{tag}: {named}"


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
        """Short provenance for a claims row (``citation``), e.g. ``paper: MobileNet Table 8``."""
        return citation(self.tag, self.source)


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
