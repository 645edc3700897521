"""Exporting results as CSV for spreadsheets, safe against formula injection.

A chapter's downloads are written here: :func:`write_results` (study-level effects),
:func:`write_pooled` (every pooled analysis) and :func:`write_figure_csv` (a table too long for
the page), each under ``_build/figures/<slug>/`` beside the page's figures.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, LibreOffice and Google Sheets (CSV
injection, CWE-1236). Such cells are prefixed with a single quote, as OWASP
recommends; numbers (including negative ones such as ``-4.31``) are left as numbers.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

__all__ = ["main_analyses", "neutralise", "pooled_frame", "results_frame", "to_safe_csv", "write_figure_csv",
           "write_pooled", "write_results"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value):
    """Prefix ``'`` to a text cell that a spreadsheet would evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _NUMBER.match(value.strip()):
        return "'" + value
    return value


#: Pooled-result fields written on a ``pooled`` row (``getattr`` of the analysis; absent ones are skipped).
POOLED_FIELDS = ("model", "method", "test", "pi_rule", "k", "z_or_t", "df", "p", "pi_lower", "pi_upper", "tau2", "i2",
                 "q", "q_df", "q_p")

#: What a single study (k = 1) does not have: no τ² is estimated (so no estimator), no
#: heterogeneity, no prediction interval and no Hartung–Knapp correction (it needs k ≥ 2).
SINGLE_STUDY_BLANK = ("method", "pi_rule", "pi_lower", "pi_upper", "df", "tau2", "tau2_ci", "i2", "i2_ci", "h2",
                      "h2_ci", "q", "q_df", "q_p")


def single_study(rec: dict) -> dict:
    """*rec*, a pooled row of an analysis with k = 1, as what it is: the one study's own estimate
    and normal-theory 95% CI, not a pool. The τ² estimator, τ², I², H², Q and the prediction
    interval are left empty and the test is ``z`` (as metafor's ``rma`` sets it for k = 1); the
    ``model`` column says ``Single study (not pooled)`` (:attr:`glumeta.stats.models.PoolResult.model`).

    Examples
    --------
    >>> r = single_study({"k": 1, "method": "REML", "test": "adhoc", "tau2": 0.0, "i2": float("nan"),
    ...                   "model": "Single study (not pooled)"})
    >>> r["method"], r["test"], r["tau2"], r["model"]
    ('', 'z', '', 'Single study (not pooled)')
    """
    out = dict(rec)
    for f in SINGLE_STUDY_BLANK:
        if f in out:
            out[f] = ""
    if "test" in out:
        out["test"] = "z"
    return out


def main_analyses(analyses) -> list:
    """The analyses that a study row is *included* in: the main pool of each measure — ``overall``
    or ``overall:<level>`` (:mod:`glumeta.stats.plan`), and for a further measure (``also``) its
    ``overall:<measure>`` or ``<level>:<measure>``. Sensitivity, by-time and subgroup analyses
    are not main analyses."""
    out = []
    for a in analyses or ():
        if not hasattr(a, "rows") or a.id.count(":") > 1:
            continue
        if a.id == "overall" or a.id.startswith("overall:") or a.id.endswith(f":{a.measure}"):
            if a.id.startswith("sensitivity:"):
                continue
            out.append(a)
    # an 'overall:<level>' id is a further measure's when a main pool of another measure exists
    primary = {a.measure for a in out if a.id == "overall" or not a.id.endswith(f":{a.measure}")}
    return [a for a in out if a.measure in primary or a.id.endswith(f":{a.measure}")]


