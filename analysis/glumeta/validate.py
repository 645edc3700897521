"""Whole-folder validation for ``glumeta check`` and ``glumeta build``.

Two stages, both reporting ``FILE:LINE: column 'X': value 'V': problem``:
the table checks of :mod:`glumeta.data` (types, constraints, cross-field rules),
then the checks of what the effect-size step must derive from a row
(:func:`derivation_problems`), e.g. an event count from a percentage, which is
accepted only when exactly one whole count prints as that percentage (GRIM;
Brown & Heathers 2017). :func:`glumeta.escalc.escalc` runs the same second stage
before it computes anything, so a chapter never meets an underivable row.

Pure Python (no pandas), so that ``glumeta check`` starts fast.
"""

from __future__ import annotations

from .counts import count_from_percentage
from .data import Problem, Table, check, read, tables

__all__ = ["derivation_problems", "validate"]


def derivation_problems(table: Table) -> list[Problem]:
    """Rows whose declared route cannot derive its inputs. Today: a ``percentages`` route
    (events from ``pct_armK`` of ``totaln_armK``) whose percentage no unique count reproduces."""
    routes = {r.get("route") for r in table.schema.get("glumeta:representations", [])}
    out: list[Problem] = []
    if "percentages" not in routes:
        return out
    for row, line in zip(table.rows, table.lines):
        if row.get("status") != "complete":
            continue
        for k in (1, 2):
            e, n, pct = row.get(f"event_arm{k}"), row.get(f"totaln_arm{k}"), row.get(f"pct_arm{k}")
            if e is None and n is not None and pct is not None:
                res = count_from_percentage(pct, n)
                if res.count is None:
                    out.append(Problem(table.shown, line, f"pct_arm{k}", f"{pct:g}",
                                       f"no unique event count out of {n} rounds to {pct:g}% "
                                       f"(candidates: {list(res.candidates) or 'none'}); enter event_arm{k}"))
    return out


def validate(directory=None, names=None) -> list[Problem]:
    """Every problem (errors and warnings) in the tables *names* (default: all) of *directory*."""
    probs: list[Problem] = []
    for name in list(tables(directory) if names is None else names):
        found = check(directory, [name])
        probs.extend(found)
        if not any(p.severity == "error" for p in found):  # a broken table is not read a second time
            probs.extend(derivation_problems(read(name, directory)))
    return probs
