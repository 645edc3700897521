"""Every effect size, variance and pooled quantity against R metafor.

Reference values: tests/reference/metafor_reference.json, produced by
tests/reference/metafor_reference.R (``make reference``) with metafor's
convergence controls tightened (see the script's header). Tolerance: relative
difference ≤ 1e-6 (absolute 1e-9 for values near zero) everywhere.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from glumeta.stats import effects as es
from glumeta.data.tables import datasets
from glumeta.stats.escalc import escalc as effect_table
from glumeta.stats.models import DEFAULT_PI, DEFAULT_TEST, METHODS, TESTS, pool
from glumeta.stats.plan import analyze
from glumeta.stats.sensitivity import leave_one_out

REF = json.loads((Path(__file__).parent / "reference" / "metafor_reference.json").read_text())
RTOL, ATOL = 1e-6, 1e-9
FIELDS = ["estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "z_or_t", "p", "tau2",
          "q", "q_p", "i2", "h2"]


def close(a, b, what):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def compare_fit(yi, vi, ref, what):
    # pi_lower/pi_upper of the reference are metafor 3.8 predict(): pool(pi="predict")
    r = pool(yi, vi, method=ref["method"], test=ref["test"], pi="predict")
    assert r.k == ref["k"], what
    for f in FIELDS:
        if f in ref and ref[f] is not None:
            close(getattr(r, f), ref[f], f"{what} {f}")
    if "pi_t_lower" in ref:
        # pool's default PI: t(k-2) with the normal-theory SE (Higgins et al. 2009), computed
        # in R from the fitted object; null in the JSON (k < 3 or FE) must be NaN here
        rt = pool(yi, vi, method=ref["method"], test=ref["test"])
        for f in ("lower", "upper"):
            want = ref[f"pi_t_{f}"]
            got = getattr(rt, f"pi_{f}")
            if want is None:
                assert got is None or math.isnan(got), f"{what} pi_t_{f}: {got} (metafor: none)"
            else:
                close(got, want, f"{what} pi_t_{f}")
    close(r.weights, np.atleast_1d(ref["weights"]), f"{what} weights")
    for f in ("tau2_ci", "i2_ci", "h2_ci"):
        if f in ref:
            close(getattr(r, f), ref[f], f"{what} {f}")
    if "loo_estimate" in ref:
        loo = leave_one_out(yi, vi)
        close(loo["estimate"], ref["loo_estimate"], f"{what} leave-one-out estimate")
        close(loo["se"], ref["loo_se"], f"{what} leave-one-out se")
        close(loo["tau2"], ref["loo_tau2"], f"{what} leave-one-out tau2")
    return r


def test_reference_is_metafor_3_8_or_later():
    major, minor = map(int, REF["metafor_version"].split(".")[:2])
    assert (major, minor) >= (3, 8)


@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_mantel_haenszel(measure):
    from glumeta.stats.models import mantel_haenszel

    ex = REF["examples"]["bcg_mh"]
    i = ex["input"]
    r = mantel_haenszel(i["e1"], i["n1"], i["e2"], i["n2"], measure)
    for f in ("estimate", "se", "ci_lower", "ci_upper", "z_or_t", "p"):
        close(r[f], ex["mh"][measure][f], f"MH {measure} {f}")


@pytest.mark.parametrize("name", [n for n in sorted(REF["examples"]) if "fits" in REF["examples"][n]])
def test_example_effect_sizes(name):
    ex = REF["examples"][name]
    i = ex["input"]
    if ex["measure"] in ("SMD", "MD"):
        f = es.smd if ex["measure"] == "SMD" else es.md
        yi, vi = f(i["m1"], i["sd1"], i["n1"], i["m2"], i["sd2"], i["n2"])
    else:
        f = {"RR": es.log_rr, "OR": es.log_or, "RD": es.rd}[ex["measure"]]
        yi, vi = f(i["e1"], i["n1"], i["e2"], i["n2"])
    close(yi, ex["yi"], f"{name} yi")
    close(vi, ex["vi"], f"{name} vi")


FITS = [(n, key) for n, ex in sorted(REF["examples"].items()) for key in ex.get("fits", {})]


@pytest.mark.parametrize("name,key", FITS)
def test_example_pooled(name, key):
    ex = REF["examples"][name]
    compare_fit(ex["yi"], ex["vi"], ex["fits"][key], f"{name} {key}")


# ---------------------------------------------------------------- workbook data
# Every analysis of every data file (glumeta.stats.plan.analyze) and of the synthesis, its rows chosen
# in R from the raw CSVs by the review's eligibility rules, fitted by metafor for every
# method × test (FE: z only; sensitivity:z: z only).

WORKBOOK = {n: d for n, d in REF["workbook"].items() if n != "synthesis"}
SYN = REF["workbook"]["synthesis"]


def _keys(rows, cols) -> list[str]:
    """Row keys as the reference writes them: the key columns joined by ' | '."""
    return [" | ".join(str(v) for v in rec) for rec in rows[list(cols)].itertuples(index=False)]


def _list(x) -> list:
    return x if isinstance(x, list) else [x]


@lru_cache(maxsize=None)
def _analyses(name, method="REML", test=DEFAULT_TEST, pi=DEFAULT_PI) -> dict:
    return {a.id: a for a in analyze(name, method=method, test=test, pi=pi)}


@lru_cache(maxsize=None)
def _synthesis(test=DEFAULT_TEST) -> dict:
    from glumeta.stats.synthesis import synthesis

    return synthesis(SYN["r"], method="REML", test=test)


def _run_test(aid, key):
    """The test argument that yields fit *key* of analysis *aid*: sensitivity:z is the z twin of
    the default analysis, so it is compared as the book computes it (default test)."""
    return DEFAULT_TEST if aid.startswith("sensitivity:z") else key.split(":")[1]


def compare_analysis(a, ref, keys, measure, cols, what, a_predict=None):
    """An Analysis (default PI: t(k-2)) against one metafor fit of the reference; *a_predict* is the
    same analysis computed with pi="predict" (else pool() is run on its rows)."""
    method, test = ref["method"], ref["test"]
    assert (a.method, a.test) == (method, test), f"{what}: fitted as {a.method}:{a.test}"
    assert a.measure == measure, what
    assert a.k == ref["k"], f"{what}: k = {a.k}, metafor k = {ref['k']}"
    assert _keys(a.rows, cols) == _list(keys), f"{what}: pooled rows differ from the reference's"
    for f in FIELDS:
        if f in ("pi_lower", "pi_upper"):
            continue
        if f in ref and ref[f] is not None:
            got = getattr(a, f)
            close(math.nan if got is None else got, ref[f], f"{what} {f}")
    # the book's PI: t(k-2) with the normal-theory SE; none (NaN) for k < 3 and FE
    for f in ("lower", "upper"):
        want, got = ref[f"pi_t_{f}"], getattr(a, f"pi_{f}")
        if want is None:
            assert got is None or math.isnan(got), f"{what} pi_t_{f}: {got} (metafor: none)"
        else:
            close(got, want, f"{what} pi_t_{f}")
    # pi="predict": metafor 3.8 predict()
    ap = a_predict if a_predict is not None else pool(a.rows["yi"], a.rows["vi"], method=method, test=test,
                                                      pi="predict")
    for f in ("pi_lower", "pi_upper"):
        if ref[f] is not None:
            close(getattr(ap, f), ref[f], f"{what} predict() {f}")
    close(a.rows["weight"], np.atleast_1d(ref["weights"]), f"{what} weights")
    close(a.weights, np.atleast_1d(ref["weights"]), f"{what} weights")
    for f in ("tau2_ci", "i2_ci", "h2_ci"):
        if f in ref:
            close(getattr(a, f), ref[f], f"{what} {f}")
    if "loo_estimate" in ref:
        loo = leave_one_out(a.rows["yi"], a.rows["vi"], method=method, test=test)
        close(loo["estimate"], ref["loo_estimate"], f"{what} leave-one-out estimate")
        close(loo["se"], ref["loo_se"], f"{what} leave-one-out se")
        close(loo["tau2"], ref["loo_tau2"], f"{what} leave-one-out tau2")


def test_workbook_blood_glutamate_effect_sizes():
    ref = WORKBOOK["blood_glutamate"]["rows"]
    t = effect_table("blood_glutamate")
    t = t[t["status"] == "complete"]
    assert _keys(t, WORKBOOK["blood_glutamate"]["key_columns"]) == _list(ref["key"])
    close(t["yi"], ref["yi"], "blood_glutamate yi")
    close(t["vi"], ref["vi"], "blood_glutamate vi")
    # the Shi et al. (2023) skewness flag that keeps a row out of the main pool
    assert t["skewed"].astype(bool).tolist() == _list(ref["skewed"])


@pytest.mark.parametrize("name", ["esketamine_madrs", "nitrous_oxide_hamd"])
def test_workbook_contrast_effect_sizes(name):
    ref = WORKBOOK[name]["rows"]
    t = effect_table(name)
    t = t[t["status"] == "complete"]
    assert _keys(t, WORKBOOK[name]["key_columns"]) == _list(ref["key"])
    close(t["yi"], ref["yi"], f"{name} yi")
    close(t["vi_unsplit"], ref["vi"], f"{name} vi (own)")
    # the variance every view uses: shared controls of parallel rows split (Cochrane Handbook §23.3.4)
    close(t["vi"], ref["vi_split"], f"{name} vi (shared controls split)")


def test_workbook_binary_effect_sizes():
    ref = WORKBOOK["ketamine_escitalopram"]["rows"]
    for meas in ("RR", "OR", "RD"):
        t = effect_table("ketamine_escitalopram", measure=meas)
        t = t[t["status"] == "complete"]
        assert _keys(t, WORKBOOK["ketamine_escitalopram"]["key_columns"]) == _list(ref["key"])
        close(t["yi"], ref[f"yi_{meas}"], f"binary yi {meas}")
        close(t["vi"], ref[f"vi_{meas}"], f"binary vi {meas}")


WB = [(n, aid, key) for n, d in sorted(WORKBOOK.items()) for aid, an in d["analyses"].items() if "fits" in an
      for key in an["fits"]]


@pytest.mark.parametrize("name,aid,key", WB)
def test_workbook_pooled(name, aid, key):
    """analyze(name, method, test) equals metafor for every analysis id and every method × test:
    the rows pooled, estimate, SE, CI, p, τ², Q, I², H² and their CIs, weights, the t(k-2) PI,
    predict()'s PI (pi="predict") and leave-one-out."""
    an = WORKBOOK[name]["analyses"][aid]
    method = key.split(":")[0]
    test = _run_test(aid, key)
    a = _analyses(name, method, test)[aid]
    ap = _analyses(name, method, test, "predict")[aid]
    compare_analysis(a, an["fits"][key], an["keys"], an["measure"], WORKBOOK[name]["key_columns"],
                     f"{name} {aid} {key}", ap)


