"""Effect sizes and conversions (the ``escalc`` layer): study data → ``yi``, ``vi``.

Every function is vectorised over numpy arrays and names its formula's source.
Conventions follow metafor's ``escalc()`` so that results can be compared
number for number (tests/reference/metafor_reference.R).

Sign convention: arm 1 minus arm 2 (arm 1 = MDD / active treatment).

The Examples sections run as doctests. Where a value can be checked against R
metafor 3.8.1 the example says which call gives it, e.g. the first rows of
``escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)`` or of
``escalc(measure="SMD", ..., data=dat.normand1999)``; the others use numbers that
can be checked by hand.
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

from ..constants import Z975  # noqa: E402  (re-exported: the CI multiplier, computed once)


def _a(x):
    return np.asarray(x, dtype=float)


def hedges_j(m):
    """Exact small-sample correction factor of Hedges (1981).

    Parameters
    ----------
    m : array_like
        Degrees of freedom of the pooled SD, ``m = n1 + n2 − 2``.

    Returns
    -------
    ndarray
        ``J(m)``, between 0 and 1, approaching 1 as *m* grows.

    Notes
    -----
    ``J(m) = Γ(m/2) / (√(m/2) · Γ((m−1)/2))`` with ``m = n1 + n2 − 2``
    (Hedges 1981, eq. 6e; metafor ``.cmicalc``). The familiar
    ``1 − 3/(4m − 1)`` is its approximation and is not used.
    Computed on the log scale (``gammaln``) so that large *m* does not overflow.

    Examples
    --------
    Two arms of 20 (m = 38); metafor ``metafor:::.cmicalc(38)`` gives 0.9801104021,
    the approximation ``1 − 3/151`` gives 0.98013:

    >>> round(float(hedges_j(38)), 10)
    0.9801104021

    With m = 2 the factor is ``Γ(1)/Γ(1/2) = 1/√π``:

    >>> np.round(hedges_j([2, 10, 38]), 4)
    array([0.5642, 0.9227, 0.9801])
    """
    m = _a(m)
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def _pooled_sd(sd1, n1, sd2, n2):
    """Pooled within-group SD, ``√(((n1−1)s1² + (n2−1)s2²)/(n1+n2−2))`` (Borenstein 2009, eq. 4.12)."""
    return np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))


def cohen_d(m1, sd1, n1, m2, sd2, n2):
    """Cohen's d with the large-sample variance.

    Parameters
    ----------
    m1, sd1, n1 : array_like
        Mean, SD and size of arm 1.
    m2, sd2, n2 : array_like
        Mean, SD and size of arm 2.

    Returns
    -------
    (d, v) : tuple of ndarray
        The standardised mean difference (arm 1 minus arm 2) without the
        small-sample correction, and its sampling variance.

    Notes
    -----
    ``d = (m1 − m2)/s_pooled`` with
    ``s_pooled = √(((n1−1)s1² + (n2−1)s2²)/(n1+n2−2))``;
    ``v = 1/n1 + 1/n2 + d²/(2(n1+n2))``
    (Borenstein 2009, eqs. 4.18–4.20; Hedges & Olkin 1985, eq. 5.8).
    Hedges' g (:func:`smd`) is ``J·d``.

    Examples
    --------
    A difference of one SD between two arms of 20: ``d = 1`` and
    ``v = 1/20 + 1/20 + 1/80 = 0.1125``:

    >>> d, v = cohen_d(1.0, 1.0, 20, 0.0, 1.0, 20)
    >>> float(d), float(v)
    (1.0, 0.1125)
    """
    m1, sd1, n1, m2, sd2, n2 = map(_a, (m1, sd1, n1, m2, sd2, n2))
    d = (m1 - m2) / _pooled_sd(sd1, n1, sd2, n2)
    v = 1 / n1 + 1 / n2 + d**2 / (2 * (n1 + n2))
    return d, v


def smd(m1, sd1, n1, m2, sd2, n2):
    """Standardised mean difference as Hedges' g, metafor ``escalc(measure="SMD")``.

    Parameters
    ----------
    m1, sd1, n1 : array_like
        Mean, SD and size of arm 1.
    m2, sd2, n2 : array_like
        Mean, SD and size of arm 2.

    Returns
    -------
    (g, v) : tuple of ndarray
        Hedges' g (arm 1 minus arm 2) and its large-sample sampling variance.

    Notes
    -----
    ``g = J(n1+n2−2) · (m1 − m2)/s_pooled`` with the exact ``J`` of
    :func:`hedges_j`; large-sample variance ``v = 1/n1 + 1/n2 + g²/(2(n1+n2))``
    (Hedges 1981; Hedges & Olkin 1985, eq. 5.8; metafor ``vtype="LS"``).

    Examples
    --------
    >>> g, v = smd(1.0, 1.0, 20, 0.0, 1.0, 20)
    >>> round(float(g), 4), round(float(v), 5)
    (0.9801, 0.11201)

    The first two studies of ``dat.normand1999``; metafor 3.8.1
    ``escalc(measure="SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i,
    data=dat.normand1999)`` gives yi −0.3552, −0.3479 and vi 0.0131, 0.0645:

    >>> g, v = smd([55, 27], [47, 7], [155, 31], [75, 29], [64, 4], [156, 32])
    >>> np.round(g, 4), np.round(v, 4)
    (array([-0.3552, -0.3479]), array([0.0131, 0.0645]))
    """
    m1, sd1, n1, m2, sd2, n2 = map(_a, (m1, sd1, n1, m2, sd2, n2))
    g = hedges_j(n1 + n2 - 2) * (m1 - m2) / _pooled_sd(sd1, n1, sd2, n2)
    v = 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
    return g, v


def md(m1, sd1, n1, m2, sd2, n2):
    """Raw mean difference with the heteroscedastic variance.

    Parameters
    ----------
    m1, sd1, n1 : array_like
        Mean, SD and size of arm 1.
    m2, sd2, n2 : array_like
        Mean, SD and size of arm 2.

    Returns
    -------
    (md, v) : tuple of ndarray
        Mean difference (arm 1 minus arm 2) and its sampling variance.

    Notes
    -----
    ``MD = m1 − m2``; ``v = s1²/n1 + s2²/n2`` (Borenstein 2009, eq. 4.3;
    metafor ``escalc(measure="MD")``, ``vtype="LS"``). The SDs are not pooled.

    Examples
    --------
    The first two studies of ``dat.normand1999``; metafor 3.8.1
    ``escalc(measure="MD", ..., data=dat.normand1999)`` gives yi −20, −2 and
    vi 40.5080, 2.0806:

    >>> y, v = md([55, 27], [47, 7], [155, 31], [75, 29], [64, 4], [156, 32])
    >>> y, np.round(v, 4)
    (array([-20.,  -2.]), array([40.508 ,  2.0806]))
    """
    m1, sd1, n1, m2, sd2, n2 = map(_a, (m1, sd1, n1, m2, sd2, n2))
    return m1 - m2, sd1**2 / n1 + sd2**2 / n2


def sd_from_sem(sem, n):
    """SD from a standard error of the mean.

    Parameters
    ----------
    sem : array_like
        Standard error of the mean of one group.
    n : array_like
        Size of that group.

    Returns
    -------
    ndarray
        The SD of single observations.

    Notes
    -----
    ``SD = SEM·√n`` (Cochrane Handbook §6.5.2.2).

    Examples
    --------
    >>> float(sd_from_sem(2, 25))
    10.0
    >>> sd_from_sem([1.5, 2], [16, 25])
    array([ 6., 10.])
    """
    return _a(sem) * np.sqrt(_a(n))


def mean_sd_from_quartiles(q1, median, q3, n):
    """Mean and SD from the median and quartiles (scenario S2/S3: q1, median, q3, n).

    Parameters
    ----------
    q1, median, q3 : array_like
        First quartile, median and third quartile of one group.
    n : array_like
        Size of that group.

    Returns
    -------
    (mean, sd) : tuple of ndarray
        Estimated mean and SD.

    Notes
    -----
    Mean: Luo et al. (2018), eq. 11 — ``x̄ ≈ w·(q1+q3)/2 + (1−w)·median`` with
    ``w = 0.7 + 0.39/n``.
    SD: Wan et al. (2014), eq. 16 — ``S ≈ (q3 − q1) / η(n)`` with
    ``η(n) = 2·Φ⁻¹((0.75n − 0.125)/(n + 0.25))``.
    Both assume approximate normality; the values are estimates, flagged as
    converted wherever they are shown. metafor ``conv.fivenum(method=c("luo", "wan"))``
    implements the same formulas. Check the skewness first (:func:`skewness_test`).

    Examples
    --------
    q1 = 10, median 14, q3 = 20, n = 50: ``w = 0.7078``, so the mean is
    ``0.7078·15 + 0.2922·14 = 14.7078``; ``η(50) = 2·Φ⁻¹(37.375/50.25) = 1.3101``, so
    the SD is ``10/1.3101 = 7.633``:

    >>> mean, sd = mean_sd_from_quartiles(10, 14, 20, 50)
    >>> round(float(mean), 4), round(float(sd), 4)
    (14.7078, 7.633)
    """
    q1, median, q3, n = map(_a, (q1, median, q3, n))
    w = 0.7 + 0.39 / n
    mean = w * (q1 + q3) / 2 + (1 - w) * median
    eta = 2 * special.ndtri((0.75 * n - 0.125) / (n + 0.25))
    return mean, (q3 - q1) / eta


def skewness_test(q1, median, q3, n):
    """Skewness test for data summarised by the median and quartiles (scenario S2).

    Parameters
    ----------
    q1, median, q3 : array_like
        First quartile, median and third quartile of one group.
    n : array_like
        Size of that group.

    Returns
    -------
    (T, c, skewed) : tuple of ndarray
        Test statistic, critical value at the 5% level, and ``T ≥ c``.

    Notes
    -----
    Shi, Luo, Wan, Liu, Liu, Bian & Tong (2023), *Stat Methods Med Res* 32:1338–1360:
    ``T = |q1 + q3 − 2·median| / (q3 − q1)`` (Bowley's quartile skewness, in absolute
    value) against the critical value ``c(n) = 2.65/√n − 6/n²`` (5% level); ``T ≥ c``
    rejects normality, and the median/IQR → mean/SD conversion (Luo 2018; Wan 2014),
    which assumes normal data, should not be used as if it were reported. The same
    test and constants as metafor ``conv.fivenum(test=TRUE)`` (metafor ≥ 4.0).

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

    Parameters
    ----------
    lower, upper : array_like
        Confidence limits. For ratios (OR, RR, HR), pass the log limits.
    level : float, default 0.95
        Confidence level as a fraction.

    Returns
    -------
    ndarray
        The standard error.

    Notes
    -----
    ``SE = (upper − lower)/(2·z_{1−α/2})`` (Cochrane Handbook §6.3.1), with
    ``z_{0.975} = 1.959964`` for a 95% interval. Assumes a normal-theory interval;
    for small trials reported with t-based intervals the SE is slightly overstated.

    Examples
    --------
    A 95% CI of 0.1 to 0.5: ``0.4/3.919928 = 0.10204``. A ratio of 1 with CI 0.5 to 2:
    ``ln 4/3.919928 = 0.35365`` on the log scale:

    >>> round(float(se_from_ci(0.1, 0.5)), 5)
    0.10204
    >>> round(float(se_from_ci(np.log(0.5), np.log(2.0))), 5)
    0.35365
    """
    z = special.ndtri(0.5 + level / 2)
    return (_a(upper) - _a(lower)) / (2 * z)


def se_from_p(estimate, p, df=None):
    """SE from an estimate and its exact two-sided p-value.

    Parameters
    ----------
    estimate : array_like
        The estimate (a difference, or a log ratio).
    p : array_like
        Its exact two-sided p-value.
    df : array_like, optional
        Degrees of freedom of a t-test; ``None`` (default) for a z-test.

    Returns
    -------
    ndarray
        The standard error.

    Notes
    -----
    ``SE = |estimate| / q`` with ``q = Φ⁻¹(1 − p/2)`` (z) or the t quantile with
    *df* degrees of freedom (Cochrane Handbook §6.3.2; Altman & Bland 2011).
    Imprecise when p is printed to few decimals and large.

    Examples
    --------
    An estimate of 2 with p = 0.05: ``2/1.959964 = 1.0204`` (z), or
    ``2/2.085963 = 0.9588`` with t on 20 df (R ``qt(0.975, 20)``):

    >>> round(float(se_from_p(2, 0.05)), 4), round(float(se_from_p(2, 0.05, df=20)), 4)
    (1.0204, 0.9588)
    """
    p = _a(p)
    if df is None:
        q = special.ndtri(1 - p / 2)
    else:
        q = special.stdtrit(_a(df), 1 - p / 2)
    return np.abs(_a(estimate)) / q


def smd_from_md_se(md_, se, n1, n2):
    """SMD (Hedges' g) from a mean difference and its SE with arm sizes.

    Parameters
    ----------
    md_ : array_like
        Mean difference, arm 1 minus arm 2.
    se : array_like
        Its standard error.
    n1, n2 : array_like
        Arm sizes.

    Returns
    -------
    (g, v) : tuple of ndarray
        Hedges' g and its large-sample variance, as :func:`smd`.

    Notes
    -----
    Assumes the SE came from a two-sample comparison with a common SD:
    ``s_pooled = SE / √(1/n1 + 1/n2)`` (Cochrane Handbook §6.5.2.3), then
    ``g = J·MD/s_pooled`` and the large-sample variance of :func:`smd`. With an
    adjusted (ANCOVA / MMRM) SE the result is an *adjusted* SMD, usually larger
    than one based on raw SDs.

    Examples
    --------
    The first study of ``dat.normand1999`` (MD = −20; n = 155 and 156; pooled SD 56.17)
    through its SE gives back the SMD of :func:`smd` and of metafor
    ``escalc(measure="SMD")``, −0.3552 with variance 0.0131:

    >>> import math
    >>> se = math.sqrt((154 * 47**2 + 155 * 64**2) / 309) * math.sqrt(1 / 155 + 1 / 156)
    >>> g, v = smd_from_md_se(-20, se, 155, 156)
    >>> round(se, 4), round(float(g), 4), round(float(v), 4)
    (6.3707, -0.3552, 0.0131)
    """
    md_, se, n1, n2 = map(_a, (md_, se, n1, n2))
    sp = se / np.sqrt(1 / n1 + 1 / n2)
    g = hedges_j(n1 + n2 - 2) * md_ / sp
    return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


def crossover_smd(md_, se, n, r):
    """Parallel-equivalent SMD from a crossover trial's paired mean difference.

    Parameters
    ----------
    md_ : array_like
        Within-patient mean difference (treatment minus control).
    se : array_like
        Its within-patient standard error.
    n : array_like
        Number of patients (pairs).
    r : array_like
        Assumed within-patient correlation between the two periods.

    Returns
    -------
    (d, v, d_z) : tuple of ndarray
        Parallel-equivalent d, its variance, and the paired ``d_z``.

    Notes
    -----
    With the within-patient SE of the difference, ``SD_diff = SE·√n`` and
    ``d_z = MD/SD_diff``. Under a within-patient correlation *r* between the two
    periods, the SD of single measurements is ``SD = SD_diff/√(2(1−r))`` and
    ``d = MD/SD = d_z·√(2(1−r))``; its variance is
    ``(1/n + d²/(2n))·2(1−r)`` (Elbourne et al. 2002; Cochrane Handbook §23.2.7.2).
    *r* is an assumption and must be reported with the result.

    Examples
    --------
    MD = −5 with SE 1.5 in 20 patients: ``d_z = −5/(1.5·√20) = −0.7454``. With r = 0.5,
    ``2(1 − r) = 1``, so ``d = d_z`` and ``v = 1/20 + d²/40 = 0.0639``:

    >>> d, v, dz = crossover_smd(-5, 1.5, 20, 0.5)
    >>> round(float(d), 4), round(float(v), 4), round(float(dz), 4)
    (-0.7454, 0.0639, -0.7454)
    """
    md_, se, n, r = map(_a, (md_, se, n, r))
    d_z = md_ / (se * np.sqrt(n))
    d = d_z * np.sqrt(2 * (1 - r))
    v = (1 / n + d**2 / (2 * n)) * 2 * (1 - r)
    return d, v, d_z


def zero_cell_adjust(a, b, c, d, add=0.5, to="only0"):
    """Continuity correction as metafor ``escalc(add=1/2, to="only0")``.

    Parameters
    ----------
    a, b, c, d : array_like
        Cells of the 2×2 tables: events and non-events in arm 1 (*a*, *b*) and
        arm 2 (*c*, *d*).
    add : float, default 0.5
        The amount added.
    to : {"only0", "all", "none"}
        Which tables get it: those with a zero cell, all, or none.

    Returns
    -------
    (a, b, c, d) : tuple of ndarray
        The adjusted cells.

    Notes
    -----
    Adds *add* to every cell of a 2×2 table that has a zero cell (``"only0"``),
    to all tables (``"all"``), or none (``"none"``) — metafor's ``add`` and ``to``
    arguments of ``escalc()`` with their defaults.

    Examples
    --------
    Only the first table has a zero cell:

    >>> zero_cell_adjust([0, 4], [10, 119], [3, 11], [7, 128])
    (array([0.5, 4. ]), array([ 10.5, 119. ]), array([ 3.5, 11. ]), array([  7.5, 128. ]))
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
    """Log risk ratio, metafor ``escalc(measure="RR")``.

    Parameters
    ----------
    e1, n1 : array_like
        Events and size of arm 1.
    e2, n2 : array_like
        Events and size of arm 2.
    add, to
        Continuity correction, as :func:`zero_cell_adjust`.

    Returns
    -------
    (yi, vi) : tuple of ndarray
        Log risk ratio (arm 1 over arm 2) and its sampling variance.

    Notes
    -----
    ``log((a/n1)/(c/n2))``, ``v = 1/a − 1/n1 + 1/c − 1/n2`` (Borenstein 2009, eq. 5.1–5.3),
    with *a*, *c* the events and *n1*, *n2* the arm sizes after :func:`zero_cell_adjust`.

    Examples
    --------
    The first three trials of ``dat.bcg`` (BCG vaccine, tuberculosis); metafor 3.8.1
    ``escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)`` gives
    yi −0.8893, −1.5854, −1.3481 and vi 0.3256, 0.1946, 0.4154:

    >>> yi, vi = log_rr([4, 6, 3], [123, 306, 231], [11, 29, 11], [139, 303, 220])
    >>> np.round(yi, 4), np.round(vi, 4)
    (array([-0.8893, -1.5854, -1.3481]), array([0.3256, 0.1946, 0.4154]))

    A zero cell gets 1/2 in every cell (metafor gives −1.9459 and 2.1039):

    >>> yi, vi = log_rr(0, 10, 3, 10)
    >>> round(float(yi), 4), round(float(vi), 4)
    (-1.9459, 2.1039)
    """
    a, b, c, d = zero_cell_adjust(_a(e1), _a(n1) - _a(e1), _a(e2), _a(n2) - _a(e2), add, to)
    n1a, n2a = a + b, c + d
    return np.log((a / n1a) / (c / n2a)), 1 / a - 1 / n1a + 1 / c - 1 / n2a


def log_or(e1, n1, e2, n2, add=0.5, to="only0"):
    """Log odds ratio, metafor ``escalc(measure="OR")``.

    Parameters
    ----------
    e1, n1 : array_like
        Events and size of arm 1.
    e2, n2 : array_like
        Events and size of arm 2.
    add, to
        Continuity correction, as :func:`zero_cell_adjust`.

    Returns
    -------
    (yi, vi) : tuple of ndarray
        Log odds ratio (arm 1 over arm 2) and its sampling variance.

    Notes
    -----
    ``log(ad/bc)``, ``v = 1/a + 1/b + 1/c + 1/d`` (Borenstein 2009, eq. 5.8–5.10), with the
    cells after :func:`zero_cell_adjust`.

    Examples
    --------
    The first three trials of ``dat.bcg``; metafor 3.8.1
    ``escalc(measure="OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)`` gives
    yi −0.9387, −1.6662, −1.3863 and vi 0.3571, 0.2081, 0.4334:

    >>> yi, vi = log_or([4, 6, 3], [123, 306, 231], [11, 29, 11], [139, 303, 220])
    >>> np.round(yi, 4), np.round(vi, 4)
    (array([-0.9387, -1.6662, -1.3863]), array([0.3571, 0.2081, 0.4334]))
    """
    a, b, c, d = zero_cell_adjust(_a(e1), _a(n1) - _a(e1), _a(e2), _a(n2) - _a(e2), add, to)
    return np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d


def rd(e1, n1, e2, n2, add=0.5, to="only0"):
    """Risk difference, metafor ``escalc(measure="RD")``.

    Parameters
    ----------
    e1, n1 : array_like
        Events and size of arm 1.
    e2, n2 : array_like
        Events and size of arm 2.
    add, to
        Continuity correction, as :func:`zero_cell_adjust`.

    Returns
    -------
    (yi, vi) : tuple of ndarray
        Risk difference (arm 1 minus arm 2) and its sampling variance.

    Notes
    -----
    ``p1 − p2``, ``v = p1(1−p1)/n1 + p2(1−p2)/n2`` (Borenstein 2009, eq. 5.13).
    As metafor ``escalc(measure="RD")`` with its defaults, a table with a zero cell
    gets *add* in every cell first (otherwise a 0/n arm would have zero variance).

    Examples
    --------
    The first three trials of ``dat.bcg``; metafor 3.8.1
    ``escalc(measure="RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)`` gives
    yi −0.0466, −0.0761, −0.0370 and vi 0.000780, 0.000348, 0.000271:

    >>> yi, vi = rd([4, 6, 3], [123, 306, 231], [11, 29, 11], [139, 303, 220])
    >>> np.round(yi, 4), np.round(vi, 6)
    (array([-0.0466, -0.0761, -0.037 ]), array([0.00078 , 0.000348, 0.000271]))

    With a zero cell (metafor: −0.2727, 0.0237):

    >>> yi, vi = rd(0, 10, 3, 10)
    >>> round(float(yi), 4), round(float(vi), 4)
    (-0.2727, 0.0237)
    """
    a, b, c, d = zero_cell_adjust(_a(e1), _a(n1) - _a(e1), _a(e2), _a(n2) - _a(e2), add, to)
    n1a, n2a = a + b, c + d
    p1, p2 = a / n1a, c / n2a
    return p1 - p2, p1 * (1 - p1) / n1a + p2 * (1 - p2) / n2a


def skewness_test_range(minimum, median, maximum, n):
    """Skewness test for data summarised by the median and range (scenario S1).

    Parameters
    ----------
    minimum, median, maximum : array_like
        Sample minimum, median and maximum.
    n : array_like
        Sample size.

    Returns
    -------
    (T, c, skewed) : tuple of ndarray
        Test statistic, critical value at the 5% level, and ``T ≥ c``.

    Notes
    -----
    Shi, Luo, Wan, Liu, Liu, Bian & Tong (2023), *Stat Methods Med Res* 32:1338–1360:
    ``T = |min + max − 2·median| / (max − min)`` against the critical value
    ``c(n) = 1/log(n + 9) + 2.5/(n + 1)`` (5% level); ``T ≥ c`` rejects normality. The same
    test and constants as metafor ``conv.fivenum(test=TRUE)``, case 1 (metafor ≥ 4.0).

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

    Parameters
    ----------
    minimum, q1, median, q3, maximum : array_like
        Sample minimum, first quartile, median, third quartile and maximum.
    n : array_like
        Sample size.

    Returns
    -------
    (T, c, skewed) : tuple of ndarray
        Test statistic, critical value at the 5% level, and ``T ≥ c``.

    Notes
    -----
    Shi, Luo, Wan, Liu, Liu, Bian & Tong (2023), *Stat Methods Med Res* 32:1338–1360:
    ``T = max(2.65·log(0.6n)/√n · |min + max − 2·median|/(max − min), |q1 + q3 − 2·median|/(q3 − q1))``
    against the critical value ``c(n) = 3/√n − 40/n³`` (5% level); ``T ≥ c`` rejects normality.
    The same test and constants as metafor ``conv.fivenum(test=TRUE)``, case 3 (metafor ≥ 4.0).

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
