"""Sensitivity analyses, batched: leave-one-out, cumulative, estimator grid,
subgroups with the between-subgroup test, Egger's regression test, funnel data.

Each refit family is one call of :func:`glumeta.models.fit_batch` on a mask
matrix, not a Python loop over refits.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .models import METHODS, TESTS, fit_batch, pool

__all__ = ["EGGER_MIN_K", "leave_one_out", "cumulative", "estimator_grid", "subgroups", "egger", "funnel_data",
           "describe_leave_one_out", "describe_cumulative", "describe_grid", "describe_r_sensitivity"]

_COLS = ("k", "estimate", "se", "ci_lower", "ci_upper", "p", "tau2", "i2", "q")


def _frame(fit, index, name):
    import pandas as pd

    df = pd.DataFrame({c: fit[c] for c in _COLS})
    df.insert(0, name, list(index))
    df["k"] = df["k"].astype(int)
    return df


def leave_one_out(yi, vi, labels=None, method="REML", test="z"):
    """Refit omitting each study in turn (metafor ``leave1out``); one batched fit.

    Returns a DataFrame with one row per omitted study.
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    k = yi.size
    labels = list(range(k)) if labels is None else list(labels)
    if k < 2:
        return _frame(fit_batch(yi[None], vi[None], np.zeros((1, k), bool) if k else None, method, test), [], "omitted").iloc[:0]
    M = ~np.eye(k, dtype=bool)
    fit = fit_batch(np.tile(yi, (k, 1)), np.tile(vi, (k, 1)), M, method, test)
    return _frame(fit, labels, "omitted")


def cumulative(yi, vi, order, labels=None, method="REML", test="z"):
    """Cumulative meta-analysis in the given order, e.g. by year (metafor ``cumul``)."""
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    idx = np.argsort(np.asarray(order), kind="stable")
    k = yi.size
    labels = list(range(k)) if labels is None else list(labels)
    M = np.tri(k, dtype=bool)
    fit = fit_batch(np.tile(yi[idx], (k, 1)), np.tile(vi[idx], (k, 1)), M, method, test)
    return _frame(fit, [labels[i] for i in idx], "added")


def estimator_grid(yi, vi, methods=METHODS, tests=TESTS):
    """Pooled estimate under every τ² estimator × test combination."""
    import pandas as pd

    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    rows = []
    for m in methods:
        for t in tests:
            if m == "FE" and t == "knha":
                continue
            f = fit_batch(yi[None], vi[None], None, m, t)
            rows.append({"method": m, "test": t, **{c: f[c][0] for c in _COLS}})
    df = pd.DataFrame(rows)
    df["k"] = df["k"].astype(int)
    return df


