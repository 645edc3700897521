"""The methods a statistical editor would sign (issue #16), checked on the book's own analyses."""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pytest

from glumeta.views.chapter import Chapter
from glumeta.stats.models import DEFAULT_PI, DEFAULT_TEST
from glumeta.stats.plan import analyze, is_main
from glumeta.stats.sensitivity import EGGER_MIN_K

NAMES = ["blood_glutamate", "esketamine_madrs", "nitrous_oxide_hamd", "ketamine_escitalopram"]


@pytest.mark.parametrize("name", NAMES)
def test_every_pool_with_few_studies_is_modified_hksj_and_says_so(name):
    for a in analyze(name):
        if not hasattr(a, "estimate") or a.id.startswith("sensitivity:z"):
            continue
        assert a.test == DEFAULT_TEST == "adhoc" and a.pi_rule == DEFAULT_PI == "t(k-2)"
        d = a.to_dict()
        assert d["test"] == "adhoc" and d["pi_rule"] == "t(k-2)"
        if a.k == 1:  # a single study is shown as reported, not as a model
            assert d["model"] == "Single study (not pooled)" and d["pi_lower"] is None, (name, a.id)
            continue
        assert "ad hoc correction" in d["model"]
        if a.k <= 2 or (a.trials or a.k) < 3:  # no PI from fewer than 3 rows or 3 trials
            assert d["pi_lower"] is None and d["pi_upper"] is None, (name, a.id)
            assert "prediction interval" not in d["model"]
        else:
            assert d["pi_lower"] is not None and "prediction interval on t(k − 2)" in d["model"]
        assert d["trials"] == (a.rows["study_id"].nunique() if "study_id" in a.rows else None)
        if 2 <= a.k:
            assert a.df == a.k - 1  # t on k - 1 df


@pytest.mark.parametrize("name", NAMES)
def test_each_main_pool_has_a_z_sensitivity_twin(name):
    res = {a.id: a for a in analyze(name)}
    for aid, a in res.items():
        if is_main(aid):
            twin = res["sensitivity:z" if aid == "overall" else f"sensitivity:z:{aid.split(':')[1]}"]
            assert twin.test == "z" and twin.k == a.k and math.isclose(twin.estimate, a.estimate)
            assert twin.ci_upper - twin.ci_lower <= a.ci_upper - a.ci_lower + 1e-12


def test_nitrous_oxide_headline_is_single_session_50pct_at_24h():
    a = {x.id: x for x in analyze("nitrous_oxide_hamd")}["overall"]
    assert set(a.rows["time"]) == {"24 h"} and set(a.rows["schedule"]) == {"single session"}
    assert all(c.startswith("50% N2O") for c in a.rows["comparison"])
    assert a.rows["study_id"].is_unique  # one comparison per crossover trial
    out = set(a.outside["study_id"])
    assert {"guimaraes2021", "myles2025"} <= out  # repeated sessions: shown, not pooled
    assert "guimaraes2021" not in set(a.rows["study_id"])


def test_esketamine_headline_is_one_time_window():
    a = {x.id: x for x in analyze("esketamine_madrs")}["overall"]
    assert set(a.rows["time"]) == {"24 h"}
    assert len(a.outside) and "24 h" not in set(a.outside["time"])


def test_islam_is_skew_flagged_and_only_in_the_sensitivity_pool():
    res = {x.id: x for x in analyze("blood_glutamate")}
    assert "islam2020" not in set(res["overall"].rows["study_id"])
    assert "islam2020" in set(res["overall"].outside["study_id"])
    assert "skewed" in res["overall"].outside.set_index("study_id").loc["islam2020", "reason"]
    assert "islam2020" in set(res["sensitivity:with-skewed"].rows["study_id"])


def test_crossover_rows_are_never_split():
    from glumeta.stats.escalc import escalc

    t = escalc("nitrous_oxide_hamd")
    x = t[(t["design"] == "crossover") & t["yi"].notna()]
    assert (x["vi"] == x["vi_unsplit"]).all() and (x["control_share"] == 1).all()


def test_dependent_rows_are_refused():
    from glumeta.stats.escalc import escalc
    from glumeta.stats.plan import pool_frame

    t = escalc("nitrous_oxide_hamd")
    both = t[(t["study_id"] == "nagele2021") & (t["time"] == "24 h")]
    assert len(both) == 2
    with pytest.raises(ValueError, match="crossover comparisons share the same patients"):
        pool_frame("x", "x", both, "MD")


def test_no_egger_test_below_ten_studies():
    ch = Chapter("esketamine_madrs", "test-methods")
    assert ch.by_id["overall"].k < EGGER_MIN_K
    html = ch.robustness("overall").data
    assert "No funnel-asymmetry test" in html and "Egger's test (k =" not in html
    # every robustness figure has a computed sentence
    assert html.count('class="glumeta-robust"') >= 3


def test_k1_pool_has_no_diamond_or_prediction_interval():
    a = {x.id: x for x in analyze("blood_glutamate")}["overall"]
    assert a.k == 1 and math.isnan(a.pi_lower)


