"""Chapter 5's wide tables made to fit the text column: the columns a reader compares stay in view, the
rest fold into an expandable detail under each row's label.

A folded column is printed with the same format string the visible table would give it, so a number
reads the same in the detail as it would in a column of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from pandas.io.formats.style import Styler

from effconv.claims.style import spec_format, styled_folded


def folded(frame: pd.DataFrame, *, shown: list[str], into: str, formats: Mapping[str, str],
           names: Mapping[str, str] | None = None, **options) -> Styler:
    """``styled_folded`` with the folded columns formatted by ``formats`` first (by default a detail would
    print a float's every digit): ``shown`` stays in view, the rest folds under the ``into`` cell."""
    text = frame.copy()
    for column in text.columns:
        if column not in shown and column in formats:
            # a missing value stays missing, so the detail leaves it out
            text[column] = [spec_format(formats[column], na_rep=None)(value) for value in text[column]]
    return styled_folded(text, shown=shown, into=into, names=names, formats=formats, **options)

