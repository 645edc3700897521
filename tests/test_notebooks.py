"""Each chapter runs as a Jupyter notebook (jupytext + nbclient) from another working
directory and produces the same glued values as the book build."""

import json
import subprocess
import sys
from pathlib import Path

import jupytext
import nbclient
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PAGES = ["blood_glutamate", "esketamine", "nitrous_oxide", "ketamine_escitalopram"]  # the notebook chapters;
DATA = {"blood_glutamate": "blood_glutamate", "esketamine": "esketamine_madrs", "nitrous_oxide": "nitrous_oxide_hamd",
        "ketamine_escitalopram": "ketamine_escitalopram"}
# intro, synthesis, ledger and data dictionary are rendered in-process (glumeta.book.directives)


def glued(nb) -> dict:
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if meta:  # outside the book the payload carries papermill's mime prefix
                data = o["data"]
                out[meta["name"]] = data.get("text/plain", data.get(meta.get("mime_prefix", "") + "text/plain"))
    return out


@pytest.mark.parametrize("page", PAGES)
def test_chapter_runs_in_jupyter(built_book, tmp_path, monkeypatch, page):
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("GLUMETA_DATA_DIR", str(built_book / "data"))
    monkeypatch.setenv("GLUMETA_BUILD_DIR", str(tmp_path / "_build"))
    monkeypatch.delenv("GLUMETA_DECLARED", raising=False)
    nb = jupytext.read(built_book / "book" / f"{page}.md")
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(elsewhere)}}).execute()
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            assert o.get("output_type") != "error", o
            assert o.get("name") != "stderr", o.get("text")
    # a reader re-running the chapter sees the headline numbers as cell outputs (issue #20), the same
    # numbers as `glumeta analyze --json`
    from glumeta.formatting import fmt, fmt_ci

    shown = "\n".join(o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", [])
                      if o.get("output_type") in ("execute_result", "display_data"))
    js = json.loads(subprocess.run([sys.executable, "-m", "glumeta.cli", "analyze", DATA[page], "--json",
                                    "--data-dir", str(built_book / "data")], capture_output=True, text=True,
                                   check=True).stdout)
    heads = [a for a in js["analyses"] if a["id"] == "overall" or (a["id"].startswith("overall:") and a["id"].count(":") == 1)]
    assert heads
    for a in heads:
        sfx = "_exp" if "estimate_exp" in a else ""
        est, lo, hi = a["estimate" + sfx], a["ci_lower" + sfx], a["ci_upper" + sfx]
        assert f"{fmt(est)} (95% CI {fmt_ci(lo, hi)})" in shown, (page, a["id"])
    mine = glued(nb)
    ref = built_book / "_build" / "jupyter_execute" / "book" / f"{page}.glue.json"
    book_values = {k: v["data"].get("text/plain") for k, v in json.loads(ref.read_text()).items()} if ref.exists() else {}
    assert mine == book_values
