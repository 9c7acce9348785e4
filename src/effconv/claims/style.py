"""One table style for the whole book.

Chapters show a DataFrame through :func:`styled`, which returns a pandas ``Styler`` (a notebook displays
it as HTML): no index, readable column names with their units, right-aligned numbers rounded to a
sensible number of decimals, wrapped text, padded cells and the six verdicts in colour. Call
:func:`set_display_options` once at the top of a notebook so that nothing pandas prints is truncated.

>>> from effconv.claims.style import set_display_options, styled
>>> set_display_options()
>>> styled(table, caption="ShuffleNet Table 1 (complexity)")      # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from html import escape

import pandas as pd
from pandas.io.formats.style import Styler

from effconv.errors import EffconvError
from effconv.wording import signed

__all__ = ["VERDICTS", "VERDICT_COLOURS", "set_display_options", "human_name", "number_format", "spec_format", "styled",
           "verdict_css", "LEDGER_ORDER", "LEDGER_FOLDED", "detail_html", "styled_folded", "styled_ledger"]

# The book's verdict vocabulary, in order from best to "nothing to say".
VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive", "not comparable", "not run")

# (background, text) per verdict: a traffic light for the three graded outcomes, cool tones for the
# three that grade nothing. Each pair keeps the text readable (contrast >= 4.5) in light and dark themes.
VERDICT_COLOURS: dict[str, tuple[str, str]] = {
    "reproduced": ("#d7f0dd", "#14532d"),
    "partly": ("#fdf0c4", "#6b4e00"),
    "not reproduced": ("#f9d6d5", "#7f1d1d"),
    "inconclusive": ("#dde6f5", "#1e3a66"),
    "not comparable": ("#ece3f5", "#4c2a73"),
    "not run": ("#e9e9e9", "#3f3f3f"),
}

# Unit suffixes of snake_case column names: ``ours_Mmacs`` -> "ours (M MACs)".
UNITS: dict[str, str] = {
    "%": "%", "pct": "%", "pp": "pp", "ms": "ms", "s": "s", "sec": "s", "min": "min", "h": "h",
    "mb": "MB", "gb": "GB", "kb": "kB", "m": "M", "k": "k", "g": "G",
    "mmacs": "M MACs", "gmacs": "G MACs", "mflops": "MFLOPs", "gflops": "GFLOPs",
    "mparams": "M params", "kparams": "k params", "mweights": "M weights",
    "mbit": "Mbit", "kbit": "kbit",
}

# Words spelled out or written the way the papers write them.
WORDS: dict[str, str] = {
    "acc": "accuracy", "macs": "MACs", "flops": "FLOPs", "mflops": "MFLOPs", "gflops": "GFLOPs",
    "params": "params", "rel": "rel.", "abs": "abs.", "std": "std", "svd": "SVD",
    "dac": "DAC", "acb": "ACB", "bn": "BN", "fc": "FC", "vs": "vs", "imagenet": "ImageNet", "cifar": "CIFAR",
}

_NUMBER = re.compile(r"^[+-]?(\d[\d,]*\.?\d*|\.\d+)(e[+-]?\d+)?$", re.IGNORECASE)
_MISSING = "–"  # an en dash: a visible "no value", distinct from a zero


def set_display_options() -> None:
    """Nothing pandas displays is cut: all rows and columns, full cell text, no line-width wrapping."""
    for option, value in {
        "display.max_rows": None,
        "display.max_columns": None,
        "display.max_colwidth": None,
        "display.width": None,
        "styler.render.max_rows": None,
        "styler.render.max_columns": None,
        # the default (262,144 cells) would silently drop styling on a very large table
        "styler.render.max_elements": 10_000_000,
    }.items():
        pd.set_option(option, value)


def human_name(column, units: Mapping[str, str] | None = None) -> str:
    """A reader's column name: ``ours_Mmacs`` -> "ours (M MACs)", ``test_acc_%`` -> "test accuracy (%)".

    Names with spaces already read as text and are kept; ``units`` adds a unit to any column.
    """
    text = str(column)
    unit = (units or {}).get(column)
    if " " not in text:
        words = [w for w in text.split("_") if w]
        if len(words) > 1 and words[-1].lower() in UNITS and unit is None:
            unit = UNITS[words.pop().lower()]
        text = " ".join(WORDS.get(w.lower(), w) for w in words) or text
    return f"{text} ({unit})" if unit else text


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite(values) -> list[float]:
    return [float(v) for v in values if _is_number(v) and math.isfinite(float(v))]


def _decimals(values) -> int:
    """Decimals for a numeric column: about three significant figures at its typical magnitude."""
    finite = _finite(values)
    if not finite or all(v == int(v) for v in finite):
        return 0
    nonzero = sorted(abs(v) for v in finite if v != 0)
    typical = nonzero[len(nonzero) // 2] if nonzero else 1.0
    exponent = math.floor(math.log10(typical))
    if typical >= 1:
        return max(0, min(2, 3 - exponent))  # 5.76, 93.41, 123.4, 2,359
    return min(4, 2 - exponent)  # 0.512, 0.0123


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def number_format(decimals: int, na_rep: str = _MISSING):
    """A cell formatter: thousands separators, fixed decimals, tiny values in e-notation, missing as ``na_rep``."""

    def fmt(value) -> str:
        if _is_missing(value):
            return na_rep
        if isinstance(value, bool):
            return "yes" if value else "no"
        if not _is_number(value):
            return str(value)
        value = float(value)
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value != 0 and round(value, decimals) == 0:
            return f"{value:.1e}"  # would print as 0.000: keep the magnitude instead
        return f"{value:,.{decimals}f}"

    return fmt


def spec_format(spec, na_rep: str = _MISSING):
    """A cell formatter from a format string such as ``"{:+.2f}"`` (signed), ``"{:,}"`` (counts) or
    ``"{:.1%}"``, or from a callable; missing values show as ``na_rep`` and text passes through."""
    if not (callable(spec) or isinstance(spec, str)):
        raise EffconvError(f"styled(): a column format must be a format string like '{{:+.2f}}' or a callable, "
                           f"not {spec!r}.")

    def fmt(value) -> str:
        if _is_missing(value):
            return na_rep
        if isinstance(value, bool) or not _is_number(value):
            return str(value)  # a note such as "not run" in a numeric column stays as written
        return spec(value) if callable(spec) else spec.format(value)

    return fmt


def _looks_numeric(value) -> bool:
    return _is_number(value) or (isinstance(value, str) and bool(_NUMBER.match(value.strip())))


def _is_numeric_column(series: pd.Series) -> bool:
    """Mostly numbers, and no sentence among the rest (a claims table's "ours" mixes both: it must wrap)."""
    values = [v for v in series if not (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)))]
    if not values:
        return False
    numeric = [v for v in values if _looks_numeric(v)]
    longest_text = max((len(str(v)) for v in values if not _looks_numeric(v)), default=0)
    return len(numeric) >= len(values) / 2 and longest_text <= 24


