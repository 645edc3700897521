"""Published meta-analyses, cross-checked (issue #18, item 5).

Each pooled number of Qiu 2023 (and Inoshita 2018's SMD) has a ledger row: checked against
itself (the interval must contain and centre on its estimate; the p must follow from them) and
set beside the book's own pool of the same outcome at the same time. The trials the book pools,
k, and the verdict are computed from ``data/``: a test edits a copy of the data and sees them move.
"""

import shutil
from pathlib import Path

import pytest

from glumeta.stats.ledger import _ci_reading, ledger
from glumeta.stats.synthesis import synthesis_rows
from glumeta.verdicts import Verdict
from bookutil import rewrite_rows
from glumeta.data.workbook import Workbook

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"

QIU = {  # every number of Qiu 2023 in the sources file, with its verdict
    "qiu-k": "not checkable", "qiu-n": "not checkable",
    "qiu-2h-smd": "not checkable", "qiu-2h-ci": "discrepant", "qiu-2h-p": "not checkable",
    "qiu-24h-smd": "not checkable", "qiu-24h-ci": "consistent",
    "qiu-2w-smd": "not checkable", "qiu-2w-ci": "consistent",
    "qiu-resp-rr": "not checkable", "qiu-resp-ci": "consistent",
    "qiu-rem-rr": "not checkable", "qiu-rem-ci": "consistent",
}
POOLS = {"qiu-2h-smd": "2 h", "qiu-24h-smd": "24 h", "qiu-2w-smd": "week 2"}


_rewrite = rewrite_rows


@pytest.fixture(scope="module")
def rows():
    return {r.check_id: r for r in ledger(ids=set(QIU) | {"inoshita-pool"})}