def results_frame(table, analyses=None):
    """Study-level results of an effect frame (:func:`glumeta.stats.escalc.escalc`): identity, where the row
    is (file, line), effect size, variance, SE, 95% CI, how it was derived, source — the same values
    the forest plot and the chapter's table show.

    With *analyses* (:func:`glumeta.stats.plan.analyze`), the frame says what was pooled, so that the
    pool can be redone from the file alone (e.g. ``rma(yi, vi)`` in R metafor on the included rows):

    * ``row_type``: ``study`` for a data row, ``pooled`` for a pooled result;
    * ``analysis``: the id of the main analysis (:func:`main_analyses`) the row is in, or empty;
    * ``included``: ``TRUE`` when the study row is in that main pool, ``FALSE`` for pending rows,
      rows without an effect, rows of other analyses (e.g. other time points) and rows outside the
      eligibility rules (written as R and spreadsheets read a logical);
    * ``weight``: its weight in that pool, in percent;
    * on a ``pooled`` row, ``yi`` is the pooled estimate, ``sei`` its SE, ``vi`` = SE², ``ci_*`` its
      CI, ``label`` the analysis label, and the model is stated: ``model`` (in words), ``method`` (τ²
      estimator), ``test``, ``pi_rule``, ``k``, ``p``, ``pi_*``, ``tau2``, ``i2``, ``q``;
    * a main analysis of a single study (k = 1) is not a pool: its row says so (``model``
      ``Single study (not pooled)``, the derivation ``single study, not pooled``), carries the study's
      own estimate and normal-theory CI (``test`` ``z``) and leaves the estimator, τ², I², Q and the
      prediction interval empty (:func:`single_study`).

    Effects are on the analysis scale (log RR and log OR for ratios), as ``yi`` is.
    """
    import pandas as pd

    cols = [c for c in ("file", "line", "study_id", "study", "year", "comparison", "time", "outcome", "status",
                        "label", "measure", "yi", "vi", "sei", "ci_lower", "ci_upper", "vi_unsplit", "derivation",
                        "source", "locator") if c in table.columns]
    out = table[cols].copy()
    if analyses is None:
        return out
    out.insert(0, "row_type", "study")
    out.insert(1, "analysis", "")
    out["included"] = False
    out["weight"] = float("nan")
    pooled = []
    for a in main_analyses(analyses):
        for f, ln, w in zip(a.rows["file"], a.rows["line"], a.rows["weight"]):
            hit = (out["file"] == f) & (out["line"] == ln) & (out["measure"] == a.measure)
            out.loc[hit, ["analysis", "included", "weight"]] = [a.id, True, float(w)]
        rec = {"row_type": "pooled", "analysis": a.id, "label": a.label, "measure": a.measure,
               "yi": a.estimate, "vi": a.se ** 2 if a.se is not None else float("nan"), "sei": a.se,
               "ci_lower": a.ci_lower, "ci_upper": a.ci_upper,
               "weight": 100.0, "derivation": f"pooled: {a.k} included study row(s) of analysis {a.id}"}
        rec.update({f: getattr(a, f) for f in POOLED_FIELDS if hasattr(a, f)})
        if a.k == 1:
            rec = single_study(rec)
            rec["derivation"] = (f"single study, not pooled: the one included study row of analysis {a.id}, "
                                 "its own estimate and 95% CI")
        pooled.append(rec)
    # TRUE/FALSE: read as logical by R's read.csv and as booleans by spreadsheets
    out["included"] = ["TRUE" if v else "FALSE" for v in out["included"].astype(bool)]
    if pooled:
        out = pd.concat([out, pd.DataFrame(pooled)], ignore_index=True)
        for c in ("line", "year", "k", "q_df"):  # integers stay integers beside the empty cells
            if c in out.columns and pd.api.types.is_numeric_dtype(out[c]):
                out[c] = out[c].round().astype("Int64")
    return out


def pooled_frame(analyses):
    """Every pooled analysis of a data file, one row each (the main pools, the analyses by time or
    subgroup, the sensitivity analyses and the subgroup-difference tests), with the model that
    produced it and, for ratio measures, the ratio-scale values (``*_exp``): the file a chapter
    offers as "pooled results (CSV)" beside its study-level results."""
    import pandas as pd

    rows = []
    for a in analyses:
        d = a.to_dict()
        d.pop("studies", None)
        d.pop("outside", None)
        for k, v in list(d.items()):
            if isinstance(v, (list, tuple)):  # CIs of τ², I², H²; subgroup levels
                d[k] = "; ".join("" if x is None else str(x) for x in v)
        d["row_type"] = "pooled" if hasattr(a, "estimate") else "subgroup test"
        if d["row_type"] == "pooled" and d.get("k") == 1:
            d = single_study(d)
        rows.append(d)
    df = pd.DataFrame(rows)
    first = [c for c in ("row_type", "id", "label", "measure", "model", "method", "test", "pi_rule", "k") if c in df]
    return df[first + [c for c in df.columns if c not in first]]


def to_safe_csv(df, path):
    """Write *df* as UTF-8 CSV with every text cell neutralised; floats keep full precision.
    *path* is a file name or an open text stream (e.g. ``sys.stdout``)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or str(out[c].dtype).startswith(("string", "str")):
            out[c] = [neutralise(v) if not (isinstance(v, float) and math.isnan(v)) else v for v in out[c]]
    if hasattr(path, "write"):
        out.to_csv(path, index=False, lineterminator="\n")
        return path
    path = Path(path)
    out.to_csv(path, index=False, encoding="utf-8")
    return path


def write_figure_csv(df, slug: str, name: str) -> Path:
    """Write *df* (:func:`to_safe_csv`) as ``_build/figures/<slug>/<name>``, where a page links it."""
    from .forest import save_dir

    return to_safe_csv(df, save_dir(slug) / name)


def write_results(dataset, analyses, slug: str) -> Path:
    """Write the study-level effect sizes of *dataset* (every measure, :func:`glumeta.stats.escalc.escalc_all`)
    with what *analyses* pooled (:func:`results_frame`) to ``_build/figures/<slug>/<name>-results.csv``."""
    from ..stats.escalc import escalc_all

    return write_figure_csv(results_frame(escalc_all(dataset), analyses), slug, f"{dataset.name}-results.csv")


def write_pooled(name: str, analyses, slug: str) -> Path:
    """Write every pooled analysis of data file *name* (:func:`pooled_frame`) to
    ``_build/figures/<slug>/<name>-pooled.csv``."""
    return write_figure_csv(pooled_frame(analyses), slug, f"{name}-pooled.csv")
