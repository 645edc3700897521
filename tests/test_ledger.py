"""The ledger: verdict rules at their boundaries, every required number covered,
discrepancies explained by computation, CLI exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from glumeta.stats.ledger import ledger
from glumeta.verdicts import Verdict, interval, matches, pct_matches

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("computed,ok", [(0.6049999, False), (0.605, True), (0.61, True), (0.6149999, True), (0.615, False)])
def test_two_decimals_boundaries(computed, ok):
    assert matches(0.61, 2, computed) is ok


@pytest.mark.parametrize("computed,ok", [(0.00099, True), (0.001, False), (0.0, True)])
def test_p_below_bound(computed, ok):
    assert matches(0.001, 3, computed, "<") is ok


@pytest.mark.parametrize("computed,ok", [(0.049, False), (0.05, True), (0.5, True)])
def test_not_significant_bound(computed, ok):
    assert matches(0.05, 2, computed, ">=") is ok


def test_interval():
    assert interval(0.61, 2) == pytest.approx((0.605, 0.615))
    assert interval(8.5e-5, 6) == pytest.approx((8.45e-5, 8.55e-5))


@pytest.mark.parametrize("count,n,pct,ok", [(28, 29, 97, True), (1, 8, 13, True), (1, 8, 12, True), (7, 8, 88, True),
                                             (4, 115, 27, False), (12, 13, 92.3, True), (12, 13, 92.4, False)])
def test_grim_percentages(count, n, pct, ok):
    d = 1 if pct != int(pct) else 0
    assert pct_matches(count, n, pct, d) is ok


@pytest.fixture(scope="module")
def rows():
    return {r.check_id: r for r in ledger()}


REQUIRED = {  # the numbers the issue names, each with its expected verdict
    "inoshita-smd": "not checkable", "inoshita-ci": "not checkable", "inoshita-p": "consistent",
    # judged under Canuso's one declared split, 35/31 (d = 0.622); the 68 randomised split 34/34
    # (d = 0.612) is only named as what would reproduce 0.61 (tests/test_ledger_fixes.py)
    "canuso-4h-es": "discrepant", "canuso-24h-es": "discrepant", "canuso-d25-es": "reproduced",
    "canuso-4h-sig": "consistent", "canuso-24h-sig": "consistent", "canuso-d25-ns": "consistent",
    "canuso-si-4h": "not checkable", "canuso-si-24h": "not checkable", "canuso-si-d25": "not checkable",
    "nagele-2h-p": "consistent", "nagele-24h-p": "consistent", "nagele-resp-or": "consistent",
    "nagele-rem-or": "discrepant", "nagele-resp-n2o": "consistent", "nagele-rem-n2o": "consistent",
    "hu-resp-p": "reproduced", "hu-rem-p": "reproduced", "hu-hr-resp": "consistent", "hu-hr-rem": "consistent",
    "hu-resp-pct-ket": "consistent", "hu-rem-pct-plc": "consistent",
    "lepack-t15": "consistent", "lepack-t60": "consistent", "lepack-t6h": "consistent", "lepack-f": "consistent",
    "petersen-mgh-score-2-rem": "discrepant", "petersen-thaserush-level-0-rem": "consistent",
    "canuso-n": "consistent", "hu-n": "consistent", "hu-duration": "discrepant", "inoshita-n": "not checkable",
    "inoshita-k": "not checkable", "glue-women": "consistent", "glue-men": "consistent", "glue-gad": "consistent",
    "glue-sad": "consistent", "nagele-overall-p": "not checkable", "souery-or": "not checkable",
    "souery-p": "not checkable", "canuso-si-4h-sig": "not checkable",
}


@pytest.mark.parametrize("cid,verdict", sorted(REQUIRED.items()))
def test_required_rows(rows, cid, verdict):
    assert rows[cid].verdict == verdict, rows[cid].explanation


def test_i2_row_exists(rows):
    assert any(r.quantity in ("k",) for r in rows.values())
    assert len([r for r in rows.values() if r.check_id.startswith("petersen-")]) == 24


def test_explanations_are_computed(rows):
    assert "Pearson χ² without continuity correction (p = 0.0372)" in rows["hu-resp-p"].explanation
    assert "Fisher's exact test 0.0768" in rows["hu-resp-p"].explanation
    assert "discordant pairs 3/1" in rows["nagele-rem-or"].explanation
    assert "with 11 instead of 111" in rows["petersen-mgh-score-2-rem"].explanation
    # a correction must keep the table's totals (115 patients, 58 remitters, as the Thase/Rush table)
    assert "41 instead of 4" not in rows["petersen-mgh-score-2-rem"].explanation
    assert "41 instead of 4" not in rows["petersen-mgh-score-2-non"].explanation
    assert "58 remitters of 115" in rows["petersen-mgh-score-2-rem"].explanation
    assert "34/34" in rows["canuso-4h-es"].explanation and "declared split 35/31" in rows["canuso-4h-es"].explanation
    assert "435 MDD / 435 controls" in rows["inoshita-n"].explanation and "7 papers" in rows["inoshita-n"].explanation
    assert "2 fewer than the 68 randomised" in rows["canuso-n"].explanation
    assert "4 weeks" in rows["hu-duration"].explanation and "2 h to 2 weeks" in rows["hu-duration"].explanation
    for r in rows.values():
        if r.verdict == Verdict.DISCREPANT.value:
            assert len(r.explanation) > 40


def test_cli_json_and_exit_code():
    r = subprocess.run([sys.executable, "-m", "glumeta.cli", "ledger", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert sum(d["summary"].values()) == len(d["rows"]) >= 50
    assert set(d["summary"]) == {v.value for v in Verdict}
    # the two percentages of Petersen's MGH score-2 row are one typo: one finding, two rows
    assert d["findings"]["discrepant"] == d["summary"]["discrepant"] - 1
