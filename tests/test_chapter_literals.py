"""Chapters hold no typed-in numbers: every input comes from data/ or data/reported.csv.

Each code cell of every chapter is parsed with :mod:`ast`; an int, float or complex
literal anywhere in it is a number typed into the book, and fails the test.
(Digits inside strings, such as the analysis id ``"time:24 h"``, are names, not inputs.)
"""

import ast
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


def code_cells(path: Path) -> list[str]:
    out = []
    for body in CELL.findall(path.read_text(encoding="utf-8")):
        lines = [ln for ln in body.splitlines() if not ln.startswith(":")]  # cell options (:tags:)
        out.append("\n".join(lines))
    return out


def numeric_literals(code: str) -> list[str]:
    return [ast.unparse(n) for n in ast.walk(ast.parse(code))
            if isinstance(n, ast.Constant) and isinstance(n.value, (int, float, complex)) and not isinstance(n.value, bool)]


CHAPTERS = sorted(BOOK.glob("*.md"))


def test_chapters_found():
    assert len(CHAPTERS) >= 10


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_numeric_literal_in_code_cells(path):
    found = {i: numeric_literals(c) for i, c in enumerate(code_cells(path))}
    found = {i: lits for i, lits in found.items() if lits}
    assert not found, f"{path.name}: numbers typed into code cells {found}"


def test_the_check_catches_a_typed_number():
    assert numeric_literals('ch.forest("overall")') == []
    assert sorted(numeric_literals("rp.ci_z_p(-5.3, 2.10)")) == ["2.1", "5.3"]
    assert numeric_literals("x = [0.5]") == ["0.5"]
