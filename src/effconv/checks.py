"""Checks on user-supplied numbers, written once and used by the recipes, the models, the CLI and the API.

Each check raises ``EffconvError`` with one line naming the value, what was given and the accepted
range, so a mistyped number is refused before any data is loaded or any training starts.
"""

from __future__ import annotations

import math
from typing import Any

from effconv.errors import EffconvError

SEED_MAX = 2**32 - 1  # numpy's and Lightning's seeding accept 32-bit unsigned seeds only


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but True is never a meaningful width or rate
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, integer: bool = False) -> Any:
    """``value`` if it is a finite number (an integer when ``integer``) within the given bounds, else an
    EffconvError naming ``name``, the value and the accepted range."""
    kind = "an integer" if integer else "a number"
    accepted = _range_text(low, high, low_open, high_open)
    ok = (isinstance(value, int) and not isinstance(value, bool)) if integer else _is_number(value)
    if ok and not math.isfinite(value):
        ok = False
    if ok and low is not None and (value <= low if low_open else value < low):
        ok = False
    if ok and high is not None and (value >= high if high_open else value > high):
        ok = False
    if not ok:
        raise EffconvError(f"{name} must be {kind} {accepted}, got {value!r}.")
    return value


def _fmt(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _range_text(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_fmt(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {_fmt(high)}"
    return "(finite)"


def check_positive(name: str, value: Any) -> float:
    """A finite number > 0 (widths, learning rates, time budgets)."""
    return check_number(name, value, low=0, low_open=True)


def check_count(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """An integer >= 1 (epochs, batch sizes, subset sizes); None where ``allow_none``."""
    if value is None and allow_none:
        return None
    return check_number(name, value, low=1, integer=True)


def check_seed(value: Any) -> int:
    """A seed numpy, torch and Lightning all accept: an integer in 0 .. 2**32 - 1."""
    return check_number("seed", value, low=0, high=SEED_MAX, integer=True)


ACCELERATORS = ("auto", "cpu", "gpu", "cuda")


def check_accelerator(name: Any) -> str:
    """A known accelerator name (whether a GPU is present is checked when training starts)."""
    if name not in ACCELERATORS:
        raise EffconvError(f"unknown accelerator {name!r}; use auto, cpu or gpu.")
    return name
