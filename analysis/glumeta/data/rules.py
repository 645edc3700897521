"""Domain rules of the data tables: a registry, named by the schema.

Each table's schema names the rules that apply to it under ``glumeta:rules``, with their
parameters (thresholds, and column names where a rule is not about the usual columns)::

    "glumeta:rules": {
      "plausible_smd": {"max_abs_smd": 2},
      "n_consistent_within_study": {"max_relative_drop": 0.2}
    }

A plain list of names (``["ci_ordered", "plausible_smd"]``, as ``glumeta new`` writes it) is
accepted too: each rule then takes the defaults of its function's keyword arguments. This
module holds only the rules of the domain (what a meta-analysis row may say);
:mod:`glumeta.data.tables` decodes the CSV and applies the generic Table Schema constraints (types,
``enum``, ``minimum``, ``primaryKey``, ``required``) and the representations, then calls
:func:`apply` here. Like the ledger's computations (:data:`glumeta.stats.ledger.COMPUTE`), a rule
is a function registered under its name:

* ``row`` rules ``f(row, line, report, **params)`` see one typed row;
* ``table`` rules ``f(table, report, **params)`` see every row (across rows of a trial);
* ``derivation`` rules ``f(table, report, **params)`` and ``reference`` rules
  ``f(table, report, **params)`` run in the second stage of :mod:`glumeta.data.validate`
  (what the effect-size step must derive; a study named in another table of the folder).

``report(line, column, value, message, severity="error")`` records one problem, printed as
``FILE:LINE: column 'X': value 'V': message``. Rules run in the order of this module (the
order of the messages does not depend on the order of the schema). An unknown rule name, or
a parameter the rule does not take, is an error of the schema, not silently skipped.

Pure Python (no pandas), so that ``glumeta check`` starts fast.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..constants import Z975

__all__ = ["RULES", "Rule", "rule", "declared", "apply", "fmt_value"]


@dataclass(frozen=True)
class Rule:
    """One registered rule: its name, when it runs (``row``, ``table``, ``derivation``,
    ``reference``) and its function."""

    name: str
    scope: str
    func: Callable

    def parameters(self) -> dict[str, Any]:
        """The rule's parameters and their defaults (the keyword-only arguments of its function)."""
        return {p.name: p.default for p in inspect.signature(self.func).parameters.values()
                if p.kind is p.KEYWORD_ONLY}


#: name -> :class:`Rule`, in the order rules run.
RULES: dict[str, Rule] = {}


def rule(name: str, scope: str = "row"):
    """Register the decorated function as rule *name*."""
    def deco(f):
        RULES[name] = Rule(name, scope, f)
        return f
    return deco


def declared(schema: dict) -> dict[str, dict]:
    """The rules a schema names, as ``{name: parameters}`` (a list of names gives ``{}`` each)."""
    rules = schema.get("glumeta:rules") or {}
    if isinstance(rules, dict):
        return {str(k): dict(v or {}) for k, v in rules.items()}
    return {str(k): {} for k in rules}


def schema_problems(schema: dict) -> list[tuple[str, str]]:
    """``(rule name, message)`` for every rule the schema names that is unknown, or given a
    parameter its function does not take."""
    out = []
    for name, params in declared(schema).items():
        r = RULES.get(name)
        if r is None:
            out.append((name, f"unknown rule in 'glumeta:rules' (known: {', '.join(RULES)}); "
                              "fix the name or register the rule in glumeta.data.rules"))
            continue
        bad = sorted(set(params) - set(r.parameters()))
        if bad:
            takes = ", ".join(r.parameters()) or "no parameters"
            out.append((name, f"rule {name} takes no parameter {', '.join(map(repr, bad))} (it takes: {takes})"))
    return out


def fmt_value(v: Any) -> str:
    """A cell value as messages show it (``1.5``, not ``1.5000``)."""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _active(schema: dict, scope: str, implied: set[str] = frozenset()) -> list[tuple[Rule, dict]]:
    named = declared(schema)
    out = []
    for name, r in RULES.items():
        if r.scope == scope and (name in named or name in implied):
            params = named.get(name, {})
            if set(params) <= set(r.parameters()):  # a wrong parameter is reported by schema_problems
                out.append((r, params))
    return out