def _nowrap_numbers(value) -> str:
    # !important: the column's own rule (text wraps) is more specific than this per-cell one ("0.113 7")
    return "white-space: nowrap !important" if _looks_numeric(value) else ""


def verdict_css(value) -> str:
    """The inline CSS of a verdict cell (empty for anything that is not one of the six verdicts); tables
    and the findings boxes share it, so a verdict has one colour everywhere in the book."""
    colours = VERDICT_COLOURS.get(str(value).strip().lower()) if isinstance(value, str) else None
    if not colours:
        return ""
    background, text = colours
    # "not reproduced" may wrap between its words (never inside one: the ledger once showed "repro")
    return f"background-color: {background}; color: {text}; font-weight: 600; overflow-wrap: normal"


def _flat_columns(columns: pd.MultiIndex, units: Mapping[str, str] | None,
                  names: Mapping[str, str] | None) -> tuple[list, list[str]]:
    """A pivot's two-level header as one line per column: "table1 vs g3 (%), width 0.25x".

    The top level (the values) gets its reader name (``names`` may give it); a lower level is prefixed
    with its level name, if any. Returns the top-level keys (for ``decimals``/``formats``) and the labels."""
    tops, labels = [], []
    for parts in columns:
        words = [(names or {}).get(parts[0]) or human_name(parts[0], units)] if str(parts[0]) else []
        for level, part in zip(columns.names[1:], parts[1:]):
            if str(part):
                words.append(f"{level} {part}" if level else str(part))
        tops.append(parts[0])
        labels.append(", ".join(words))
    return tops, labels


def _lookup(mapping, original, top):
    """A per-column option, by the column's own name or (pivot columns) by its top-level name."""
    if not isinstance(mapping, Mapping):
        return mapping
    return mapping.get(original, mapping.get(top))


