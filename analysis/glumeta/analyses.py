"""One call per data file: validated rows → effect-size table → pooled analyses.

``effect_table(name)`` is the escalc step for a whole file: it chooses each row's
route (reported SE, SE from CI, SE from p, arm means/SDs, SEM → SD,
median/quartiles → mean/SD, counts from percentages) and records the route in
``derivation`` so tables and plots can show it. ``analyze(name)`` pools the
rows of each analysis (overall, per time point, per subgroup) and returns plain
dicts with the field names of the CLI's JSON.
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import effects as es
from .counts import count_from_percentage
from .data import DATASETS, is_missing, load
from .models import pool
from .sensitivity import subgroups

__all__ = ["MEASURE", "effect_table", "analysis_rows", "analyze", "on_display_scale", "pool_rows", "split_shared_control",
           "time_hours"]

#: Main effect measure of each file.
MEASURE = {
    "blood_glutamate": "SMD",
    "esketamine_madrs": "MD",
    "nitrous_oxide_hamd": "MD",
    "ketamine_escitalopram": "RR",
}
RATIO = {"RR", "OR"}


def time_hours(t: str) -> float:
    """Sort key for a reported time point: '4 h' → 4, 'day 25' → 600, 'week 2' → 336.

    Unparsed labels (e.g. 'period-1 endpoint') sort last.
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


def _label(row, name) -> str:
    if name in ("esketamine_madrs", "nitrous_oxide_hamd"):
        comp = str(row["comparison"]).split(" vs ")[0]
        return f"{row['study']}: {comp}, {row['time']}"
    if name == "ketamine_escitalopram":
        return f"{row['study']}: {row['outcome']}"
    return str(row["study"])


def _val(x):
    """``None`` for any missing marker (None, NaN, pandas.NA), else the value."""
    return None if is_missing(x) else x


def effect_table(name: str, directory=None, measure: str | None = None):
    """Effect sizes of every row of *name* (pending rows have NaN ``yi``).

    Columns: the data columns plus ``label``, ``measure``, ``yi``, ``vi``, ``sei``,
    ``ci_lower``, ``ci_upper`` and ``derivation`` (how ``yi``/``vi`` were obtained).
    """
    import pandas as pd

    df = load(name, directory)
    measure = measure or MEASURE[name]
    out = df.copy()
    out["label"] = [_label(r, name) for _, r in df.iterrows()]
    yi = np.full(len(df), np.nan)
    vi = np.full(len(df), np.nan)
    how: list[str] = [""] * len(df)
    extra: dict[str, list] = {}

    for i, r in enumerate(df.itertuples(index=False)):
        r = r._asdict()
        if r["status"] != "complete":
            how[i] = "pending: numbers not available"
            continue
        if name == "blood_glutamate":
            notes = []
            arms = {}
            for k in (1, 2):
                n = r[f"n_arm{k}"]
                mean, sd = _val(r[f"mean_arm{k}"]), _val(r[f"sd_arm{k}"])
                if mean is not None and sd is None and _val(r[f"sem_arm{k}"]) is not None:
                    sd = float(es.sd_from_sem(r[f"sem_arm{k}"], n))
                    notes.append(f"SD{k} = SEM·√n")
                if mean is None and _val(r[f"median_arm{k}"]) is not None:
                    mean, sd = (float(x) for x in es.mean_sd_from_quartiles(
                        r[f"q1_arm{k}"], r[f"median_arm{k}"], r[f"q3_arm{k}"], n))
                    notes.append(f"mean{k}/SD{k} from median and quartiles (Luo 2018; Wan 2014)")
                arms[k] = (mean, sd, n)
                extra.setdefault(f"mean{k}_used", [np.nan] * len(df))[i] = mean
                extra.setdefault(f"sd{k}_used", [np.nan] * len(df))[i] = sd
            (m1, s1, n1), (m2, s2, n2) = arms[1], arms[2]
            f = es.smd if measure == "SMD" else es.md
            y, v = f(m1, s1, n1, m2, s2, n2)
            yi[i], vi[i] = float(y), float(v)
            how[i] = "; ".join(["Hedges' g from arm means and SDs"] + sorted(set(notes)))
        elif name in ("esketamine_madrs", "nitrous_oxide_hamd"):
            d, se = _val(r["md"]), _val(r["md_se"])
            lo, hi, p = _val(r["md_ci_lower"]), _val(r["md_ci_upper"]), _val(r["p"])
            if d is not None and se is not None:
                how[i] = "reported difference and SE"
            elif d is not None and lo is not None and hi is not None:
                se = float(es.se_from_ci(lo, hi))
                how[i] = "SE from the 95% CI"
            elif d is not None and p is not None and r["p_prefix"] != "<":
                se = float(es.se_from_p(d, p))
                how[i] = "SE from the exact p (normal approximation)"
            else:
                d, v = es.md(r["mean_arm1"], r["sd_arm1"], r["n_arm1"], r["mean_arm2"], r["sd_arm2"], r["n_arm2"])
                d, se = float(d), float(np.sqrt(v))
                how[i] = "difference of arm means, SE from arm SDs"
            if measure == "SMD":
                if r["design"] == "crossover":
                    raise ValueError("crossover SMD needs an assumed correlation; use glumeta.synthesis")
                y, v = es.smd_from_md_se(d, se, r["n_arm1"], r["n_arm2"])
                yi[i], vi[i] = float(y), float(v)
                how[i] += "; SMD with pooled SD = SE/√(1/n1+1/n2)"
            else:
                yi[i], vi[i] = d, se**2
        else:  # binary
            ev = {}
            notes = []
            for k in (1, 2):
                e = _val(r[f"event_arm{k}"])
                if e is None:
                    e = count_from_percentage(r[f"pct_arm{k}"], r[f"totaln_arm{k}"]).count
                    notes.append(f"events{k} derived from {r[f'pct_arm{k}']:g}% of {r[f'totaln_arm{k}']}")
                ev[k] = int(e)
                extra.setdefault(f"event{k}_used", [np.nan] * len(df))[i] = e
            e1, n1, e2, n2 = ev[1], r["totaln_arm1"], ev[2], r["totaln_arm2"]
            if measure in RATIO and e1 == 0 and e2 == 0:
                how[i] = "excluded: no events in either arm (RR/OR undefined)"
                continue
            f = {"RR": es.log_rr, "OR": es.log_or, "RD": es.rd}[measure]
            y, v = f(e1, n1, e2, n2)
            yi[i], vi[i] = float(y), float(v)
            zero = 0 in (e1, n1 - e1, e2, n2 - e2)
            how[i] = "; ".join([f"{measure} from 2×2 counts"] + notes + (["0.5 added to each cell"] if zero else []))

    out["measure"] = measure
    out["yi"] = yi
    out["vi"] = vi
    out["sei"] = np.sqrt(vi)
    out["ci_lower"] = yi - es.Z975 * out["sei"]
    out["ci_upper"] = yi + es.Z975 * out["sei"]
    out["derivation"] = how
    for c, vals in extra.items():
        out[c] = pd.to_numeric(pd.Series(vals, index=out.index))
    return out


