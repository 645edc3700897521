"""The effect-size layer (metafor's ``escalc``): one validated table → one effect per row.

:func:`escalc` turns every row of a data file into the effect that every view of
the book uses: the forest plot, the chapter's data table, ``glumeta analyze
--csv`` and ``--json``, the pooled models and the ledger. Nothing downstream
re-reads a CSV or re-derives a variance, so a row has one CI everywhere.

What to compute is declared in ``data/datapackage.json``, not in code:

* each ``glumeta:representations`` entry names a *route* (below); a row takes the
  first declared representation whose columns are all filled in;
* ``glumeta:analysis`` gives the effect ``measure`` (and ``also``: further
  measures, e.g. OR and RD beside RR), and the row ``label`` template.

Routes (each formula's reference is in the function it calls, :mod:`glumeta.stats.effects`):

``arm_summaries``
    per arm, mean and SD, mean and SEM (``SD = SEM·√n``, Cochrane Handbook §6.5.2.2), or
    median and quartiles (Luo et al. 2018 mean, Wan et al. 2014 SD) → SMD (Hedges' g,
    Hedges 1981) or MD (Borenstein 2009, eq. 4.3).
``md_se``, ``md_ci``, ``md_p``
    a reported mean difference with its SE, its 95% CI (``SE = (u − l)/(2·1.96)``,
    Cochrane Handbook §6.3.1) or its exact p (``SE = |MD|/Φ⁻¹(1 − p/2)``, §6.3.2).
``arm_means``
    arm means and SDs → MD with ``v = s1²/n1 + s2²/n2``.
``events``, ``percentages``
    2×2 counts, the count of a percentage derived only when unique (GRIM; Brown &
    Heathers 2017) → log RR, log OR or RD (Borenstein 2009, ch. 5), 0.5 added to
    every cell of a table with a zero cell (metafor ``add=1/2, to="only0"``).

Shared control groups. Comparisons of one trial that share a control group
(same ``shared_control`` key and ``time``) get the control split between them,
``n2' = n2/K``, so that no patient is counted twice when they are pooled
together (Cochrane Handbook §23.3.4). The implied common SD is kept:
``v' = v·(1/n1 + K/n2)/(1/n1 + 1/n2)``. ``vi`` is the split variance;
``vi_unsplit`` the row's own, for reference.

The frame's columns: every data column, ``file`` and ``line`` (where the row is),
``label``, ``representation``, ``measure``, ``yi``, ``vi``, ``vi_unsplit``, ``control_share``,
``sei``, ``ci_lower``, ``ci_upper`` (95%, ``yi ± 1.96·√vi``), ``derivation`` (how
``yi`` and ``vi`` were obtained, in words), ``skewed`` (a median/IQR conversion whose
summary fails the skewness test of Shi et al. 2023, :func:`glumeta.stats.effects.skewness_test`)
and the route's working values (``mean1_used``, ``sd1_used``, ``skew_t1``, ``skew_crit1``,
…, ``event1_used``, ``event2_used``).
"""

from __future__ import annotations

import math
import string

import numpy as np

from . import effects as es
from ..constants import Z975
from ..counts import count_from_percentage
from ..data.tables import DataError, Problem, _shown, is_missing, read
from ..data.workbook import resolve
from ..data.validate import derivation_problems

__all__ = ["RATIO", "EFFECT_COLUMNS", "escalc", "escalc_all", "label_format", "split_shared_control", "spec"]

#: Measures analysed on the log scale and shown as ratios.
RATIO = frozenset({"RR", "OR", "HR"})

#: Columns :func:`escalc` adds to the data columns.
EFFECT_COLUMNS = ("file", "line", "label", "representation", "measure", "yi", "vi", "vi_unsplit", "sei",
                  "ci_lower", "ci_upper", "derivation")


class _Formatter(string.Formatter):
    """``str.format`` for row templates: a missing value prints empty, and two text specs:
    ``{comparison:arm}`` (the part before " vs ") and ``{outcome:capitalize}``."""

    def format_field(self, value, spec):
        if is_missing(value):
            return ""
        if spec == "arm":
            return str(value).split(" vs ")[0]
        if spec == "capitalize":
            s = str(value)
            return s[:1].upper() + s[1:]
        if isinstance(value, (float, np.floating)) and float(value).is_integer() and not spec:
            return str(int(value))
        return super().format_field(value, spec)


