"""Sensitivity analyses, batched: leave-one-out, cumulative, estimator grid,
subgroups with the between-subgroup test, Egger's regression test, funnel data.

Each refit family is one call of :func:`glumeta.models.fit_batch` on a mask
matrix, not a Python loop over refits.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .models import METHODS, TESTS, fit_batch, pool

__all__ = ["leave_one_out", "cumulative", "estimator_grid", "subgroups", "egger", "funnel_data"]

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
