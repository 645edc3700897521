"""Exporting results as CSV for spreadsheets, safe against formula injection.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, LibreOffice and Google Sheets (CSV
injection, CWE-1236). Such cells are prefixed with a single quote, as OWASP
recommends; numbers (including negative ones such as ``-4.31``) are left as numbers.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

__all__ = ["neutralise", "results_frame", "to_safe_csv"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value):
    """Prefix ``'`` to a text cell that a spreadsheet would evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _NUMBER.match(value.strip()):
        return "'" + value
    return value


def results_frame(table):
    """Study-level results of an effect frame (:func:`glumeta.escalc.escalc`): identity, where the row
    is (file, line), effect size, variance, SE, 95% CI, how it was derived, source — the same values
    the forest plot and the chapter's table show."""
    cols = [c for c in ("file", "line", "study_id", "study", "year", "comparison", "time", "outcome", "status",
                        "label", "measure", "yi", "vi", "sei", "ci_lower", "ci_upper", "vi_unsplit", "derivation",
                        "source", "locator") if c in table.columns]
    return table[cols].copy()


def to_safe_csv(df, path: Path | str) -> Path:
    """Write *df* as UTF-8 CSV with every text cell neutralised; floats keep full precision."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or str(out[c].dtype).startswith(("string", "str")):
            out[c] = [neutralise(v) if not (isinstance(v, float) and math.isnan(v)) else v for v in out[c]]
    path = Path(path)
    out.to_csv(path, index=False, encoding="utf-8")
    return path