SUBGROUP_TESTS = [(n, aid, key) for n, d in sorted(WORKBOOK.items()) for aid, an in d["analyses"].items()
                  if "tests" in an for key in an["tests"]]


def test_reference_has_subgroup_tests():
    assert len({(n, aid) for n, aid, _ in SUBGROUP_TESTS}) >= 1
    assert any(k for k in SYN["analyses"]["subgroups:drug"]["tests"])


def _compare_subgroup_test(a, ref, key, what):
    method, test = key.split(":")
    assert (a.method, a.test) == (method, test), what
    assert a.k == ref["k"], what
    assert list(a.levels) == _list(ref["levels"]), what
    r = ref["tests"][key]
    close(a.q_between, r["q_between"], f"{what} Q between")
    close(a.p, r["p"], f"{what} p between")
    assert a.df == r["df"], what


@pytest.mark.parametrize("name,aid,key", SUBGROUP_TESTS)
def test_workbook_subgroup_test(name, aid, key):
    method, test = key.split(":")
    a = _analyses(name, method, test)[aid]
    _compare_subgroup_test(a, WORKBOOK[name]["analyses"][aid], key, f"{name} {aid} {key}")


def test_reference_covers_every_analysis():
    """Every analysis id that analyze() returns for every data file (with any test), and every id
    of the synthesis, has metafor fits in the reference, and the reference has no stale ids: a
    new analysis cannot go unvalidated (add it to tests/reference/metafor_reference.R)."""
    assert set(WORKBOOK) == set(datasets()), "data files without a reference (or stale ones)"
    for name in datasets():
        ref_ids = set(WORKBOOK[name]["analyses"])
        for test in TESTS:
            ids = set(_analyses(name, "REML", test))
            assert ids == ref_ids, (f"{name} (test {test}): not in the reference {sorted(ids - ref_ids)}; "
                                    f"in the reference only {sorted(ref_ids - ids)}")
    syn_ids = set(_synthesis())
    assert syn_ids == set(SYN["analyses"]), f"synthesis: {sorted(syn_ids ^ set(SYN['analyses']))}"


