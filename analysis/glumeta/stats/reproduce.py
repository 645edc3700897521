"""Re-computations of the numbers quoted in the source documents.

Rounding-aware helpers for checking reported statistics: CI, z and p from an
estimate and SE; the range of p compatible with a rounded estimate and CI;
Q from I²; which sample sizes reproduce a reported standardised effect; the
conditional (discordant-pair) odds ratio of a crossover and which discordant
counts reproduce a reported OR and CI; the usual tests of a 2×2 table; p from
t and F statistics (statcheck-style, Nuijten et al. 2016).

The Examples sections run as doctests; their numbers can be checked by hand or, where
said, against base R (``chisq.test``, ``fisher.test``, ``mcnemar.test``, ``pt``, ``pf``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import special

from .effects import Z975, hedges_j

__all__ = [
    "ci_z_p",
    "p_range_from_rounded_ci",
    "q_from_i2",
    "rounding_interval",
    "effect_size_candidates",
    "conditional_or",
    "discordant_search",
    "mcnemar",
    "two_by_two_tests",
    "ratio_p_from_ci",
    "p_from_t",
    "p_from_f",
]


def rounding_interval(value: float, decimals: int) -> tuple[float, float]:
    """All true values that print as *value* at *decimals*: ``value ± 0.5·10^−decimals``.

    Parameters
    ----------
    value : float
        The printed number.
    decimals : int
        How many decimals it was printed with.

    Returns
    -------
    (lower, upper) : tuple of float
        The interval's ends; callers treat it as half-open, ``[lower, upper)``.

    Notes
    -----
    ``value ± ½·10^(−decimals)``: rounding to *decimals* maps exactly this interval onto
    *value* (the same rule as :func:`glumeta.verdicts.interval`).

    Examples
    --------
    >>> rounding_interval(0.5, 1)
    (0.45, 0.55)
    >>> rounding_interval(92.3, 1)
    (92.25, 92.35)
    """
    h = 0.5 * 10.0 ** (-decimals)
    return value - h, value + h


def ci_z_p(est: float, se: float, df: float | None = None, level: float = 0.95) -> dict:
    """Wald CI, statistic and two-sided p from an estimate and its SE.

    Parameters
    ----------
    est : float
        The estimate (a difference, or a log ratio).
    se : float
        Its standard error.
    df : float, optional
        Degrees of freedom for a t reference; ``None`` (default) for z.
    level : float, default 0.95
        Confidence level as a fraction.

    Returns
    -------
    dict
        ``ci_lower``, ``ci_upper``, ``stat`` (z or t), ``p`` (two-sided) and ``se``.

    Notes
    -----
    ``est ± q·SE``, ``z = est/SE``, ``p = 2·(1 − Φ(|z|))`` (or Student t with *df*), with
    ``q = Φ⁻¹(1 − α/2)`` or the t quantile ``t_{df, 1−α/2}``.

    Examples
    --------
    An estimate of 0.5 with SE 0.2: ``z = 2.5``, ``p = 2Φ(−2.5) = 0.0124`` and CI
    ``0.5 ± 1.96·0.2``; with t on 10 df, R ``2*pt(-2.5, 10)`` gives 0.0314:

    >>> r = ci_z_p(0.5, 0.2)
    >>> round(r["ci_lower"], 4), round(r["ci_upper"], 4), r["stat"], round(r["p"], 4)
    (0.108, 0.892, 2.5, 0.0124)
    >>> round(ci_z_p(0.5, 0.2, df=10)["p"], 4)
    0.0314
    """
    if df is None:
        q = float(special.ndtri(0.5 + level / 2))
        stat = est / se
        p = float(2 * special.ndtr(-abs(stat)))
    else:
        q = float(special.stdtrit(df, 0.5 + level / 2))
        stat = est / se
        p = float(2 * special.stdtr(df, -abs(stat)))
    return {"ci_lower": est - q * se, "ci_upper": est + q * se, "stat": stat, "p": p, "se": se}


def p_range_from_rounded_ci(est: float, lo: float, hi: float, decimals: int, log: bool = False) -> tuple[float, float]:
    """Range of z-test p-values compatible with an estimate and 95% CI printed at *decimals*.

    Each printed number stands for an interval of half a unit in the last place;
    SE = (hi − lo)/(2·1.96) and p = 2Φ(−|est|/SE) are monotone in each, so the
    extremes are at the corners. With *log*, the bounds are ratios (analysed on the log scale).

    Parameters
    ----------
    est, lo, hi : float
        The printed estimate and 95% confidence limits.
    decimals : int
        Decimals they were printed with.
    log : bool, default False
        True for ratios (OR, RR, HR): the test is on the log scale.

    Returns
    -------
    (p_min, p_max) : tuple of float
        Smallest and largest two-sided p over the 8 corners of the rounding box.

    Notes
    -----
    ``SE = (hi − lo)/(2·z_{0.975})`` (Cochrane Handbook §6.3.1), ``p = 2Φ(−|est|/SE)``
    (Altman & Bland 2011), evaluated at ``est ± ½·10^(−d)``, ``lo ± ½·10^(−d)``,
    ``hi ± ½·10^(−d)``. Corners where a ratio bound is ≤ 0 or SE ≤ 0 are skipped.

    Examples
    --------
    0.5 (0.1 to 0.9) at one decimal: the largest p is at 0.45 (0.05 to 0.95), where
    ``z = 0.45/(0.9/3.92) = 1.96``; the smallest at 0.55 (0.15 to 0.85), ``z = 3.08``:

    >>> p_min, p_max = p_range_from_rounded_ci(0.5, 0.1, 0.9, 1)
    >>> round(p_min, 5), round(p_max, 4)
    (0.00207, 0.05)

    A ratio, 0.50 (0.25 to 1.00):

    >>> p_min, p_max = p_range_from_rounded_ci(0.50, 0.25, 1.00, 2, log=True)
    >>> round(p_min, 4), round(p_max, 4)
    (0.0429, 0.0578)
    """
    ps = []
    for e, l, h in itertools.product(rounding_interval(est, decimals), rounding_interval(lo, decimals),
                                     rounding_interval(hi, decimals)):
        if log:
            if min(e, l, h) <= 0:
                continue
            e, l, h = math.log(e), math.log(l), math.log(h)
        se = (h - l) / (2 * Z975)
        if se <= 0:
            continue
        ps.append(float(2 * special.ndtr(-abs(e) / se)))
    return min(ps), max(ps)


def q_from_i2(i2_percent: float, k: int) -> float:
    """Cochran's Q implied by I² and k: ``Q = (k − 1)/(1 − I²)`` (Higgins & Thompson 2002, I² = (Q − df)/Q).

    Parameters
    ----------
    i2_percent : float
        I² in percent (below 100).
    k : int
        Number of studies.

    Returns
    -------
    float
        Q on ``k − 1`` df.

    Notes
    -----
    Inverts ``I² = (Q − df)/Q`` with ``df = k − 1`` (Higgins & Thompson 2002), valid when
    I² > 0 (an I² of 0 only says ``Q ≤ df``).

    Examples
    --------
    I² = 50% with 5 studies: ``Q = 4/0.5 = 8``, and indeed ``(8 − 4)/8 = 50%``:

    >>> q_from_i2(50, 5)
    8.0
    """
    return (k - 1) / (1 - i2_percent / 100)


def effect_size_candidates(md: float, se: float, n_pairs, target: float | None = None, decimals: int = 2):
    """Standardised effect sizes of a mean difference for candidate arm sizes.

    With SD recovered from the SE, ``SD = SE/√(1/n1 + 1/n2)`` (Cochrane Handbook
    §6.5.2.3), Cohen's ``d = |MD|/SD`` and Hedges' ``g = J·d``. Returns a DataFrame
    with ``n1, n2, sd, d, g`` and, with *target*, whether each rounds to it.

    Parameters
    ----------
    md : float
        Mean difference.
    se : float
        Its standard error.
    n_pairs : iterable of (int, int)
        Candidate arm sizes ``(n1, n2)``.
    target : float, optional
        A reported standardised effect to compare with.
    decimals : int, default 2
        Decimals *target* was printed with.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``n1, n2, sd, d, g``, and with *target* ``d_matches`` and
        ``g_matches`` (does the value fall in *target*'s rounding interval).

    Notes
    -----
    ``SD = SE/√(1/n1 + 1/n2)`` (Cochrane Handbook §6.5.2.3); ``d = |MD|/SD``;
    ``g = J(n1 + n2 − 2)·d`` with the exact ``J`` of Hedges (1981)
    (:func:`glumeta.stats.effects.hedges_j`).

    Examples
    --------
    MD = −5 with SE 2, reported as d = 0.79: with 20 + 20 patients
    ``SD = 2/√0.1 = 6.3246`` and ``d = 0.7906``; 10 + 30 does not reproduce it:

    >>> df = effect_size_candidates(-5, 2, [(20, 20), (19, 21), (10, 30)], target=0.79)
    >>> df[["n1", "n2", "sd", "d", "g", "d_matches"]].round(4)
       n1  n2      sd       d       g  d_matches
    0  20  20  6.3246  0.7906  0.7748       True
    1  19  21  6.3166  0.7916  0.7758       True
    2  10  30  5.4772  0.9129  0.8947      False
    """
    import pandas as pd

    rows = []
    for n1, n2 in n_pairs:
        sd = se / math.sqrt(1 / n1 + 1 / n2)
        d = abs(md) / sd
        g = float(hedges_j(n1 + n2 - 2)) * d
        row = {"n1": n1, "n2": n2, "sd": sd, "d": d, "g": g}
        if target is not None:
            lo, hi = rounding_interval(target, decimals)
            row["d_matches"] = lo <= d < hi
            row["g_matches"] = lo <= g < hi
        rows.append(row)
    return pd.DataFrame(rows)


def conditional_or(b: int, c: int, level: float = 0.95) -> dict:
    """Conditional (matched-pairs) odds ratio from discordant pairs.

    Parameters
    ----------
    b : int
        Pairs with the event only under treatment.
    c : int
        Pairs with the event only under control.
    level : float, default 0.95
        Confidence level as a fraction.

    Returns
    -------
    dict
        ``or``, ``ci_lower``, ``ci_upper`` and ``se_log``; when *b* or *c* is 0, only
        ``or`` (inf, 0 or NaN) with NaN limits.

    Notes
    -----
    ``OR = b/c`` where *b* pairs had the event only under treatment and *c* only
    under control; ``SE(log OR) = √(1/b + 1/c)`` (Breslow & Day 1980; Agresti 2013,
    §11.1.4). Undefined (infinite) when ``c = 0``. CI ``exp(log OR ± z·SE)``.

    Examples
    --------
    12 and 4 discordant pairs: ``OR = 3``, ``SE = √(1/12 + 1/4) = 0.5774``, CI
    ``exp(ln 3 ± 1.96·0.5774)``:

    >>> r = conditional_or(12, 4)
    >>> r["or"], round(r["se_log"], 4), round(r["ci_lower"], 2), round(r["ci_upper"], 2)
    (3.0, 0.5774, 0.97, 9.3)
    >>> conditional_or(3, 0)["or"]
    inf
    """
    if b == 0 or c == 0:
        return {"or": math.inf if c == 0 and b > 0 else (0.0 if b == 0 and c > 0 else math.nan),
                "ci_lower": math.nan, "ci_upper": math.nan}
    q = float(special.ndtri(0.5 + level / 2))
    lo = math.log(b / c)
    se = math.sqrt(1 / b + 1 / c)
    return {"or": b / c, "ci_lower": math.exp(lo - q * se), "ci_upper": math.exp(lo + q * se), "se_log": se}


def discordant_search(or_: float, lo: float, hi: float, n: int, decimals=(1, 2, 2)):
    """All discordant counts (b, c) with b + c ≤ n whose conditional OR and CI print as reported.

    *decimals* gives the printed precision of (OR, lower, upper).

    Parameters
    ----------
    or_, lo, hi : float
        The reported conditional OR and its 95% confidence limits.
    n : int
        Number of pairs (an upper bound for ``b + c``).
    decimals : tuple of int, default (1, 2, 2)
        Printed decimals of *or_*, *lo* and *hi*.

    Returns
    -------
    list of (int, int)
        Every ``(b, c)`` with ``b, c ≥ 1`` and ``b + c ≤ n`` whose :func:`conditional_or`
        rounds to all three reported numbers.

    Notes
    -----
    A brute-force search over :func:`conditional_or` (Breslow & Day 1980), each value
    compared with the half-open rounding interval of :func:`rounding_interval`.

    Examples
    --------
    OR 3.0 (0.97 to 9.30) from 20 pairs is reproduced only by 12 and 4 discordant pairs
    (6 and 2 give the same OR with a wider CI):

    >>> discordant_search(3.0, 0.97, 9.30, 20)
    [(12, 4)]
    """
    hits = []
    for b in range(1, n + 1):
        for c in range(1, n + 1 - b):
            r = conditional_or(b, c)
            ok = all(rounding_interval(v, d)[0] <= x < rounding_interval(v, d)[1]
                     for x, v, d in zip((r["or"], r["ci_lower"], r["ci_upper"]), (or_, lo, hi), decimals))
            if ok:
                hits.append((b, c))
    return hits


def mcnemar(b: int, c: int) -> dict:
    """McNemar's test on discordant pairs: exact (binomial) and χ² with/without continuity correction.

    Uses statsmodels ``mcnemar`` (McNemar 1947; Edwards 1948 correction).

    Parameters
    ----------
    b, c : int
        The two discordant counts.

    Returns
    -------
    dict
        ``exact_p`` (two-sided binomial), ``chi2`` and ``chi2_p`` (uncorrected), and
        ``chi2_cc_p`` (with the continuity correction).

    Notes
    -----
    ``χ² = (b − c)²/(b + c)`` on 1 df (McNemar 1947); corrected
    ``(|b − c| − 1)²/(b + c)`` (Edwards 1948); exact: ``b ~ Binomial(b + c, ½)``.

    Examples
    --------
    12 and 4: ``χ² = 64/16 = 4``. R ``mcnemar.test(matrix(c(0, 12, 4, 0), 2))`` gives
    p = 0.0801 (corrected) and 0.0455 (``correct=FALSE``); ``binom.test(4, 16)`` 0.0768:

    >>> r = mcnemar(12, 4)
    >>> r["chi2"], round(r["chi2_p"], 4), round(r["chi2_cc_p"], 4), round(r["exact_p"], 4)
    (4.0, 0.0455, 0.0801, 0.0768)
    """
    from statsmodels.stats.contingency_tables import mcnemar as _mc

    table = [[0, b], [c, 0]]
    return {"exact_p": float(_mc(table, exact=True).pvalue),
            "chi2": float(_mc(table, exact=False, correction=False).statistic),
            "chi2_p": float(_mc(table, exact=False, correction=False).pvalue),
            "chi2_cc_p": float(_mc(table, exact=False, correction=True).pvalue)}


def two_by_two_tests(e1: int, n1: int, e2: int, n2: int) -> dict:
    """p-values of the usual tests of a 2×2 table (scipy.stats).

    Pearson χ² without and with Yates' continuity correction
    (``chi2_contingency``), Fisher's exact test, two-sided (``fisher_exact``),
    and the smallest expected cell count (χ² is unreliable below 5; Cochran 1954).

    Parameters
    ----------
    e1, n1 : int
        Events and size of arm 1.
    e2, n2 : int
        Events and size of arm 2.

    Returns
    -------
    dict
        ``pearson_p``, ``pearson_chi2``, ``yates_p``, ``yates_chi2``, ``fisher_p`` and
        ``min_expected``.

    Notes
    -----
    Pearson ``χ² = Σ (O − E)²/E`` on 1 df, with Yates' correction
    ``Σ (|O − E| − ½)²/E``; expected counts ``E = row total × column total / N``.

    Examples
    --------
    The first trial of ``dat.bcg`` (4/123 vs 11/139). R ``chisq.test(matrix(c(4, 119, 11,
    128), 2, byrow=TRUE), correct=FALSE)`` gives χ² 2.6273, p 0.1050; with the correction
    1.8346, p 0.1756; ``fisher.test`` p 0.1182:

    >>> r = two_by_two_tests(4, 123, 11, 139)
    >>> round(r["pearson_chi2"], 4), round(r["pearson_p"], 4), round(r["yates_p"], 4)
    (2.6273, 0.105, 0.1756)
    >>> round(r["fisher_p"], 4), round(r["min_expected"], 2)
    (0.1182, 7.04)
    """
    from scipy.stats import chi2_contingency, fisher_exact

    t = np.array([[e1, n1 - e1], [e2, n2 - e2]])
    chi_u = chi2_contingency(t, correction=False)
    chi_c = chi2_contingency(t, correction=True)
    return {"pearson_p": float(chi_u.pvalue), "pearson_chi2": float(chi_u.statistic),
            "yates_p": float(chi_c.pvalue), "yates_chi2": float(chi_c.statistic),
            "fisher_p": float(fisher_exact(t).pvalue), "min_expected": float(chi_u.expected_freq.min())}


def ratio_p_from_ci(est: float, lo: float, hi: float) -> dict:
    """z-test p-value of a ratio (HR, OR, RR) recovered from its 95% CI on the log scale
    (Altman & Bland 2011): ``SE = (ln hi − ln lo)/(2·1.96)``, ``z = ln(est)/SE``.

    Parameters
    ----------
    est : float
        The reported ratio.
    lo, hi : float
        Its 95% confidence limits.

    Returns
    -------
    dict
        ``se_log``, ``z``, two-sided ``p``, and ``centre``, the geometric mean of the
        limits (equal to *est* when the CI is symmetric on the log scale).

    Notes
    -----
    ``SE = (ln hi − ln lo)/(2·z_{0.975})``, ``z = ln(est)/SE``, ``p = 2Φ(−|z|)``
    (Altman & Bland 2011).

    Examples
    --------
    A ratio of 0.5 with CI 0.25 to 1.00 is just significant: ``z = −1.96``, p = 0.05:

    >>> r = ratio_p_from_ci(0.5, 0.25, 1.0)
    >>> round(r["z"], 4), round(r["p"], 4), r["centre"]
    (-1.96, 0.05, 0.5)
    """
    se = (math.log(hi) - math.log(lo)) / (2 * Z975)
    z = math.log(est) / se
    return {"se_log": se, "z": z, "p": float(2 * special.ndtr(-abs(z))),
            "centre": math.exp((math.log(hi) + math.log(lo)) / 2)}


def p_from_t(t: float, df: float) -> float:
    """Two-sided p of a t statistic (statcheck-style recomputation).

    Parameters
    ----------
    t : float
        The t statistic.
    df : float
        Its degrees of freedom.

    Returns
    -------
    float
        ``2·P(T_df ≥ |t|)``.

    Notes
    -----
    As statcheck (Nuijten et al. 2016) recomputes a reported ``t(df) = x, p = ...``.

    Examples
    --------
    R ``2*pt(-2, 10)`` gives 0.07338803:

    >>> round(p_from_t(2.0, 10), 8)
    0.07338803
    """
    return float(2 * special.stdtr(df, -abs(t)))


def p_from_f(f: float, df1: float, df2: float) -> float:
    """Upper-tail p of an F statistic.

    Parameters
    ----------
    f : float
        The F statistic.
    df1, df2 : float
        Numerator and denominator degrees of freedom.

    Returns
    -------
    float
        ``P(F_{df1, df2} ≥ f)``.

    Notes
    -----
    As statcheck (Nuijten et al. 2016) recomputes a reported ``F(df1, df2) = x``.
    With ``df1 = 1``, ``F = t²`` and the p equals the two-sided p of :func:`p_from_t`.

    Examples
    --------
    R ``pf(4, 1, 10, lower.tail=FALSE)`` gives 0.07338803, the same as ``t = 2`` on 10 df:

    >>> round(p_from_f(4.0, 1, 10), 8)
    0.07338803
    """
    return float(special.fdtrc(df1, df2, f))
