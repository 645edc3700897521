"""Whole-folder validation for ``glumeta check`` and ``glumeta build``.

Two stages, both reporting ``FILE:LINE: column 'X': value 'V': problem``:
the table checks of :mod:`glumeta.data` (types, constraints, cross-field rules),
then, for the analysis tables that passed, the effect-size step
(:func:`glumeta.escalc.escalc`), which finds what only a derivation can find
(e.g. a percentage that no whole count of the arm rounds to).
"""

from __future__ import annotations

from .data import DataError, Problem, check, datasets, tables

__all__ = ["validate"]


def validate(directory=None, names=None) -> list[Problem]:
    """Every problem (errors and warnings) in the tables *names* (default: all) of *directory*."""
    from .escalc import escalc

    names = list(tables(directory) if names is None else names)
    probs = check(directory, names)
    bad = {p.path for p in probs if p.severity == "error"}
    analysis_tables = set(datasets(directory))
    for name in names:
        if name not in analysis_tables:
            continue
        try:
            escalc(name, directory)
        except DataError as exc:
            probs.extend(p for p in exc.problems if p.path not in bad)
    return probs
