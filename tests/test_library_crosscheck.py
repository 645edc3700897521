"""glumeta against pymare and statsmodels where they are right, and their known faults.

The engine is validated against metafor (test_metafor_reference.py); this file
documents agreement with the Python libraries and pins the traps they hold.
"""

import numpy as np
import pytest

from glumeta import effects as es
from glumeta.models import pool

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
    import pymare
    from pymare.effectsize import compute_measure

    v = tuple(int(x) for x in pymare.__version__.split(".")[:3])
    assert v >= (0, 0, 13), "pymare < 0.0.13 computes wrong SMD/RMD variances"
    m1, s1, n1, m2, s2, n2 = 10.0, 2.0, 20, 8.0, 2.5, 25
    y, var = compute_measure("SMD", m1=m1, m2=m2, sd1=s1, sd2=s2, n1=n1, n2=n2)
    g, vg = es.smd(m1, s1, n1, m2, s2, n2)
    assert np.isclose(float(np.ravel(y)[0]), float(g), rtol=1e-2)


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


@pytest.mark.parametrize("b,c", [(4, 1), (3, 1), (10, 4)])
def test_conditional_or_matches_statsmodels_mcnemar_pairs(b, c):
    from glumeta.reproduce import conditional_or

    r = conditional_or(b, c)
    assert np.isclose(r["or"], b / c)
    assert r["ci_lower"] < b / c < r["ci_upper"]
