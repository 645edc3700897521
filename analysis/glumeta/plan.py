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

Every analysis pools the rows of :func:`glumeta.escalc.escalc` as they are
(shared controls already split), so its studies show the same ``yi``, ``vi`` and
CI as the forest plot, the data table and the CSV export.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .escalc import RATIO, escalc, label_format, spec
from .models import PoolResult, pool
from .sensitivity import subgroups

__all__ = ["Analysis", "SubgroupTest", "analyze", "on_display_scale", "pool_frame", "time_hours"]

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
    """One pooled analysis of a data file: a :class:`~glumeta.models.PoolResult` (same field
    names) plus its ``id``, ``label``, the number of ``pending`` rows it lacks, and the
    effect-frame ``rows`` it pooled (with their ``weight`` in percent)."""

    id: str
    label: str
    pending: int
    rows: object = field(repr=False, compare=False)

    def display(self) -> dict:
        """``estimate``, ``ci_*`` and ``pi_*`` on the scale a reader sees (ratios for RR/OR)."""
        return on_display_scale(self)

    def to_dict(self) -> dict:
        """JSON-ready: the pooled fields, ``*_exp`` ratio-scale fields for RR/OR, and ``studies``
        (each with the ``yi``, ``vi`` and CI of the effect frame)."""
        skip = {"yi", "vi", "weights", "rows"}
        d = {f.name: _finite(getattr(self, f.name)) for f in fields(self) if f.name not in skip}
        order = ["id", "label"] + [k for k in d if k not in ("id", "label")]
        d = {k: d[k] for k in order}
        if self.measure in RATIO:
            for k, v in self.display().items():
                d[f"{k}_exp"] = _finite(v)
        cols = [c for c in STUDY_FIELDS if c in self.rows.columns]
        d["studies"] = [{c: _finite(v.item() if hasattr(v, "item") else v) for c, v in rec.items()}
                        for rec in self.rows[cols].to_dict("records")]
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


def pool_frame(aid: str, label: str, rows, measure: str, method: str = "REML", test: str = "z",
               pending: int = 0) -> Analysis:
    """Pool effect-frame *rows* (``yi``, ``vi``) into an :class:`Analysis` (metafor ``rma``)."""
    r = pool(rows["yi"].to_numpy(float), rows["vi"].to_numpy(float), method=method, test=test, measure=measure)
    rows = rows.reset_index(drop=True).copy()
    rows["weight"] = r.weights
    return Analysis(**{f.name: getattr(r, f.name) for f in fields(PoolResult)}, id=aid, label=label,
                    pending=int(pending), rows=rows)


def analyze(name: str, directory=None, method: str = "REML", test: str = "z") -> list:
    """All pooled analyses of data file *name*, as declared in its schema (see the module docstring).

    Pending rows are left out and counted in each analysis' ``pending``.

    Examples
    --------
    >>> [a.id for a in analyze("ketamine_escitalopram")][:3]
    ['overall:response', 'response:OR', 'response:RD']
    """
    plan = spec(name, directory)["schema"]["glumeta:analysis"]
    tab = escalc(name, directory)
    measure = plan["measure"]
    pending_mask = tab["status"] == "pending"
    usable = (tab["status"] == "complete") & tab["yi"].notna()
    out: list = []

    def add(aid, label, mask, frame=tab, meas=measure):
        rows = frame[(frame["status"] == "complete") & frame["yi"].notna() & mask]
        if len(rows):
            out.append(pool_frame(aid, label, rows, meas, method, test, int((pending_mask & mask).sum())))

    overall = plan.get("overall", {})
    main = tab["status"].notna()
    if overall.get("where"):
        main = tab[overall["where"]].fillna(False).astype(bool)
    levels = [None]
    if overall.get("per"):
        levels = list(dict.fromkeys(tab[overall["per"]]))
    also = {m: escalc(name, directory, measure=m) for m in plan.get("also", [])}
    for lv in levels:
        mask = main if lv is None else main & (tab[overall["per"]] == lv)
        ctx = {"measure": measure} if lv is None else {overall["per"]: lv, "measure": measure}
        add("overall" if lv is None else f"overall:{lv}", label_format(overall.get("label", "Overall"), ctx), mask)
        for m, frame in also.items():
            add(f"overall:{m}" if lv is None else f"{lv}:{m}",
                label_format(overall.get("label", "Overall"), dict(ctx, measure=m)), mask, frame, m)

    by = plan.get("by")
    if by:
        col = by if isinstance(by, str) else by["column"]
        for lv in sorted(dict.fromkeys(tab.loc[usable, col]), key=time_hours):
            add(f"{col}:{lv}", f"At {lv}" if col == "time" else f"{col.capitalize()}: {lv}", tab[col] == lv)

    base = tab[usable & main]
    for col in plan.get("subgroups", []):
        lvls = list(dict.fromkeys(base[col].dropna()))
        if len(lvls) < 2:
            continue
        for lv in lvls:
            add(f"{col}:{lv}", f"{col.capitalize()}: {lv}", main & (tab[col] == lv))
        _, t = subgroups(base["yi"], base["vi"], base[col].to_numpy(), method, test)
        out.append(SubgroupTest(f"subgroups:{col}", f"Test for subgroup differences ({col})", measure, method,
                                test, int(len(base)), float(t["q_between"]), int(t["df"]), float(t["p"]),
                                tuple(lvls)))
    return out