_FORMAT = _Formatter()


def label_format(template: str, row, replace=()) -> str:
    """Fill a schema template from a row (a mapping); *replace* is a list of (old, new) pairs.

    Parameters
    ----------
    template : str
        A ``str.format`` template naming columns of the row, e.g. the ``label`` of a
        ``glumeta:analysis`` block (``"{study}: {outcome}"``).
    row : mapping
        Column name → value (a DataFrame record).
    replace : iterable of (str, str), optional
        Text replacements applied, in order, to the filled template.

    Returns
    -------
    str
        The filled template, stripped of surrounding whitespace.

    Notes
    -----
    A missing value (None, NaN, empty) prints as nothing; a float with an integer value and no
    format spec prints without ``.0``; two text specs are added to ``str.format``'s:
    ``{comparison:arm}`` (the part before " vs ") and ``{outcome:capitalize}`` (first letter upper-case).

    Examples
    --------
    >>> label_format("{study}: {comparison:arm}, {time}",
    ...              {"study": "Daly 2018", "comparison": "esketamine 28 mg vs placebo", "time": "24 h"})
    'Daly 2018: esketamine 28 mg, 24 h'
    >>> label_format("{n_arm1}", {"n_arm1": float("nan")})
    ''
    """
    s = _FORMAT.vformat(template, (), row)
    for old, new in replace:
        s = s.replace(old, new)
    return s.strip()


def spec(data) -> dict:
    """The resource (from ``datapackage.json``) of an analysis table: a
    :class:`~glumeta.data.workbook.Dataset` or a table name. KeyError when the table declares no
    ``glumeta:analysis`` or is unknown.

    Parameters
    ----------
    data : Dataset or str
        The table, or its name in the current workbook (:func:`glumeta.data.workbook.resolve`).

    Returns
    -------
    dict
        The table's resource: ``name``, ``path``, ``schema`` (with its ``glumeta:analysis`` and
        ``glumeta:representations``), as declared; shared, so read-only.

    Raises
    ------
    KeyError
        The table is unknown, or declares no ``glumeta:analysis``.

    Notes
    -----
    The same as ``resolve(data).resource`` once :meth:`~glumeta.data.workbook.Dataset.analysis_plan`
    has checked that the table is an analysis table.

    Examples
    --------
    >>> res = spec("blood_glutamate")
    >>> res["path"], res["schema"]["glumeta:analysis"]["measure"]
    ('blood_glutamate.csv', 'SMD')
    >>> spec("reported")
    Traceback (most recent call last):
    ...
    KeyError: "data file 'reported' declares no 'glumeta:analysis' in datapackage.json"
    """
    ds = resolve(data)
    ds.analysis_plan()
    return ds.resource


def _val(x):
    return None if is_missing(x) else x


def _present(row, req) -> bool:
    """Is the column (or any of a list of alternatives) filled in? *row* has ``None`` for missing."""
    if isinstance(req, list):
        return any(row.get(c) is not None for c in req)
    return row.get(req) is not None


# --------------------------------------------------------------------------- routes
# Each returns (yi, vi, derivation, working values) for one row on the analysis scale.

