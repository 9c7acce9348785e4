"""Chapter 4 (DAC) as its page shows it: ``load(profile)`` computes every table, figure and cited number once.

The notebook only shows what ``load`` returns (``page.show(name)``, ``page.note(name)``) and glues its numbers
and figures with ``page.glue()``; ``page_method`` and ``page_results`` compute the two sections. The cheap
things are computed live with one torch thread (counts, checks on random weights, timings); training, when
``run_missing`` asks for it, keeps every core. ``numbers(profile)`` gives the same formatted strings to
other pages and to tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown
from pandas.io.formats.style import Styler

from effconv.claims import VERDICTS, ClaimsTable
from effconv.claims.style import set_display_options, styled_ledger
from effconv.errors import EffconvError
from effconv.studies.dac import claims, plots
from effconv.studies.dac.page_method import method_section
from effconv.studies.dac.page_results import latency_section, trained_section
from effconv.studies.dac.plan import CHAPTER, VGG
from effconv.studies.dac.results import load_runs
from effconv.studies.page import Page
from effconv.wording import plural

VGG_CHANNELS = (64, 512)  # VGG-16's narrowest and widest convs at width 1
# a figure whose runs are not stored -> (the table or section shown as a note instead, what the note names)
NOT_RUN = {"fig-dac-single-layer": ("single_layer", "Single-layer sweep"),
           "fig-dac-first-last": ("first_last", "First-k / last-k sweep"),
           "fig-dac-pareto": ("pareto", "Accuracy-FLOPs frontier"),
           "fig-dac-equal-flops": ("equal_flops", "DAC vs channel SVD")}


@dataclass
class DacPage(Page):
    """A ``Page`` that also shows a not-run note where a sweep is not stored (the shared ``Page`` knows only
    tables and figures): in place of its table (``show``) or below its missing figure (``note``)."""

    def note(self, name: str) -> Markdown | None:
        """The not-run note of the section ``name``; None (nothing shown) when its runs are stored."""
        for figure, (section, what) in NOT_RUN.items():
            if section == name and figure in self.figures and self.figures[figure] is None:
                return plots.not_run_note(what, self.profile)
        return None

    def show(self, name: str) -> Styler | Markdown:
        """The table ``name``, or the not-run note standing in for it when its runs are not stored."""
        if name not in self.tables and (note := self.note(name)) is not None:
            return note
        return super().show(name)


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch threads, then give back the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _plan_numbers(page: Page) -> None:
    """Each profile's baseline width, channels, epochs and seeds, said beside the specification's model."""
    low, high = VGG_CHANNELS
    for name, cfg in VGG.items():
        page.number(f"vgg_{name}_width", f"{cfg['width']:g}")
        page.number(f"vgg_{name}_channels", f"{round(low * cfg['width'])} to {round(high * cfg['width'])}")
        page.number(f"vgg_{name}_epochs", str(cfg["recipe"].get("epochs", "")))
        page.number(f"vgg_{name}_seeds", str(len(cfg["seeds"])))


def _claims_section(page: Page, ledger: ClaimsTable, rounds: pd.DataFrame, machine: str) -> None:
    """The ledger with this build's live timing rows, and the verdict counts the closing sentence cites."""
    tested = ledger.frame()
    tested = tested[tested["verdict_holm"] != ""]
    page.number("n_tests", plural(ledger.tests, "trained test"))  # before the live rows: those are no trained test
    kept = int((tested["verdict_holm"] == tested["verdict"]).sum())
    page.number("n_holm_kept", "all of them" if kept == len(tested) else f"{kept} of them")
    claims.live_claims(ledger, rounds)  # the timing rows: shown here, never committed
    table = ledger.frame()
    page.number("n_claims", str(len(table)))
    counts = table["verdict"].value_counts()
    page.number("verdict_tally", ", ".join(f"{counts[verdict]} {verdict}" for verdict in VERDICTS if verdict in counts))
    page.table("claims", styled_ledger(table))
    page.claims, page.machine = ledger, machine


def load(profile: str = "best", *, run_missing: bool = False, latency_repeats: int = 5, latency_rounds: int = 5,
         threads: int = 1) -> DacPage:
    """Everything chapter 4 shows for ``profile``: tables, figures, cited numbers and the claims with live rows.

    ``run_missing`` trains the missing baselines first (with every core); ``latency_repeats`` calls per timing
    and ``latency_rounds`` rounds (3 or more give the live claims an interval); ``threads`` torch threads for
    the live checks and timings.
    """
    for name, value in (("latency_repeats", latency_repeats), ("latency_rounds", latency_rounds), ("threads", threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EffconvError(f"{name} must be a positive int, got {value!r}; the chapter's default is "
                               f"{5 if name.startswith('latency') else 1}.")
    set_display_options()  # the page's tables are shown whole, never truncated
    page = DacPage(CHAPTER, profile)
    _plan_numbers(page)
    with _threads(threads):
        method_section(page)
    runs = load_runs(profile, run_missing=run_missing)
    page.profile = runs.profile
    with _threads(threads):
        ledger = claims.ledger(runs.profile)  # every counted and trained verdict, from the shared rules
        model = trained_section(page, runs, ledger.frame().set_index("claim"))
        rounds, machine = latency_section(page, model, repeats=latency_repeats, rounds=latency_rounds, threads=threads)
    _claims_section(page, ledger, rounds, machine)
    return page


def numbers(profile: str = "best", **options) -> dict[str, str]:
    """Every number chapter 4's prose cites for ``profile``, as the page prints it (``options`` go to ``load``);
    the live timings among them are measured again."""
    page = load(profile, **options)
    for fig in page.figures.values():
        if fig is not None:
            plt.close(fig)  # only the numbers are wanted here
    return dict(page.numbers)


