"""The findings box: a chapter's key claims from its ledger, as one HTML block at the top of a page.

A box lists each key claim with the paper's value, ours and the verdict (in the book's verdict colours,
:func:`effconv.claims.style.verdict_css`), and ends with the scale of the evidence behind it. Which
claims are key, and the scale, are a chapter's business (``effconv.studies.findings``); this module
only turns ledger rows into HTML. The block has the CSS class ``effconv-findings`` (styled in
``book/_static/effconv.css``), which the rendered-book check looks for.

A ledger row that carries a Holm-adjusted verdict (``verdict_holm``, see ``effconv.claims.multiplicity``) is
shown with that verdict: a row decided at 95% on its own that does not survive the chapter's adjustment
never reads "reproduced" in a box. Rows without one (counted rows, ledgers that do not adjust yet) show
their verdict as it stands.

>>> box = FindingsBox(rows, labels, scale=["Trained rows: profile cpu ..."])   # doctest: +SKIP
>>> box        # a notebook shows it as HTML; ``box.html()`` is the text a Markdown page includes
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

import pandas as pd

from effconv.claims.ledger import COLUMNS
from effconv.claims.style import verdict_css
from effconv.claims.verdicts import VERDICTS
from effconv.errors import EffconvError

CSS_CLASS = "effconv-findings"


def _value(row: Mapping[str, str], column: str) -> str:
    text = str(row.get(column, "") or "").strip()
    return text or "–"  # an en dash: no value (not run), never an empty cell


def _paper(row: Mapping[str, str]) -> tuple[str, str]:
    """The paper cell and its hover text: a claim stated in words (a trend, "b > a") is shown as
    "stated", with the paper's wording on hover, since the label already says what is claimed."""
    text = _value(row, "paper")
    return ("stated", text) if len(text) > 24 else (text, "")


def _evidence(row: Mapping[str, str]) -> str:
    """What a row rests on: its kind, and for a trained effect the number of paired seeds."""
    kind = str(row.get("kind", "")).strip()
    n = str(row.get("n", "") or "").strip()
    if kind == "trained" and n and row.get("verdict") != "not run":
        return f"trained, {n} seed{'s' if n != '1' else ''}"
    return kind


def _text(row: Mapping[str, str], column: str) -> str:
    value = row.get(column, "")
    return value.strip() if isinstance(value, str) else ""  # a column a ledger lacks reads as NaN after concat


def shown_verdict(row: Mapping[str, str]) -> tuple[str, str]:
    """The verdict a box shows for a ledger row and a note on how it was reached: the Holm-adjusted verdict
    where the row has one (note: the raw verdict and the adjusted p when they differ), else the raw one."""
    raw, adjusted = _text(row, "verdict"), _text(row, "verdict_holm")
    if not adjusted:
        return raw, ""
    if adjusted not in VERDICTS:
        raise EffconvError(f"the ledger row {_text(row, 'claim')!r} has verdict_holm {adjusted!r}, not one of "
                           f"{', '.join(VERDICTS)}; rebuild its ledger with `effconv claims`.")
    if adjusted == raw:
        return raw, ""
    return adjusted, (f"{raw} at 95% on its own; {adjusted} after the Holm adjustment over the chapter's trained "
                      f"tests (adjusted p {_text(row, 'p_holm') or '?'})")


def _ours(row: Mapping[str, str]) -> str:
    ours = _value(row, "ours")
    interval = str(row.get("interval", "") or "").strip()
    return f"{ours} (95% interval {interval})" if interval and ours != "–" else ours


@dataclass
class FindingsBox:
    """Key claims (ledger rows, in the order to show them) with their reader labels, and the scale notes.

    ``groups`` optionally names a heading row before the rows of each group (the intro's box groups the
    chapters); it maps a row's position to the heading shown above it.
    """

    rows: pd.DataFrame
    labels: Sequence[str]
    scale: Sequence[str] = ()
    title: str = "Findings"
    groups: Mapping[int, str] = field(default_factory=dict)
    lead: Sequence[str] = ()  # lines shown above the claims (what the reader must know first)

    def __post_init__(self) -> None:
        missing = {"claim", "kind", "paper", "ours", "verdict"} - set(self.rows.columns)
        if missing:
            raise EffconvError(f"a findings box needs ledger rows with the columns {COLUMNS}; "
                               f"these lack {sorted(missing)}.")
        if len(self.labels) != len(self.rows):
            raise EffconvError(f"a findings box got {len(self.rows)} claims but {len(self.labels)} labels; "
                               "give one label per claim.")

    def html(self) -> str:
        """The box as one HTML block (no blank lines, so Markdown keeps it whole)."""
        body = []
        for position, (label, row) in enumerate(zip(self.labels, self.rows.to_dict("records"))):
            if position in self.groups:
                body.append(f'<tr class="{CSS_CLASS}-group"><th colspan="5">{escape(self.groups[position])}</th></tr>')
            verdict, adjustment = shown_verdict(row)
            shown = f"{verdict} (Holm)" if adjustment else verdict
            verdict_hover = f' title="{escape(adjustment)}"' if adjustment else ""
            paper, wording = _paper(row)
            hover = f' title="{escape(wording)}"' if wording else ""
            body.append(
                "<tr>"
                f'<td title="{escape(str(row["claim"]))}">{escape(label)}</td>'
                f"<td{hover}>{escape(paper)}</td>"
                f"<td>{escape(_ours(row))}</td>"
                f"<td>{escape(_evidence(row))}</td>"
                f'<td class="{CSS_CLASS}-verdict" style="{verdict_css(verdict)}"{verdict_hover}>{escape(shown)}</td>'
                "</tr>")
        head = "".join(f"<th>{name}</th>" for name in ("claim", "paper", "ours", "evidence", "verdict"))
        scale = "".join(f'<p class="{CSS_CLASS}-scale">{escape(line)}</p>' for line in self.scale)
        lead = "".join(f'<p class="{CSS_CLASS}-lead">{escape(line)}</p>' for line in self.lead)
        return (f'<div class="{CSS_CLASS}">'
                f'<p class="{CSS_CLASS}-title">{escape(self.title)}</p>{lead}'
                f'<table class="{CSS_CLASS}-table"><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>{scale}</div>")

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:  # the plain-text fallback a notebook stores beside the HTML
        verdicts = [shown_verdict(row)[0] for row in self.rows.to_dict("records")]
        return f"{self.title}: {len(self.rows)} key claims ({', '.join(verdicts)})"