def _arm_summaries(r, measure):
    notes, used = [], {}
    arms = {}
    for k in (1, 2):
        n = r[f"n_arm{k}"]
        mean, sd = r.get(f"mean_arm{k}"), r.get(f"sd_arm{k}")
        if mean is not None and sd is None and r.get(f"sem_arm{k}") is not None:
            sd = float(es.sd_from_sem(r[f"sem_arm{k}"], n))
            notes.append(f"SD{k} = SEM·√n")
        if mean is None and r.get(f"median_arm{k}") is not None:
            q1, med, q3 = r[f"q1_arm{k}"], r[f"median_arm{k}"], r[f"q3_arm{k}"]
            mean, sd = (float(x) for x in es.mean_sd_from_quartiles(q1, med, q3, n))
            notes.append(f"mean{k}/SD{k} from median and quartiles (Luo 2018; Wan 2014)")
            t, c, skewed = es.skewness_test(q1, med, q3, n)
            used[f"skew_t{k}"], used[f"skew_crit{k}"] = float(t), float(c)
            if skewed:
                notes.append(f"arm {k} skewed: |q1 + q3 − 2·median|/IQR = {float(t):.3f} ≥ {float(c):.3f} "
                             "(Shi et al. 2023)")
                used["skewed"] = True
        arms[k] = (mean, sd, n)
        used[f"mean{k}_used"], used[f"sd{k}_used"] = mean, sd
    (m1, s1, n1), (m2, s2, n2) = arms[1], arms[2]
    if any(f"skew_t{k}" in used for k in (1, 2)):
        used.setdefault("skewed", False)
    if measure == "SMD":
        y, v = es.smd(m1, s1, n1, m2, s2, n2)
        head = "Hedges' g from arm means and SDs"
    elif measure == "MD":
        y, v = es.md(m1, s1, n1, m2, s2, n2)
        head = "mean difference from arm means and SDs"
    else:
        raise ValueError(f"route arm_summaries gives SMD or MD, not {measure}")
    return float(y), float(v), "; ".join([head] + sorted(set(notes))), used


def _contrast(r, measure, se, how):
    d = float(r["md"])
    if measure == "MD":
        return d, se**2, how, {"md_used": d, "se_used": se}
    if measure == "SMD":
        if r.get("design") == "crossover":
            raise ValueError("a crossover SMD needs an assumed within-patient correlation; see glumeta.stats.synthesis")
        y, v = es.smd_from_md_se(d, se, r["n_arm1"], r["n_arm2"])
        return float(y), float(v), how + "; SMD with pooled SD = SE/√(1/n1+1/n2)", {"md_used": d, "se_used": se}
    raise ValueError(f"a mean difference gives MD or SMD, not {measure}")


def _md_se(r, measure):
    return _contrast(r, measure, float(r["md_se"]), "reported difference and SE")


def _md_ci(r, measure):
    lo, hi, d = float(r["md_ci_lower"]), float(r["md_ci_upper"]), float(r["md"])
    how = "SE from the 95% CI"
    off = abs((lo + hi) / 2 - d)
    if off > 1e-6 * max(1.0, abs(d)):  # the published CI is not centred on the printed estimate
        how += (f"; the published CI {lo:g} to {hi:g} is centred on {(lo + hi) / 2:g}, not on the printed {d:g} "
                "(an estimate printed with fewer decimals, or an asymmetric interval), so the CI shown, "
                "estimate ± 1.96·SE, differs slightly from the published one")
    return _contrast(r, measure, float(es.se_from_ci(lo, hi)), how)


def _md_p(r, measure):
    if r.get("p_prefix") == "<":
        raise _Skip
    return _contrast(r, measure, float(es.se_from_p(r["md"], r["p"])), "SE from the exact p (normal approximation)")


def _arm_means(r, measure):
    d, v = es.md(r["mean_arm1"], r["sd_arm1"], r["n_arm1"], r["mean_arm2"], r["sd_arm2"], r["n_arm2"])
    r = dict(r, md=float(d))
    return _contrast(r, measure, float(np.sqrt(v)), "difference of arm means, SE from arm SDs")


def _counts(r, measure, events, notes=()):
    if measure not in ("RR", "OR", "RD"):
        raise ValueError(f"2×2 counts give RR, OR or RD, not {measure}")
    e1, n1, e2, n2 = events[1], r["totaln_arm1"], events[2], r["totaln_arm2"]
    used = {"event1_used": e1, "event2_used": e2}
    if measure in RATIO and e1 == 0 and e2 == 0:
        return math.nan, math.nan, "excluded: no events in either arm (RR/OR undefined)", used
    f = {"RR": es.log_rr, "OR": es.log_or, "RD": es.rd}[measure]
    y, v = f(e1, n1, e2, n2)
    zero = ["0.5 added to each cell"] if 0 in (e1, n1 - e1, e2, n2 - e2) else []
    return float(y), float(v), "; ".join([f"{measure} from 2×2 counts", *notes, *zero]), used


def _events(r, measure):
    return _counts(r, measure, {1: int(r["event_arm1"]), 2: int(r["event_arm2"])})


