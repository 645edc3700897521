"""Counts typed into the README and the how-to appendices (book/add_a_trial.md,
book/add_an_analysis.md) match the data and the code.

A count that can drift ("five source documents", "the four analysis chapters", a ledger's size)
is either not typed at all or listed in CLAIMS below with the number it must equal, computed
here. Every number word from two upwards, and every figure followed by a counted noun, must be one
of those claims: a new typed count fails this test until it is checked here (or reworded so that
it states no count, e.g. "one per analysis file").
"""

import csv
import re

import pytest

from bookutil import ROOT

FILES = ["README.md", "book/add_a_trial.md", "book/add_an_analysis.md"]

WORDS = {w: i for i, w in enumerate(
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split(), start=2)} | {"dozen": 12}
#: nouns that make a figure a count of something in the data, the book or the tests
NOUNS = (r"documents?|chapters?|analys[ie]s|meta-analyses|files?|tables?|rows?|studies|study|trials?|checks?|"
         r"findings?|verdicts?|pages?|builds?|measures?|routes?|sources?|columns?|resources?|notebooks?|"
         r"datasets?|cohorts?|patients|participants|comparisons?|outcomes?|appendi(?:x|ces)")
# (a version such as "Jupyter Book 1" or "Python 3.11" is not a count)
COUNT = re.compile(rf"(?<!Book )(?<!Python )(?<![\d.])\b(\d+|{'|'.join(WORDS)})((?:[ -][\w-]+){{0,2}}?)[ -]({NOUNS})\b", re.I)
NUMBER_WORD = re.compile(rf"\b({'|'.join(WORDS)})\b", re.I)


def _rounds() -> int:
    """tests/test_interrupted_build.py: how many builds it kills."""
    src = (ROOT / "tests" / "test_interrupted_build.py").read_text(encoding="utf-8")
    return int(re.search(r"^ROUNDS = (\d+)$", src, re.M).group(1))


def _egger_min_k() -> int:
    from glumeta.stats.sensitivity import EGGER_MIN_K

    return EGGER_MIN_K


def _pi_min_trials() -> int:
    """The fewest independent trials for which the t(k − 2) prediction interval is given."""
    from glumeta.stats.models import pool

    yi, vi = [0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.03, 0.02]
    return min(t for t in range(1, 5) if pool(yi, vi, trials=t).pi_defined)


def _pi_min_k() -> int:
    from glumeta.stats.models import pool

    return min(k for k in range(2, 5) if pool([0.1, 0.3, 0.5, 0.2][:k], [0.01, 0.02, 0.03, 0.02][:k]).pi_defined)


#: (file, the claim as typed, the number it states, the number it must equal)
CLAIMS = [
    ("README.md", "a test kills 20 builds", 20, _rounds),
    ("README.md", "shown only for k ≥ 3 rows", 3, _pi_min_k),
    ("README.md", "from at least 3 independent trials", 3, _pi_min_trials),
    ("README.md", "Egger's test runs only with k ≥ 10", 10, _egger_min_k),
]


def _prose(text: str) -> str:
    """*text* without fenced code blocks (commands, logs) and with line breaks folded."""
    text = re.sub(r"^```.*?^```", " ", text, flags=re.M | re.S)
    return " ".join(text.split())


@pytest.mark.parametrize("name", FILES)
def test_every_typed_count_is_a_checked_claim(name):
    text = _prose((ROOT / name).read_text(encoding="utf-8"))
    claimed = [c for f, c, _, _ in CLAIMS if f == name]
    for c in claimed:
        assert c in text, f"{name} no longer says {c!r}: update CLAIMS in {__file__}"
    rest = text
    for c in claimed:
        rest = rest.replace(c, " ")
    found = [m.group(0) for m in COUNT.finditer(rest)] + [m.group(0) for m in NUMBER_WORD.finditer(rest)]
    assert not found, (f"{name} types counts that nothing checks: {found}; compute them in the book, "
                       f"reword them, or add them to CLAIMS in tests/test_readme_counts.py")


@pytest.mark.parametrize("name,claim,stated,actual", CLAIMS, ids=[c[1] for c in CLAIMS])
def test_checked_claims_match(name, claim, stated, actual):
    assert str(stated) in claim
    assert stated == actual(), f"{name}: {claim!r}"


def test_listed_verdicts_are_the_ledgers():
    """The README's verdict list is the one the ledger gives."""
    from glumeta.verdicts import Verdict

    text = _prose((ROOT / "README.md").read_text(encoding="utf-8"))
    listed = re.search(r"with a verdict \(([^)]*)\)", text).group(1)
    assert [v.strip() for v in listed.split("/")] == [v.value for v in Verdict]


def test_named_meta_analyses_are_in_the_ledger():
    """The published meta-analyses the README names have rows in data/reported.csv."""
    text = _prose((ROOT / "README.md").read_text(encoding="utf-8"))
    named = re.search(r"published meta-analyses we hold \(([^)]*)\)", text).group(1)
    with (ROOT / "data" / "reported.csv").open(encoding="utf-8") as fh:
        ids = {r["check_id"].split("-")[0] for r in csv.DictReader(fh)}
    authors = [re.match(r"\s*(\w+) \d{4}", x).group(1).lower() for x in named.split(",")]
    assert authors and all(a in ids for a in authors), (authors, sorted(ids))


def test_the_pattern_catches_the_counts_that_drifted():
    """The counts the audit found typed by hand are caught (so the test above means something)."""
    for typed in ("quoted in five source documents", "Only the four analysis chapters are notebooks",
                  "the ledger holds 85 rows", "with two trials", "3 source documents"):
        assert COUNT.search(typed) or NUMBER_WORD.search(typed), typed