def styled(df: pd.DataFrame, *, names: Mapping[str, str] | None = None, units: Mapping[str, str] | None = None,
           decimals: int | Mapping[str, int] | None = None, formats: Mapping[str, object] | None = None,
           na_rep: str | Mapping[str, str] = _MISSING, caption: str | None = None,
           verdict: str = "verdict") -> Styler:
    """The book's table style for ``df``; display the returned Styler.

    - A meaningful index (anything but 0..n-1) becomes ordinary columns; the index itself is hidden.
    - Columns get reader names (:func:`human_name`; ``names`` overrides, ``units`` appends "(unit)").
      Two-level (pivot) columns read "values (unit), level value"; options keyed by the top-level name
      apply to all its columns.
    - Numeric columns are right-aligned in tabular figures with about three significant figures
      (``decimals``: one number for all, or per original column name); text wraps inside its cell.
    - ``formats`` gives a column an exact format instead: a format string (``"{:+.2f}"`` for signed
      differences, ``"{:,}"`` for counts, ``"{:.1e}"``) or a callable; missing cells show ``na_rep``. Like
      ``names`` and ``decimals``, it may name columns a table shows only sometimes. ``na_rep`` is one text
      for every missing cell or one per column (others show "–").
    - The ``verdict`` column shows each of the six verdicts in its own colour.
    """
    if not isinstance(df, pd.DataFrame):
        raise EffconvError(f"styled() takes a pandas DataFrame, not {type(df).__name__}; "
                           "wrap a Series with .to_frame().")
    table = df.copy()
    index = table.index
    if index.nlevels == 1 and index.name is None and pd.api.types.is_integer_dtype(index.dtype):
        table = table.reset_index(drop=True)  # row numbers left by a filter or a sort say nothing
    elif not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        if index.nlevels == 1 and index.name is None:
            table = table.rename_axis("")  # row labels that need no header ("new group 1"), not "index"
        table = table.reset_index()
    if isinstance(table.columns, pd.MultiIndex):
        tops, originals = _flat_columns(table.columns, units, names)  # options may also name a shown label
        table.columns = originals
        labels = [(names or {}).get(c) or c for c in originals]
    else:
        originals = list(table.columns)
        tops = originals
        labels = [(names or {}).get(c) or human_name(c, units) for c in originals]
    doubled = sorted({label for label in labels if labels.count(label) > 1})
    if doubled:
        raise EffconvError(f"styled(): two columns would both be shown as {', '.join(map(repr, doubled))}; "
                           "rename one or pass names={...}.")
    table.columns = labels

    styler = table.style.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    styler = styler.set_table_attributes('class="effconv-table dataframe"')
    cell = "padding: 0.3em 0.45em; vertical-align: top; border: none"
    styler = styler.set_table_styles([
        {"selector": "th", "props": f"{cell}; font-weight: 600; white-space: normal"},
        {"selector": "td", "props": cell},
        {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: 600"},
    ])

    per_column: dict[str, list[dict]] = {}
    for original, top, label in zip(originals, tops, labels):
        series = table[label]
        missing = _lookup(na_rep, original, top) if isinstance(na_rep, Mapping) else na_rep
        missing = _MISSING if missing is None else missing
        if str(original) == verdict or label == verdict:
            styler = styler.format(number_format(0, missing), subset=[label], escape="html")
            styler = styler.map(verdict_css, subset=[label])
            per_column[label] = [{"selector": "td", "props": "white-space: normal; overflow-wrap: normal"}]
            continue
        spec = _lookup(formats, original, top)
        if spec is not None:
            styler = styler.format(spec_format(spec, missing), subset=[label], escape="html")
        else:
            wanted = _lookup(decimals, original, top)
            if not isinstance(decimals, Mapping) and pd.api.types.is_integer_dtype(series.dtype):
                wanted = None  # one number for the whole table is meant for its fractions, not its counts
            places = wanted if wanted is not None else _decimals(series)
            styler = styler.format(number_format(places, missing), subset=[label], escape="html")
        # a number never breaks across lines ("4.0e-07" would at the hyphen); text around it wraps
        styler = styler.map(_nowrap_numbers, subset=[label])
        if _is_numeric_column(series):
            per_column[label] = [{"selector": "", "props": "text-align: right"},
                                 {"selector": "td", "props": "font-variant-numeric: tabular-nums"}]
        else:
            longest = max((len(str(v)) for v in series), default=0)
            # long text wraps; a minimum width keeps it from collapsing into a one-word column
            width = "min-width: 6em; " if longest > 40 else ""
            # words break inside only when some are very long (paths, identifiers); otherwise "counted"
            # would show as "counte / d" in a narrow column
            word = max((len(w) for v in series for w in str(v).split()), default=0)
            wrap = "anywhere" if word > 20 else "normal"
            per_column[label] = [{"selector": "", "props": "text-align: left"},
                                 {"selector": "td", "props": f"{width}white-space: normal; overflow-wrap: {wrap}"}]
    if per_column:
        styler = styler.set_table_styles(per_column, overwrite=False)
    return styler


# A claims table read left to right: what is claimed, the values and the verdict; the rest folds under the claim.
LEDGER_ORDER = ("claim", "paper", "ours", "delta", "interval", "verdict")
#: ledger columns folded into each row's detail (any other column joins them, after these)
LEDGER_FOLDED = ("n", "kind", "profile", "source", "evidence")
#: the CSS class of a folded detail (styled in book/_static/effconv.css; the browser check looks for it)
DETAIL_CLASS = "effconv-detail"


def detail_html(text: str, details: Mapping[str, object], summary: str = "details") -> str:
    """``text`` (escaped) and, under it, a closed ``<details>`` block listing ``details`` (name: value, empty
    values left out): the reader opens it on demand, so a row stays one line tall until then."""
    items = "".join(f"<dt>{escape(str(name))}</dt><dd>{escape(str(value))}</dd>"
                    for name, value in details.items() if not _is_missing(value) and str(value).strip())
    if not items:
        return escape(str(text))
    return (f'{escape(str(text))}<details class="{DETAIL_CLASS}"><summary>{escape(summary)}</summary>'
            f"<dl>{items}</dl></details>")


def styled_folded(frame: pd.DataFrame, *, shown: list, into: str, summary: str = "details",
                  names: Mapping[str, str] | None = None, **options) -> Styler:
    """:func:`styled` for a table too wide for the page: the ``shown`` columns stay, every other column folds
    into an expandable detail under the ``into`` cell (named as :func:`human_name` or ``names`` reads it)."""
    missing = [c for c in [*shown, into] if c not in frame.columns]
    if missing:
        raise EffconvError(f"styled_folded(): no column {missing} in the table; its columns: {list(frame.columns)}.")
    folded = [c for c in frame.columns if c not in shown]
    table = frame.reset_index(drop=True)
    cells = [detail_html(row[into], {(names or {}).get(c) or human_name(c): row[c] for c in folded}, summary)
             for _, row in table.iterrows()]
    table = table[list(shown)].assign(**{into: cells})
    styler = styled(table, names=names, **options)
    label = (names or {}).get(into) or human_name(into)
    # the cell is built HTML (its parts escaped above); its width rule is set here, not guessed from the markup
    styler = styler.format(lambda cell: cell, subset=[label], escape=None)
    return styler.set_table_styles({label: [{"selector": "td", "props": "min-width: 14em; white-space: normal; "
                                                                         "overflow-wrap: normal"}]}, overwrite=False)


def _places(text) -> int:
    """Decimals a ledger value is printed with ("0.18" -> 2, "1,332" -> 0); 0 for text."""
    text = str(text).strip().replace(",", "")
    return len(text.split(".")[1]) if _NUMBER.match(text) and "." in text and "e" not in text.lower() else 0


def ledger_delta(paper, ours, delta) -> str:
    """A ledger delta as a reader sees it: signed, at the decimals of the finer of paper and ours, never
    in e-notation and never "-0.000" (the ledger keeps four significant digits: "4.701e-05")."""
    text = str(delta).strip()
    if not _NUMBER.match(text.replace(",", "")):
        return text  # a worded delta ("worst +6.5% (g=8)") stays as written
    places = min(4, max(_places(paper), _places(ours)))
    return signed(float(text.replace(",", "")), places)


def styled_ledger(frame: pd.DataFrame, **options) -> Styler:
    """A claims table (ledger rows) in :func:`styled`'s style that fits the text column: claim, paper, ours,
    delta, interval and verdict in view (``LEDGER_ORDER``); the evidence kind, profile, source, evidence and
    any other column folded into an expandable detail under each claim."""
    shown = [c for c in LEDGER_ORDER if c in frame.columns]
    folded = [c for c in LEDGER_FOLDED if c in frame.columns] + [c for c in frame.columns
                                                                  if c not in LEDGER_ORDER and c not in LEDGER_FOLDED]
    ordered = frame[shown + folded]
    if "delta" in ordered.columns and {"paper", "ours"} <= set(ordered.columns):
        ordered = ordered.assign(delta=[ledger_delta(p, o, d) for p, o, d in
                                        zip(ordered["paper"], ordered["ours"], ordered["delta"])])
    if "claim" not in shown:
        return styled(ordered.reset_index(drop=True), **options)
    return styled_folded(ordered, shown=shown, into="claim", summary="source and evidence", **options)
