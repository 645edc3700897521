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
    """What a ledger row's check found; the value is the word shown in the book.

    A ``str`` enum, so a member equals its value and sorts and serialises as text.

    Attributes
    ----------
    REPRODUCED
        Re-computed from cited inputs, it rounds to the reported value.
    CONSISTENT
        The reported numbers agree with each other.
    DISCREPANT
        They do not (the row explains why, by computation).
    NOT_CHECKABLE
        The inputs are not reported.

    Notes
    -----
    "Agree" and "rounds to" are decided by :func:`matches` and :func:`pct_matches`.

    Examples
    --------
    >>> Verdict("reproduced") is Verdict.REPRODUCED
    True
    >>> Verdict.NOT_CHECKABLE.value, Verdict.DISCREPANT == "discrepant"
    ('not checkable', True)
    """

    REPRODUCED = "reproduced"        # re-computed from cited inputs, rounds to the reported value
    CONSISTENT = "consistent"        # reported numbers agree with each other
    DISCREPANT = "discrepant"        # they do not (the row explains why, by computation)
    NOT_CHECKABLE = "not checkable"  # the inputs are not reported


def interval(value: float, decimals: int) -> tuple[float, float]:
    """The half-open interval a printed number stands for.

    Parameters
    ----------
    value : float
        The printed number.
    decimals : int
        Decimals it was printed with.

    Returns
    -------
    (lower, upper) : tuple of float
        ``value ∓ ½·10^(−decimals)``; the interval is ``[lower, upper)``.

    Notes
    -----
    Rounding half up to *decimals* maps exactly ``[x − ½·10^−d, x + ½·10^−d)`` onto *x*
    (the same rule as :func:`glumeta.stats.reproduce.rounding_interval`).

    Examples
    --------
    >>> interval(1.5, 1)
    (1.45, 1.55)
    """
    h = 0.5 * 10.0 ** (-decimals)
    return value - h, value + h


def matches(reported: float, decimals: int, computed: float, prefix: str | None = None) -> bool:
    """Does *computed* agree with the printed *reported* value?

    Parameters
    ----------
    reported : float
        The printed value (for a bound, the bound: ``0.001`` of ``P < .001``).
    decimals : int
        Decimals it was printed with.
    computed : float or None
        The re-computed value; ``None`` (not computable) never matches.
    prefix : {None, "<", ">="}, optional
        ``"<"`` for a printed upper bound, ``">="`` for "not significant at" a level.

    Returns
    -------
    bool

    Notes
    -----
    Without a prefix: ``x − ½·10^−d ≤ computed < x + ½·10^−d`` (:func:`interval`, with a
    1e-12 allowance for binary floating point). With ``"<"``: ``computed < reported``; with
    ``">="``: ``computed ≥ reported``.

    Examples
    --------
    0.605 prints as 0.61 at two decimals, 0.615 as 0.62; p = 0.0004 satisfies "P < .001":

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
    since reports round half up or half to even.

    Parameters
    ----------
    count : int
        Number with the characteristic.
    n : int
        Group size.
    pct : float
        The printed percentage.
    decimals : int
        Decimals it was printed with.

    Returns
    -------
    bool

    Notes
    -----
    ``|100·count/n − pct| ≤ ½·10^(−decimals)`` (closed at both ends, with a 1e-9 allowance),
    the GRIM test of Brown & Heathers (2017) applied to a percentage.

    Examples
    --------
    12 of 13 is 92.31%, printed 92.3; 11 of 13 (84.6%) is not. 1 of 8 is 12.5%, which
    prints as 12 or 13 depending on the rounding rule, so both are accepted:

    >>> pct_matches(12, 13, 92.3, 1), pct_matches(11, 13, 92.3, 1)
    (True, False)
    >>> pct_matches(1, 8, 12, 0), pct_matches(1, 8, 13, 0)
    (True, True)
    """
    lo, hi = interval(pct, decimals)
    v = 100.0 * count / n
    return lo - 1e-9 <= v <= hi + 1e-9
