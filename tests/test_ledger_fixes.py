"""The three ledger fixes of issue #19, each with a test that fails on the old behaviour.

1. Canuso 2018's effect sizes were judged under two arm splits (4 h under the 68 randomised split
   34/34, day 25 under the analysed 35/31): now one declared split for every check of the trial,
   or the check says why it departs from it.
2. ``hu-duration`` read the deck's "for up to 2 weeks" as the trial's duration; the deck attaches
   it to the improvement (as the abstract's "2 h to 2 weeks"), and the finding is that the 4-week
   response/remission rates are quoted under it.
3. ``inoshita-k`` counted papers by source address (Altamura 1993 and Mauri 1998 share one);
   papers are counted by citation.
"""

import csv
import shutil
from pathlib import Path

import pytest

from glumeta.stats import reproduce as rp
from glumeta.stats.ledger import _paper, _papers, ledger, parse_inputs
from bookutil import rewrite_rows
from glumeta.data.workbook import Workbook

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CANUSO_ES = ("canuso-4h-es", "canuso-24h-es", "canuso-d25-es")


def _csv(name, directory=DATA):
    with (Path(directory) / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


_rewrite = rewrite_rows


@pytest.fixture(scope="module")
def rows():
    return {r.check_id: r for r in ledger(ids=set(CANUSO_ES) | {"hu-duration", "inoshita-k", "inoshita-n"})}


@pytest.fixture
def data_copy(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(DATA, d)
    return d


# --- 1. Canuso 2018: one trial, one declared split ------------------------------------------------


def _declared_split():
    """The split as the data file declares it (read here, not typed): the analysed n of Canuso's rows."""
    splits = {(int(r["n_arm1"]), int(r["n_arm2"])) for r in _csv("esketamine_madrs")
              if r["study_id"] == "canuso2018" and r["status"] == "complete"}
    assert len(splits) == 1, splits
    return splits.pop()


def test_canuso_checks_share_one_split(rows):
    n1, n2 = _declared_split()
    for cid in CANUSO_ES:
        r = rows[cid]
        assert r.details["split"] == f"{n1}/{n2}", (cid, r.details)
        assert f"declared split {n1}/{n2}" in r.explanation, (cid, r.explanation)


@pytest.mark.parametrize("cid", CANUSO_ES)
def test_canuso_verdict_is_recomputed_under_the_declared_split(rows, cid):
    """The verdict follows from d or g under the declared split alone (the old 4 h check was
    'consistent' under 34/34, though d = 0.622 under the 35/31 the day-25 check used)."""
    rec = next(r for r in _csv("reported") if r["check_id"] == cid)
    ref = parse_inputs(rec["inputs"], Workbook(), computation=rec["computation"]).row
    data = next(r for r in _csv(ref.table) if all(r[f] == v for f, v in ref.key))
    c = rp.effect_size_candidates(float(data["md"]), float(data["md_se"]), [_declared_split()],
                                  float(rec["value"]), int(rec["decimals"]))
    hit = bool(c["d_matches"][0] or c["g_matches"][0])
    assert rows[cid].verdict == ("reproduced" if hit else "discrepant"), rows[cid].explanation
    assert rows[cid].computed == pytest.approx(c["d"][0] if c["d_matches"][0] or not hit else c["g"][0])


def test_canuso_4h_not_judged_under_the_even_split(rows):
    r = rows["canuso-4h-es"]
    assert r.verdict == "discrepant"
    assert "d = 0.622" in r.explanation
    # the randomised number split evenly is named only as what would reproduce the value
    assert "34/34 (an assumption" in r.explanation and "which would round to 0.61" in r.explanation


def test_a_departure_from_the_split_must_say_why(data_copy):
    def no_reason(row):
        if row["check_id"] == "canuso-4h-es":
            row["inputs"] += ";split=34/34"
            row["notes"] = ""

    _rewrite(data_copy / "reported.csv", no_reason)
    r = ledger(Workbook(data_copy), ids={"canuso-4h-es"})[0]
    assert r.verdict == "not checkable" and "does not say why" in r.explanation

    def with_reason(row):
        if row["check_id"] == "canuso-4h-es":
            row["notes"] = "a hypothetical reason, for this test"

    _rewrite(data_copy / "reported.csv", with_reason)
    r = ledger(Workbook(data_copy), ids={"canuso-4h-es"})[0]
    assert "the split 34/34, not Canuso 2018's declared 35/31, because: a hypothetical reason, for this test" in r.explanation
    assert r.verdict == "reproduced" and r.details["split"] == "34/34"


def test_rows_that_disagree_have_no_declared_split(data_copy):
    def day25(row):
        if row["study_id"] == "canuso2018" and row["time"] == "day 25":
            row["n_arm2"] = str(int(row["n_arm2"]) - 1)

    _rewrite(data_copy / "esketamine_madrs.csv", day25)
    out = {r.check_id: r for r in ledger(Workbook(data_copy), ids=set(CANUSO_ES))}
    for cid in CANUSO_ES:
        assert "this row's own split" in out[cid].explanation and "no one split" in out[cid].explanation


# --- 2. hu-duration: 4-week rates quoted under "for up to 2 weeks" ---------------------------------


def test_hu_duration_names_the_real_finding(rows):
    r = rows["hu-duration"]
    assert r.verdict == "discrepant"
    assert "rates" in r.quantity
    assert "misstates the trial's duration" not in r.explanation
    assert "the 4-week response and remission rates under that phrase" in r.explanation
    assert "matches the report's window of the improvement, 2 h to 2 weeks" in r.explanation
    assert r.details["rates quoted under it"] == "response 92.3% vs 57.1%; remission 76.9% vs 14.3%"
    assert r.computed == pytest.approx(4)


def test_hu_duration_quote_carries_the_rates():
    rec = next(r for r in _csv("reported") if r["check_id"] == "hu-duration")
    for row in _csv("ketamine_escitalopram"):
        if row["study_id"] == "hu2016":
            assert f"{float(row['pct_arm1']):g}%" in rec["quote"] and f"{float(row['pct_arm2']):g}%" in rec["quote"]


def test_hu_duration_verdict_is_computed(data_copy):
    """Were the rates at 2 weeks, the same check would call the phrase consistent."""
    def at_two_weeks(row):
        if row["study_id"] == "hu2016":
            row["time"] = "2 weeks"

    _rewrite(data_copy / "ketamine_escitalopram.csv", at_two_weeks)
    r = ledger(Workbook(data_copy), ids={"hu-duration"})[0]
    assert r.verdict == "consistent" and "the time the phrase gives them" in r.explanation


# --- 3. inoshita-k: papers counted by citation -----------------------------------------------------


def test_inoshita_k_counts_papers_by_citation(rows):
    cand = [r for r in _csv("blood_glutamate") if r["inoshita_candidate"] == "true"]
    citations = {r["locator"].split(";")[0].strip() for r in cand}
    addresses = {r["source"] for r in cand}
    assert len(citations) != len(addresses)  # the case the old count got wrong
    r = rows["inoshita-k"]
    assert f"{len(cand)} candidate rows from {len(citations)} papers" in r.explanation
    assert r.details["papers (by citation)"] == str(len(citations))
    assert "Altamura 1993 and Mauri 1998 share one source address but are 2 papers" in r.explanation
    assert "Ogawa 2018 (set A) and Ogawa 2018 (set B) are one paper" in r.explanation


def test_paper_is_the_citation_not_the_address():
    import pandas as pd

    t = pd.DataFrame([
        {"study": "A 1990", "source": "https://same", "locator": "J One 1:10–12; abstract"},
        {"study": "B 1991", "source": "https://same", "locator": "J Two 2:20; abstract"},
        {"study": "C 2000 (set A)", "source": "https://c1", "locator": "J Three 3:30; set A"},
        {"study": "C 2000 (set B)", "source": "https://c2", "locator": "J Three 3:30; set B"},
        {"study": "D 2010 (cohort 1)", "source": "https://d", "locator": "Table 2, row x: 1 vs 2"},
    ])
    assert len(_papers(t)) == 4
    assert _paper(t.iloc[4].to_dict()) == "D 2010"