def _percentages(r, measure):
    """Events derived from printed percentages; :func:`glumeta.data.validate.derivation_problems` has
    already refused any percentage without a unique count."""
    events, notes = {}, []
    for k in (1, 2):
        e = r.get(f"event_arm{k}")
        if e is None:
            pct, n = r[f"pct_arm{k}"], r[f"totaln_arm{k}"]
            e = count_from_percentage(pct, n).count
            notes.append(f"events{k} derived from {pct:g}% of {n}")
        events[k] = int(e)
    return _counts(r, measure, events, notes)


class _Skip(Exception):
    """This representation cannot be used for the row (e.g. p given only as a bound)."""


_CONTINUOUS = {"arm_summaries": _arm_summaries, "md_se": _md_se, "md_ci": _md_ci, "md_p": _md_p,
               "arm_means": _arm_means}
_BINARY = {"events": _events, "percentages": _percentages}
ROUTES = frozenset(_CONTINUOUS) | frozenset(_BINARY)


def _route(row, reps, measure):
    for rep in reps:
        if not all(_present(row, c) for c in rep["requires"]):
            continue
        route = rep.get("route")
        try:
            if route in _CONTINUOUS:
                return (rep["name"], *_CONTINUOUS[route](row, measure))
            if route in _BINARY:
                return (rep["name"], *_BINARY[route](row, measure))
        except _Skip:
            continue
        raise ValueError(f"representation {rep['name']!r} names an unknown route {route!r}; "
                         f"known: {', '.join(sorted(ROUTES))}")
    return None


# --------------------------------------------------------------------------- shared controls

def split_shared_control(frame):
    """Split shared control groups (Cochrane Handbook §23.3.4); returns (vi, notes, shares).

    Parallel-group rows (crossover rows are never split, see the code comment) with the
    same non-empty ``shared_control`` key and ``time`` and a finite ``yi`` share one control group of ``n_arm2`` patients; with K such rows, each
    row's variance becomes ``v·(1/n1 + K/n2)/(1/n1 + 1/n2)`` (its control arm
    counted as n2/K patients, the implied SD unchanged). Reads ``vi_unsplit``
    when present, else ``vi``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with ``yi`` and ``vi`` (or ``vi_unsplit``), ``n_arm1`` and ``n_arm2``; rows are grouped
        only when it has ``shared_control`` and ``time`` columns, and ``design == "crossover"``
        rows are left alone.

    Returns
    -------
    vi : numpy.ndarray
        The variances with shared control groups split (a copy; the rest unchanged).
    notes : list of str
        Per row, the split in words (``""`` when the row is not split).
    shares : numpy.ndarray
        Per row, K: the number of comparisons sharing its control group (1 when not shared).

    Raises
    ------
    glumeta.data.tables.DataError
        A row to be split lacks ``n_arm1`` or ``n_arm2`` (or gives one that is not a positive
        number): located to file, line, column and control group, with what to do (a file that
        declares the rule ``shared_control_needs_arm_sizes`` has ``glumeta check`` refuse such a
        row before it gets here).

    Notes
    -----
    Splitting the control group, ``n2' = n2/K``, keeps each patient in one comparison of a pool
    (Cochrane Handbook §23.3.4). With the implied common SD kept, the variance of a mean
    difference scales with ``1/n1 + 1/n2``, hence ``v' = v·(1/n1 + K/n2)/(1/n1 + 1/n2)``.

    Examples
    --------
    Three doses against one placebo group of 30 (and a row with no shared control):

    >>> import pandas as pd
    >>> f = pd.DataFrame({"shared_control": ["s1", "s1", "s1", None], "time": ["24 h"] * 4,
    ...                   "yi": [0.1, 0.2, 0.3, 0.4], "vi": [0.1] * 4, "n_arm1": [10] * 4, "n_arm2": [30] * 4})
    >>> vi, notes, shares = split_shared_control(f)
    >>> vi.round(4).tolist(), shares.tolist()
    ([0.15, 0.15, 0.15, 0.1], [3.0, 3.0, 3.0, 1.0])
    >>> notes[0]
    'shared control (s1, n = 30) split over 3 comparisons: n2 = 10'
    """
    base = "vi_unsplit" if "vi_unsplit" in frame else "vi"
    vi = frame[base].to_numpy(dtype=float).copy()
    notes = [""] * len(frame)
    shares = np.ones(len(frame))
    if "shared_control" not in frame or "time" not in frame:
        return vi, notes, shares
    groups: dict = {}
    design = frame["design"] if "design" in frame else [None] * len(frame)
    for pos, (key, t, y, d) in enumerate(zip(frame["shared_control"], frame["time"], frame["yi"], design)):
        # a crossover's comparisons share the same patients' placebo sessions: a within-patient
        # SE is not a parallel-group SE, and splitting session counts would not model the
        # dependence (Elbourne et al. 2002). Such rows are never split; the eligibility rules
        # admit one comparison per crossover trial to a pool instead (glumeta.stats.eligibility).
        if d == "crossover":
            continue
        if not is_missing(key) and key and np.isfinite(y):
            groups.setdefault((key, t), []).append(pos)
    problems = []
    for (key, t), positions in groups.items():
        K = len(positions)
        if K < 2:
            continue
        for pos in positions:
            sizes = {c: _arm_size(frame, c, pos) for c in ("n_arm1", "n_arm2")}
            missing = [c for c, n in sizes.items() if n is None]
            if missing:
                # a file that does not declare shared_control_needs_arm_sizes reaches here with a
                # complete row whose split cannot be made: say where, instead of a TypeError or NaN
                problems += [_missing_arm_size(frame, pos, c, key, t, K) for c in missing]
                continue
            n1, n2 = sizes["n_arm1"], sizes["n_arm2"]
            vi[pos] *= (1 / n1 + K / n2) / (1 / n1 + 1 / n2)
            notes[pos] = f"shared control ({key}, n = {n2:g}) split over {K} comparisons: n2 = {n2 / K:g}"
            shares[pos] = K
    if problems:
        raise DataError(problems)
    return vi, notes, shares