def apply(table, report: Callable, *, before_row: Callable | None = None) -> None:
    """Run the row and table rules a table's schema names (see :mod:`glumeta.data.rules`).

    *before_row* ``(row, line)``, if given, runs first on each row (the generic checks of
    :mod:`glumeta.data.tables`, so that each row's messages stay together)."""
    schema = table.schema
    fields = {f["name"]: f for f in schema["fields"]}
    implied = set()
    # an 'excluded' row needs its reason, and only such a row has one: checked wherever the schema
    # knows the status or the column, so that a file without the column cannot carry an
    # unexplained exclusion
    if "exclusion_reason" in fields or "excluded" in fields.get("status", {}).get("constraints", {}).get("enum", []):
        implied.add("exclusion_reason_iff_excluded")
    row_rules = _active(schema, "row", implied)
    for row, line in zip(table.rows, table.lines):
        if before_row is not None:
            before_row(row, line)
        for r, params in row_rules:
            r.func(row, line, report, **params)
    for r, params in _active(schema, "table"):
        r.func(table, report, **params)


def run_stage_two(scope: str, table, report: Callable, *context, always: tuple[str, ...] = ()) -> None:
    """Run the ``derivation`` or ``reference`` rules a table names (and those in *always*), as
    ``f(table, report, *context, **params)`` (:mod:`glumeta.data.validate`)."""
    for r, params in _active(table.schema, scope, set(always)):
        r.func(table, report, *context, **params)


# --------------------------------------------------------------------------- row rules

@rule("exclusion_reason_iff_excluded")
def exclusion_reason_iff_excluded(row, line, report):
    """An 'excluded' row says why (``exclusion_reason``), and only such a row has a reason."""
    status, reason = row.get("status"), row.get("exclusion_reason")
    if status == "excluded" and reason is None:
        report(line, "exclusion_reason", "",
               "row is 'excluded' but gives no exclusion_reason; say why it is left out "
               "(e.g. 'active comparator, not placebo')")
    elif status is not None and status != "excluded" and reason is not None:
        report(line, "exclusion_reason", reason,
               f"only an 'excluded' row takes an exclusion_reason (this row is '{status}'); "
               "clear the reason or set status to 'excluded'")


def condition_holds(spec: dict, value) -> bool:
    """Does *value* satisfy a declared condition ``{"in": [...]}``, ``{"matches": regex}`` (a full
    match of a text) or ``{"equals": v}``? The one test behind the review-question rule here and the
    headline-pool rules of :mod:`glumeta.stats.eligibility`.

    Examples
    --------
    >>> condition_holds({"matches": "50% N2O vs .*"}, "50% N2O vs placebo"), condition_holds({"in": ["24 h"]}, "4 h")
    (True, False)
    """
    if "in" in spec:
        return value in spec["in"]
    if "matches" in spec:
        return isinstance(value, str) and re.fullmatch(spec["matches"], value) is not None
    if "equals" in spec:
        return value == spec["equals"]
    raise ValueError(f"a condition needs 'in', 'matches' or 'equals', not {sorted(spec)}")


@rule("fits_review_question")
def fits_review_question(row, line, report, *, require=()):
    """A row that is not ``excluded`` fits the analysis' review question (issue #18): each entry of
    *require* is ``{"column", "in": [...] | "matches": regex, "reason"}``, declared in the schema
    beside the eligibility text. A row that contradicts it must be marked ``excluded`` with its
    ``exclusion_reason`` (or corrected): it is an error, so that such a row can never enter a pool
    unnoticed."""
    if row.get("status") == "excluded":
        return
    for req in require:
        col = req["column"]
        v = row.get(col)
        if v is None:
            continue  # a missing required value is the table check's
        if not condition_holds(req, v):
            report(line, col, v, f"contradicts the review question: {req.get('reason', 'not eligible')}; "
                                 "set status to 'excluded' with an exclusion_reason, or correct the value")


@rule("judgment_fits_tool")
def judgment_fits_tool(row, line, report, *, judgments=None):
    """A risk-of-bias ``judgment`` is one the ``tool`` uses. *judgments*: tool name (matched in
    the ``tool`` cell, case and hyphens ignored) -> the judgments it uses."""
    if judgments is None:  # RoB 1: low / unclear / high risk; RoB 2: low / some concerns / high
        judgments = {"rob 1": ["low", "unclear", "high"], "rob 2": ["low", "some concerns", "high"]}
    g = row.get
    if not (g("tool") and g("judgment")):
        return
    tool = re.sub(r"\s+", " ", g("tool").lower().replace("-", " "))
    for name, allowed in judgments.items():
        if name in tool and g("judgment") not in allowed:
            report(line, "judgment", g("judgment"),
                   f"{g('tool')} has no judgment '{g('judgment')}' (it uses: {', '.join(sorted(allowed))})")


