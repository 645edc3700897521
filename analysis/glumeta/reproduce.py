"""Re-computations of the numbers quoted in the source documents.

Rounding-aware helpers for checking reported statistics: CI, z and p from an
estimate and SE; the range of p compatible with a rounded estimate and CI;
Q from I²; which sample sizes reproduce a reported standardised effect; the
conditional (discordant-pair) odds ratio of a crossover and which discordant
counts reproduce a reported OR and CI; the usual tests of a 2×2 table; p from
t and F statistics (statcheck-style, Nuijten et al. 2016).
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
    """All true values that print as *value* at *decimals*: ``value ± 0.5·10^−decimals``."""
    h = 0.5 * 10.0 ** (-decimals)
    return value - h, value + h


def ci_z_p(est: float, se: float, df: float | None = None, level: float = 0.95) -> dict:
    """Wald CI, statistic and two-sided p from an estimate and its SE.

    ``est ± q·SE``, ``z = est/SE``, ``p = 2·(1 − Φ(|z|))`` (or Student t with *df*).
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
    """Cochran's Q implied by I² and k: ``Q = (k − 1)/(1 − I²)`` (Higgins & Thompson 2002, I² = (Q − df)/Q)."""
    return (k - 1) / (1 - i2_percent / 100)


def effect_size_candidates(md: float, se: float, n_pairs, target: float | None = None, decimals: int = 2):
    """Standardised effect sizes of a mean difference for candidate arm sizes.

    With SD recovered from the SE, ``SD = SE/√(1/n1 + 1/n2)`` (Cochrane Handbook
    §6.5.2.3), Cohen's ``d = |MD|/SD`` and Hedges' ``g = J·d``. Returns a DataFrame
    with ``n1, n2, sd, d, g`` and, with *target*, whether each rounds to it.
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

    ``OR = b/c`` where *b* pairs had the event only under treatment and *c* only
    under control; ``SE(log OR) = √(1/b + 1/c)`` (Breslow & Day 1980; Agresti 2013,
    §11.1.4). Undefined (infinite) when ``c = 0``.
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
    (Altman & Bland 2011): ``SE = (ln hi − ln lo)/(2·1.96)``, ``z = ln(est)/SE``."""
    se = (math.log(hi) - math.log(lo)) / (2 * Z975)
    z = math.log(est) / se
    return {"se_log": se, "z": z, "p": float(2 * special.ndtr(-abs(z))),
            "centre": math.exp((math.log(hi) + math.log(lo)) / 2)}


def p_from_t(t: float, df: float) -> float:
    """Two-sided p of a t statistic (statcheck-style recomputation)."""
    return float(2 * special.stdtr(df, -abs(t)))


def p_from_f(f: float, df1: float, df2: float) -> float:
    """Upper-tail p of an F statistic."""
    return float(special.fdtrc(df1, df2, f))
