"""Argument checks shared by the whole package: one rule per kind of value.

Integers: any `numbers.Integral` (Python or NumPy), never a `bool`. Numbers: any finite
`numbers.Real`, never a `bool` or a string. A value of the wrong kind raises `TypeError`,
a value out of range `ValueError`; both messages name the argument, say what it must
be, and show what was received.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["check_int", "check_number"]


def check_int(name: str, value: Any, minimum: int = 0, optional: bool = False) -> int | None:
    """Returns `value` as an `int` if it is an integer >= `minimum`, else raises.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        minimum: The smallest value allowed.
        optional: Whether `None` is allowed (and returned as is).

    Returns:
        `int(value)`, or `None` when `optional` and `value is None`.
    """
    if value is None and optional:
        return None
    rule = f"an integer >= {minimum}{' or None' if optional else ''}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be {rule}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be {rule}. Received: {name}={value!r}")
    return int(value)


def check_number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    optional: bool = False,
    high_label: str | None = None,
) -> float | None:
    """Returns `value` as a `float` if it is a finite number in range, else raises.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        low: The lower bound, or `None` for none.
        high: The upper bound (inclusive), or `None` for none.
        low_open: Whether `low` itself is excluded.
        optional: Whether `None` is allowed (and returned as is).
        high_label: How to name `high` in the message (e.g. "the base rate 0.1").

    Returns:
        `float(value)`, or `None` when `optional` and `value is None`.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    # Rates read back from float32 variables: a relative slack of 1e-6 on the upper bound.
    too_high = high is not None and number > high * (1 + 1e-6)
    if not math.isfinite(number) or too_low or too_high:
        left = "(" if low_open else "["
        lower = "-inf" if low is None else f"{low:g}"
        upper = high_label or ("inf" if high is None else f"{high:g}")
        interval = f"{left}{lower}, {upper}{']' if high is not None else ')'}"
        raise ValueError(f"`{name}` must be in {interval}. Received: {name}={value!r}")
    return number
