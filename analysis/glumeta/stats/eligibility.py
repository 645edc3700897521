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
failed the skewness test of Shi et al. (2023) (:func:`glumeta.stats.effects.skewness_test`),
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

from ..data.rules import condition_holds

__all__ = ["Rule", "rules_of", "evaluate", "SKEW_RULE"]

SKEW_RULE = "skew"


class Rule:
    """One declared primary-pool rule (see the module docstring).

    Parameters
    ----------
    spec : dict
        The rule as declared: ``id``, ``column``, one of ``in`` / ``matches`` / ``equals``, and
        ``reason`` (the id :data:`SKEW_RULE` needs no column).

    Attributes
    ----------
    id : str
        The rule's id (a sensitivity analysis relaxes rules by id).
    column : str or None
        The column it tests.
    reason : str
        Why a row that fails it is outside the pool (default "outside the declared <id> rule").
    spec : dict
        As given.

    Examples
    --------
    >>> r = Rule({"id": "time", "column": "time", "in": ["24 h"]})
    >>> r.id, r.column, r.reason
    ('time', 'time', 'outside the declared time rule')
    """

    def __init__(self, spec: dict):
        self.id = spec["id"]
        self.column = spec.get("column")
        self.reason = spec.get("reason", f"outside the declared {self.id} rule")
        self.spec = spec

    def admits(self, frame) -> np.ndarray:
        """Boolean array: which rows of *frame* satisfy this rule (a missing value never does).

        Returns
        -------
        numpy.ndarray of bool
            One per row. The skew rule admits every row whose ``skewed`` is not true (all rows
            when the frame has no such column).

        Raises
        ------
        ValueError
            The rule names a column the frame lacks, or declares no condition.

        Examples
        --------
        >>> import pandas as pd
        >>> f = pd.DataFrame({"time": ["24 h", "4 h", None], "skewed": [True, False, None]})
        >>> Rule({"id": "hours", "column": "time", "matches": "[0-9]+ h"}).admits(f).tolist()
        [True, True, False]
        >>> Rule({"id": SKEW_RULE}).admits(f).tolist()
        [False, True, True]
        >>> Rule({"id": "dose", "column": "dose", "in": [1]}).admits(f)
        Traceback (most recent call last):
        ...
        ValueError: eligibility rule 'dose' names column 'dose', which the data file does not have (datapackage.json, glumeta:analysis → eligibility)
        """
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
    """The primary-pool rules a ``glumeta:analysis`` block declares (the skew rule last).

    Parameters
    ----------
    plan : dict
        A ``glumeta:analysis`` block (:attr:`glumeta.data.workbook.Dataset.plan`).

    Returns
    -------
    list of Rule
        Its ``eligibility`` → ``primary`` rules in order, then the skew rule when it declares
        ``"skewed": "exclude"``; empty when it declares none.

    Notes
    -----
    The skew rule leaves out median/IQR conversions that fail the skewness test of Shi et al.
    (2023) (:func:`glumeta.stats.effects.skewness_test`), as Cochrane Handbook §10.5.3 asks.

    Examples
    --------
    >>> plan = {"eligibility": {"primary": [{"id": "time", "column": "time", "in": ["24 h"],
    ...                                      "reason": "other time"}], "skewed": "exclude"}}
    >>> [(r.id, r.reason) for r in rules_of(plan)]
    [('time', 'other time'), ('skew', 'median/IQR conversion skewed (Shi et al. 2023 test)')]
    >>> rules_of({"measure": "SMD"})
    []
    """
    el = plan.get("eligibility", {})
    rules = [Rule(r) for r in el.get("primary", [])]
    if el.get("skewed") == "exclude":
        rules.append(Rule({"id": SKEW_RULE, "reason": "median/IQR conversion skewed (Shi et al. 2023 test)"}))
    return rules


def evaluate(frame, rules: list[Rule], relax=()) -> tuple[np.ndarray, list[str]]:
    """Apply *rules* (except those whose id is in *relax*) to *frame*.

    Returns the mask of admitted rows and, per row, the reason of the first rule it
    fails ("" when admitted).

    Parameters
    ----------
    frame : pandas.DataFrame
        An effect frame (:func:`glumeta.stats.escalc.escalc`) or any frame with the rules' columns.
    rules : list of Rule
        The rules, in order (:func:`rules_of`).
    relax : collection of str, optional
        Ids of rules not applied (a sensitivity analysis).

    Returns
    -------
    ok : numpy.ndarray of bool
        The rows every applied rule admits.
    why : list of str
        Per row, the :attr:`Rule.reason` of the first rule it fails, ``""`` when admitted.

    Notes
    -----
    A row is admitted when it satisfies every rule (:meth:`Rule.admits`); a row outside the pool
    is not dropped but shown with its reason.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"time": ["24 h", "4 h", None]})
    >>> ok, why = evaluate(f, [Rule({"id": "time", "column": "time", "in": ["24 h"], "reason": "other time"})])
    >>> ok.tolist(), why
    ([True, False, False], ['', 'other time', 'other time'])
    >>> evaluate(f, [Rule({"id": "time", "column": "time", "in": ["24 h"]})], relax={"time"})[0].tolist()
    [True, True, True]
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