def split_shared_control(rows):
    """Variance of contrasts that share one control group, with the control split.

    When K comparisons of one trial share a control group of n2 patients and all
    enter one pool, each comparison gets ``n2/K`` control patients so that no
    patient is counted twice (Cochrane Handbook §23.3.4, option 4). For a
    reported contrast with SE, the implied common SD is kept and the variance is
    rescaled: ``v' = v·(1/n1 + K/n2)/(1/n1 + 1/n2)``.

    Returns (vi_adjusted, notes) aligned with *rows*.
    """
    vi = rows["vi"].to_numpy(dtype=float).copy()
    notes = [""] * len(rows)
    if "shared_control" not in rows:
        return vi, notes
    keys = rows["shared_control"].where(rows["shared_control"].notna(), None)
    groups: dict = {}
    for pos, (key, t) in enumerate(zip(keys, rows["time"])):
        if key:
            groups.setdefault((key, t), []).append(pos)
    for (key, _t), positions in groups.items():
        K = len(positions)
        if K < 2:
            continue
        for pos in positions:
            n1 = float(rows["n_arm1"].iloc[pos])
            n2 = float(rows["n_arm2"].iloc[pos])
            vi[pos] *= (1 / n1 + K / n2) / (1 / n1 + 1 / n2)
            notes[pos] = f"shared control ({key}, n = {n2:g}) split over {K} comparisons: n2 = {n2 / K:g}"
    return vi, notes


def analysis_rows(table, a: dict):
    """The effect-table rows that entered analysis *a*, in its study order."""
    done = table[(table["status"] == "complete") & table["yi"].notna()]
    labels = [s["label"] for s in a["studies"]]
    return done.set_index("label", drop=False).loc[labels].reset_index(drop=True)


def on_display_scale(a: dict) -> dict:
    """``estimate``, ``ci_*`` and ``pi_*`` of analysis *a* on the scale a reader sees: the ratio
    scale (the ``*_exp`` fields) for RR and OR, the analysis scale otherwise."""
    keys = ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")
    return {k: a.get(f"{k}_exp") if a["measure"] in RATIO else a.get(k) for k in keys}


def _ratio_fields(d: dict) -> dict:
    for f in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
        d[f"{f}_exp"] = math.exp(d[f]) if d[f] is not None and math.isfinite(d[f]) else None
    return d


def _clean(x):
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, tuple):
        return [_clean(v) for v in x]
    return x


