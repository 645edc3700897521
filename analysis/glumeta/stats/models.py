"""Pooled models (the ``rma`` layer): ``yi``, ``vi`` → pooled estimate, heterogeneity.

Fixed-effect (inverse-variance) and random-effects models with the
DerSimonian–Laird, Paule–Mandel, ML and REML estimators of τ², a z-test, the
Knapp–Hartung (HKSJ) t-test or the HKSJ test with the ad hoc variance correction
(the default, :data:`DEFAULT_TEST`), prediction intervals, Q, I², H², and Q-profile
confidence intervals for τ², I² and H². Results match metafor's ``rma()``,
``predict()`` and ``confint()`` (tests/test_metafor_reference.py).

The Examples sections run as doctests; most use the 13 BCG vaccine trials of metafor's
``dat.bcg`` (log risk ratios from ``escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg,
data=dat.bcg)``), so that each printed number can be checked against metafor 3.8.1.

Defaults for few studies (Cochrane Handbook §10.10.4; IntHout, Ioannidis & Borm 2014):

* ``test="adhoc"``: Hartung–Knapp–Sidik–Jonkman t-test on k − 1 df with the ad hoc
  correction ``q* = max(1, q)`` (Röver, Knapp & Friede 2015; Jackson et al. 2017), so that
  the interval is never narrower than the normal-theory one (metafor ``test="adhoc"``).
* ``pi="t(k-2)"``: prediction interval ``μ ± t_{k−2}·√(τ² + SE²)`` with the model's
  normal-theory SE ``1/√Σw*`` (Higgins, Thompson & Spiegelhalter 2009, eq. 12; IntHout et al.
  2016), defined only for k ≥ 3 and random-effects models.

Why the estimators are written here and not delegated to pymare/statsmodels:

* One vectorised core fits a *batch* of masked datasets at once (leave-one-out,
  cumulative, subgroups, the estimator grid), which neither library offers for
  ragged subsets.
* Both libraries have faults for this use: statsmodels'
  ``combine_effects(method_re="dl")`` returns a negative τ² instead of clipping it
  at 0, and pymare's ``VarianceBasedLikelihoodEstimator`` silently defaults to a
  Knapp–Hartung small-sample correction; pymare < 0.0.13 also had wrong SMD/RMD
  variances. tests/test_library_crosscheck.py pins our results to both
  libraries where they are right and documents where they are not.
* ``import pymare`` costs about 2 s, beyond the CLI's start-up budget.

The iterative estimators are solved to ~1e-12 (metafor's default threshold is
1e-5; the reference script tightens it so that both sides are converged).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import special

__all__ = ["DEFAULT_PI", "DEFAULT_TEST", "METHODS", "PI_RULES", "TESTS", "PoolResult", "fit_batch",
           "mantel_haenszel", "pool", "describe_model"]

METHODS = ("FE", "DL", "PM", "ML", "REML")
TESTS = ("z", "knha", "adhoc")
#: Prediction-interval rules: ``t(k-2)`` (Higgins et al. 2009; IntHout et al. 2016) or ``predict``
#: (metafor 3.8 ``predict.rma``: the test's critical value, z or t(k − 1), and the model's SE).
PI_RULES = ("t(k-2)", "predict")
#: The book's defaults (Cochrane Handbook §10.10.4.2: HKSJ for few studies; ad hoc correction after
#: Röver et al. 2015 / Jackson et al. 2017; PI after Higgins et al. 2009).
DEFAULT_TEST = "adhoc"
DEFAULT_PI = "t(k-2)"

#: What each test and PI rule is called in the book, with its reference.
TEST_NAMES = {
    "z": "Wald z-test (normal reference)",
    "knha": "Hartung–Knapp–Sidik–Jonkman t-test (Knapp & Hartung 2003)",
    "adhoc": "Hartung–Knapp–Sidik–Jonkman t-test with the ad hoc correction (Röver et al. 2015)",
}
PI_NAMES = {"t(k-2)": "prediction interval on t(k − 2) (Higgins et al. 2009)",
            "predict": "prediction interval as metafor 3.8 predict()"}
METHOD_NAMES = {"FE": "common-effect (inverse variance)", "DL": "DerSimonian–Laird τ²", "PM": "Paule–Mandel τ²",
                "ML": "ML τ²", "REML": "REML τ²"}


def describe_model(method: str, test: str, pi: str | None = None, k: int | None = None) -> str:
    """The model in words, as a forest plot and a page name it.

    Parameters
    ----------
    method : {"FE", "DL", "PM", "ML", "REML"}
        Estimator of τ² (``"FE"``: common-effect model).
    test : {"z", "knha", "adhoc"}
        Test and CI rule of :func:`fit_batch`.
    pi : {"t(k-2)", "predict"} or None, optional
        Prediction-interval rule; ``None`` leaves it out (as for k < 3).
    k : int, optional
        Number of studies; accepted for the callers' convenience and not used.

    Returns
    -------
    str
        Model, test and, for random-effects models with *pi*, the PI rule, joined by ``"; "``.

    Notes
    -----
    The names and references come from ``METHOD_NAMES``, ``TEST_NAMES`` and ``PI_NAMES``:
    DerSimonian & Laird (1986), Paule & Mandel (1982), ML/REML (Viechtbauer 2005);
    Knapp & Hartung (2003); the ad hoc correction of Röver, Knapp & Friede (2015); the
    prediction interval of Higgins, Thompson & Spiegelhalter (2009).
    A common-effect model has no prediction interval, so *pi* is ignored for ``"FE"``.

    Examples
    --------
    >>> describe_model("REML", "adhoc", "t(k-2)")
    'Random effects, REML τ²; Hartung–Knapp–Sidik–Jonkman t-test with the ad hoc correction (Röver et al. 2015); prediction interval on t(k − 2) (Higgins et al. 2009)'
    >>> describe_model("FE", "z", "t(k-2)")
    'Common effect, inverse variance; Wald z-test (normal reference)'
    """
    head = "Common effect, inverse variance" if method == "FE" else f"Random effects, {METHOD_NAMES[method]}"
    parts = [head, TEST_NAMES[test]]
    if pi and method != "FE":
        parts.append(PI_NAMES[pi])
    return "; ".join(parts)
_ITER = 1000
_TOL = 1e-13


def _sums(W, Y):
    sw = W.sum(axis=1)
    mu = (W * Y).sum(axis=1) / sw
    return sw, mu


def _qgen(tau2, Y, V, M):
    """Generalised Q statistic ``Σ w*(y − μ*)²`` with ``w* = 1/(v + τ²)`` (per batch row)."""
    W = np.where(M, 1.0 / (V + tau2[:, None]), 0.0)
    sw, mu = _sums(W, Y)
    return (W * (Y - mu[:, None]) ** 2).sum(axis=1)


def _solve_decreasing(f, target, active, hi0):
    """Vectorised bisection for ``f(x) = target`` with *f* decreasing in x ≥ 0.

    Rows where ``f(0) <= target`` (or not *active*) return 0. Bisection is slow
    but certain; 200 halvings reach machine precision.
    """
    B = target.shape[0]
    lo = np.zeros(B)
    hi = np.maximum(hi0, 1e-8)
    need = active & (f(lo) > target)
    # grow the bracket
    for _ in range(200):
        grow = need & (f(hi) > target)
        if not grow.any():
            break
        hi = np.where(grow, hi * 4.0, hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = f(mid) > target
        lo = np.where(need & above, mid, lo)
        hi = np.where(need & ~above, mid, hi)
        if np.all(hi - lo <= 1e-15 * np.maximum(hi, 1e-300)):
            break
    return np.where(need, 0.5 * (lo + hi), 0.0)


def _tau2(method, Y, V, M, k, Q, sw1, W1):
    """τ² per batch row.

    * FE: 0.
    * DL: ``max(0, (Q − (k−1)) / (Σw − Σw²/Σw))`` (DerSimonian & Laird 1986),
      clipped at 0 (unlike statsmodels ``combine_effects(method_re="dl")``).
    * PM: root of ``Q_gen(τ²) = k − 1`` (Paule & Mandel 1982; DerSimonian & Kacker 2007).
    * ML / REML: Fisher scoring on the (restricted) likelihood, truncated at 0
      (Viechtbauer 2005, eqs. 8–12; metafor ``rma.uni``), started at the
      Hedges (HE) estimator as metafor does.
    """
    B = Y.shape[0]
    if method == "FE":
        return np.zeros(B)
    c = sw1 - (W1**2).sum(axis=1) / sw1
    if method == "DL":
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (Q - (k - 1)) / c
        return np.where(k > 1, np.maximum(0.0, np.nan_to_num(t)), 0.0)
    if method == "PM":
        return _solve_decreasing(lambda t: _qgen(t, Y, V, M), (k - 1).astype(float), k > 1,
                                 np.maximum(Q / np.maximum(c, 1e-300), 1.0))
    if method in ("ML", "REML"):
        # Hedges (HE) start: max(0, var(y) − mean(v))  (metafor's tau2.init)
        kk = np.maximum(k, 1)
        ybar = np.where(M, Y, 0).sum(axis=1) / kk
        vary = np.where(M, (Y - ybar[:, None]) ** 2, 0).sum(axis=1) / np.maximum(k - 1, 1)
        t = np.maximum(0.0, vary - np.where(M, V, 0).sum(axis=1) / kk)
        for _ in range(_ITER):
            with np.errstate(invalid="ignore", divide="ignore"):  # k = 1 rows: 0/0, set to 0 below
                W = np.where(M, 1.0 / (V + t[:, None]), 0.0)
                sw, mu = _sums(W, Y)
                r = np.where(M, Y - mu[:, None], 0.0)
                sw2 = (W**2).sum(axis=1)
                if method == "ML":
                    adj = ((W**2) * r**2).sum(axis=1) / sw2 - sw / sw2
                else:
                    sw3 = (W**3).sum(axis=1)
                    ypppy = ((W * r) ** 2).sum(axis=1)
                    trp = sw - sw2 / sw
                    trpp = sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2
                    adj = (ypppy - trp) / trpp
                new = np.maximum(0.0, t + adj)
                new = np.where(k > 1, new, 0.0)
                done = np.abs(new - t) <= _TOL * np.maximum(1.0, t)
                t = new
                if done.all():
                    break
        return t
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def fit_batch(Y, V, M=None, method="REML", test="z", level=95.0, pi="t(k-2)", trials=None):
    """Fit one model per batch row of masked data (vectorised).

    Parameters
    ----------
    Y, V : array (B, k)
        Effect sizes and sampling variances; entries outside *M* are ignored.
    M : bool array (B, k), optional
        Which studies each row includes (default: all).
    method : {"FE", "DL", "PM", "ML", "REML"}
    test : {"z", "knha", "adhoc"}
        Normal-theory test; Knapp & Hartung (2003) / Hartung & Knapp (2001) / Sidik & Jonkman
        (2002): ``SE² = q/Σw*`` with ``q = Σw*(y−μ)²/(k−1)`` and a t(k−1) reference (metafor
        ``test="knha"``); or the same with ``q`` replaced by ``max(1, q)``, the ad hoc correction
        that keeps the interval from being narrower than the z interval (Röver, Knapp & Friede
        2015; Jackson, Law, Rücker & Schwarzer 2017; metafor ``test="adhoc"``). With k = 1 both
        t-tests fall back to z.
    level : float
        Confidence level in percent.
    pi : {"t(k-2)", "predict"}
        Prediction-interval rule. ``t(k-2)``: ``μ ± t_{k−2}·√(τ² + 1/Σw*)`` (Higgins, Thompson &
        Spiegelhalter 2009; IntHout et al. 2016), NaN for k < 3 and for common-effect models.
        ``predict``: metafor 3.8 ``predict.rma``: ``μ ± crit·√(τ² + SE²)`` with the test's crit
        and SE (Riley et al. 2011 without the df change).
    trials : int or array (B,), optional
        Independent trials behind each batch row's studies (several dose arms of one trial
        against a split shared control count once); default: k. The ``t(k-2)`` interval needs 3
        trials and uses ``trials − 2`` df: the spread between trials that it predicts is estimated
        from the trials, not from the arms (Higgins et al. 2009; IntHout et al. 2016).

    Returns
    -------
    dict of ndarray
        Arrays of length B: ``k, estimate, se, ci_lower, ci_upper, pi_lower, pi_upper, z_or_t,
        df, p, tau2, q, q_df, q_p, i2, h2`` (the field names of :class:`PoolResult`), and
        ``weights`` of shape (B, k), in percent. Keys starting with ``_`` are kept for
        :func:`tau2_confint`.

    Raises
    ------
    ValueError
        If *method*, *test* or *pi* is not one of the names above.

    Notes
    -----
    * Estimate ``μ = Σw*y/Σw*``, ``SE = 1/√Σw*`` (Borenstein 2009, ch. 12).
    * Prediction interval: see *pi*.
    * ``Q = Σw(y − μ_FE)²``, df = k − 1 (Cochran 1954).
    * Random effects: ``I² = 100·τ²/(τ² + s²)``, ``H² = (τ² + s²)/s²`` with the typical
      within-study variance ``s² = (k−1)Σw / ((Σw)² − Σw²)`` (Higgins & Thompson 2002,
      eq. 9; metafor). Fixed effect: ``I² = max(0, 100(Q − df)/Q)``, ``H² = Q/df``.
    * τ² (see ``_tau2``): DL ``max(0, (Q − (k−1)) / (Σw − Σw²/Σw))`` (DerSimonian & Laird
      1986); PM the root of ``Q_gen(τ²) = k − 1`` (Paule & Mandel 1982); ML and REML by
      Fisher scoring, truncated at 0 (Viechtbauer 2005).

    Examples
    --------
    Leave-one-out on ``dat.bcg`` as one batch: row *i* masks out trial *i*. metafor 3.8.1
    ``leave1out(rma(yi, vi, data=dat, method="REML"))`` gives estimates −0.7071, −0.6540,
    −0.6856, τ² 0.3362, 0.2926, 0.3207 and I² 93.23, 92.25, 92.94 for the first three:

    >>> from glumeta.stats.effects import log_rr
    >>> tpos = [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27]
    >>> n1 = [123, 306, 231, 13598, 5069, 1541, 2545, 88391, 7499, 1716, 50634, 2498, 16913]
    >>> cpos = [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29]
    >>> n2 = [139, 303, 220, 12867, 5808, 1451, 629, 88391, 7277, 1665, 27338, 2341, 17854]
    >>> yi, vi = log_rr(tpos, n1, cpos, n2)
    >>> M = ~np.eye(13, dtype=bool)[:3]
    >>> fit = fit_batch(np.tile(yi, (3, 1)), np.tile(vi, (3, 1)), M, method="REML")
    >>> fit["k"]
    array([12, 12, 12])
    >>> np.round(fit["estimate"], 4), np.round(fit["tau2"], 4), np.round(fit["i2"], 2)
    (array([-0.7071, -0.654 , -0.6856]), array([0.3362, 0.2926, 0.3207]), array([93.23, 92.25, 92.94]))
    """
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    V = np.atleast_2d(np.asarray(V, dtype=float))
    M = np.ones_like(Y, dtype=bool) if M is None else np.atleast_2d(np.asarray(M, dtype=bool))
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose from {TESTS}")
    if pi not in PI_RULES:
        raise ValueError(f"unknown prediction-interval rule {pi!r}; choose from {PI_RULES}")
    Y = np.where(M, Y, 0.0)
    V = np.where(M, V, 1.0)
    k = M.sum(axis=1)
    W1 = np.where(M, 1.0 / V, 0.0)
    sw1, mu1 = _sums(W1, Y)
    Q = (W1 * (Y - mu1[:, None]) ** 2).sum(axis=1)
    tau2 = _tau2(method, Y, V, M, k, Q, sw1, W1)
    W = np.where(M, 1.0 / (V + tau2[:, None]), 0.0)
    sw, mu = _sums(W, Y)
    se = 1.0 / np.sqrt(sw)
    se_wald = se
    df = np.maximum(k - 1, 0).astype(float)
    alpha = 1 - level / 100
    crit = np.full_like(mu, special.ndtri(1 - alpha / 2))
    stat = mu / se
    p = 2 * special.ndtr(-np.abs(stat))
    if test in ("knha", "adhoc"):
        # Knapp-Hartung needs k >= 2 (df = k - 1); a single study keeps the z-test.
        kh = k > 1
        with np.errstate(invalid="ignore", divide="ignore"):
            q_kh = (W * (Y - mu[:, None]) ** 2).sum(axis=1) / df
            if test == "adhoc":  # Röver et al. 2015: never below the normal-theory variance
                q_kh = np.maximum(q_kh, 1.0)
            se_kh = np.sqrt(q_kh / sw)
            crit_kh = special.stdtrit(df, 1 - alpha / 2)
        se = np.where(kh, se_kh, se)
        crit = np.where(kh, crit_kh, crit)
        stat = mu / se
        p = np.where(kh, 2 * special.stdtr(np.maximum(df, 1), -np.abs(stat)), p)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = (k - 1) * sw1 / (sw1**2 - (W1**2).sum(axis=1))
        q_p = np.where(k > 1, special.chdtrc(np.maximum(df, 1), Q), 1.0)  # k = 1: Q = 0, p = 1 (as metafor)
        if method == "FE":
            i2 = np.where(k > 1, np.maximum(0.0, 100 * (Q - df) / Q), np.nan)
            h2 = np.where(k > 1, Q / df, np.nan)
        else:
            i2 = np.where(k > 1, 100 * tau2 / (tau2 + s2), np.nan)
            h2 = np.where(k > 1, (tau2 + s2) / s2, np.nan)
        i2 = np.where(np.isnan(i2) & (k > 1), 0.0, i2)
        h2 = np.where(np.isnan(h2) & (k > 1), 1.0, h2)
    if pi == "predict":
        pi_half = crit * np.sqrt(se**2 + tau2)
    else:
        n_tr = k if trials is None else np.minimum(np.broadcast_to(np.asarray(trials), k.shape), k)
        ok = (k >= 3) & (n_tr >= 3) & (method != "FE")
        with np.errstate(invalid="ignore"):
            crit_pi = special.stdtrit(np.where(ok, n_tr - 2, 1).astype(float), 1 - alpha / 2)
        pi_half = np.where(ok, crit_pi * np.sqrt(se_wald**2 + tau2), np.nan)
    return {
        "k": k,
        "estimate": mu,
        "se": se,
        "ci_lower": mu - crit * se,
        "ci_upper": mu + crit * se,
        "pi_lower": mu - pi_half,
        "pi_upper": mu + pi_half,
        "z_or_t": stat,
        "df": np.where(k > 1, df, np.nan) if test != "z" else np.full_like(mu, np.nan),
        "p": p,
        "tau2": tau2,
        "q": Q,
        "q_df": df,
        "q_p": q_p,
        "i2": i2,
        "h2": h2,
        "weights": 100 * W / sw[:, None],
        "_s2": s2,
        "_Y": Y,
        "_V": V,
        "_M": M,
    }


def tau2_confint(fit, level=95.0):
    """Q-profile confidence interval for τ², and the implied I² and H² limits.

    Parameters
    ----------
    fit : dict
        The result of :func:`fit_batch` (it needs the private ``_Y``, ``_V``, ``_M`` and
        ``_s2`` entries).
    level : float, default 95.0
        Confidence level in percent.

    Returns
    -------
    dict
        ``{"tau2": (lower, upper), "i2": (lower, upper), "h2": (lower, upper)}``, each limit
        an array of length B; NaN for rows with k = 1.

    Notes
    -----
    Limits solve ``Q_gen(τ²) = χ²_{k−1, 1−α/2}`` (lower) and ``χ²_{k−1, α/2}`` (upper),
    truncated at 0 (Viechtbauer 2007; metafor ``confint(type="QP")``), where
    ``Q_gen(τ²) = Σ w*(y − μ*)²`` with ``w* = 1/(v + τ²)``.
    I² and H² limits are the formulas of :func:`fit_batch` at the τ² limits.

    Examples
    --------
    ``dat.bcg``; metafor 3.8.1 ``confint(rma(yi, vi, data=dat, method="REML"))`` gives
    τ² 0.1197 to 1.1115, I² 81.9206 to 97.6781 and H² 5.5311 to 43.0677:

    >>> from glumeta.stats.effects import log_rr
    >>> tpos = [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27]
    >>> n1 = [123, 306, 231, 13598, 5069, 1541, 2545, 88391, 7499, 1716, 50634, 2498, 16913]
    >>> cpos = [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29]
    >>> n2 = [139, 303, 220, 12867, 5808, 1451, 629, 88391, 7277, 1665, 27338, 2341, 17854]
    >>> yi, vi = log_rr(tpos, n1, cpos, n2)
    >>> ci = tau2_confint(fit_batch(yi, vi, method="REML"))
    >>> [round(float(x[0]), 4) for x in ci["tau2"]], [round(float(x[0]), 4) for x in ci["i2"]]
    ([0.1197, 1.1115], [81.9206, 97.6781])
    >>> [round(float(x[0]), 4) for x in ci["h2"]]
    [5.5311, 43.0677]
    """
    Y, V, M = fit["_Y"], fit["_V"], fit["_M"]
    k = fit["k"]
    df = np.maximum(k - 1, 1).astype(float)
    a = 1 - level / 100
    active = k > 1
    f = lambda t: _qgen(t, Y, V, M)  # noqa: E731
    hi0 = np.maximum(fit["tau2"], 0.01) * 10 + np.where(M, V, 0).max(axis=1)
    lo = _solve_decreasing(f, special.chdtri(df, a / 2), active, hi0)
    hi = _solve_decreasing(f, special.chdtri(df, 1 - a / 2), active, hi0)
    s2 = fit["_s2"]
    with np.errstate(invalid="ignore", divide="ignore"):
        i2 = (100 * lo / (lo + s2), 100 * hi / (hi + s2))
        h2 = ((lo + s2) / s2, (hi + s2) / s2)
    nan = np.where(active, 1.0, np.nan)
    return {"tau2": (lo * nan, hi * nan), "i2": (i2[0] * nan, i2[1] * nan), "h2": (h2[0] * nan, h2[1] * nan)}


@dataclass(frozen=True)
class PoolResult:
    """One pooled model, in metafor's vocabulary (``yi``, ``vi``, ``method``, ``test``).

    Made by :func:`pool`; frozen.

    Attributes
    ----------
    measure : str
        Effect measure of *yi* (``"SMD"``, ``"RR"``, ... or ``"GEN"``).
    method, test, pi_rule : str
        Estimator of τ², test and prediction-interval rule (see :func:`fit_batch`).
    level : float
        Confidence level in percent.
    k : int
        Number of studies.
    estimate, se : float
        Pooled estimate ``μ`` and its SE (metafor ``b``, ``se``).
    ci_lower, ci_upper, pi_lower, pi_upper : float
        Confidence and prediction limits (PI NaN where not defined).
    z_or_t, df, p : float
        Test statistic, its df (``None`` for the z-test) and two-sided p.
    tau2, i2, h2 : float
        Heterogeneity estimates (metafor ``tau2``, ``I2``, ``H2``).
    tau2_ci, i2_ci, h2_ci : tuple of float
        Q-profile limits (:func:`tau2_confint`); NaN for common-effect models.
    q, q_df, q_p : float, int, float
        Cochran's Q, its df and p (metafor ``QE``, ``QEp``).
    yi, vi, weights : tuple of float
        The input and each study's weight in percent (metafor ``weights()``).

    Notes
    -----
    The fields are the keys of :func:`fit_batch`; formulas and references are listed there.

    Examples
    --------
    >>> r = pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03], method="DL")
    >>> r.k, r.method, r.test, r.q_df
    (3, 'DL', 'z', 2)

    The weights in percent (metafor ``weights(rma(yi, vi, method="DL"))``: 42.14, 32.03, 25.83):

    >>> [round(w, 2) for w in r.weights]
    [42.14, 32.03, 25.83]
    """

    measure: str
    method: str
    test: str
    pi_rule: str
    level: float
    k: int
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    z_or_t: float
    df: float | None
    p: float
    tau2: float
    tau2_ci: tuple[float, float]
    i2: float
    i2_ci: tuple[float, float]
    h2: float
    h2_ci: tuple[float, float]
    q: float
    q_df: int
    q_p: float
    yi: tuple[float, ...] = field(repr=False)
    vi: tuple[float, ...] = field(repr=False)
    weights: tuple[float, ...] = field(repr=False)
    #: independent trials behind the k rows (several dose arms of one trial sharing its control
    #: count once); ``None`` when not known (then every row is taken for a trial)
    trials: int | None = None

    @property
    def tau(self) -> float:
        """τ, the between-study SD: ``√τ²``.

        Returns
        -------
        float

        Examples
        --------
        >>> round(pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03], method="DL").tau, 4)
        0.1472
        """
        return float(np.sqrt(self.tau2))

    @property
    def model(self) -> str:
        """The model in words (estimator, test, PI rule), from this result's own fields.

        Returns
        -------
        str
            :func:`describe_model` of ``method``, ``test`` and, when k ≥ 3, ``pi_rule``.

        Examples
        --------
        >>> pool([0.1, 0.3], [0.01, 0.02], method="DL").model
        'Random effects, DerSimonian–Laird τ²; Wald z-test (normal reference)'
        """
        if self.k == 1:
            return "Single study (not pooled)"
        return describe_model(self.method, self.test, self.pi_rule if self.pi_defined else None)

    @property
    def pi_defined(self) -> bool:
        """Is a prediction interval defined: a random-effects model over at least 3 rows from at
        least 3 independent trials (t on k − 2 df, Higgins et al. 2009; the between-*trial*
        spread it predicts cannot be learnt from the dose arms of one or two trials)?

        Returns
        -------
        bool
            For the ``"predict"`` rule: whether metafor's interval was computed.

        Examples
        --------
        >>> pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03]).pi_defined
        True
        >>> pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03], trials=1).pi_defined
        False
        """
        if self.pi_rule != "t(k-2)":
            return math.isfinite(self.pi_lower)
        return self.method != "FE" and self.k >= 3 and (self.trials is None or self.trials >= 3)

    @property
    def k_text(self) -> str:
        """``"k = 6"``, or ``"k = 6 comparisons from 4 trials"`` when arms of one trial share a
        control (the reader must see that k counts comparisons, not trials).

        Returns
        -------
        str

        Examples
        --------
        >>> pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03]).k_text
        'k = 3'
        >>> pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03], trials=1).k_text
        'k = 3 comparisons from 1 trial'
        """
        if self.trials is None or self.trials == self.k:
            return f"k = {self.k}"
        return f"k = {self.k} comparisons from {self.trials} trial{'s' if self.trials != 1 else ''}"

    def to_dict(self) -> dict:
        """All fields as a dict (``dataclasses.asdict``).

        Returns
        -------
        dict

        Examples
        --------
        >>> d = pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03]).to_dict()
        >>> d["k"], d["yi"]
        (3, (0.1, 0.3, 0.5))
        """
        return asdict(self)

    def to_frame(self):
        """One-row DataFrame of the scalar fields (without ``yi``, ``vi`` and ``weights``).

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> df = pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03]).to_frame()
        >>> df.shape, "weights" in df.columns
        ((1, 25), False)
        """
        import pandas as pd

        d = {k: v for k, v in self.to_dict().items() if k not in ("yi", "vi", "weights")}
        return pd.DataFrame([d])


def _f(x) -> float:
    return float(x)


def pool(yi, vi, method="REML", test="z", level=95.0, measure="GEN", pi="t(k-2)", tau2_ci=True,
         trials: int | None = None) -> PoolResult:
    """Pool effect sizes *yi* with sampling variances *vi* (metafor ``rma(yi, vi, method, test)``).

    *test* and *pi* as in :func:`fit_batch`; the book passes :data:`DEFAULT_TEST` (modified HKSJ).

    Parameters
    ----------
    yi, vi : array_like, 1-d
        Effect sizes and their sampling variances (finite; *vi* > 0).
    method : {"FE", "DL", "PM", "ML", "REML"}, default "REML"
        Estimator of τ² (``"FE"``: common-effect model).
    test : {"z", "knha", "adhoc"}, default "z"
        Test and CI rule, as :func:`fit_batch`.
    level : float, default 95.0
        Confidence level in percent.
    measure : str, default "GEN"
        Label of the effect measure, stored in the result.
    pi : {"t(k-2)", "predict"}, default "t(k-2)"
        Prediction-interval rule, as :func:`fit_batch`.
    tau2_ci : bool, default True
        Compute the Q-profile CIs of τ², I² and H² (:func:`tau2_confint`); False leaves them NaN,
        for a caller that shows none of them (the synthesis page's r-sensitivity grid).
    trials : int, optional
        Independent trials behind the rows (dose arms of one trial sharing a control count
        once). The t(k − 2) prediction interval then uses ``trials − 2`` df, and is not given
        (NaN) with fewer than 3 trials, whatever k: it predicts a new *trial*'s effect, and the
        arms of one or two trials say nothing about the spread between trials (Higgins et al.
        2009; IntHout et al. 2016). ``pi="predict"`` (metafor's) ignores it.

    Returns
    -------
    PoolResult
        Estimate, CI, PI, test, heterogeneity with Q-profile CIs, and weights.

    Raises
    ------
    ValueError
        If *yi* and *vi* are not non-empty 1-d arrays of equal length, or not finite,
        or a *vi* is not positive.

    Notes
    -----
    One row of :func:`fit_batch` plus :func:`tau2_confint` (random-effects models only);
    the formulas and references (Borenstein 2009, ch. 12; DerSimonian & Laird 1986;
    Viechtbauer 2005, 2007; Knapp & Hartung 2003; Röver et al. 2015; Higgins et al. 2009)
    are listed there.

    Examples
    --------
    >>> r = pool([0.1, 0.3, 0.5], [0.01, 0.02, 0.03], method="DL")
    >>> round(r.estimate, 4), round(r.tau2, 4)
    (0.2674, 0.0217)

    The 13 BCG trials (log risk ratios). metafor 3.8.1 ``rma(yi, vi, data=dat, method="REML")``
    gives estimate −0.7145, SE 0.1798, CI −1.0669 to −0.3622, τ² 0.3132, I² 92.22%,
    Q 152.23:

    >>> from glumeta.stats.effects import log_rr
    >>> tpos = [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27]
    >>> n1 = [123, 306, 231, 13598, 5069, 1541, 2545, 88391, 7499, 1716, 50634, 2498, 16913]
    >>> cpos = [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29]
    >>> n2 = [139, 303, 220, 12867, 5808, 1451, 629, 88391, 7277, 1665, 27338, 2341, 17854]
    >>> yi, vi = log_rr(tpos, n1, cpos, n2)
    >>> r = pool(yi, vi, method="REML", measure="RR")
    >>> round(r.estimate, 4), round(r.se, 4), round(r.ci_lower, 4), round(r.ci_upper, 4)
    (-0.7145, 0.1798, -1.0669, -0.3622)
    >>> round(r.tau2, 4), round(r.i2, 2), round(r.q, 2), r.q_df
    (0.3132, 92.22, 152.23, 12)

    The prediction interval on t(k − 2) (Higgins et al. 2009), and metafor's ``predict()``
    rule (z and the model SE: −1.8667 to 0.4376):

    >>> round(r.pi_lower, 4), round(r.pi_upper, 4)
    (-2.0084, 0.5793)
    >>> p = pool(yi, vi, method="REML", pi="predict")
    >>> round(p.pi_lower, 4), round(p.pi_upper, 4)
    (-1.8667, 0.4376)

    With the HKSJ test (metafor ``test="knha"``, and here also ``test="adhoc"``, since
    q > 1): CI −1.1084 to −0.3206, p 0.0019 on 12 df:

    >>> h = pool(yi, vi, method="REML", test="adhoc")
    >>> round(h.ci_lower, 4), round(h.ci_upper, 4), round(h.p, 4), h.df
    (-1.1084, -0.3206, 0.0019, 12.0)

    The other estimators (metafor: FE −0.4303; DL −0.7141, τ² 0.3088; PM −0.7150, 0.3181;
    ML −0.7112, 0.2800):

    >>> [(m, round(pool(yi, vi, method=m).estimate, 4)) for m in ("FE", "DL", "PM", "ML")]
    [('FE', -0.4303), ('DL', -0.7141), ('PM', -0.715), ('ML', -0.7112)]
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    if yi.ndim != 1 or yi.shape != vi.shape or yi.size == 0:
        raise ValueError("yi and vi must be non-empty 1-d arrays of equal length")
    if np.any(~np.isfinite(yi)) or np.any(~np.isfinite(vi)) or np.any(vi <= 0):
        raise ValueError("yi must be finite and vi finite and positive")
    fit = fit_batch(yi[None, :], vi[None, :], None, method, test, level, pi,
                    None if trials is None else np.array([int(trials)]))
    ci = tau2_confint(fit, level) if method != "FE" and tau2_ci else {
        "tau2": (np.array([np.nan]),) * 2, "i2": (np.array([np.nan]),) * 2, "h2": (np.array([np.nan]),) * 2}
    g = {k: v[0] for k, v in fit.items() if not k.startswith("_") and k != "weights"}
    return PoolResult(
        measure=measure, method=method, test=test, pi_rule=pi, level=level, k=int(g["k"]),
        estimate=_f(g["estimate"]), se=_f(g["se"]), ci_lower=_f(g["ci_lower"]), ci_upper=_f(g["ci_upper"]),
        pi_lower=_f(g["pi_lower"]), pi_upper=_f(g["pi_upper"]), z_or_t=_f(g["z_or_t"]),
        df=None if test == "z" or not math.isfinite(g["df"]) else _f(g["df"]), p=_f(g["p"]), tau2=_f(g["tau2"]),
        tau2_ci=(_f(ci["tau2"][0][0]), _f(ci["tau2"][1][0])), i2=_f(g["i2"]),
        i2_ci=(_f(ci["i2"][0][0]), _f(ci["i2"][1][0])), h2=_f(g["h2"]),
        h2_ci=(_f(ci["h2"][0][0]), _f(ci["h2"][1][0])), q=_f(g["q"]), q_df=int(g["q_df"]),
        q_p=_f(g["q_p"]), yi=tuple(map(float, yi)), vi=tuple(map(float, vi)),
        weights=tuple(map(float, fit["weights"][0])), trials=None if trials is None else int(trials),
    )


def mantel_haenszel(e1, n1, e2, n2, measure: str = "OR", level: float = 95.0) -> dict:
    """Mantel–Haenszel pooled odds ratio or risk ratio (metafor ``rma.mh``), on the log scale.

    * OR: statsmodels ``StratifiedTable`` — Mantel & Haenszel (1959) estimate with the
      Robins, Breslow & Greenland (1986) variance of its log.
    * RR: ``Σ a·n2/N / Σ c·n1/N`` (Mantel & Haenszel 1959) with the Greenland & Robins
      (1985) variance of its log, written here because statsmodels gives no SE for the
      pooled risk ratio.

    No continuity correction is needed (tables with a zero cell still contribute);
    tables with no events in either arm contribute nothing.

    Parameters
    ----------
    e1, n1 : array_like
        Events and size of arm 1 in each study.
    e2, n2 : array_like
        Events and size of arm 2 in each study.
    measure : {"OR", "RR"}, default "OR"
        Odds ratio or risk ratio.
    level : float, default 95.0
        Confidence level in percent.

    Returns
    -------
    dict
        ``measure``, ``method`` (``"MH"``), ``k``, ``estimate`` (log scale), ``se``,
        ``ci_lower``, ``ci_upper``, ``z_or_t`` and ``p`` (Wald z-test).

    Raises
    ------
    ValueError
        If *measure* is neither ``"OR"`` nor ``"RR"``.

    Notes
    -----
    With ``a, b, c, d`` the cells of study *i* and ``N = n1 + n2``: OR ``Σ(a·d/N) / Σ(b·c/N)``;
    RR ``Σ(a·n2/N) / Σ(c·n1/N)``, with ``Var(log RR) = P/(R·S)``,
    ``P = Σ(n1·n2·(a + c) − a·c·N)/N²`` (Greenland & Robins 1985). CI ``est ± z·SE``.

    Examples
    --------
    ``dat.bcg``; metafor 3.8.1 ``rma.mh(ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg,
    measure="OR")`` gives log OR −0.4734 (SE 0.0410, CI −0.5538 to −0.3930, z −11.5444),
    and with ``measure="RR"`` log RR −0.4537 (SE 0.0393, CI −0.5308 to −0.3766):

    >>> tpos = [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27]
    >>> n1 = [123, 306, 231, 13598, 5069, 1541, 2545, 88391, 7499, 1716, 50634, 2498, 16913]
    >>> cpos = [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29]
    >>> n2 = [139, 303, 220, 12867, 5808, 1451, 629, 88391, 7277, 1665, 27338, 2341, 17854]
    >>> r = mantel_haenszel(tpos, n1, cpos, n2, "OR")
    >>> [round(r[x], 4) for x in ("estimate", "se", "ci_lower", "ci_upper", "z_or_t")]
    [-0.4734, 0.041, -0.5538, -0.393, -11.5444]
    >>> r = mantel_haenszel(tpos, n1, cpos, n2, "RR")
    >>> [round(r[x], 4) for x in ("estimate", "se", "ci_lower", "ci_upper")], r["k"]
    ([-0.4537, 0.0393, -0.5308, -0.3766], 13)
    """
    e1, n1, e2, n2 = (np.asarray(x, dtype=float) for x in (e1, n1, e2, n2))
    a, b, c, d = e1, n1 - e1, e2, n2 - e2
    N = n1 + n2
    if measure == "OR":
        from statsmodels.stats.contingency_tables import StratifiedTable

        st = StratifiedTable(np.stack([np.stack([a, b], -1), np.stack([c, d], -1)], -2).transpose(1, 2, 0))
        est, se = float(st.logodds_pooled), float(st.logodds_pooled_se)
    elif measure == "RR":
        R = np.sum(a * n2 / N)
        S = np.sum(c * n1 / N)
        P = np.sum((n1 * n2 * (a + c) - a * c * N) / N**2)
        est, se = float(np.log(R / S)), float(np.sqrt(P / (R * S)))
    else:
        raise ValueError("measure must be 'OR' or 'RR'")
    q = float(special.ndtri(0.5 + level / 200))
    z = est / se
    return {"measure": measure, "method": "MH", "k": int(a.size), "estimate": est, "se": se,
            "ci_lower": est - q * se, "ci_upper": est + q * se, "z_or_t": z, "p": float(2 * special.ndtr(-abs(z)))}
