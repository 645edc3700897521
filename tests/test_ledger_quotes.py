"""The ledger quotes its documents verbatim, and covers every checkable number in them.

A quote is compared with the named document after whitespace normalisation (runs of
spaces and line breaks become one space), so the slide deck's line wrapping does not
matter; any other difference — an ellipsis, a rebuilt table row — fails.
"""

import csv
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ROWS = list(csv.DictReader((ROOT / "data" / "reported.csv").open(encoding="utf-8")))


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _document(name: str) -> str:
    path = SHARED / "seeds" / name if "/" not in name else (ROOT / name).resolve()
    return _norm(path.read_text(encoding="utf-8"))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared not beside the repository")
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["check_id"])
def test_quote_is_verbatim(row):
    doc = _document(row["document"])
    assert _norm(row["quote"]) in doc, f"{row['check_id']}: quote not found verbatim in {row['document']}"


def test_normalisation_is_whitespace_only():
    assert _norm("least-\nsquare  mean") == "least- square mean"
    assert _norm("a … b") != _norm("a b")


#: Every checkable number of the documents, by check id (issue #12's audit): a number that is
#: printed and can be compared with a computation or with another number of the documents.
CHECKABLE = {
    # Inoshita 2018 (seeds/004; I² from the abstract, sources/blood_glutamate.md)
    "inoshita-smd", "inoshita-ci", "inoshita-p", "inoshita-k", "inoshita-n", "inoshita-i2",
    # Canuso 2018
    "canuso-n", "canuso-4h-sig", "canuso-24h-sig", "canuso-d25-ns", "canuso-4h-es", "canuso-24h-es",
    "canuso-d25-es", "canuso-si-4h", "canuso-si-24h", "canuso-si-d25", "canuso-si-4h-sig",
    "canuso-si-24h-ns", "canuso-si-d25-ns",
    # Glue 2018
    "glue-women", "glue-men", "glue-gad", "glue-sad",
    # Nagele 2015
    "nagele-2h-p", "nagele-24h-p", "nagele-overall-p", "nagele-resp-n2o", "nagele-resp-plc", "nagele-rem-n2o",
    "nagele-resp-or", "nagele-rem-or",
    # Hu 2016
    "hu-n", "hu-duration", "hu-resp-pct-ket", "hu-resp-pct-plc", "hu-rem-pct-ket", "hu-rem-pct-plc",
    "hu-resp-p", "hu-rem-p", "hu-hr-resp", "hu-hr-rem",
    # Lepack 2014
    "lepack-t15", "lepack-t60", "lepack-t6h", "lepack-f",
    # Souery 2007: the figure's odds ratios (values without labels or CIs)
    "souery-or", "souery-p",
    # published meta-analyses beside the book's pools (issue #18, item 5): Inoshita 2018's SMD and
    # every pooled number of Qiu 2023 (sources/nitrous_oxide_hamd.md, "Meta-analyses")
    "inoshita-pool", "qiu-k", "qiu-n", "qiu-2h-smd", "qiu-2h-ci", "qiu-2h-p", "qiu-24h-smd", "qiu-24h-ci",
    "qiu-2w-smd", "qiu-2w-ci", "qiu-resp-rr", "qiu-resp-ci", "qiu-rem-rr", "qiu-rem-ci",
} | {f"petersen-thaserush-level-{lv}-{s}" for lv in range(4) for s in ("rem", "non")} \
  | {f"petersen-mgh-score-{sc}-{s}" for sc in ("0", "1", "1_5", "2", "2_5", "3", "4", "5") for s in ("rem", "non")}


def test_every_checkable_number_has_a_row():
    have = {r["check_id"] for r in ROWS}
    missing = sorted(CHECKABLE - have)
    assert not missing, f"checkable numbers without a ledger row: {missing}"