def _arm_size(frame, column, pos):
    """The arm size in *column* of row *pos* as a positive finite float, or None (missing or unusable)."""
    if column not in frame:
        return None
    x = frame[column].iloc[pos]
    if is_missing(x):
        return None
    try:
        n = float(x)
    except (TypeError, ValueError):
        return None
    return n if math.isfinite(n) and n > 0 else None


def _missing_arm_size(frame, pos, column, key, t, K):
    """The located problem of a shared-control row whose arm size in *column* is missing: file and
    line from the frame's ``file`` and ``line`` columns (an escalc frame has both; a bare frame is
    shown as ``(frame)`` with its row position + 2, the line of a CSV with one header row)."""
    path = str(frame["file"].iloc[pos]) if "file" in frame else "(frame)"
    line = int(frame["line"].iloc[pos]) if "line" in frame else pos + 2
    x = frame[column].iloc[pos] if column in frame else None
    value = "" if is_missing(x) else str(x)
    return Problem(path, line, column, value,
                   f"the row shares control group '{key}' with {K - 1} other comparison(s) at {t}; splitting "
                   "that control group between the comparisons (Cochrane Handbook §23.3.4) needs both arm "
                   "sizes: give the analysed n from the source, or set status to 'pending' until it is found "
                   "(declaring the rule shared_control_needs_arm_sizes in datapackage.json makes glumeta "
                   "check report this too)")