def test_reference_has_every_method_and_test():
    """Each pooled analysis has metafor fits for every method × test the book offers (FE: z only;
    a sensitivity:z analysis: z only), each subgroup test likewise; the synthesis: REML."""
    grid = {f"{m}:{t}" for m in METHODS for t in TESTS if m != "FE" or t == "z"}
    for name, d in WORKBOOK.items():
        for aid, an in d["analyses"].items():
            want = {k for k in grid if k.endswith(":z")} if aid.startswith("sensitivity:z") else grid
            assert set(an.get("fits", an.get("tests"))) == want, f"{name} {aid}"
    for aid, an in SYN["analyses"].items():
        want = {"REML:z"} if aid.startswith("sensitivity:z") else {f"REML:{t}" for t in TESTS}
        assert set(an.get("fits", an.get("tests"))) == want, f"synthesis {aid}"


def test_synthesis_rows_against_metafor():
    """Cross-drug SMDs (parallel: SD from SE; crossover: Elbourne 2002, r = 0.5) of the rows each
    file's own eligibility rules admit at 24 h; shared controls of parallel rows split."""
    rows = _synthesis()["overall"].rows
    assert _keys(rows, SYN["key_columns"]) == _list(SYN["rows"]["key"])
    close(rows["yi"], SYN["rows"]["yi"], "synthesis yi")
    close(rows["vi_unsplit"], SYN["rows"]["vi"], "synthesis vi (own)")
    close(rows["vi"], SYN["rows"]["vi_split"], "synthesis vi (shared controls split)")


