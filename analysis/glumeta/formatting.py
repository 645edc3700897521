"""Numbers as shown to a reader (prose, tables, figures): one formatter for each kind."""

from __future__ import annotations

import math

__all__ = ["fmt", "fmt_ci", "fmt_p"]


def fmt(x: float | None, nd: int = 2) -> str:
    """Fixed decimals with a true minus sign; ``–`` for a missing or non-finite value."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{nd}f}".replace("-", "−")


def fmt_ci(lo, hi, nd: int = 2) -> str:
    """``lo to hi`` with :func:`fmt`."""
    return f"{fmt(lo, nd)} to {fmt(hi, nd)}"


def fmt_p(p: float | None, label: str = "p") -> str:
    """``p = 0.37``, ``p = 0.012``, ``p < 0.001`` (without *label*: ``= 0.37`` …; ``–`` when missing)."""
    if p is None or not math.isfinite(p):
        return f"{label} = –" if label else "–"
    body = "< 0.001" if p < 0.001 else (f"= {p:.3f}" if p < 0.01 else f"= {p:.2f}")
    return f"{label} {body}" if label else body