def with_effects(frame, yi, vi, derivation):
    """Set ``yi``, ``vi_unsplit`` and ``derivation_unsplit`` on *frame*, split shared controls, and add
    ``vi``, ``derivation`` (with the split noted), ``sei`` and the 95% CI — the one place where a
    row's CI is computed.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows (not modified): ``n_arm1`` and ``n_arm2``, and ``shared_control``, ``time`` and
        ``design`` where controls may be shared (:func:`split_shared_control`).
    yi : array_like
        Per row, the effect on the analysis scale.
    vi : array_like
        Per row, its own (unsplit) sampling variance.
    derivation : iterable of str
        Per row, how ``yi`` and ``vi`` were obtained, in words.

    Returns
    -------
    pandas.DataFrame
        A copy of *frame* with ``yi``, ``vi_unsplit``, ``vi`` (split), ``control_share``,
        ``derivation_unsplit``, ``derivation``, ``sei``, ``ci_lower`` and ``ci_upper``.

    Notes
    -----
    ``sei = √vi`` and the 95% CI is ``yi ± 1.96·sei`` (:data:`glumeta.constants.Z975`), with ``vi``
    the variance after a shared control group is split (Cochrane Handbook §23.3.4).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"shared_control": ["s1", "s1", None], "time": ["24 h"] * 3,
    ...                   "n_arm1": [10, 10, 10], "n_arm2": [30, 30, 30]})
    >>> out = with_effects(f, [0.1, 0.2, 0.4], [0.1, 0.1, 0.1], ["reported difference and SE"] * 3)
    >>> out[["yi", "vi_unsplit", "vi", "sei", "ci_lower", "ci_upper"]].round(4)
        yi  vi_unsplit     vi     sei  ci_lower  ci_upper
    0  0.1         0.1  0.125  0.3536   -0.5930    0.7930
    1  0.2         0.1  0.125  0.3536   -0.4930    0.8930
    2  0.4         0.1  0.100  0.3162   -0.2198    1.0198
    >>> out["derivation"].iloc[0]
    'reported difference and SE; shared control (s1, n = 30) split over 2 comparisons: n2 = 15'
    """
    frame = frame.copy()
    frame["yi"] = np.asarray(yi, dtype=float)
    frame["vi_unsplit"] = np.asarray(vi, dtype=float)
    split, notes, shares = split_shared_control(frame)
    frame["vi"] = split
    frame["control_share"] = shares  # K comparisons share the control group (1: not shared)
    frame["derivation_unsplit"] = list(derivation)
    frame["derivation"] = [h + (f"; {n}" if n else "") for h, n in zip(derivation, notes)]
    frame["sei"] = np.sqrt(frame["vi"])
    frame["ci_lower"] = frame["yi"] - Z975 * frame["sei"]
    frame["ci_upper"] = frame["yi"] + Z975 * frame["sei"]
    return frame


_CACHE: dict = {}


