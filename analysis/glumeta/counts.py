"""Event counts from printed percentages (GRIM-style consistency).

A trial report often prints "92.3% (of 13)" but not the count. The count is
*derived*, never stored: it is accepted only when exactly one integer ``c`` in
``0..n`` gives ``100·c/n`` within the rounding interval of the printed value
(Brown & Heathers 2017, the GRIM test, applied to percentages).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CountFromPercentage", "count_from_percentage", "printed_decimals"]


def printed_decimals(value: float | str) -> int:
    """Decimals as printed: ``"92.3"`` → 1, ``"57"`` → 0.

    A float loses trailing zeros, so ``50.0`` counts as 0 decimals (the wider,
    more permissive interval).

    Parameters
    ----------
    value : float or str
        The printed number; pass the text as printed to keep trailing zeros.

    Returns
    -------
    int
        Digits after the decimal point (6 for a number in exponent notation).

    Notes
    -----
    The printed precision sets the rounding interval ``pct ± ½·10^(−decimals)`` of
    :func:`count_from_percentage` (Brown & Heathers 2017).

    Examples
    --------
    >>> printed_decimals("92.3"), printed_decimals("57")
    (1, 0)
    >>> printed_decimals("50.0"), printed_decimals(50.0)
    (1, 0)
    """
    s = value if isinstance(value, str) else repr(float(value))
    s = s.strip()
    if "e" in s.lower():
        return 6
    if "." not in s:
        return 0
    frac = s.split(".", 1)[1]
    if not isinstance(value, str):
        frac = frac.rstrip("0")
    return len(frac)


@dataclass(frozen=True)
class CountFromPercentage:
    """Result of :func:`count_from_percentage`.

    Attributes
    ----------
    percentage : float
        The printed percentage.
    n : int
        The denominator.
    decimals : int
        Decimals the percentage was printed with.
    candidates : tuple of int
        Every count ``c`` in ``0..n`` whose ``100·c/n`` rounds to *percentage*.

    Notes
    -----
    GRIM-style consistency (Brown & Heathers 2017); see :func:`count_from_percentage`.

    Examples
    --------
    >>> CountFromPercentage(92.3, 13, 1, (12,)).count
    12
    """

    percentage: float
    n: int
    decimals: int
    candidates: tuple[int, ...]

    @property
    def count(self) -> int | None:
        """The count when it is unique, else ``None``.

        Returns
        -------
        int or None

        Examples
        --------
        33% of 200 at 0 decimals fits 65, 66 and 67 (32.5% and 33.5% are ties); printed
        as "33.0" only 66 fits:

        >>> count_from_percentage(33, 200).candidates, count_from_percentage(33, 200).count
        ((65, 66, 67), None)
        >>> count_from_percentage("33.0", 200).count
        66
        """
        return self.candidates[0] if len(self.candidates) == 1 else None


def count_from_percentage(pct: float | str, n: int, decimals: int | None = None) -> CountFromPercentage:
    """All counts out of *n* whose percentage rounds to *pct* at its printed precision.

    ``c`` is a candidate when ``|100·c/n − pct| ≤ 0.5·10^(−decimals)`` (ties
    accepted either way, since reports round half up or half to even).

    Parameters
    ----------
    pct : float or str
        The printed percentage; pass the text as printed to keep trailing zeros.
    n : int
        The denominator (group size).
    decimals : int, optional
        Printed decimals of *pct*; default: :func:`printed_decimals` of *pct*.

    Returns
    -------
    CountFromPercentage
        The candidates; ``.count`` is the count when exactly one fits.

    Notes
    -----
    The GRIM test of Brown & Heathers (2017), applied to percentages: every integer
    ``0 ≤ c ≤ n`` with ``|100·c/n − pct| ≤ ½·10^(−d)`` (plus 1e-9 for floating point).

    Examples
    --------
    "92.3% (of 13)": 12/13 = 92.31%, the only count that prints as 92.3:

    --------
    >>> count_from_percentage(92.3, 13).count
    12
    >>> count_from_percentage(50, 100).candidates
    (50,)
    """
    d = printed_decimals(pct) if decimals is None else decimals
    p = float(pct)
    half = 0.5 * 10.0 ** (-d) + 1e-9
    cands = tuple(c for c in range(int(n) + 1) if abs(100.0 * c / n - p) <= half)
    return CountFromPercentage(p, int(n), d, cands)
