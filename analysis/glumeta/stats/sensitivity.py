"""Sensitivity analyses, batched: leave-one-out, cumulative, estimator grid,
subgroups with the between-subgroup test, Egger's regression test, funnel data.

Each refit family is one call of :func:`glumeta.stats.models.fit_batch` on a mask
matrix, not a Python loop over refits.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..formatting import fmt
from .models import METHODS, TESTS, fit_batch, pool

__all__ = ["EGGER_MIN_K", "n_trials", "leave_one_out", "cumulative", "estimator_grid", "subgroups", "egger", "funnel_data",
           "describe_leave_one_out", "describe_cumulative", "describe_grid", "describe_r_sensitivity"]

_COLS = ("k", "estimate", "se", "ci_lower", "ci_upper", "p", "tau2", "i2", "q")


def _frame(fit, index, name):
    import pandas as pd

    df = pd.DataFrame({c: fit[c] for c in _COLS})
    df.insert(0, name, list(index))
    df["k"] = df["k"].astype(int)
    return df


#: Elements (refits × studies) per chunk of a leave-one-out or cumulative fit: memory stays bounded
#: (a few MB per array) at any k, instead of k × k matrices (800 MB per array at k = 10,000).
CHUNK = 1 << 18


class _Omit:
    """Refit *j* omits study *j* (leave-one-out)."""

    def __init__(self, k):
        self.k = k

    def totals(self, X):
        """Per-refit sums of the per-study columns *X* (k, m): running sums, O(k)."""
        return X.sum(axis=0)[None, :] - X

    def weights(self, rows, t, vi):
        """``w = 1/(v + t_j)`` of each refit's studies (0 elsewhere), columns ``[:n]``; returns (W, n)."""
        W = 1.0 / (vi[None, :] + t[:, None])
        W[np.arange(rows.size), rows] = 0.0
        return W, self.k

    def mask(self, lo, hi):
        M = np.ones((hi - lo, self.k), bool)
        M[np.arange(hi - lo), np.arange(lo, hi)] = False
        return M


class _Upto(_Omit):
    """Refit *j* has studies 0..j (cumulative, in the given order)."""

    def totals(self, X):
        return np.cumsum(X, axis=0)

    def weights(self, rows, t, vi):
        lo, n = int(rows.min()), int(rows.max()) + 1
        W = 1.0 / (vi[None, :n] + t[:, None])
        blk = W[:, lo:n]
        blk[np.arange(lo, n)[None, :] > rows[:, None]] = 0.0
        return W, n

    def mask(self, lo, hi):
        return np.arange(self.k)[None, :] <= np.arange(lo, hi)[:, None]


