"""Numbers in sentences: one helper for each way a template used to go wrong.

``plural(5, "paired seed")`` reads "5 paired seeds", never "5 paired seed(s)"; ``signed(-0.0004, 3)`` reads
"0.000", never "-0.000"; ``fixed`` never falls back to scientific notation; ``listing`` says what an empty
list means instead of printing "none". Pages, findings boxes and tests share them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["plural", "signed", "fixed", "listing"]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun in the form that count takes: "1 run", "3 runs", "2 analyses" (``many``)."""
    word = noun if count == 1 else (many or f"{noun}s")
    return f"{count:,} {word}"


def fixed(value: float, places: int = 2) -> str:
    """``value`` with ``places`` decimals, never in e-notation and never as "-0.00" (a rounded zero has no sign)."""
    text = f"{value:,.{places}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def signed(value: float, places: int = 2) -> str:
    """A difference with its sign ("+0.71", "-1.27"); a value that rounds to zero reads "0.00", unsigned."""
    if not math.isfinite(value):
        return str(value)
    text = fixed(value, places)
    return text if text.startswith("-") or float(text.replace(",", "")) == 0 else f"+{text}"


def listing(items: Iterable[str], empty: str) -> str:
    """Items joined as prose ("a, b and c"); ``empty`` is the whole sentence-part to use when there are none,
    so a page never prints a list that reads "none"."""
    items = [str(i) for i in items]
    if not items:
        return empty
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
