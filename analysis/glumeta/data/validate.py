"""Whole-folder validation for ``glumeta check`` and ``glumeta build``.

Two stages, both reporting ``FILE:LINE: column 'X': value 'V': problem``:
the table checks of :mod:`glumeta.data.tables` (size limits, types, constraints, and the
domain rules of :mod:`glumeta.data.rules` that the schema names),
then the checks of what the effect-size step must derive from a row
(:func:`derivation_problems`), e.g. an event count from a percentage, which is
accepted only when exactly one whole count prints as that percentage (GRIM;
Brown & Heathers 2017). :func:`glumeta.stats.escalc.escalc` runs the same second stage
before it computes anything, so a chapter never meets an underivable row; and the
checks across tables (:func:`reference_problems`): a risk-of-bias judgment names a
study that a data table holds.

Pure Python (no pandas), so that ``glumeta check`` starts fast.
"""

from __future__ import annotations

import csv

from .tables import Problem, Table, limits
from .rules import fmt_value, run_stage_two

__all__ = ["derivation_problems", "reference_problems", "validate"]


def _collect(table: Table, out: list[Problem]):
    def report(line, col, value, msg, severity="error"):
        out.append(Problem(table.shown, line, col, None if value is None else fmt_value(value), msg, severity))
    return report


def derivation_problems(table: Table) -> list[Problem]:
    """Rows whose declared route cannot derive its inputs. Today: a ``percentages`` route
    (events from ``pct_armK`` of ``totaln_armK``) whose percentage no unique count reproduces
    (rule ``pct_count_derivable`` of :mod:`glumeta.data.rules`, run wherever the route is declared)."""
    routes = {r.get("route") for r in table.schema.get("glumeta:representations", [])}
    out: list[Problem] = []
    if "percentages" in routes:
        run_stage_two("derivation", table, _collect(table, out), always=("pct_count_derivable",))
    return out


def _study_ids(ds) -> set[str] | None:
    """The study_id values of one data table (a Dataset), read without validating it (its own check
    does that); ``None`` for a table past its declared size (``glumeta:limits``), which its own check
    refuses."""
    path = ds.path
    try:
        if path.stat().st_size > limits(ds.resource, ds.workbook.package)["bytes"]:
            return None
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return {(r.get("study_id") or "").strip() for r in csv.DictReader(fh)}
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()


def reference_problems(table: Table) -> list[Problem]:
    """Rows that name a study in another table (rule ``study_in_named_file`` of
    :mod:`glumeta.data.rules`, e.g. the risk-of-bias judgments): the table must be one of the
    workbook's analyses and hold that study_id."""
    out: list[Problem] = []
    run_stage_two("reference", table, _collect(table, out))
    return out


def validate(workbook=None, names=None) -> list[Problem]:
    """Every problem (errors and warnings) in the tables *names* (default: all) of *workbook*
    (default: the current one, :func:`glumeta.data.workbook.current`)."""
    from .workbook import current

    wb = workbook or current()
    probs: list[Problem] = []
    for name in list(wb.tables() if names is None else names):
        table = wb.dataset(name).read()
        probs.extend(table.problems)
        if not any(p.severity == "error" for p in table.problems):  # a broken table goes no further
            probs.extend(derivation_problems(table))
            probs.extend(reference_problems(table))
    return probs
