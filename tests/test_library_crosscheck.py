"""glumeta against pymare and statsmodels where they are right, and their known faults.

The engine is validated against metafor (test_metafor_reference.py); this file
documents agreement with the Python libraries and pins the traps they hold.
"""

import numpy as np
import pytest

from glumeta.stats import effects as es
from glumeta.stats.models import pool

# dat.bcg log risk ratios (metafor), a standard example with large heterogeneity
Y = np.array([-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120, -0.4694, -1.3713, -0.3394, 0.4459, -0.0173])
V = np.array([0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564, 0.0730, 0.0124, 0.5325, 0.0714])


def test_pymare_reml_matches_without_small_sample_correction():
    from pymare import Dataset
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    # pymare defaults to small_sample_correction="knapp-hartung"; state it explicitly.
    est = VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(Dataset(y=Y, v=V))
    ours = pool(Y, V, method="REML")
    tau2 = float(est.params_["tau2"].ravel()[0])
    beta = float(est.params_["fe_params"].ravel()[0])
    # pymare optimises the likelihood numerically (scipy.optimize): agreement to ~1e-4 relative
    assert np.isclose(tau2, ours.tau2, rtol=1e-3)
    assert np.isclose(beta, ours.estimate, rtol=1e-4)


def test_pymare_smd_variance_matches_hedges_g():
    """pymare >= 0.0.13 computes the SMD variance as J²·((n1+n2)/(n1·n2) + d²/(2(n1+n2−2))) with the
    approximate J = 1 − 3/(4(n1+n2) − 9) (Hedges & Olkin 1985; Borenstein 2009, eqs. 4.20–4.24).
    glumeta follows metafor's escalc instead (exact J, vtype="LS": 1/n1 + 1/n2 + g²/(2(n1+n2))),
    so the two variances differ by a known amount; both are checked, each against its formula."""
    import pymare
    from pymare.effectsize import compute_measure

    v = tuple(int(x) for x in pymare.__version__.split(".")[:3])
    assert v >= (0, 0, 13), "pymare < 0.0.13 computes wrong SMD/RMD variances"
    m1, s1, n1, m2, s2, n2 = 10.0, 2.0, 20, 8.0, 2.5, 25
    y, var = compute_measure("SMD", m1=m1, m2=m2, sd1=s1, sd2=s2, n1=n1, n2=n2)
    y, var = float(np.ravel(y)[0]), float(np.ravel(var)[0])
    sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    d = (m1 - m2) / sp
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    assert np.isclose(y, j * d, rtol=1e-12)
    assert np.isclose(var, j**2 * ((n1 + n2) / (n1 * n2) + d**2 / (2 * (n1 + n2 - 2))), rtol=1e-12)
    g, vg = es.smd(m1, s1, n1, m2, s2, n2)
    assert np.isclose(float(g), y, rtol=1e-4)  # exact vs approximate J
    assert np.isclose(float(vg), 1 / n1 + 1 / n2 + float(g) ** 2 / (2 * (n1 + n2)), rtol=1e-12)
    assert not np.isclose(float(vg), var, rtol=1e-2)  # the two conventions are distinguishable here


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_statsmodels_dl_does_not_clip_tau2():
    """The trap: combine_effects(method_re="dl") returns tau2 < 0 for homogeneous data."""
    from statsmodels.stats.meta_analysis import combine_effects

    y = np.array([0.10, 0.11, 0.09, 0.10])
    v = np.array([0.04, 0.05, 0.04, 0.06])
    res = combine_effects(y, v, method_re="dl")
    assert res.tau2 < 0  # statsmodels' raw estimate (documents the fault)
    assert pool(y, v, method="DL").tau2 == 0.0  # glumeta clips at 0 (DerSimonian & Laird 1986)


def test_statsmodels_dl_agrees_when_tau2_positive():
    from statsmodels.stats.meta_analysis import combine_effects

    res = combine_effects(Y, V, method_re="dl")
    ours = pool(Y, V, method="DL")
    assert np.isclose(res.tau2, ours.tau2, rtol=1e-10)
    assert np.isclose(res.mean_effect_re, ours.estimate, rtol=1e-10)
    assert np.isclose(res.sd_eff_w_re, ours.se, rtol=1e-10)


def test_statsmodels_pm_agrees():
    from statsmodels.stats.meta_analysis import combine_effects

    res = combine_effects(Y, V, method_re="pm")  # iterated Paule-Mandel
    ours = pool(Y, V, method="PM")
    assert np.isclose(res.tau2, ours.tau2, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:Dropped:statsmodels.tools.sm_exceptions.ModelWarning")
@pytest.mark.parametrize("b,c,concordant", [(4, 1, 0), (3, 1, 5), (10, 4, 2)])
def test_conditional_or_matches_statsmodels_conditional_logit(b, c, concordant):
    """The discordant-pair OR and its CI equal statsmodels' conditional logistic regression of the
    outcome on the condition, grouped by patient (Breslow & Day 1980): an independent fit of the
    paired data, not the formula restated. Concordant pairs carry no information and drop out."""
    from statsmodels.discrete.conditional_models import ConditionalLogit

    from glumeta.stats.reproduce import conditional_or

    y, x, g = [], [], []
    pairs = [(1, 0)] * b + [(0, 1)] * c + [(1, 1)] * concordant  # (event on drug, event on placebo)
    for k, (on_drug, on_placebo) in enumerate(pairs):
        y += [on_drug, on_placebo]
        x += [1, 0]
        g += [k, k]
    fit = ConditionalLogit(np.array(y), np.array(x, dtype=float)[:, None], groups=np.array(g)).fit(disp=0)
    lo, hi = np.exp(fit.conf_int()[0])
    r = conditional_or(b, c)
    assert np.isclose(r["or"], np.exp(fit.params[0]), rtol=1e-4)
    assert np.isclose(r["ci_lower"], lo, rtol=1e-4) and np.isclose(r["ci_upper"], hi, rtol=1e-4)
