"""What a chapter page shows for one profile: its named tables, figures and numbers, computed once.

A chapter's ``load(profile)`` returns a ``Page``; the notebook then only shows: ``page.glue()`` hands every
number and figure to the prose's ``{glue:text}`` and ``{glue:figure}`` roles, and ``page.show(name)`` is a
table ready to display. Every number a page cites is formatted here, once, so the same quantity reads the
same wherever it appears (and ``numbers(profile)`` gives the same strings to other pages and to tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import matplotlib.pyplot as plt
from pandas.io.formats.style import Styler

from effconv.analysis.plots import glue_figure
from effconv.claims import ClaimsTable
from effconv.claims.live import keep_live
from effconv.errors import EffconvError


@dataclass
class Page:
    """A chapter's tables (styled, display-ready), figures (None: not run, with the reason) and numbers
    (already formatted text), by the names the notebook's prose uses."""

    chapter: str
    profile: str
    numbers: dict[str, str] = field(default_factory=dict)
    tables: dict[str, Styler] = field(default_factory=dict)
    figures: dict[str, plt.Figure | None] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)   # figure name -> why it is not drawn
    claims: ClaimsTable | None = None                       # the ledger rows this page shows, live ones included
    machine: str = ""                                        # where the live rows were timed

    def number(self, name: str, value: str) -> None:
        """Record one cited number as the text the page prints; a name is given one value only."""
        if not isinstance(value, str):
            raise EffconvError(f"page number {name!r} must be formatted text, got {type(value).__name__}; "
                               "format it where it is computed, once.")
        if name in self.numbers and self.numbers[name] != value:
            raise EffconvError(f"page number {name!r} is given two values ({self.numbers[name]!r} and {value!r}).")
        self.numbers[name] = value

    def table(self, name: str, styled: Styler) -> None:
        self.tables[name] = styled

    def figure(self, name: str, fig: plt.Figure | None, missing: str = "not run yet") -> None:
        self.figures[name] = fig
        self.missing[name] = missing

    def show(self, name: str) -> Styler:
        """The table ``name``, ready to display (an unknown name lists the known ones)."""
        if name not in self.tables:
            raise EffconvError(f"chapter {self.chapter!r} has no table {name!r}; tables: {', '.join(self.tables)}.")
        return self.tables[name]

    def glue(self) -> None:
        """Glue every number (as text) and every figure under its name, for the prose and the figure directives."""
        from myst_nb import glue  # the notebook side only: the library itself never needs myst-nb

        for name, text in self.numbers.items():
            glue(name, text, display=False)
        for name, fig in self.figures.items():
            glue_figure(name, fig, missing=self.missing.get(name, "not run yet"))

    def keep_live(self) -> None:
        """Leave the page's live claims for this build's overview (nothing when rendered alone)."""
        if self.claims is not None:
            keep_live(self.chapter, self.claims.frame(), self.machine or "this machine")