def subgroups(yi, vi, groups, method="REML", test="z"):
    """Separate random-effects fits per subgroup and the between-subgroup test.

    Each subgroup gets its own τ²; the test of subgroup differences is a
    fixed-effect Q over the subgroup estimates,
    ``Q_b = Σ (μ_g − μ̄)²/SE_g²`` with G − 1 df (Borenstein 2009, ch. 19;
    Cochrane Handbook §10.11.3.1; equivalent to metafor ``rma(method="FE")``
    fitted to the subgroup estimates).

    Returns
    -------
    (frame, test) : per-subgroup DataFrame, and dict ``q_between, df, p``.
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    groups = np.asarray(groups, dtype=object)
    levels = list(dict.fromkeys(groups.tolist()))
    M = np.stack([groups == g for g in levels])
    fit = fit_batch(np.tile(yi, (len(levels), 1)), np.tile(vi, (len(levels), 1)), M, method, test)
    frame = _frame(fit, levels, "subgroup")
    if len(levels) < 2:
        return frame, {"q_between": float("nan"), "df": 0, "p": float("nan")}
    b = pool(fit["estimate"], fit["se"] ** 2, method="FE")
    return frame, {"q_between": b.q, "df": b.q_df, "p": b.q_p}


def egger(yi, vi):
    """Egger's regression test for funnel-plot asymmetry (Egger et al. 1997).

    Weighted least squares of ``yi`` on ``sei`` with weights ``1/vi``, the
    residual variance estimated (multiplicative dispersion); the test is a t-test
    of the slope with k − 2 df (metafor ``regtest(model="lm", predictor="sei")``).
    Fitted with statsmodels WLS. Returns ``slope, se, t, df, p, intercept``.
    """
    # the model module alone: ``statsmodels.api`` would import every statsmodels subpackage (~0.2 s more)
    from statsmodels.regression.linear_model import WLS
    from statsmodels.tools.tools import add_constant

    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    if yi.size < 3:
        raise ValueError("Egger's test needs at least 3 studies")
    X = add_constant(np.sqrt(vi))
    fit = WLS(yi, X, weights=1 / vi).fit()
    return {
        "intercept": float(fit.params[0]),
        "slope": float(fit.params[1]),
        "se": float(fit.bse[1]),
        "t": float(fit.tvalues[1]),
        "df": int(fit.df_resid),
        "p": float(fit.pvalues[1]),
    }


def funnel_data(yi, vi, estimate, level=95.0):
    """Points and pseudo-confidence region of a funnel plot (Sterne & Egger 2001).

    Returns ``sei`` per study and the region ``estimate ± z·se`` over a grid of se.
    """
    sei = np.sqrt(np.asarray(vi, float))
    grid = np.linspace(0, max(sei.max() * 1.1, 1e-9), 50)
    z = special.ndtri(0.5 + level / 200)
    return {"yi": np.asarray(yi, float), "sei": sei, "se_grid": grid,
            "lower": estimate - z * grid, "upper": estimate + z * grid}


# --------------------------------------------------------------------------- robustness in words
#: Egger's test and other funnel-asymmetry tests only from this many studies on (Sterne et al. 2011,
#: BMJ 343:d4002; Cochrane Handbook §13.3.5.4): with fewer, the test has too little power to
#: distinguish chance from real asymmetry.
EGGER_MIN_K = 10


def _excludes_null(lo, hi) -> bool:
    return bool(lo > 0 or hi < 0)


def _conclusion(lo, hi) -> str:
    return "excludes no effect" if _excludes_null(lo, hi) else "includes no effect"


def _num(x: float) -> str:
    from .formatting import fmt

    return fmt(x)


def describe_leave_one_out(loo, full) -> str:
    """One computed sentence on a leave-one-out table (*loo*, from :func:`leave_one_out`) against the
    full pool *full* (any object with ``estimate``, ``ci_lower``, ``ci_upper``; analysis scale).

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace as NS
    >>> loo = pd.DataFrame({"omitted": ["A", "B", "C"], "estimate": [-1.0, -0.8, -0.2],
    ...                     "ci_lower": [-1.5, -1.4, -0.9], "ci_upper": [-0.5, -0.2, 0.5]})
    >>> describe_leave_one_out(loo, NS(estimate=-0.7, ci_lower=-1.2, ci_upper=-0.2))
    'Leaving out C moves the 95% CI to include no effect; with any one comparison left out the estimate ranges from −1.00 to −0.20 (all drops: −0.70).'
    """
    if loo is None or not len(loo):
        return "Leave-one-out needs at least two comparisons."
    base = _excludes_null(full.ci_lower, full.ci_upper)
    flips = [str(r.omitted) for r in loo.itertuples() if _excludes_null(r.ci_lower, r.ci_upper) != base]
    sign = [str(r.omitted) for r in loo.itertuples() if (r.estimate > 0) != (full.estimate > 0)]
    span = f"the estimate ranges from {_num(loo['estimate'].min())} to {_num(loo['estimate'].max())}"
    if flips:
        to = "include" if base else "exclude"
        head = f"Leaving out {', '.join(flips)} moves the 95% CI to {to} no effect"
    else:
        head = f"No single comparison changes the conclusion: every leave-one-out 95% CI {_conclusion(full.ci_lower, full.ci_upper)}"
    if sign:
        head += f"; leaving out {', '.join(sign)} reverses the direction"
    return f"{head}; with any one comparison left out {span} (all drops: {_num(full.estimate)})."


def describe_cumulative(cum) -> str:
    """One computed sentence on a cumulative meta-analysis (*cum*, from :func:`cumulative`).

    Examples
    --------
    >>> import pandas as pd
    >>> cum = pd.DataFrame({"added": ["A 2015", "B 2018", "C 2020"], "k": [1, 2, 3],
    ...                     "ci_lower": [-2.0, -1.5, -1.2], "ci_upper": [0.5, -0.1, -0.3]})
    >>> describe_cumulative(cum)
    'The cumulative 95% CI has excluded no effect since B 2018 was added (k = 2) and has not changed conclusion since.'
    """
    if cum is None or not len(cum):
        return "No cumulative analysis (no comparisons)."
    ex = [_excludes_null(r.ci_lower, r.ci_upper) for r in cum.itertuples()]
    last = ex[-1]
    # the first step from which the conclusion stays as it ends
    i = len(ex) - 1
    while i > 0 and ex[i - 1] == last:
        i -= 1
    r = cum.iloc[i]
    state = "excluded" if last else "included"
    if i == 0:
        return f"The cumulative 95% CI has {state} no effect at every step, from the first comparison on."
    return (f"The cumulative 95% CI has {state} no effect since {r['added']} was added (k = {int(r['k'])}) "
            f"and has not changed conclusion since.")


def describe_grid(grid) -> str:
    """One computed sentence on an estimator × test grid (:func:`estimator_grid`)."""
    n = len(grid)
    ex = [_excludes_null(r.ci_lower, r.ci_upper) for r in grid.itertuples()]
    span = f"the estimate ranges from {_num(grid['estimate'].min())} to {_num(grid['estimate'].max())}"
    if all(ex):
        return f"All {n} estimator × test combinations give a 95% CI that excludes no effect; {span}."
    if not any(ex):
        return f"None of the {n} estimator × test combinations gives a 95% CI that excludes no effect; {span}."
    which = ", ".join(f"{r.method}/{r.test}" for r, e in zip(grid.itertuples(), ex) if e)
    return (f"The conclusion depends on the method: the 95% CI excludes no effect only with {which} "
            f"({sum(ex)} of {n}); {span}.")


def describe_r_sensitivity(sens, analysis: str) -> str:
    """One computed sentence on the pooled SMD over assumed within-patient correlations r.

    *sens* is :func:`glumeta.synthesis.r_sensitivity`'s frame; *analysis* the label of the row set."""
    s = sens[sens["analysis"] == analysis].sort_values("r")
    if not len(s):
        return ""
    ex = [_excludes_null(r.ci_lower, r.ci_upper) for r in s.itertuples()]
    rs = list(s["r"])
    span = f"the estimate ranges from {_num(s['estimate'].min())} to {_num(s['estimate'].max())}"
    if all(ex) or not any(ex):
        return (f"{analysis}: at every r from {rs[0]:g} to {rs[-1]:g} the 95% CI {'excludes' if ex[0] else 'includes'} "
                f"no effect; {span}.")
    changes = [f"{rs[i]:g}" for i in range(1, len(rs)) if ex[i] != ex[i - 1]]
    return (f"{analysis}: the conclusion changes at r = {', '.join(changes)} (the 95% CI excludes no effect for r in "
            f"{', '.join(f'{r:g}' for r, e in zip(rs, ex) if e)}); {span}.")