def _refits(yi, vi, sets, method, test, level=95.0):
    """One refit per row of the structure *sets* (:class:`_Omit`, :class:`_Upto`): the
    :data:`_COLS` of :func:`glumeta.stats.models.fit_batch`, identical formulas, in bounded memory.

    FE, DL, ML and REML: the inverse-variance sums (Q, the DL τ², the Hedges start) are running
    sums (O(k) for all refits); sums with τ² in the weights, ``Σ w^p·[1, y, y²]`` with
    ``w = 1/(v + τ²_j)``, are matrix products over chunks of ``CHUNK // k`` refits (one pass over
    each chunk for DL, one per Fisher-scoring step for ML/REML, iterating only the refits not yet
    converged, from the same start and with the same stopping rule as fit_batch). PM:
    :func:`~glumeta.stats.models.fit_batch` on each chunk of masks. A test compares every method × test
    with fit_batch."""
    from .models import _ITER, _TOL

    k = yi.size
    n = sets.k
    shift = float(np.sum(yi / vi) / np.sum(1 / vi))  # y centred: sums of y² lose no precision
    y = yi - shift
    P = np.stack([np.ones(k), y, y * y], axis=1)
    w1 = 1.0 / vi
    kk_, sw1, sw1sq, sw1y, sw1yy, sy, syy, sv = sets.totals(
        np.stack([np.ones(k), w1, w1 * w1, w1 * y, w1 * y * y, y, y * y, vi], axis=1)).T
    kj = np.rint(kk_).astype(int)
    b = max(1, CHUNK // max(k, 1))
    if method == "PM":
        parts = []
        for lo in range(0, n, b):
            M = sets.mask(lo, min(n, lo + b))
            f = fit_batch(np.broadcast_to(yi, M.shape), np.broadcast_to(vi, M.shape), M, method, test, level)
            parts.append({c: f[c] for c in _COLS})
        return {c: np.concatenate([p[c] for p in parts]) for c in _COLS}
    with np.errstate(invalid="ignore", divide="ignore"):
        Q = np.maximum(0.0, sw1yy - sw1y**2 / sw1)
        c = sw1 - sw1sq / sw1
    if method == "FE":
        tau2 = np.zeros(n)
    elif method == "DL":
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (Q - (kj - 1)) / c
        tau2 = np.where(kj > 1, np.maximum(0.0, np.nan_to_num(t)), 0.0)
    elif method in ("ML", "REML"):
        kk = np.maximum(kj, 1)
        ybar = sy / kk
        vary = np.maximum(syy - kk * ybar**2, 0.0) / np.maximum(kj - 1, 1)
        tau2 = np.where(kj > 1, np.maximum(0.0, vary - sv / kk), 0.0)
        for lo in range(0, n, b):
            act = np.arange(lo, min(n, lo + b))
            act = act[kj[act] > 1]
            for _ in range(_ITER):
                if not act.size:
                    break
                t = tau2[act]
                W, m = sets.weights(act, t, vi)
                with np.errstate(invalid="ignore", divide="ignore"):
                    W2 = W * W
                    sw, swy, _ = (W @ P[:m]).T
                    sw2, sw2y, sw2yy = (W2 @ P[:m]).T
                    mu = swy / sw
                    wr2 = sw2yy - 2 * mu * sw2y + mu * mu * sw2  # Σ w²(y − μ)²
                    if method == "ML":
                        adj = wr2 / sw2 - sw / sw2
                    else:
                        sw3 = (W2 * W).sum(axis=1)
                        trp = sw - sw2 / sw
                        trpp = sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2
                        adj = (wr2 - trp) / trpp
                new = np.maximum(0.0, t + adj)
                done = np.abs(new - t) <= _TOL * np.maximum(1.0, t)
                tau2[act] = new
                act = act[~done]
    else:
        raise ValueError(f"unknown method {method!r}")
    S = np.empty((n, 3))
    for lo in range(0, n, b):
        rows = np.arange(lo, min(n, lo + b))
        W, m = sets.weights(rows, tau2[rows], vi)
        S[rows] = W @ P[:m]
    sw, swy, swyy = S.T
    with np.errstate(invalid="ignore", divide="ignore"):
        mu_c = swy / sw
        mu = mu_c + shift
        se = 1.0 / np.sqrt(sw)
        df = np.maximum(kj - 1, 0).astype(float)
        alpha = 1 - level / 100
        crit = np.full(n, special.ndtri(1 - alpha / 2))
        p = 2 * special.ndtr(-np.abs(mu / se))
        if test in ("knha", "adhoc"):
            kh = kj > 1
            q_kh = np.maximum(swyy - swy * mu_c, 0.0) / df  # Σ w(y − μ)² / (k − 1)
            if test == "adhoc":
                q_kh = np.maximum(q_kh, 1.0)
            se = np.where(kh, np.sqrt(q_kh / sw), se)
            crit = np.where(kh, special.stdtrit(df, 1 - alpha / 2), crit)
            p = np.where(kh, 2 * special.stdtr(np.maximum(df, 1), -np.abs(mu / se)), p)
        elif test != "z":
            raise ValueError(f"unknown test {test!r}")
        s2 = (kj - 1) * sw1 / (sw1**2 - sw1sq)
        if method == "FE":
            i2 = np.where(kj > 1, np.maximum(0.0, 100 * (Q - df) / Q), np.nan)
        else:
            i2 = np.where(kj > 1, 100 * tau2 / (tau2 + s2), np.nan)
        i2 = np.where(np.isnan(i2) & (kj > 1), 0.0, i2)
    return {"k": kj, "estimate": mu, "se": se, "ci_lower": mu - crit * se, "ci_upper": mu + crit * se, "p": p,
            "tau2": tau2, "i2": i2, "q": Q}


def leave_one_out(yi, vi, labels=None, method="REML", test="z"):
    """Refit omitting each study in turn (metafor ``leave1out``).

    Fitted in chunks of refits (:func:`_refits`): memory stays bounded and the cost is a few passes
    over k × k entries (DL: one; REML: one per Fisher-scoring step), no k × k matrix is ever held,
    so k = 10,000 takes seconds. Returns a DataFrame with one row per omitted study.
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    k = yi.size
    labels = list(range(k)) if labels is None else list(labels)
    if k < 2:
        return _frame({c: np.zeros(0) for c in _COLS}, [], "omitted")

    return _frame(_refits(yi, vi, _Omit(k), method, test), labels, "omitted")


def cumulative(yi, vi, order, labels=None, method="REML", test="z"):
    """Cumulative meta-analysis in the given order, e.g. by year (metafor ``cumul``); chunked as
    :func:`leave_one_out`."""
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    idx = np.argsort(np.asarray(order), kind="stable")
    k = yi.size
    labels = list(range(k)) if labels is None else list(labels)
    if k == 0:
        return _frame({c: np.zeros(0) for c in _COLS}, [], "added")
    return _frame(_refits(yi[idx], vi[idx], _Upto(k), method, test), [labels[i] for i in idx], "added")


def estimator_grid(yi, vi, methods=METHODS, tests=TESTS):
    """Pooled estimate under every τ² estimator × test combination (metafor ``rma(method=, test=)``).

    The fixed-effect model (``FE``) is shown with the Wald z-test only: the Knapp–Hartung
    adjustment and its ad hoc variant are random-effects methods (Hartung & Knapp 2001;
    Knapp & Hartung 2003), and metafor warns that they are "not meant to be used in the context
    of FE models"; the metafor reference (``tests/reference/metafor_reference.R``) checks FE with z
    only. Every other estimator is crossed with every test in *tests*.

    Returns
    -------
    pandas.DataFrame
        One row per combination: ``method``, ``test`` and the columns of
        :func:`glumeta.stats.models.fit_batch` (``k``, ``estimate``, ``se``, CI, ``p``, ``tau2``, ``i2``, ``q``).

    Examples
    --------
    >>> g = estimator_grid([0.1, 0.3, 0.5], [0.01, 0.02, 0.03])
    >>> len(g), sorted(g.loc[g["method"] == "FE", "test"])
    (13, ['z'])
    """
    import pandas as pd

    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    rows = []
    for m in methods:
        for t in tests:
            if m == "FE" and t != "z":  # Knapp–Hartung is not meant for FE models (metafor)
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


def n_trials(study_ids) -> int:
    """The independent trials behind a pool's rows: distinct ``study_id`` values.

    The k ≥ :data:`EGGER_MIN_K` rule for funnel-asymmetry tests (Sterne et al. 2011, BMJ 343:d4002)
    is about independent studies: several dose arms of one trial sharing its control (Cochrane
    Handbook §23.3.4) are one study, so ten rows from seven trials get no test.

    Parameters
    ----------
    study_ids : sequence
        The ``study_id`` of each row of the pool (a missing id counts as its own trial).

    Returns
    -------
    int

    Examples
    --------
    >>> n_trials(["daly2018", "daly2018", "daly2018", "canuso2018"])
    2
    """
    import pandas as pd

    s = pd.Series(list(study_ids), dtype=object)
    return int(s.dropna().nunique() + s.isna().sum())


def _excludes_null(lo, hi) -> bool:
    return bool(lo > 0 or hi < 0)


#: What the null value is, in the sentences below (the analysis scale: 0 is "no difference" for a
#: difference and, on the log scale, a ratio of 1). Said positively, never "excludes no effect",
#: a double negative a reader can take either way.
NULL_WORDS = "0 (no difference)"


def _conclusion(lo, hi) -> str:
    return f"{'excludes' if _excludes_null(lo, hi) else 'includes'} {NULL_WORDS}"


def _span(values, same: str = "") -> str:
    """``"the estimate ranges from −1.00 to −0.20"``, or, when both ends print alike,
    ``"the estimate is −0.06"`` + *same* (never a range from a number to itself).

    >>> _span([-1.0, -0.2]), _span([-0.061, -0.058], " at every r")
    ('the estimate ranges from −1.00 to −0.20', 'the estimate is −0.06 at every r')
    """
    lo, hi = fmt(float(np.nanmin(values))), fmt(float(np.nanmax(values)))
    return f"the estimate is {lo}{same}" if lo == hi else f"the estimate ranges from {lo} to {hi}"


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
    'Leaving out C moves the 95% CI to include 0 (no difference); with any one comparison left out the estimate ranges from −1.00 to −0.20 (all studies: −0.70).'
    """
    if loo is None or not len(loo):
        return "Leave-one-out needs at least two comparisons."
    base = _excludes_null(full.ci_lower, full.ci_upper)
    flips = [str(r.omitted) for r in loo.itertuples() if _excludes_null(r.ci_lower, r.ci_upper) != base]
    sign = [str(r.omitted) for r in loo.itertuples() if (r.estimate > 0) != (full.estimate > 0)]
    span = _span(loo["estimate"])
    if flips:
        to = "include" if base else "exclude"
        head = f"Leaving out {', '.join(flips)} moves the 95% CI to {to} {NULL_WORDS}"
    else:
        head = f"No single comparison changes the conclusion: every leave-one-out 95% CI {_conclusion(full.ci_lower, full.ci_upper)}"
    if sign:
        head += f"; leaving out {', '.join(sign)} reverses the direction"
    return f"{head}; with any one comparison left out {span} (all studies: {fmt(full.estimate)})."


def describe_cumulative(cum) -> str:
    """One computed sentence on a cumulative meta-analysis (*cum*, from :func:`cumulative`).

    Examples
    --------
    >>> import pandas as pd
    >>> cum = pd.DataFrame({"added": ["A 2015", "B 2018", "C 2020"], "k": [1, 2, 3],
    ...                     "ci_lower": [-2.0, -1.5, -1.2], "ci_upper": [0.5, -0.1, -0.3]})
    >>> describe_cumulative(cum)
    'The cumulative 95% CI has excluded 0 (no difference) since B 2018 was added (k = 2) and has not changed conclusion since.'
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
        return f"The cumulative 95% CI has {state} {NULL_WORDS} at every step, from the first comparison on."
    return (f"The cumulative 95% CI has {state} {NULL_WORDS} since {r['added']} was added (k = {int(r['k'])}) "
            f"and has not changed conclusion since.")


def describe_grid(grid) -> str:
    """One computed sentence on an estimator × test grid (:func:`estimator_grid`).

    Examples
    --------
    >>> import pandas as pd
    >>> g = pd.DataFrame({"method": ["DL", "REML"], "test": ["z", "z"], "estimate": [-0.061, -0.058],
    ...                   "ci_lower": [-1.2, -1.1], "ci_upper": [1.1, 1.0]})
    >>> describe_grid(g)
    'All 2 estimator × test combinations give a 95% CI that includes 0 (no difference); the estimate is −0.06 under every one.'
    """
    n = len(grid)
    ex = [_excludes_null(r.ci_lower, r.ci_upper) for r in grid.itertuples()]
    span = _span(grid["estimate"], " under every one")
    if all(ex) or not any(ex):
        return (f"All {n} estimator × test combinations give a 95% CI that "
                f"{'excludes' if ex[0] else 'includes'} {NULL_WORDS}; {span}.")
    which = ", ".join(f"{r.method}/{r.test}" for r, e in zip(grid.itertuples(), ex) if e)
    return (f"The conclusion depends on the method: the 95% CI excludes {NULL_WORDS} only with {which} "
            f"({sum(ex)} of {n}); {span}.")


def describe_r_sensitivity(sens, analysis: str) -> str:
    """One computed sentence on the pooled SMD over assumed within-patient correlations r.

    *sens* is :func:`glumeta.stats.synthesis.r_sensitivity`'s frame; *analysis* the label of the row set."""
    s = sens[sens["analysis"] == analysis].sort_values("r")
    if not len(s):
        return ""
    ex = [_excludes_null(r.ci_lower, r.ci_upper) for r in s.itertuples()]
    rs = list(s["r"])
    span = _span(s["estimate"], " at every r")
    if all(ex) or not any(ex):
        return (f"{analysis}: at every r from {rs[0]:g} to {rs[-1]:g} the 95% CI {'excludes' if ex[0] else 'includes'} "
                f"{NULL_WORDS}; {span}.")
    changes = [f"{rs[i]:g}" for i in range(1, len(rs)) if ex[i] != ex[i - 1]]
    return (f"{analysis}: the conclusion changes at r = {', '.join(changes)} (the 95% CI excludes {NULL_WORDS} for r in "
            f"{', '.join(f'{r:g}' for r, e in zip(rs, ex) if e)}); {span}.")
