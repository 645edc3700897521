"""Helpers for tests that build a copy of the book."""

import json
import re
import shutil
import struct
import subprocess
import sys
from base64 import b64decode
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = {"blood_glutamate": "blood_glutamate", "esketamine": "esketamine_madrs",
            "nitrous_oxide": "nitrous_oxide_hamd", "ketamine_escitalopram": "ketamine_escitalopram"}


def copy_book(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / f, dst / f)
    for d in ("book", "data"):
        shutil.copytree(ROOT / d, dst / d, ignore=shutil.ignore_patterns("_build", "*.ipynb"))
    return dst


def build(book: Path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glumeta.cli", "build", "--book-dir", str(book),
                           "--data-dir", str(book / "data"), *extra], capture_output=True, text=True, timeout=900)


def analyze(book: Path, name: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "glumeta.cli", "analyze", name, "--json", "--data-dir",
                        str(book / "data")], capture_output=True, text=True, check=True)
    return {a["id"]: a for a in json.loads(r.stdout)["analyses"]}


def page(book: Path, slug: str) -> str:
    return (book / "_build" / "html" / "book" / f"{slug}.html").read_text(encoding="utf-8")


def text_of(html: str) -> str:
    """Visible text, tags stripped, whitespace folded."""
    import html as h

    s = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    s = re.sub(r"<[^>]+>", " ", s)
    return " ".join(h.unescape(s).split())


def forest_pngs(html: str) -> list[tuple[int, int]]:
    """(width, height) of each embedded forest-plot PNG."""
    out = []
    for b64 in re.findall(r'<figure class="glumeta-forest">(?:<a [^>]*>)?<img src="data:image/png;base64,([^"]+)"', html):
        data = b64decode(b64)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        out.append(struct.unpack(">II", data[16:24]))
    return out


def executed(log: str) -> set[str]:
    """Notebook pages executed in a build, from myst-nb's log lines."""
    return set(re.findall(r"book/(\w+)\.md: Executing notebook", log))


def rerun(log: str) -> set[str]:
    """Pages a build re-ran (notebooks executed and in-process pages rendered), from the reasons
    glumeta.sphinxext prints: "glumeta: re-running book/x.md: data/y.csv changed"."""
    return set(re.findall(r"glumeta: re-running book/(\w+)\.md: ", log))


def notebooks(book: Path) -> set[str]:
    """Pages that are notebooks (a jupytext header with a kernel), as opposed to in-process pages."""
    return {p.stem for p in (book / "book").glob("*.md") if "\nkernelspec:" in p.read_text(encoding="utf-8")}
