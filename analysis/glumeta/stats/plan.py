"""The analysis plan of a data file: effect frame → pooled analyses.

What is pooled is declared in the schema (``glumeta:analysis`` in
``data/datapackage.json``), never chosen by file name:

``overall``
    the main analysis: ``label``; optional ``where`` (a boolean column, e.g. the
    trial's primary endpoint) and ``per`` (one main analysis per level of a column,
    e.g. each outcome, with ids ``overall:<level>``).
``by``
    a column (and ``label`` template) giving one analysis per level, e.g. per time
    point (ids ``time:<level>``, ordered by time).
``subgroups``
    columns that split the main analysis into subgroups (ids ``<column>:<level>``)
    with the test for subgroup differences (id ``subgroups:<column>``).
``also``
    further effect measures of the main analysis (ids ``<level>:<measure>`` or
    ``overall:<measure>``), e.g. OR and RD beside RR.
``eligibility``
    the review question in words (PICO) and the ``primary`` rules of the main pool
    (:mod:`glumeta.stats.eligibility`): rows that fail a rule are kept out of the main pool and
    shown beside it with their reason (``Analysis.outside``); ``by`` analyses apply every
    rule except the one on their own column; ``subgroups`` split the admitted rows.
    ``show`` (a boolean column) limits the rows shown outside the pool (e.g. each trial's
    own primary endpoint); ``sensitivity`` lists further pools (ids ``sensitivity:<id>``)
    that ``relax`` named rules, optionally restricted by ``where``.

Every main analysis also has a ``sensitivity:z`` twin: the same pool with the
normal-theory (z) test instead of the default modified Hartung–Knapp–Sidik–Jonkman
test (:data:`glumeta.stats.models.DEFAULT_TEST`).

Every analysis pools the rows of :func:`glumeta.stats.escalc.escalc` as they are
(shared controls already split), so its studies show the same ``yi``, ``vi`` and
CI as the forest plot, the data table and the CSV export.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .eligibility import SKEW_RULE, evaluate, rules_of
from .escalc import RATIO, escalc, label_format, split_shared_control, with_effects
from ..data.workbook import resolve
from .models import DEFAULT_PI, DEFAULT_TEST, PoolResult, pool
from .multiarm import COMBINABLE, combine_arms
from .sensitivity import subgroups

__all__ = ["Analysis", "SubgroupTest", "analyze", "dependence_problem", "is_main", "on_display_scale", "pool_frame", "time_hours"]

#: Columns of an analysis' rows shown in its JSON ``studies`` list (when present).
STUDY_FIELDS = ("study_id", "label", "year", "file", "line", "yi", "vi", "sei", "ci_lower", "ci_upper", "weight",
                "derivation", "source", "locator")


def time_hours(t: str) -> float:
    """Sort key for a reported time point: '4 h' → 4, 'day 25' → 600, 'week 2' → 336.

    Unparsed labels (e.g. 'period-1 endpoint') sort last.

    Examples
    --------
    >>> [time_hours(t) for t in ("4 h", "day 25", "week 2", "period-1 endpoint")]
    [4.0, 600.0, 336.0, inf]
    """
    s = str(t).strip().lower()
    m = re.match(r"^(\d+(?:\.\d+)?)\s*(h|hours?)$", s)
    if m:
        return float(m.group(1))
    m = re.match(r"^(day|week)s?\s+(\d+(?:\.\d+)?)$", s) or re.match(r"^(\d+(?:\.\d+)?)\s+(day|week)s?$", s)
    if m:
        unit, num = (m.group(1), m.group(2)) if m.group(1) in ("day", "week") else (m.group(2), m.group(1))
        return float(num) * (24 if unit == "day" else 168)
    return math.inf


def _finite(x):
    if x is None:
        return None
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, tuple):
        return [_finite(v) for v in x]
    return x


@dataclass(frozen=True)
class Analysis(PoolResult):
    """One pooled analysis of a data file: a :class:`~glumeta.stats.models.PoolResult` (same field
    names) plus its ``id``, ``label``, the number of ``pending`` rows it lacks, and the
    effect-frame ``rows`` it pooled (with their ``weight`` in percent)."""

    # defaults only because PoolResult ends with a defaulted field; analyze() gives every one
    id: str = ""
    label: str = ""
    pending: int = 0
    rows: object = field(default=None, repr=False, compare=False)
    #: complete rows shown beside this pool but not in it, each with its ``reason`` (a column)
    outside: object = field(default=None, repr=False, compare=False)

    def display(self) -> dict:
        """``estimate``, ``ci_*`` and ``pi_*`` on the scale a reader sees (ratios for RR/OR)."""
        return on_display_scale(self)

    def to_dict(self) -> dict:
        """JSON-ready: the pooled fields, ``*_exp`` ratio-scale fields for RR/OR, and ``studies``
        (each with the ``yi``, ``vi`` and CI of the effect frame)."""
        skip = {"yi", "vi", "weights", "rows", "outside"}
        d = {f.name: _finite(getattr(self, f.name)) for f in fields(self) if f.name not in skip}
        d["model"] = self.model
        order = ["id", "label"] + [k for k in d if k not in ("id", "label")]
        d = {k: d[k] for k in order}
        if self.measure in RATIO:
            for k, v in self.display().items():
                d[f"{k}_exp"] = _finite(v)
        cols = [c for c in STUDY_FIELDS if c in self.rows.columns]
        d["studies"] = [{c: _finite(v.item() if hasattr(v, "item") else v) for c, v in rec.items()}
                        for rec in self.rows[cols].to_dict("records")]
        if self.outside is not None and len(self.outside):
            ocols = [c for c in STUDY_FIELDS if c in self.outside.columns and c != "weight"] + ["reason"]
            d["outside"] = [{c: _finite(v.item() if hasattr(v, "item") else v) for c, v in rec.items()}
                            for rec in self.outside[ocols].to_dict("records")]
        return d


@dataclass(frozen=True)
class SubgroupTest:
    """Test for subgroup differences (Borenstein 2009, ch. 19): ``Q_between`` on ``df`` = G − 1."""

    id: str
    label: str
    measure: str
    method: str
    test: str
    k: int
    q_between: float
    df: int
    p: float
    levels: tuple

    def to_dict(self) -> dict:
        return {k: _finite(v) if not isinstance(v, tuple) else list(v) for k, v in asdict(self).items()}


def on_display_scale(a) -> dict:
    """``estimate``, ``ci_*`` and ``pi_*`` of analysis *a* on the scale a reader sees: exponentiated
    for ratio measures (RR, OR), as analysed otherwise."""
    keys = ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")
    vals = {k: getattr(a, k) for k in keys}
    if a.measure in RATIO:
        return {k: math.exp(v) if v is not None and math.isfinite(v) else None for k, v in vals.items()}
    return {k: v if v is not None and math.isfinite(v) else None for k, v in vals.items()}


def pool_frame(aid: str, label: str, rows, measure: str, method: str = "REML", test: str = DEFAULT_TEST,
               pending: int = 0, pi: str = DEFAULT_PI, outside=None, tau2_ci: bool = True) -> Analysis:
    """Pool effect-frame *rows* (``yi``, ``vi``) into an :class:`Analysis` (metafor ``rma``).

    Raises ValueError when two rows of one trial would enter the pool as if independent
    (:func:`dependence_problem`)."""
    problem = dependence_problem(rows)
    if problem:
        raise ValueError(f"analysis {aid!r}: {problem}")
    rows = _split_within(rows)
    trials = int(rows["study_id"].nunique()) if "study_id" in rows else None
    if trials == 1 and len(rows) > 1 and measure in COMBINABLE:
        # the dose arms of one trial are not studies to pool with a between-study variance:
        # combined into the trial's one comparison (glumeta.stats.multiarm), shown as a single study
        combined = combine_arms(rows)  # None when the rows are not arms against one shared control
        if combined is not None:
            rows = combined
    r = pool(rows["yi"].to_numpy(float), rows["vi"].to_numpy(float), method=method, test=test, measure=measure,
             pi=pi, tau2_ci=tau2_ci, trials=trials)
    rows = rows.reset_index(drop=True).copy()
    rows["weight"] = r.weights
    return Analysis(**{f.name: getattr(r, f.name) for f in fields(PoolResult)}, id=aid, label=label,
                    pending=int(pending), rows=rows, outside=outside)


def _split_within(rows):
    """*rows* with each shared control split between the comparisons of this pool.

    The effect frame splits a shared control group between every comparison of the file that
    shares it at one time point (:func:`glumeta.stats.escalc.split_shared_control`). A pool that
    admits only some of those arms must split it between the arms it holds, or it over-inflates
    their variances (Cochrane Handbook §23.3.4: the control group is divided among the comparisons
    *in the meta-analysis*; metafor's reference splits within each pool too). Rows whose split is
    already the pool's are returned unchanged (the same object).
    """
    if "control_share" not in rows or not (rows["control_share"] > 1).any():
        return rows
    _, _, shares = split_shared_control(rows)
    if np.array_equal(shares, rows["control_share"].to_numpy(float)):
        return rows
    return with_effects(rows, rows["yi"], rows["vi_unsplit"], rows["derivation_unsplit"])


def dependence_problem(rows) -> str | None:
    """Why *rows* cannot be pooled as independent effects, or ``None``.

    Several rows of one trial may enter one pool only as the arms of a parallel-group
    trial compared with one shared control at one time point, whose control is split
    between them (Cochrane Handbook §23.3.4; :func:`glumeta.stats.escalc.split_shared_control`).
    Two time points of one trial, or two comparisons of one crossover trial (the same
    patients' placebo sessions), are correlated in a way no reported number lets us model,
    so they never enter one pool together (Cochrane Handbook §23.3.4 and §23.2.6).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"study_id": ["a", "a"], "design": ["crossover"] * 2, "time": ["24 h"] * 2,
    ...                      "shared_control": ["a-pbo"] * 2, "comparison": ["25% vs placebo", "50% vs placebo"]})
    >>> dependence_problem(rows)
    'study a enters the pool 2 times (crossover comparisons share the same patients)'
    """
    if "study_id" not in rows:
        return None
    for sid, grp in rows.groupby("study_id", sort=False):
        if len(grp) < 2:
            continue
        design = set(grp["design"]) if "design" in grp else {None}
        if "crossover" in design:
            return f"study {sid} enters the pool {len(grp)} times (crossover comparisons share the same patients)"
        keys = set(grp["shared_control"]) if "shared_control" in grp else {None}
        times = set(grp["time"]) if "time" in grp else {None}
        if len(times) > 1:
            return f"study {sid} enters the pool at {len(times)} time points ({', '.join(map(str, times))})"
        if len(keys) != 1 or any(k is None or k != k or k == "" for k in keys):
            return f"study {sid} enters the pool {len(grp)} times without a declared shared control group"
    return None


def is_main(aid: str) -> bool:
    """Is *aid* a main analysis (``overall`` or ``overall:<level>``), not a further measure or a sensitivity?"""
    return (aid == "overall" or aid.startswith("overall:")) and aid.count(":") <= 1


def analyze(data, method: str = "REML", test: str = DEFAULT_TEST, pi: str = DEFAULT_PI) -> list:
    """All pooled analyses of a data table (a :class:`~glumeta.data.workbook.Dataset` or a table name),
    as declared in its schema (see the module docstring).

    Pending rows are left out and counted in each analysis' ``pending``; rows outside the
    declared eligibility rules are left out of the main pool and listed in its ``outside``.

    Examples
    --------
    >>> [a.id for a in analyze("ketamine_escitalopram")][:3]
    ['overall:response', 'sensitivity:z:response', 'response:OR']
    """
    import copy

    from ..data.tables import _shown

    ds = resolve(data)
    # the pools of one file content are computed once per process (a chapter, its flow of studies,
    # its summary of findings and the introduction all ask; the book build computes them once
    # before its readers fork); each caller gets its own copy, whose rows name their file
    # relative to the caller's working directory (a chapter runs in book/, the build in the root).
    key = (ds.fingerprint(), method, test, pi)
    if key not in _ANALYSES:
        if len(_ANALYSES) >= 64:
            _ANALYSES.pop(next(iter(_ANALYSES)))
        _ANALYSES[key] = _analyze(ds, method, test, pi)
    out = copy.deepcopy(_ANALYSES[key])
    shown = _shown(ds.path)
    for a in out:
        for frame in (getattr(a, "rows", None), getattr(a, "outside", None)):
            if frame is not None and "file" in frame:
                frame["file"] = shown
    return out


#: (file content, method, test, PI rule) -> the analyses of :func:`analyze`
_ANALYSES: dict = {}


def _analyze(ds, method: str, test: str, pi: str) -> list:
    plan = ds.analysis_plan()
    tab = escalc(ds)
    measure = plan["measure"]
    el = plan.get("eligibility", {})
    rules = rules_of(plan)
    admitted, why = evaluate(tab, rules)
    tab = tab.assign(reason=why)
    pending_mask = tab["status"] == "pending"
    complete = (tab["status"] == "complete") & tab["yi"].notna()
    # a pending row counts against a pool when its declared fields (time, schedule, ...) fit it
    pend_ok, _ = evaluate(tab, rules, relax={SKEW_RULE})
    out: list = []

    def add(aid, label, mask, frame=tab, meas=measure, t=test, outside=None):
        rows = frame[(frame["status"] == "complete") & frame["yi"].notna() & mask]
        if len(rows):
            out.append(pool_frame(aid, label, rows, meas, method, t, int((pending_mask & mask & pend_ok).sum()), pi,
                                  outside))

    overall = plan.get("overall", {})
    main = tab["status"].notna()
    if overall.get("where"):
        main = tab[overall["where"]].fillna(False).astype(bool)
    show = tab[el["show"]].fillna(False).astype(bool) if el.get("show") else main
    levels = [None]
    if overall.get("per"):
        levels = list(dict.fromkeys(tab[overall["per"]]))
    also = {m: escalc(ds, measure=m).assign(reason=why) for m in plan.get("also", [])}
    # the rows each declared sensitivity pool admits: evaluated once, used at every level of `per`
    sensitivities = []
    for sens in el.get("sensitivity", []):
        ok, _ = evaluate(tab, rules, relax=set(sens.get("relax", [])))
        where = tab[sens["where"]].fillna(False).astype(bool) if sens.get("where") else True
        sensitivities.append((sens, ok & where))
    for lv in levels:
        at = main if lv is None else main & (tab[overall["per"]] == lv)
        seen = show if lv is None else show & (tab[overall["per"]] == lv)
        ctx = {"measure": measure} if lv is None else {overall["per"]: lv, "measure": measure}
        aid = "overall" if lv is None else f"overall:{lv}"
        label = label_format(overall.get("label", "Overall"), ctx)
        outside = tab[complete & seen & ~admitted].reset_index(drop=True)
        add(aid, label, at & admitted, outside=outside)
        if rules or test != "z":
            add("sensitivity:z" if lv is None else f"sensitivity:z:{lv}", f"{label}, z-test", at & admitted, t="z")
        for m, frame in also.items():
            add(f"overall:{m}" if lv is None else f"{lv}:{m}",
                label_format(overall.get("label", "Overall"), dict(ctx, measure=m)), at & admitted, frame, m,
                outside=frame[complete & seen & ~admitted].reset_index(drop=True))
        for sens, ok in sensitivities:
            sid = f"sensitivity:{sens['id']}" if lv is None else f"sensitivity:{sens['id']}:{lv}"
            add(sid, label_format(sens.get("label", sens["id"]), ctx), at & ok)
        # several dose arms of one trial in the main pool (its shared control split, Cochrane
        # Handbook §23.3.4): one comparison per trial with the arms combined (glumeta.stats.multiarm,
        # an approximation of the Handbook's combine-groups option), as a sensitivity analysis
        combined = combine_arms(tab[complete & at & admitted]) if measure in COMBINABLE else None
        if combined is not None:
            sid = "sensitivity:arms-combined" if lv is None else f"sensitivity:arms-combined:{lv}"
            out.append(pool_frame(sid, f"{label}, one comparison per trial (dose arms combined)",
                                  combined, measure, method, test,
                                  int((pending_mask & at & admitted & pend_ok).sum()), pi))

    by = plan.get("by")
    if by:
        col = by if isinstance(by, str) else by["column"]
        ok_by, _ = evaluate(tab, rules, relax={r.id for r in rules if r.column == col})
        for lv in sorted(dict.fromkeys(tab.loc[complete & ok_by, col]), key=time_hours):
            add(f"{col}:{lv}", f"At {lv}" if col == "time" else f"{col.capitalize()}: {lv}",
                main & ok_by & (tab[col] == lv))

    base = tab[complete & main & admitted]
    for col in plan.get("subgroups", []):
        lvls = list(dict.fromkeys(base[col].dropna()))
        if len(lvls) < 2:
            continue
        for lv in lvls:
            add(f"{col}:{lv}", f"{col.capitalize()}: {lv}", main & admitted & (tab[col] == lv))
        _, t = subgroups(base["yi"], base["vi"], base[col].to_numpy(), method, test)
        out.append(SubgroupTest(f"subgroups:{col}", f"Test for subgroup differences ({col})", measure, method,
                                test, int(len(base)), float(t["q_between"]), int(t["df"]), float(t["p"]),
                                tuple(lvls)))
    return out