@pytest.fixture
def data_copy(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(DATA, d)
    return d


@pytest.mark.parametrize("cid,verdict", sorted(QIU.items()))
def test_every_qiu_number_has_a_row_with_a_verdict(rows, cid, verdict):
    r = rows[cid]
    assert r.verdict in {v.value for v in Verdict}
    assert r.verdict == verdict, r.explanation
    assert r.document == "../shared/sources/nitrous_oxide_hamd.md"
    assert len(r.explanation) > 60 and r.details, r.explanation


def test_the_2h_interval_excludes_its_estimate(rows):
    r = rows["qiu-2h-ci"]
    c = _ci_reading({"est": -0.64, "lo": -0.01, "hi": -0.28}, 2)
    assert not c["contained"] and c["reversed"]
    assert r.verdict == "discrepant"
    assert "does not contain the estimate -0.64" in r.explanation
    assert f"lies {c['lo'] - (-0.64):.2f} below the lower limit" in r.explanation
    assert f"centre is {c['centre']:.3f}" in r.explanation
    # no corrected interval is invented: the explanation says it cannot be derived
    assert "cannot be derived" in r.explanation
    # the p printed with it has no consistent pair to be judged against; both readings are computed
    p = rows["qiu-2h-p"]
    assert p.verdict == "not checkable"
    assert p.details["z (estimate)"] == f"{c['z']:.2f}" and p.details["z (CI centre)"] == f"{c['z_centre']:.2f}"


def test_the_ci_verdict_is_computed(data_copy):
    """The same 2 h row with an interval that contains −0.64 (as printed at 24 h) is consistent."""
    def fix(row):
        if row["check_id"] == "qiu-2h-ci":
            row["inputs"] = "est=-0.64;lo=-1.00;hi=-0.28"
    _rewrite(data_copy / "reported.csv", fix)
    r = ledger(Workbook(data_copy), ids={"qiu-2h-ci"})[0]
    assert r.verdict == "consistent", r.explanation
    assert not _ci_reading({"est": 2.33, "lo": 1.23, "hi": 9.0, "scale": "log"}, 2)["centred"]


@pytest.mark.parametrize("cid", sorted(POOLS))
def test_book_pool_rows_name_their_trials_and_k(rows, cid):
    r = rows[cid]
    k = int(r.details["k (book)"])
    trials = [t for t in r.details["trials pooled"].split(", ") if t != "none"]
    assert k == len(trials)
    assert f"the book pools {k} trial{'s' if k != 1 else ''}" in r.explanation
    for t in trials:
        assert t in r.explanation
    assert r.details["k (published)"] == "4" and "different trials" in r.explanation
    # all three pools are shown, the book's default first
    for name in ("modified HKSJ", "REML τ², z-test", "DerSimonian–Laird τ², z-test"):
        assert name in r.explanation
    assert "estimator are not stated" in r.explanation


def test_24h_pool_uses_the_synthesis_conversion(rows):
    """At 24 h the book's rows are those of the cross-drug synthesis (same conversion, same r)."""
    s = synthesis_rows()
    s = s[s["drug"].str.startswith("Nitrous")]
    r = rows["qiu-24h-smd"]
    assert r.details["trials pooled"] == ", ".join(s["study"])
    assert r.details["k (book)"] == str(len(s))
    for study, g in zip(s["study"], s["yi"]):
        assert f"{study} (" in r.explanation and f"g = {g:.2f}" in r.explanation


def test_pending_and_excluded_rows_are_named(rows):
    assert "Yan 2022" in rows["qiu-24h-smd"].details["left out"]
    assert "pending" in rows["qiu-24h-smd"].details["left out"]
    assert "Guimarães 2021" in rows["qiu-2w-smd"].details["left out"]


def test_k_and_trials_follow_the_data(data_copy):
    """Yan 2022's 24 h difference found: the book's 24 h pool has one trial more, by itself."""
    def found(row):
        if row["study_id"] == "yan2022" and row["time"] == "24 h":
            row.update(status="complete", md="-3.0", md_ci_lower="-5.8", md_ci_upper="-0.2",
                       estimate_type="mean difference")
    _rewrite(data_copy / "nitrous_oxide_hamd.csv", found)
    before = {r.check_id: r for r in ledger(ids={"qiu-24h-smd"})}["qiu-24h-smd"]
    after = ledger(Workbook(data_copy), ids={"qiu-24h-smd"})[0]
    assert int(after.details["k (book)"]) == int(before.details["k (book)"]) + 1
    assert "Yan 2022" in after.details["trials pooled"] and "Yan 2022" not in after.details["left out"]
    assert "parallel" in after.explanation


def test_same_k_is_judged_as_a_reproduction(data_copy):
    """With as many trials as the publication, the verdict rule is the ledger's: reproduced when a
    pool rounds to the published number, discrepant otherwise (here the book's 24 h pool and k = 2)."""
    k = int({r.check_id: r for r in ledger(ids={"qiu-24h-smd"})}["qiu-24h-smd"].details["k (book)"])

    def same_k(row):
        if row["check_id"] == "qiu-24h-smd":
            row["inputs"] = f"table=nitrous_oxide_hamd;time=24 h;k={k}"
    _rewrite(data_copy / "reported.csv", same_k)
    r = ledger(Workbook(data_copy), ids={"qiu-24h-smd"})[0]
    assert r.verdict in ("reproduced", "discrepant")
    est = float(r.details["the book's pool (REML τ², modified HKSJ)"].split()[0])
    assert (r.verdict == "reproduced") == any(
        abs(float(v.split()[0]) - (-0.65)) < 0.005 for key, v in r.details.items() if "τ²" in key), est


def test_inoshita_beside_the_book(rows):
    r = rows["inoshita-pool"]
    assert r.verdict == "not checkable"
    assert r.details["k (book)"] == "0" and r.details["k (published)"] == "12"
    assert "no pool to set beside it" in r.explanation


def test_binary_pools_say_why_there_is_none(rows):
    for cid in ("qiu-resp-rr", "qiu-rem-rr"):
        assert "holds no event counts" in rows[cid].explanation


def test_a_p_beside_a_sound_interval_is_judged(data_copy):
    """Had the 2 h interval contained its estimate, the printed p would be judged against it."""
    def fix(row):
        if row["check_id"] == "qiu-2h-p":
            row["inputs"] = "est=-0.64;lo=-1.00;hi=-0.28;decimals=2"
    _rewrite(data_copy / "reported.csv", fix)
    r = ledger(Workbook(data_copy), ids={"qiu-2h-p"})[0]
    assert r.verdict == "discrepant", r.explanation  # z ≈ 3.5 gives p ≈ 0.0005, not < 0.0001
    assert "p range (rounding)" in r.details