def test_a_pool_of_some_arms_splits_the_shared_control_between_those_arms():
    """Cochrane Handbook §23.3.4 divides a shared control among the comparisons in the meta-analysis:
    a pool that admits two of Daly 2018's three 24 h dose arms splits its placebo group of 33 in two,
    not in three as the whole file does (the over-split inflated the arms' variances)."""
    import numpy as np
    import pandas as pd

    from glumeta.data.workbook import Workbook
    from glumeta.stats.escalc import escalc
    from glumeta.stats.models import pool
    from glumeta.stats.plan import pool_frame

    tab = escalc(Workbook(Path(__file__).resolve().parents[1] / "data").dataset("esketamine_madrs"))
    daly = tab[(tab["study_id"] == "daly2018") & (tab["time"] == "24 h") & tab["yi"].notna()]
    assert list(daly["control_share"]) == [3.0, 3.0, 3.0]
    two = daly.iloc[:2]
    other = tab[(tab["study_id"] == "aspire1") & (tab["time"] == "24 h") & tab["yi"].notna()]
    assert len(other) == 1
    a = pool_frame("two-arms", "two arms", pd.concat([two, other]), "MD")
    n1, n2 = two["n_arm1"].to_numpy(float), two["n_arm2"].to_numpy(float)
    want = two["vi_unsplit"].to_numpy() * (1 / n1 + 2 / n2) / (1 / n1 + 1 / n2)
    assert np.allclose(a.rows["vi"].iloc[:2], want) and list(a.rows["control_share"]) == [2.0, 2.0, 1.0]
    assert all("split over 2 comparisons" in d for d in a.rows["derivation"].iloc[:2])
    assert a.k_text == "k = 3 comparisons from 2 trials" and not a.pi_defined
    assert np.isclose(a.estimate, pool(list(two["yi"]) + list(other["yi"]), list(want) + list(other["vi"]),
                                       method="REML", test=a.test).estimate)
    # all three arms with another trial: the file's split, rows unchanged
    full = pool_frame("three-arms", "three arms", pd.concat([daly, other]), "MD")
    assert np.allclose(full.rows["vi"].iloc[:3], daly["vi"])


def test_the_dose_arms_of_one_trial_are_combined_not_pooled():
    """A pool that holds only one trial's dose arms (Daly 2018 at its period-1 endpoint; the
    treatment-resistant subgroup) has no between-trial variance to estimate: its arms are combined
    into the trial's one comparison (glumeta.stats.multiarm) and it is shown as a single study."""
    a = {x.id: x for x in analyze("esketamine_madrs")}
    for aid in ("time:period-1 endpoint", "population:treatment-resistant"):
        p = a[aid]
        assert p.k == 1 and p.trials == 1 and p.model == "Single study (not pooled)", aid
        assert "combined into one comparison" in p.rows["derivation"].iloc[0]
        assert p.rows["n_arm1"].iloc[0] == 34 and p.rows["n_arm2"].iloc[0] == 33


def test_cached_pools_name_their_file_relative_to_each_callers_directory(tmp_path, monkeypatch):
    """analyze() computes the pools of one file content once per process (the build does it before
    its readers fork); a caller in another working directory (a chapter runs in book/) still gets
    rows whose file is named relative to its own directory, as escalc's frames are."""
    import os

    from glumeta.data.workbook import Workbook

    ds = Workbook(Path(__file__).resolve().parents[1] / "data").dataset("esketamine_madrs")
    here = analyze(ds)
    monkeypatch.chdir(tmp_path)
    there = analyze(ds)
    path = Path(__file__).resolve().parents[1] / "data" / "esketamine_madrs.csv"
    for a, b in zip(here, there):
        if getattr(a, "rows", None) is None:
            continue
        assert set(b.rows["file"]) == {os.path.relpath(path, tmp_path)} or set(b.rows["file"]) == {str(path)}
        assert list(a.rows["yi"]) == list(b.rows["yi"])
        if a.outside is not None and len(a.outside):
            assert set(b.outside["file"]) == set(b.rows["file"])


def test_gls_combination_is_the_combined_group_under_a_common_sd():
    """Closed form (not the same formula again): with one SD σ in every group, the GLS combination of
    K arms against a shared control is the sample-size-weighted mean of the arms' differences with
    variance σ²(1/N + 1/n_c) — the combined-group comparison of Cochrane Handbook §23.3.4 without
    the between-arm spread term of its combined SD (Sherman–Morrison on V = σ²(D + 11ᵀ/n_c))."""
    import numpy as np

    from glumeta.stats.multiarm import gls_combine

    sigma2, n, n_c, y = 100.0, np.array([10.0, 30.0, 25.0]), 20.0, np.array([-4.0, -7.0, -1.0])
    v = sigma2 * (1 / n + 1 / n_c)
    est, var = gls_combine(y, v, n, n_c)
    assert np.isclose(est, (n * y).sum() / n.sum())
    assert np.isclose(var, sigma2 * (1 / n.sum() + 1 / n_c))