SYN_FITS = [(aid, key) for aid, an in SYN["analyses"].items() if "fits" in an for key in an["fits"]]


@pytest.mark.parametrize("aid,key", SYN_FITS)
def test_synthesis_against_metafor(aid, key):
    an = SYN["analyses"][aid]
    a = _synthesis(_run_test(aid, key))[aid]
    compare_analysis(a, an["fits"][key], an["keys"], an["measure"], SYN["key_columns"], f"synthesis {aid} {key}")


@pytest.mark.parametrize("key", sorted(SYN["analyses"]["subgroups:drug"]["tests"]))
def test_synthesis_subgroup_test(key):
    a = _synthesis(key.split(":")[1])["subgroups:drug"]
    _compare_subgroup_test(a, SYN["analyses"]["subgroups:drug"], key, f"synthesis subgroups:drug {key}")


# ---------------------------------------------------------------- HKSJ ad hoc and t(k-2) PI

ADHOC = [(n, key) for n, key in FITS if key.endswith(":adhoc")]


def test_example_reference_has_adhoc_fits():
    """Every random-effects example fit has an adhoc twin, and at least one of them differs from
    knha (KH q < 1: hine_rd), so that the max(1, q) correction itself is checked against metafor."""
    assert {n for n, _ in ADHOC} == {n for n, ex in REF["examples"].items() if "fits" in ex}
    corrected = [(n, key) for n, key in ADHOC
                 if REF["examples"][n]["fits"][key]["se"] > REF["examples"][n]["fits"][key.replace("adhoc", "knha")]["se"]
                 * (1 + 1e-9)]
    assert corrected, "no example with KH q < 1"


