"""Words in the chapters that a reader trusts at a glance (issue #19): verdicts come from the ledger
(glued), never typed, and effects are written without double negatives."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "book").glob("*.md"))
VERDICTS = ("reproduced", "consistent", "discrepant", "not checkable")


def _prose(path: Path) -> str:
    """The Markdown outside code cells and directives."""
    return re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_typed_verdict_in_bold(page):
    """A bold verdict word in prose must be a glued ledger verdict ({glue:text}`..._verdict`)."""
    if page.stem in ("intro", "ledger"):  # they define the verdict words
        return
    for v in VERDICTS:
        assert f"**{v}**" not in _prose(page), f"{page.name}: typed verdict **{v}**; glue <prefix>_verdict instead"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_double_negatives(page):
    """'lowered … by −4.31' reads as a double negative: write '4.31 points lower' (glue <prefix>_abs/_dir)."""
    text = _prose(page)
    assert not re.search(r"(lower(ed)?|reduc(ed|es)|decreas(ed|es)) [^.]{0,40}by \{glue:text\}`[a-z0-9_]*_est`", text)
    assert not re.search(r"by −\d", text)
