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
    analysis_tables = set(datasets(directory))
    probs: list[Problem] = []
    for name in names:
        found = check(directory, [name])
        probs.extend(found)
        # a table with errors is not read a second time (a 10 MB export must be refused quickly)
        if name not in analysis_tables or any(p.severity == "error" for p in found):
            continue
        try:
            escalc(name, directory)
        except DataError as exc:
            probs.extend(exc.problems)
    return probs