@pytest.mark.parametrize("name,key", ADHOC)
def test_example_adhoc(name, key):
    """pool(test="adhoc") = metafor rma(test="adhoc"): SE = max(SE_knha, SE_z), t(k-1)."""
    fits = REF["examples"][name]["fits"]
    ref, kh, z = fits[key], fits[key.replace("adhoc", "knha")], fits[key.replace("adhoc", "z")]
    close(ref["se"], max(kh["se"], z["se"]), f"{name} {key}: metafor adhoc SE = max(knha, z)")
    ex = REF["examples"][name]
    r = pool(ex["yi"], ex["vi"], method=ref["method"], test="adhoc")
    for f in ("estimate", "se", "ci_lower", "ci_upper", "p", "z_or_t"):
        close(getattr(r, f), ref[f], f"{name} {key} {f}")


PI_T = [(n, key) for n, key in FITS if REF["examples"][n]["fits"][key].get("pi_t_lower") is not None]


def test_example_reference_has_t_pis():
    assert len(PI_T) >= 10


@pytest.mark.parametrize("name,key", PI_T)
def test_example_pi_t(name, key):
    """Default PI = mu +- t_{k-2,0.975} sqrt(tau2 + 1/sum w*); pi="predict" = metafor predict()."""
    ex = REF["examples"][name]
    ref = ex["fits"][key]
    r = pool(ex["yi"], ex["vi"], method=ref["method"], test=ref["test"])
    close([r.pi_lower, r.pi_upper], [ref["pi_t_lower"], ref["pi_t_upper"]], f"{name} {key} t(k-2) PI")
    rp = pool(ex["yi"], ex["vi"], method=ref["method"], test=ref["test"], pi="predict")
    close([rp.pi_lower, rp.pi_upper], [ref["pi_lower"], ref["pi_upper"]], f"{name} {key} predict() PI")


# ---------------------------------------------------------------- skewness tests (Shi et al. 2023)

SKEW_DOC = REF["skewness"]["documented"]
SKEW_BG = REF["skewness"]["blood_glutamate"]


def _skew(x):
    g = (lambda k: math.nan if x[k] is None else x[k])
    if x["case"] == 1:
        return es.skewness_test_range(g("min"), g("median"), g("max"), x["n"])
    if x["case"] == 2:
        return es.skewness_test(g("q1"), g("median"), g("q3"), x["n"])
    return es.skewness_test_fivenum(g("min"), g("q1"), g("median"), g("q3"), g("max"), x["n"])


@pytest.mark.parametrize("x", SKEW_DOC, ids=[x["label"] for x in SKEW_DOC])
def test_skewness_documented_examples(x):
    """T, critical value and decision equal the R port of metafor conv.fivenum's test, and the
    decision stated in metafor's conv.fivenum documentation."""
    t, c, sig = _skew(x)
    close(t, x["T"], f"{x['label']} T")
    close(c, x["crit"], f"{x['label']} crit")
    assert bool(sig) == x["sig"] == x["documented_sig"], x["label"]


def test_skewness_reference_covers_cases_and_both_decisions():
    assert {x["case"] for x in SKEW_DOC} == {1, 2, 3}
    assert {x["sig"] for x in SKEW_DOC} == {True, False}
    assert SKEW_BG, "no median/IQR arm in data/blood_glutamate.csv"


@pytest.mark.parametrize("x", SKEW_BG, ids=[f"{x['study_id']} arm{x['arm']}" for x in SKEW_BG])
def test_skewness_workbook_median_iqr_rows(x):
    """The workbook's median (Q1-Q3) arms: skewness_test = the R implementation."""
    t, c, sig = es.skewness_test(x["q1"], x["median"], x["q3"], x["n"])
    close(t, x["T"], f"{x['study_id']} arm {x['arm']} T")
    close(c, x["crit"], f"{x['study_id']} arm {x['arm']} crit")
    assert bool(sig) == x["sig"]