@rule("ci_ordered")
def ci_ordered(row, line, report, *, lower="md_ci_lower", upper="md_ci_upper"):
    """The lower confidence limit is not above the upper one."""
    lo, hi = row.get(lower), row.get(upper)
    if lo is not None and hi is not None and lo > hi:
        report(line, lower, lo, f"lower confidence limit is above the upper limit ({fmt_value(hi)})")


@rule("ci_contains_estimate")
def ci_contains_estimate(row, line, report, *, estimate="md", lower="md_ci_lower", upper="md_ci_upper"):
    """The estimate lies inside its 95% CI."""
    est, lo, hi = row.get(estimate), row.get(lower), row.get(upper)
    if est is not None and lo is not None and hi is not None and lo <= hi and not (lo <= est <= hi):
        report(line, estimate, est, f"estimate lies outside its 95% CI [{fmt_value(lo)}, {fmt_value(hi)}]")


@rule("se_ci_consistent")
def se_ci_consistent(row, line, report, *, max_relative_gap=0.25, warn_relative_gap=0.05,
                     se="md_se", lower="md_ci_lower", upper="md_ci_upper"):
    """A reported SE agrees with the SE its 95% CI implies: an error beyond *max_relative_gap*,
    a warning beyond *warn_relative_gap* (relative to the SE)."""
    s, lo, hi = row.get(se), row.get(lower), row.get(upper)
    if None in (s, lo, hi):
        return
    se_ci = (hi - lo) / (2 * Z975)
    rel = abs(se_ci - s) / s
    if rel > max_relative_gap:
        report(line, se, s, f"contradicts the 95% CI, which implies SE {se_ci:.3g} ({rel:.0%} apart)")
    elif rel > warn_relative_gap:
        report(line, se, s, f"differs from the SE implied by the 95% CI ({se_ci:.3g}, {rel:.0%} apart)", "warning")


@rule("p_exact_for_se")
def p_exact_for_se(row, line, report):
    """A complete row whose difference has only a p-value gives an exact p strictly between 0 and 1."""
    g = row.get
    if g("status") != "complete" or g("md") is None:
        return
    only_p = g("md_se") is None and (g("md_ci_lower") is None or g("md_ci_upper") is None)
    if only_p and g("p_prefix") == "<" and g("mean_arm1") is None:
        report(line, "p_prefix", "<", "the SE cannot be derived from a p-value bound; "
               "give md_se, a 95% CI, or an exact p")
    if only_p and g("p") is not None and g("p") in (0.0, 1.0):
        report(line, "p", g("p"), "an SE cannot be derived from p = 0 or p = 1")


@rule("quartiles_ordered")
def quartiles_ordered(row, line, report, *, arms=(1, 2)):
    """Q1 ≤ median ≤ Q3 in each arm."""
    for k in arms:
        q1, m, q3 = row.get(f"q1_arm{k}"), row.get(f"median_arm{k}"), row.get(f"q3_arm{k}")
        if None not in (q1, m, q3) and not (q1 <= m <= q3):
            report(line, f"median_arm{k}", m,
                   f"quartiles are not ordered: Q1 {fmt_value(q1)} ≤ median ≤ Q3 {fmt_value(q3)} fails")


@rule("sd_sem_consistent")
def sd_sem_consistent(row, line, report, *, max_relative_gap=0.02, arms=(1, 2)):
    """An arm that gives both SD and SEM gives consistent ones: SEM·√n within *max_relative_gap* of SD."""
    for k in arms:
        sd, sem, n = row.get(f"sd_arm{k}"), row.get(f"sem_arm{k}"), row.get(f"n_arm{k}")
        if sd is not None and sem is not None:
            if n is None or abs(sem * math.sqrt(n) - sd) / sd > max_relative_gap:
                implied = "" if n is None else f" (SEM·√n = {sem * math.sqrt(n):.4g})"
                report(line, f"sd_arm{k}", sd, f"SD and SEM are both given and contradict each other{implied}; give one")


