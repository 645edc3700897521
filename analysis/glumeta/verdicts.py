"""Rounding-aware verdict rules for reported vs re-computed numbers.

A number printed with *d* decimals stands for the half-open interval
``[x − ½·10^−d, x + ½·10^−d)``; a re-computed value matches when it falls inside.
A p-value printed as a bound (``P < .001``) matches any p below it; "not
significant at .05" (``>=``) matches any p at or above it. Ratios' CIs are
compared bound by bound at their printed precision. Percentages are checked
GRIM-style (Brown & Heathers 2017): the count must give the printed percentage.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Verdict", "matches", "interval", "pct_matches"]


class Verdict(str, Enum):
    REPRODUCED = "reproduced"        # re-computed from cited inputs, rounds to the reported value
    CONSISTENT = "consistent"        # reported numbers agree with each other
    DISCREPANT = "discrepant"        # they do not (the row explains why, by computation)
    NOT_CHECKABLE = "not checkable"  # the inputs are not reported


def interval(value: float, decimals: int) -> tuple[float, float]:
    """The half-open interval a printed number stands for."""
    h = 0.5 * 10.0 ** (-decimals)
    return value - h, value + h


def matches(reported: float, decimals: int, computed: float, prefix: str | None = None) -> bool:
    """Does *computed* agree with the printed *reported* value?

    Examples
    --------
    >>> matches(0.61, 2, 0.605), matches(0.61, 2, 0.615), matches(0.001, 3, 0.0004, "<")
    (True, False, True)
    """
    if computed is None:
        return False
    if prefix == "<":
        return computed < reported
    if prefix == ">=":
        return computed >= reported
    lo, hi = interval(reported, decimals)
    return lo - 1e-12 <= computed < hi - 1e-12


def pct_matches(count: int, n: int, pct: float, decimals: int) -> bool:
    """GRIM-style: does ``100·count/n`` print as *pct*? Ties (x.5) are accepted either way,
    since reports round half up or half to even."""
    lo, hi = interval(pct, decimals)
    v = 100.0 * count / n
    return lo - 1e-9 <= v <= hi + 1e-9