def escalc(data, measure: str | None = None):
    """The effect of every row of a data table (a :class:`~glumeta.data.workbook.Dataset` or a table
    name), as a DataFrame (see the module docstring).

    Pending rows, and rows whose effect is undefined, have NaN ``yi``/``vi`` and say why
    in ``derivation``. Raises :class:`~glumeta.data.tables.DataError` (located to file, line,
    column and value) on invalid data. Results are cached per file content, so the
    chapters, the ledger and the CLI share one validation and one computation.

    Parameters
    ----------
    data : Dataset or str
        The table, or its name in the current workbook (:func:`glumeta.data.workbook.resolve`); it
        must declare ``glumeta:analysis``.
    measure : str, optional
        The effect measure (``"SMD"``, ``"MD"``, ``"RR"``, ``"OR"``, ``"RD"``); default the
        declared ``measure``.

    Returns
    -------
    pandas.DataFrame
        One row per data row, in file order: the data columns and the effect columns listed in
        the module docstring (a copy: the cached frame is not exposed).

    Raises
    ------
    glumeta.data.tables.DataError
        The table has validation errors, or a row's numbers cannot give its effect
        (:func:`glumeta.data.validate.derivation_problems`).
    KeyError
        The table is unknown or declares no analysis.

    Notes
    -----
    Each complete row takes the first declared representation whose columns are filled in;
    its route computes ``yi`` and ``vi`` with the formulas of :mod:`glumeta.stats.effects` (Hedges' g,
    Hedges 1981; MD and 2×2 measures, Borenstein 2009; SD from SEM and SE from a CI or p,
    Cochrane Handbook §6.5.2.2, §6.3.1, §6.3.2; mean and SD from quartiles, Luo et al. 2018 and
    Wan et al. 2014). Shared control groups are then split (:func:`split_shared_control`) and the
    95% CI is ``yi ± 1.96·√vi`` (:func:`with_effects`).

    Examples
    --------
    >>> t = escalc("blood_glutamate")
    >>> t.loc[0, ["label", "representation"]].tolist()
    ['Pan 2018 (cohort 1)', 'mean and SD (or SEM) per arm']
    >>> t.loc[0, ["yi", "vi", "ci_lower", "ci_upper"]].astype(float).round(4).tolist()
    [0.1278, 0.0401, -0.2646, 0.5202]
    >>> t.loc[0, "derivation"]
    "Hedges' g from arm means and SDs; SD1 = SEM·√n; SD2 = SEM·√n"
    >>> t.loc[2, ["label", "derivation"]].tolist()
    ['Kim 1982', 'pending: numbers not available']

    A placebo group shared by three doses is split between them:

    >>> t = escalc("esketamine_madrs")
    >>> row = t[(t["study_id"] == "daly2018") & (t["time"] == "24 h")].iloc[0]
    >>> bool(row["vi"] > row["vi_unsplit"]), float(row["control_share"])
    (True, 3.0)

    Another measure than the declared one (ratios are analysed on the log scale):

    >>> import math
    >>> o = escalc("ketamine_escitalopram", "OR").iloc[0]
    >>> o["label"], o["measure"], round(math.exp(o["yi"]), 2)
    ('Hu 2016: response', 'OR', 9.0)
    """
    import pandas as pd

    ds = resolve(data)
    res = ds.resource
    plan = ds.analysis_plan()
    measure = measure or plan["measure"]
    key = (ds.fingerprint(), measure)
    if key in _CACHE:
        out = _CACHE[key].copy()
        # the file as messages show it, relative to this caller's working directory (a frame
        # cached by another process or page, e.g. the build's warm-up, may have another)
        out["file"] = _shown(ds.path)
        return out
    table = read(ds)
    errors = [p for p in table.problems if p.severity == "error"] or derivation_problems(table)
    if errors:
        raise DataError(table.problems + [p for p in errors if p not in table.problems])
    df = table.frame()
    shown = table.shown
    reps = res["schema"].get("glumeta:representations", [])
    n = len(df)
    yi, vi = np.full(n, np.nan), np.full(n, np.nan)
    how, rep_names = [""] * n, [""] * n
    used: dict[str, list] = {}
    records = df.to_dict("records")
    for i, r in enumerate(records):
        r = {k: _val(v) for k, v in r.items()}
        if r.get("status") == "excluded":
            how[i] = f"excluded: {r.get('exclusion_reason') or 'reason not stated'}"
            continue
        if r.get("status") != "complete":
            how[i] = "pending: numbers not available"
            continue
        got = _route(r, reps, measure)
        if got is None:
            how[i] = "excluded: no usable representation"
            continue
        rep_names[i], yi[i], vi[i], how[i], extra = got
        for c, v in extra.items():
            used.setdefault(c, [np.nan] * n)[i] = v
    out = df.copy()
    out.insert(0, "file", shown)
    out["label"] = [label_format(plan.get("label", "{study}"), r) for r in records]
    out["representation"] = rep_names
    out["measure"] = measure
    for c, vals in used.items():
        out[c] = pd.to_numeric(pd.Series(vals, index=out.index))
    # skew-flagged median/IQR conversions (Shi et al. 2023): every frame has the column
    out["skewed"] = out["skewed"].fillna(0).astype(bool) if "skewed" in out else False
    out = with_effects(out, yi, vi, how)
    _CACHE[key] = out
    return out.copy()


def escalc_all(data):
    """The effect frames of every measure the schema declares (``measure``, then ``also``), stacked:
    one row per data row and measure, as ``glumeta analyze --csv`` writes them.

    Parameters
    ----------
    data : Dataset or str
        An analysis table, or its name in the current workbook.

    Returns
    -------
    pandas.DataFrame
        :func:`escalc` of each declared measure, concatenated in that order, with a fresh index.

    Notes
    -----
    Each frame is :func:`escalc`'s, so each measure's rows are computed (and cached) once.

    Examples
    --------
    >>> a = escalc_all("ketamine_escitalopram")
    >>> a["measure"].unique().tolist(), len(a) == 3 * len(escalc("ketamine_escitalopram"))
    (['RR', 'OR', 'RD'], True)
    """
    import pandas as pd

    ds = resolve(data)
    plan = ds.analysis_plan()
    frames = [escalc(ds, m) for m in [plan["measure"], *plan.get("also", [])]]
    return pd.concat(frames, ignore_index=True)