@rule("shared_control_needs_arm_sizes")
def shared_control_needs_arm_sizes(row, line, report):
    """A complete parallel-group row that shares its control group (``shared_control``) gives both
    arm sizes: splitting the control between the comparisons (Cochrane Handbook §23.3.4) needs
    ``n_arm1`` and ``n_arm2``, and pooling the row unsplit would count the control patients twice."""
    if row.get("status") != "complete" or row.get("shared_control") is None or row.get("design") == "crossover":
        return
    for col in ("n_arm1", "n_arm2"):
        if row.get(col) is None:
            report(line, col, "", f"the row shares control group '{row.get('shared_control')}', whose split "
                                  "between the comparisons needs both arm sizes; give the analysed n from the "
                                  "source, or set status to 'pending' until it is found")


@rule("arm_representation_per_arm")
def arm_representation_per_arm(row, line, report, *, arms=(1, 2)):
    """A complete row gives one representation per arm (mean or median, not both): a warning."""
    if row.get("status") != "complete":
        return
    for k in arms:
        if row.get(f"mean_arm{k}") is not None and row.get(f"median_arm{k}") is not None:
            report(line, f"median_arm{k}", row.get(f"median_arm{k}"),
                   "both mean and median are given for one arm; give one representation per arm", "warning")


@rule("plausible_smd")
def plausible_smd(row, line, report, *, max_abs_smd=2):
    """A complete row's standardised mean difference (pooled SD) is within ±*max_abs_smd*; beyond,
    a warning (an SEM entered as an SD makes d several times too large)."""
    g = row.get
    if g("status") != "complete":
        return
    m1, m2, n1, n2, s1, s2 = (g(c) for c in ("mean_arm1", "mean_arm2", "n_arm1", "n_arm2", "sd_arm1", "sd_arm2"))
    if None in (m1, m2, n1, n2, s1, s2):
        return
    sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    d = (m1 - m2) / sp
    if abs(d) > max_abs_smd:
        report(line, "sd_arm1", s1, f"implausible standardised difference d = {d:.2f}; was an SEM entered as an SD?",
               "warning")


@rule("events_le_total")
def events_le_total(row, line, report, *, arms=(1, 2)):
    """No arm has more events than participants."""
    for k in arms:
        e, n = row.get(f"event_arm{k}"), row.get(f"totaln_arm{k}")
        if e is not None and n is not None and e > n:
            report(line, f"event_arm{k}", e, f"more events than participants ({n})")


@rule("pct_matches_events")
def pct_matches_events(row, line, report, *, tolerance_points=0.05, arms=(1, 2)):
    """A printed percentage matches events/total: within *tolerance_points* percentage points, or
    equal once both are rounded to whole percent; otherwise a warning."""
    for k in arms:
        e, n, pct = row.get(f"event_arm{k}"), row.get(f"totaln_arm{k}"), row.get(f"pct_arm{k}")
        if None not in (e, n, pct) and e <= n:
            if abs(100 * e / n - pct) > tolerance_points + 1e-9 and round(100 * e / n) != round(pct):
                report(line, f"pct_arm{k}", pct, f"percentage does not match {e}/{n} = {100 * e / n:.1f}%", "warning")


# --------------------------------------------------------------------------- table rules

@rule("one_primary_per_comparison", "table")
def one_primary_per_comparison(table, report):
    """Exactly one time point per comparison (``study_id`` + ``comparison``) is ``primary``."""
    prim: dict[tuple, list[int]] = {}
    for row, line in zip(table.rows, table.lines):
        if row.get("primary") and row.get("status") == "complete":
            prim.setdefault((row["study_id"], row["comparison"]), []).append(line)
    for (sid, comp), lines in prim.items():
        if len(lines) > 1:
            report(lines[1], "primary", "true",
                   f"{sid} / {comp}: more than one primary row (lines {', '.join(map(str, lines))}); "
                   "exactly one time point per comparison enters the overall pool")