def pool_rows(aid, label, rows, measure, method="REML", test="z", pending=0, extra=None):
    """Pool effect-table *rows* (columns yi, vi, label, study_id, year, derivation, and optionally
    shared_control, time, n_arm1, n_arm2) into one JSON-ready analysis dict, splitting shared controls."""
    vi, split_notes = split_shared_control(rows)
    yi = rows["yi"].to_numpy(dtype=float)
    r = pool(yi, vi, method=method, test=test, measure=measure)
    d = {k: _clean(v) for k, v in r.to_dict().items() if k not in ("yi", "vi", "weights")}
    d["z_or_t"] = d.pop("z_or_t")
    d.update({"id": aid, "label": label, "pending": int(pending)})
    d["studies"] = [
        {"study_id": sid, "label": lab, "year": int(yr), "yi": float(y), "vi": float(v), "weight": float(w),
         "derivation": how + (f"; {sn}" if sn else "")}
        for sid, lab, yr, y, v, w, how, sn in zip(rows["study_id"], rows["label"], rows["year"], yi, vi,
                                                  r.weights, rows["derivation"], split_notes)
    ]
    if measure in RATIO:
        _ratio_fields(d)
    if extra:
        d.update(extra)
    order = ["id", "label", "measure", "method", "test", "k", "estimate", "se", "ci_lower", "ci_upper",
             "pi_lower", "pi_upper", "z_or_t", "df", "p", "tau2", "tau2_ci", "i2", "i2_ci", "h2", "h2_ci",
             "q", "q_df", "q_p", "pending"]
    return {k: d[k] for k in order} | {k: v for k, v in d.items() if k not in order}


def analyze(name: str, directory=None, method: str = "REML", test: str = "z") -> list[dict]:
    """All pooled analyses of one data file, as JSON-ready dicts.

    The main analysis has ``id == "overall"`` (contrast files: rows with
    ``primary`` true; binary files: ``"overall:<outcome>"``). Further analyses:
    ``time:<t>``, ``<column>:<level>`` subgroups with a ``subgroups:<column>``
    between-group test, and for binary files ``<outcome>:OR`` / ``<outcome>:RD``.
    Pending rows are excluded and counted in ``pending``.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    tab = effect_table(name, directory)
    done = tab[tab["status"] == "complete"]
    done = done[done["yi"].notna()]
    pending_all = int((tab["status"] == "pending").sum())
    out: list[dict] = []
    measure = MEASURE[name]

    def sub(aid, label, rows, meas=measure, pending=0):
        if len(rows):
            out.append(pool_rows(aid, label, rows, meas, method, test, pending))

    def by(column, base, prefix_label):
        levels = [v for v in dict.fromkeys(base[column].dropna())]
        if len(levels) < 2:
            return
        for lv in levels:
            sub(f"{column}:{lv}", f"{prefix_label}: {lv}", base[base[column] == lv],
                pending=int(((tab["status"] == "pending") & (tab[column] == lv)).sum()))
        vi, _ = split_shared_control(base)
        _, t = subgroups(base["yi"], vi, base[column].to_numpy(), method, test)
        out.append({"id": f"subgroups:{column}", "label": f"Test for subgroup differences ({column})",
                    "measure": measure, "method": method, "test": test, "k": int(len(base)),
                    "q_between": _clean(t["q_between"]), "df": int(t["df"]), "p": _clean(t["p"]),
                    "levels": levels})

    if name == "blood_glutamate":
        sub("overall", "Blood glutamate, MDD vs controls (SMD)", done, pending=pending_all)
        by("sample", done, "Sample")
        by("assay", done, "Assay")
    elif name in ("esketamine_madrs", "nitrous_oxide_hamd"):
        prim = done[done["primary"].astype(bool)]
        pend_prim = int(((tab["status"] == "pending") & tab["primary"].astype(bool)).sum())
        sub("overall", "Primary endpoint of each comparison (MD)", prim, pending=pend_prim)
        for t in sorted(dict.fromkeys(done["time"]), key=time_hours):
            sub(f"time:{t}", f"At {t}", done[done["time"] == t],
                pending=int(((tab["status"] == "pending") & (tab["time"] == t)).sum()))
        by("population", prim, "Population")
        by("design", prim, "Design")
    else:
        other = {meas: effect_table(name, directory, measure=meas) for meas in ("OR", "RD")}
        for outcome in dict.fromkeys(tab["outcome"]):
            rows = done[done["outcome"] == outcome]
            pend = int(((tab["status"] == "pending") & (tab["outcome"] == outcome)).sum())
            sub(f"overall:{outcome}", f"{outcome.capitalize()} (RR)", rows, pending=pend)
            for meas, t2 in other.items():
                r2 = t2[(t2["status"] == "complete") & (t2["outcome"] == outcome) & t2["yi"].notna()]
                sub(f"{outcome}:{meas}", f"{outcome.capitalize()} ({meas})", r2, meas=meas, pending=pend)
    return out
