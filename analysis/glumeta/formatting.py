"""Numbers as shown to a reader (prose, tables, figures): one formatter for each kind.

=============  =====================  ==============================================
kind           formatter              shows
=============  =====================  ==============================================
estimate       :func:`fmt`            ``−0.42`` (also statistics: τ², Q, z, t …)
interval       :func:`fmt_ci`         ``−0.80 to −0.05``, or ``[−0.80, −0.05]``
p-value        :func:`fmt_p`          ``p = 0.37``, ``p = 0.004``, ``p < 0.001``
weight         :func:`fmt_weight`     ``12.3%``, ``0.45%``
I²             :func:`fmt_i2`         ``42`` (a percentage, without the sign)
count          :func:`fmt_n`          ``1,234``
per 1,000      :func:`fmt_per1000`    ``153``, ``1,000 (capped)``
axis tick      :func:`fmt_tick`       ``0.5``, ``2``
=============  =====================  ==============================================

Missing or non-finite values show as ``–``. The figure style
(:class:`glumeta.style.ForestStyle`) refers to these, so a figure and the prose print the
same number the same way.
"""

from __future__ import annotations

import math

__all__ = ["fmt", "fmt_ci", "fmt_p", "fmt_weight", "fmt_i2", "fmt_n", "fmt_per1000", "fmt_tick"]


def fmt(x: float | None, nd: int = 2) -> str:
    """Fixed decimals with a true minus sign; ``–`` for a missing or non-finite value.

    Examples
    --------
    >>> fmt(-0.4237), fmt(0.05, 3), fmt(None), fmt(float("nan"))
    ('−0.42', '0.050', '–', '–')
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{nd}f}".replace("-", "−")


def fmt_ci(lo, hi, nd: int = 2, *, brackets: bool = False) -> str:
    """``lo to hi`` with :func:`fmt` (with *brackets*: ``[lo, hi]``, as a forest plot prints it).

    Examples
    --------
    >>> fmt_ci(-0.8, -0.051), fmt_ci(0.1, 0.25, brackets=True)
    ('−0.80 to −0.05', '[0.10, 0.25]')
    """
    if brackets:
        return f"[{fmt(lo, nd)}, {fmt(hi, nd)}]"
    return f"{fmt(lo, nd)} to {fmt(hi, nd)}"


def fmt_p(p: float | None, label: str = "p") -> str:
    """``p = 0.37``, ``p = 0.004``, ``p < 0.001`` (without *label*: ``= 0.37`` …; ``–`` when missing).

    Examples
    --------
    >>> fmt_p(0.371), fmt_p(0.0042), fmt_p(0.0002), fmt_p(0.5, label="")
    ('p = 0.37', 'p = 0.004', 'p < 0.001', '= 0.50')
    """
    if p is None or not math.isfinite(p):
        return f"{label} = –" if label else "–"
    body = "< 0.001" if p < 0.001 else (f"= {p:.3f}" if p < 0.01 else f"= {p:.2f}")
    return f"{label} {body}" if label else body


def fmt_weight(w: float) -> str:
    """A weight in percent with the precision it needs: 12.3%, 0.45%, 0.012% (never a bare 0.0%).

    Examples
    --------
    >>> fmt_weight(12.34), fmt_weight(0.4512), fmt_weight(0.0123), fmt_weight(100.0), fmt_weight(0)
    ('12.3%', '0.45%', '0.012%', '100.0%', '0.0%')
    """
    if w >= 1 or w == 0:
        return f"{w:.1f}%"
    return f"{w:.2g}%"


def fmt_i2(i2) -> str:
    """I² (in percent) without decimals and without the ``%`` sign; ``–`` when missing.

    Examples
    --------
    >>> fmt_i2(42.4), fmt_i2(None), fmt_i2(float("nan"))
    ('42', '–', '–')
    """
    return fmt(i2, 0) if i2 is not None and math.isfinite(i2) else "–"


def fmt_n(n) -> str:
    """A count with thousands separators.

    Examples
    --------
    >>> fmt_n(1234), fmt_n(7)
    ('1,234', '7')
    """
    return f"{n:,}"


def fmt_per1000(x: float) -> str:
    """A risk (0–1) as a whole number of people per 1,000, capped at 1,000.

    Examples
    --------
    >>> fmt_per1000(0.1534), fmt_per1000(1.2)
    ('153', '1,000 (capped)')
    """
    v = round(1000 * x)
    return "1,000 (capped)" if v > 1000 else fmt_n(v)


def fmt_tick(v: float) -> str:
    """A ratio-axis tick label: the shortest form (``0.5``, ``2``, ``10``).

    Examples
    --------
    >>> fmt_tick(0.5), fmt_tick(2.0), fmt_tick(100.0)
    ('0.5', '2', '100')
    """
    return f"{v:g}"
