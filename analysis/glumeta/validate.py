"""Whole-folder validation for ``glumeta check`` and ``glumeta build``.

Two stages, both reporting ``FILE:LINE: column 'X': value 'V': problem``:
the table checks of :mod:`glumeta.data` (types, constraints, cross-field rules),
then the checks of what the effect-size step must derive from a row
(:func:`derivation_problems`), e.g. an event count from a percentage, which is
accepted only when exactly one whole count prints as that percentage (GRIM;
Brown & Heathers 2017). :func:`glumeta.escalc.escalc` runs the same second stage
before it computes anything, so a chapter never meets an underivable row; and the
checks across tables (:func:`reference_problems`): a risk-of-bias judgment names a
study that a data table holds.

Pure Python (no pandas), so that ``glumeta check`` starts fast.
"""

from __future__ import annotations

import csv

from .counts import count_from_percentage
from .data import Problem, Table, _resource, check, data_dir, datasets, load_package, read, tables

__all__ = ["derivation_problems", "reference_problems", "validate"]


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


def _study_ids(name: str, directory=None) -> set[str]:
    """The study_id values of one data table, read without validating it (its own check does that)."""
    d = data_dir(directory)
    path = d / _resource(load_package(d), name)["path"]
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return {(r.get("study_id") or "").strip() for r in csv.DictReader(fh)}
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()


def reference_problems(table: Table, directory=None) -> list[Problem]:
    """Rows that name a study in another table (rule ``study_in_named_file``, e.g. the
    risk-of-bias judgments): the table must be one of the package's analyses and hold that study_id."""
    if "study_in_named_file" not in table.schema.get("glumeta:rules", []):
        return []
    known = datasets(directory)
    ids: dict[str, set[str]] = {}
    out: list[Problem] = []
    for row, line in zip(table.rows, table.lines):
        f, sid = row.get("file"), row.get("study_id")
        if f is None or sid is None:
            continue  # a missing required value is reported by the table check
        if f not in known:
            out.append(Problem(table.shown, line, "file", f,
                               f"not a data table of this package (one of: {', '.join(known)})"))
            continue
        if f not in ids:
            ids[f] = _study_ids(f, directory)
        if sid not in ids[f]:
            out.append(Problem(table.shown, line, "study_id", sid, f"no row of {f}.csv has this study_id"))
    return out


def validate(directory=None, names=None) -> list[Problem]:
    """Every problem (errors and warnings) in the tables *names* (default: all) of *directory*."""
    probs: list[Problem] = []
    for name in list(tables(directory) if names is None else names):
        found = check(directory, [name])
        probs.extend(found)
        if not any(p.severity == "error" for p in found):  # a broken table is not read a second time
            table = read(name, directory)
            probs.extend(derivation_problems(table))
            probs.extend(reference_problems(table, directory))
    return probs