@rule("n_consistent_within_study", "table")
def n_consistent_within_study(table, report, *, max_relative_drop=0.2):
    """Plausibility: a trial's total n should not vary much between its rows (same comparison
    across time points, or the same time across outcomes); a row more than *max_relative_drop*
    below the trial's largest n is warned (attrition worth a look, or a typo)."""
    groups_n: dict[tuple, list[tuple[int, int]]] = {}
    for row, line in zip(table.rows, table.lines):
        a = row.get("n_arm1", row.get("totaln_arm1"))
        b = row.get("n_arm2", row.get("totaln_arm2"))
        if a is None or b is None or row.get("study_id") is None:
            continue
        key = (row["study_id"], row.get("comparison") or row.get("time"))
        groups_n.setdefault(key, []).append((a + b, line))
    for (sid, _), members in groups_n.items():
        top = max(n for n, _ in members)
        for n, line in members:
            if n < (1 - max_relative_drop) * top:
                col = "n_arm1" if "n_arm1" in table.rows[0] else "totaln_arm1"
                report(line, col, n, f"total n {n} is far below {top} on another row of {sid} "
                       f"(more than {max_relative_drop:.0%} apart): attrition, or a typo?", "warning")


@rule("shared_control_consistent", "table")
def shared_control_consistent(table, report):
    """Rows that share a control arm (``shared_control`` key, per time) belong to one trial and
    agree on the control arm's size."""
    groups: dict[tuple, list[tuple[int, int, str]]] = {}
    for row, line in zip(table.rows, table.lines):
        sc = row.get("shared_control")
        if sc and row.get("n_arm2") is not None:
            groups.setdefault((sc, row["time"]), []).append((row["n_arm2"], line, row["study_id"]))
    for (sc, t), members in groups.items():
        studies = {m[2] for m in members if m[2]}  # a missing study_id is reported elsewhere
        if len(studies) > 1:
            report(members[0][1], "shared_control", sc,
                   f"shared control key is used by several studies ({', '.join(sorted(studies))}); keys must be per trial")
        sizes = [m[0] for m in members]
        if len(set(sizes)) > 1:
            common = max(set(sizes), key=sizes.count)
            for n2, line, _ in members:
                if n2 != common:
                    others = ", ".join(str(ln) for m2, ln, _ in members if m2 == common)
                    report(line, "n_arm2", n2,
                           f"rows sharing the shared control '{sc}' at {t} must agree on its size: lines {others} say {common}")


# --------------------------------------------------------------------------- second stage (glumeta.data.validate)

@rule("pct_count_derivable", "derivation")
def pct_count_derivable(table, report, *, arms=(1, 2)):
    """A complete row that gives a percentage of a total instead of an event count: exactly one
    whole count prints as that percentage (GRIM; Brown & Heathers 2017), else the count is asked for.

    :func:`glumeta.data.validate.derivation_problems` runs it wherever the schema declares the
    ``percentages`` route, named here or not, since the effect-size step relies on it."""
    from ..counts import count_from_percentage

    for row, line in zip(table.rows, table.lines):
        if row.get("status") != "complete":
            continue
        for k in arms:
            e, n, pct = row.get(f"event_arm{k}"), row.get(f"totaln_arm{k}"), row.get(f"pct_arm{k}")
            if e is None and n is not None and pct is not None:
                res = count_from_percentage(pct, n)
                if res.count is None:
                    report(line, f"pct_arm{k}", pct,
                           f"no unique event count out of {n} rounds to {pct:g}% "
                           f"(candidates: {list(res.candidates) or 'none'}); enter event_arm{k}")


@rule("study_in_named_file", "reference")
def study_in_named_file(table, report, *, column="file"):
    """A row that names a study in another table (e.g. a risk-of-bias judgment): the table
    (*column*) is one of the package's analyses and holds that ``study_id``."""
    from .validate import _study_ids
    from .workbook import Dataset, current

    wb = table.dataset.workbook if table.dataset is not None else current()
    known = wb.analyses()
    ids: dict[str, set[str]] = {}
    for row, line in zip(table.rows, table.lines):
        f, sid = row.get(column), row.get("study_id")
        if f is None or sid is None:
            continue  # a missing required value is reported by the table check
        if f not in known:
            report(line, column, f, f"not a data table of this package (one of: {', '.join(known)})")
            continue
        if f not in ids:
            ids[f] = _study_ids(Dataset(wb, f))  # read for its ids only: not a page's declared read
        if ids[f] is not None and sid not in ids[f]:  # None: a table refused for its size
            # a warning, not an error: removing a trial's rows from its data file must not stop the
            # build; the judgment is then simply shown nowhere
            report(line, "study_id", sid, f"no row of {f}.csv has this study_id (the judgment matches no study)",
                   severity="warning")
