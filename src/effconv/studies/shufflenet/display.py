"""Chapter 2's wide tables made to fit the text column: columns folded under a row's label.

``folded`` is :func:`effconv.claims.style.styled_folded` with every folded column printed first as the
visible table would print it (a format string, or counts with thousands separators and yes/no for flags),
so a number reads the same in a row's detail as it would in a column of its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
from pandas.io.formats.style import Styler

from effconv.claims.style import number_format, spec_format, styled_folded
from effconv.errors import EffconvError


def folded(frame: pd.DataFrame, *, shown: list[str], into: str, formats: Mapping[str, str] | None = None,
           names: Mapping[str, str] | None = None, summary: str = "details", **options) -> Styler:
    """``shown`` stays in view, every other column folds under the ``into`` cell, printed with its format in
    ``formats`` (text, counts and flags need none; a fractional column must have one)."""
    formats = dict(formats or {})
    text = frame.copy()
    for column in frame.columns:
        if column in shown:
            continue
        spec = formats.get(column)
        if spec is None and pd.api.types.is_float_dtype(frame[column]):
            raise EffconvError(f"folded(): the folded column {column!r} holds fractions; give it a format in "
                               "formats={...} so the detail prints it as the table would.")
        # a missing value stays missing, so the detail leaves it out
        fmt = spec_format(spec, na_rep=None) if spec is not None else number_format(0, na_rep=None)
        text[column] = pd.Series([fmt(value) for value in frame[column]], index=frame.index, dtype=object)
    return styled_folded(text, shown=shown, into=into, names=names, formats=formats, summary=summary, **options)


def interval_text(low: float, high: float, spec: str = "{:+.2f}") -> str | float:
    """A two-sided interval as one cell, "[-3.42, +5.03]" (on one line), each end printed with ``spec``; NaN
    when an end is missing (the table shows its "no value" mark)."""
    if any(value is None or (isinstance(value, float) and math.isnan(value)) for value in (low, high)):
        return math.nan
    return f"[{spec.format(low)},\u00a0{spec.format(high)}]"  # a no-break space: the interval stays on one line
