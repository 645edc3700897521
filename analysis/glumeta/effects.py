"""Effect sizes and conversions (the ``escalc`` layer): study data → ``yi``, ``vi``.

Every function is vectorised over numpy arrays and names its formula's source.
Conventions follow metafor's ``escalc()`` so that results can be compared
number for number (tests/reference/metafor_reference.R).

Sign convention: arm 1 minus arm 2 (arm 1 = MDD / active treatment).
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "Z975",
    "hedges_j",
    "smd",
    "cohen_d",
    "md",
    "sd_from_sem",
    "mean_sd_from_quartiles",
    "skewness_test",
    "se_from_ci",
    "se_from_p",
    "smd_from_md_se",
    "crossover_smd",
    "log_rr",
    "log_or",
    "rd",
    "zero_cell_adjust",
    "skewness_test_range",
    "skewness_test_fivenum",
]

from .constants import Z975  # noqa: E402  (re-exported: the CI multiplier, computed once)


def _a(x):
    return np.asarray(x, dtype=float)


def hedges_j(m):
    """Exact small-sample correction factor of Hedges (1981).

    ``J(m) = Γ(m/2) / (√(m/2) · Γ((m−1)/2))`` with ``m = n1 + n2 − 2``
    (Hedges 1981, eq. 6e; metafor ``.cmicalc``). The familiar
    ``1 − 3/(4m − 1)`` is its approximation and is not used.
    """
    m = _a(m)
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def _pooled_sd(sd1, n1, sd2, n2):
    """Pooled within-group SD, ``√(((n1−1)s1² + (n2−1)s2²)/(n1+n2−2))`` (Borenstein 2009, eq. 4.12)."""
    return np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))


def cohen_d(m1, sd1, n1, m2, sd2, n2):
    """Cohen's d with the large-sample variance.

    ``d = (m1 − m2)/s_pooled``; ``v = 1/n1 + 1/n2 + d²/(2(n1+n2))``
    (Borenstein 2009, eqs. 4.18–4.20; Hedges & Olkin 1985, eq. 5.8).

    Returns
    -------
    (d, v) : tuple of ndarray
    """
    m1, sd1, n1, m2, sd2, n2 = map(_a, (m1, sd1, n1, m2, sd2, n2))
    d = (m1 - m2) / _pooled_sd(sd1, n1, sd2, n2)
    v = 1 / n1 + 1 / n2 + d**2 / (2 * (n1 + n2))
    return d, v


def smd(m1, sd1, n1, m2, sd2, n2):
    """Standardised mean difference as Hedges' g, metafor ``escalc(measure="SMD")``.

    ``g = J(n1+n2−2) · (m1 − m2)/s_pooled`` with the exact ``J`` of
    :func:`hedges_j`; large-sample variance ``v = 1/n1 + 1/n2 + g²/(2(n1+n2))``
    (Hedges 1981; Hedges & Olkin 1985, eq. 5.8; metafor ``vtype="LS"``).

    Returns
    -------
    (g, v) : tuple of ndarray

    Examples
    --------
    >>> g, v = smd(1.0, 1.0, 20, 0.0, 1.0, 20)
    >>> round(float(g), 4), round(float(v), 5)
    (0.9801, 0.11201)
    """
    m1, sd1, n1, m2, sd2, n2 = map(_a, (m1, sd1, n1, m2, sd2, n2))
    g = hedges_j(n1 + n2 - 2) * (m1 - m2) / _pooled_sd(sd1, n1, sd2, n2)
    v = 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
    return g, v


def md(m1, sd1, n1, m2, sd2, n2):
    """Raw mean difference with the heteroscedastic variance.

    ``MD = m1 − m2``; ``v = s1²/n1 + s2²/n2`` (Borenstein 2009, eq. 4.3;
    metafor ``escalc(measure="MD")``, ``vtype="LS"``).
    """
    m1, sd1, n1, m2, sd2, n2 = map(_a, (m1, sd1, n1, m2, sd2, n2))
    return m1 - m2, sd1**2 / n1 + sd2**2 / n2


def sd_from_sem(sem, n):
    """SD from a standard error of the mean: ``SD = SEM·√n`` (Cochrane Handbook §6.5.2.2)."""
    return _a(sem) * np.sqrt(_a(n))


def mean_sd_from_quartiles(q1, median, q3, n):
    """Mean and SD from the median and quartiles (scenario S2/S3: q1, median, q3, n).

    Mean: Luo et al. (2018), eq. 11 — ``x̄ ≈ w·(q1+q3)/2 + (1−w)·median`` with
    ``w = 0.7 + 0.39/n``.
    SD: Wan et al. (2014), eq. 16 — ``S ≈ (q3 − q1) / η(n)`` with
    ``η(n) = 2·Φ⁻¹((0.75n − 0.125)/(n + 0.25))``.
    Both assume approximate normality; the values are estimates, flagged as
    converted wherever they are shown. metafor ``conv.fivenum(method=c("luo", "wan"))``
    implements the same formulas.
    """
    q1, median, q3, n = map(_a, (q1, median, q3, n))
    w = 0.7 + 0.39 / n
    mean = w * (q1 + q3) / 2 + (1 - w) * median
    eta = 2 * special.ndtri((0.75 * n - 0.125) / (n + 0.25))
    return mean, (q3 - q1) / eta


def skewness_test(q1, median, q3, n):
    """Skewness test for data summarised by the median and quartiles (scenario S2).

    Shi, Luo, Wan, Liu, Liu, Bian & Tong (2023), *Stat Methods Med Res* 32:1338–1360:
    ``T = |q1 + q3 − 2·median| / (q3 − q1)`` (Bowley's quartile skewness, in absolute
    value) against the critical value ``c(n) = 2.65/√n − 6/n²`` (5% level); ``T ≥ c``
    rejects normality, and the median/IQR → mean/SD conversion (Luo 2018; Wan 2014),
    which assumes normal data, should not be used as if it were reported. The same
    test and constants as metafor ``conv.fivenum(test=TRUE)`` (metafor ≥ 4.0).

    Returns ``(T, c, skewed)`` as arrays.

    Examples
    --------
    Islam 2020's control group (serum glutamate, µmol/L; data/blood_glutamate.csv):

    >>> t, c, skewed = skewness_test(29.45, 52.5, 103, 248)
    >>> round(float(t), 4), round(float(c), 4), bool(skewed)
    (0.3732, 0.1682, True)
    """
    q1, median, q3, n = map(_a, (q1, median, q3, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(q1 + q3 - 2 * median) / (q3 - q1)
    c = 2.65 / np.sqrt(n) - 6 / n**2
    return t, c, t >= c


def se_from_ci(lower, upper, level=0.95):
    """SE from a symmetric confidence interval on the natural scale.

    ``SE = (upper − lower)/(2·z_{1−α/2})`` (Cochrane Handbook §6.3.1). For
    ratios, pass the log limits.
    """
    z = special.ndtri(0.5 + level / 2)
    return (_a(upper) - _a(lower)) / (2 * z)


def se_from_p(estimate, p, df=None):
    """SE from an estimate and its exact two-sided p-value.

    ``SE = |estimate| / q`` with ``q = Φ⁻¹(1 − p/2)`` (z) or the t quantile with
    *df* degrees of freedom (Cochrane Handbook §6.3.2; Altman & Bland 2011).
    Imprecise when p is printed to few decimals and large.
    """
    p = _a(p)
    if df is None:
        q = special.ndtri(1 - p / 2)
    else:
        q = special.stdtrit(_a(df), 1 - p / 2)
    return np.abs(_a(estimate)) / q


def smd_from_md_se(md_, se, n1, n2):
    """SMD (Hedges' g) from a mean difference and its SE with arm sizes.

    Assumes the SE came from a two-sample comparison with a common SD:
    ``s_pooled = SE / √(1/n1 + 1/n2)`` (Cochrane Handbook §6.5.2.3), then
    ``g = J·MD/s_pooled`` and the large-sample variance of :func:`smd`. With an
    adjusted (ANCOVA / MMRM) SE the result is an *adjusted* SMD, usually larger
    than one based on raw SDs.
    """
    md_, se, n1, n2 = map(_a, (md_, se, n1, n2))
    sp = se / np.sqrt(1 / n1 + 1 / n2)
    g = hedges_j(n1 + n2 - 2) * md_ / sp
    return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


def crossover_smd(md_, se, n, r):
    """Parallel-equivalent SMD from a crossover trial's paired mean difference.

    With the within-patient SE of the difference, ``SD_diff = SE·√n`` and
    ``d_z = MD/SD_diff``. Under a within-patient correlation *r* between the two
    periods, the SD of single measurements is ``SD = SD_diff/√(2(1−r))`` and
    ``d = MD/SD = d_z·√(2(1−r))``; its variance is
    ``(1/n + d²/(2n))·2(1−r)`` (Elbourne et al. 2002; Cochrane Handbook §23.2.7.2).
    *r* is an assumption and must be reported with the result.

    Returns
    -------
    (d, v, d_z) : tuple of ndarray
    """
    md_, se, n, r = map(_a, (md_, se, n, r))
    d_z = md_ / (se * np.sqrt(n))
    d = d_z * np.sqrt(2 * (1 - r))
    v = (1 / n + d**2 / (2 * n)) * 2 * (1 - r)
    return d, v, d_z


def zero_cell_adjust(a, b, c, d, add=0.5, to="only0"):
    """Continuity correction as metafor ``escalc(add=1/2, to="only0")``.

    Adds *add* to every cell of a 2×2 table that has a zero cell (``"only0"``),
    to all tables (``"all"``), or none (``"none"``).
    """
    a, b, c, d = map(_a, (a, b, c, d))
    if to == "none":
        return a, b, c, d
    if to == "all":
        mask = np.ones_like(a, dtype=bool)
    else:
        mask = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    return tuple(np.where(mask, x + add, x) for x in (a, b, c, d))


def log_rr(e1, n1, e2, n2, add=0.5, to="only0"):
    """Log risk ratio ``log((a/n1)/(c/n2))``, ``v = 1/a − 1/n1 + 1/c − 1/n2`` (Borenstein 2009, eq. 5.1–5.3)."""
    a, b, c, d = zero_cell_adjust(_a(e1), _a(n1) - _a(e1), _a(e2), _a(n2) - _a(e2), add, to)
    n1a, n2a = a + b, c + d
    return np.log((a / n1a) / (c / n2a)), 1 / a - 1 / n1a + 1 / c - 1 / n2a


def log_or(e1, n1, e2, n2, add=0.5, to="only0"):
    """Log odds ratio ``log(ad/bc)``, ``v = 1/a + 1/b + 1/c + 1/d`` (Borenstein 2009, eq. 5.8–5.10)."""
    a, b, c, d = zero_cell_adjust(_a(e1), _a(n1) - _a(e1), _a(e2), _a(n2) - _a(e2), add, to)
    return np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d


def rd(e1, n1, e2, n2, add=0.5, to="only0"):
    """Risk difference ``p1 − p2``, ``v = p1(1−p1)/n1 + p2(1−p2)/n2`` (Borenstein 2009, eq. 5.13).

    As metafor ``escalc(measure="RD")`` with its defaults, a table with a zero cell
    gets *add* in every cell first (otherwise a 0/n arm would have zero variance).
    """
    a, b, c, d = zero_cell_adjust(_a(e1), _a(n1) - _a(e1), _a(e2), _a(n2) - _a(e2), add, to)
    n1a, n2a = a + b, c + d
    p1, p2 = a / n1a, c / n2a
    return p1 - p2, p1 * (1 - p1) / n1a + p2 * (1 - p2) / n2a


def skewness_test_range(minimum, median, maximum, n):
    """Skewness test for data summarised by the median and range (scenario S1).

    Shi, Luo, Wan, Liu, Liu, Bian & Tong (2023), *Stat Methods Med Res* 32:1338–1360:
    ``T = |min + max − 2·median| / (max − min)`` against the critical value
    ``c(n) = 1/log(n + 9) + 2.5/(n + 1)`` (5% level); ``T ≥ c`` rejects normality. The same
    test and constants as metafor ``conv.fivenum(test=TRUE)``, case 1 (metafor ≥ 4.0).

    Parameters
    ----------
    minimum, median, maximum : array_like
        Sample minimum, median and maximum.
    n : array_like
        Sample size.

    Returns
    -------
    tuple of arrays
        ``(T, c, skewed)``.

    Examples
    --------
    metafor's ``conv.fivenum`` help-page example (min 2, median 6, max 14, n = 20; not significant):

    >>> t, c, skewed = skewness_test_range(2, 6, 14, 20)
    >>> round(float(t), 4), round(float(c), 4), bool(skewed)
    (0.3333, 0.416, False)
    """
    lo, median, hi, n = map(_a, (minimum, median, maximum, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(lo + hi - 2 * median) / (hi - lo)
    c = 1 / np.log(n + 9) + 2.5 / (n + 1)
    return t, c, t >= c


def skewness_test_fivenum(minimum, q1, median, q3, maximum, n):
    """Skewness test for data summarised by the full five-number summary (scenario S3).

    Shi, Luo, Wan, Liu, Liu, Bian & Tong (2023), *Stat Methods Med Res* 32:1338–1360:
    ``T = max(2.65·log(0.6n)/√n · |min + max − 2·median|/(max − min), |q1 + q3 − 2·median|/(q3 − q1))``
    against the critical value ``c(n) = 3/√n − 40/n³`` (5% level); ``T ≥ c`` rejects normality.
    The same test and constants as metafor ``conv.fivenum(test=TRUE)``, case 3 (metafor ≥ 4.0).

    Parameters
    ----------
    minimum, q1, median, q3, maximum : array_like
        Sample minimum, first quartile, median, third quartile and maximum.
    n : array_like
        Sample size.

    Returns
    -------
    tuple of arrays
        ``(T, c, skewed)``.

    Examples
    --------
    metafor's ``conv.fivenum`` help-page example 2 (right-skewed: q3 and max far above the median):

    >>> t, c, skewed = skewness_test_fivenum(2, 4, 6, 14, 20, 20)
    >>> round(float(t), 4), round(float(c), 4), bool(skewed)
    (0.818, 0.6658, True)
    """
    lo, q1, median, q3, hi, n = map(_a, (minimum, q1, median, q3, maximum, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        t_range = np.abs(lo + hi - 2 * median) / (hi - lo)
        t_iqr = np.abs(q1 + q3 - 2 * median) / (q3 - q1)
    t = np.maximum(2.65 * np.log(0.6 * n) / np.sqrt(n) * t_range, t_iqr)
    c = 3 / np.sqrt(n) - 40 / n**3
    return t, c, t >= c
