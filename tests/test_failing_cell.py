"""A page that fails says which page, which cell and why (issue #21, item 4).

Stock myst-nb reports only ``ExecutionError: book/x.md``; glumeta.book.sphinxext names the page, the
code cell (its number, its line in the page and its first line of code) and the cause: the
error's last line, or a timeout with its limit. Each case builds a small book: the intro and
one failing page (a failing page stops the build; the other pages are not needed)."""

import re
from pathlib import Path

import pytest

from bookutil import build, copy_book

pytestmark = pytest.mark.slow

BOOM = '```{code-cell} ipython3\nraise RuntimeError("boom")\n```\n'

SLOW = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
execution:
  timeout: 3
---

# A slow page

```{code-cell} ipython3
x = 1
```

```{code-cell} ipython3
import time
time.sleep(120)
```
"""


def small_book(tmp_path: Path, page: str, text: str) -> Path:
    book = copy_book(tmp_path / "book")
    (book / "book" / f"{page}.md").write_text(text, encoding="utf-8")
    (book / "_toc.yml").write_text(f"format: jb-book\nroot: book/intro\nchapters:\n  - file: book/{page}\n",
                                   encoding="utf-8")
    return book


def failure_line(log: str, page: str) -> str:
    """glumeta build's last word: ``glumeta build: failed: page book/x.md failed: <cell>: <cause>``."""
    lines = [ln for ln in log.splitlines() if ln.startswith(f"glumeta build: failed: page book/{page}.md failed: ")]
    assert lines, log[-3000:]
    return lines[-1]


def test_an_error_names_the_page_the_cell_and_the_error(tmp_path):
    # a copy of a chapter, with a failing cell after its first code cell
    text = (Path(__file__).resolve().parents[1] / "book" / "esketamine.md").read_text(encoding="utf-8")
    first = text.index("```{code-cell}")
    second = text.index("```{code-cell}", text.index("\n```\n", first) + 1)
    text = text[:second] + BOOM + "\n" + text[second:]
    line = text[:second].count("\n") + 1  # the line of the failing cell's fence
    book = small_book(tmp_path, "boom", text)
    r = build(book)
    log = r.stdout + r.stderr
    assert r.returncode != 0
    msg = failure_line(log, "boom")
    assert "code cell 2" in msg and 'raise RuntimeError("boom")' in msg
    assert f"line {line}" in msg or f"line {line + 1}" in msg, (line, msg)
    assert msg.endswith("error: RuntimeError: boom")


def test_a_timeout_names_the_page_the_cell_and_the_limit(tmp_path):
    book = small_book(tmp_path, "slow", SLOW)
    r = build(book)
    log = r.stdout + r.stderr
    assert r.returncode != 0
    msg = failure_line(log, "slow")
    assert "code cell 2" in msg and "import time" in msg
    assert re.search(r"timeout: the cell was still running after 3 s", msg), msg
