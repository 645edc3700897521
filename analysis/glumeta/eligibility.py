"""Eligibility: which rows an analysis' primary pool admits (like with like).

Each data file declares, under ``glumeta:analysis`` → ``eligibility`` in
``data/datapackage.json``, its review question (PICO: ``population``,
``intervention``, ``comparator``, ``outcome``, ``design``) in words, and the
``primary`` rules that make its headline pool compare like with like (one time
window, one schedule, one comparison per crossover trial), each rule with the
reason a row that fails it is shown outside the pool. Rows are never silently
dropped: a row outside the primary pool is drawn, labelled with its reason, in its
own group of the forest plot, and counted in the flow of studies.

A rule is ``{"id", "column", "in": [...]}`` (the value must be one of the list),
``{"id", "column", "matches": "regex"}`` (a full match) or ``{"id", "column",
"equals": value}``, with ``"reason"``. The special rule id ``skew`` (declared as
``"skewed": "exclude"``) leaves out rows whose median/IQR → mean/SD conversion
failed the skewness test of Shi et al. (2023) (:func:`glumeta.effects.skewness_test`),
as Cochrane Handbook §10.5.3 asks of conversions that assume normality.

Why one comparison per crossover trial: a crossover's several doses are compared
with the *same* patients' placebo sessions, so their differences are correlated
in a way that no reported number lets us estimate; splitting the placebo sessions
(the parallel-group fix of Cochrane Handbook §23.3.4) does not model within-patient
dependence. The rule keeps one comparison (Cochrane Handbook §23.3.4, option (b):
select one pair of interventions) and shows the others outside the pool.

This module reads no file; it takes the schema block and an effect frame.
"""

from __future__ import annotations

import numpy as np

from .rules import condition_holds

__all__ = ["Rule", "rules_of", "evaluate", "SKEW_RULE"]

SKEW_RULE = "skew"


class Rule:
    """One declared primary-pool rule (see the module docstring)."""

    def __init__(self, spec: dict):
        self.id = spec["id"]
        self.column = spec.get("column")
        self.reason = spec.get("reason", f"outside the declared {self.id} rule")
        self.spec = spec

    def admits(self, frame) -> np.ndarray:
        """Boolean array: which rows of *frame* satisfy this rule (a missing value never does)."""
        if self.id == SKEW_RULE:
            col = frame["skewed"] if "skewed" in frame else None
            return np.ones(len(frame), bool) if col is None else ~col.fillna(False).astype(bool).to_numpy()
        if self.column not in frame:
            raise ValueError(f"eligibility rule {self.id!r} names column {self.column!r}, which the data file "
                             "does not have (datapackage.json, glumeta:analysis → eligibility)")
        if not {"in", "matches", "equals"} & set(self.spec):
            raise ValueError(f"eligibility rule {self.id!r} needs 'in', 'matches' or 'equals'")
        vals = frame[self.column]
        ok = np.array([condition_holds(self.spec, v) for v in vals], dtype=bool)
        return ok & vals.notna().to_numpy()


def rules_of(plan: dict) -> list[Rule]:
    """The primary-pool rules a ``glumeta:analysis`` block declares (the skew rule last)."""
    el = plan.get("eligibility", {})
    rules = [Rule(r) for r in el.get("primary", [])]
    if el.get("skewed") == "exclude":
        rules.append(Rule({"id": SKEW_RULE, "reason": "median/IQR conversion skewed (Shi et al. 2023 test)"}))
    return rules


def evaluate(frame, rules: list[Rule], relax=()) -> tuple[np.ndarray, list[str]]:
    """Apply *rules* (except those whose id is in *relax*) to *frame*.

    Returns the mask of admitted rows and, per row, the reason of the first rule it
    fails ("" when admitted).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"time": ["24 h", "4 h", None]})
    >>> ok, why = evaluate(f, [Rule({"id": "time", "column": "time", "in": ["24 h"], "reason": "other time"})])
    >>> ok.tolist(), why
    ([True, False, False], ['', 'other time', 'other time'])
    """
    ok = np.ones(len(frame), bool)
    why = [""] * len(frame)
    for rule in rules:
        if rule.id in relax:
            continue
        a = rule.admits(frame)
        for i in np.flatnonzero(ok & ~a):
            why[i] = rule.reason
        ok &= a
    return ok, why
