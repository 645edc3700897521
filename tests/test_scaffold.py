"""`glumeta new`: scaffold an analysis, fill it with a metafor dataset's rows, match metafor.

These are the steps of the book's appendix *Add an analysis* (book/add_an_analysis.md), run in a
copy of the repository: ``glumeta new NAME --measure M``, fill in ``data/NAME.csv``,
``glumeta check``, ``glumeta analyze NAME --json``, and run the chapter from a fresh kernel.
The slow tests at the end run the appendix's own command lines, in order, build included, and
read the built chapter, the introduction's summary and the summary of findings.
The numbers are metafor's (tests/reference/metafor_reference.json, ``examples``): the rows of
dat.normand1999 (SMD, MD), dat.bcg (RR, OR) and dat.hine1989 (RD), and ``rma(yi, vi,
method="REML")`` with the z-test. The test is given explicitly (``--test z``); the prediction
interval is not compared, its rule being a separate choice.
"""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bookutil import ROOT, copy_book

REF = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text(encoding="utf-8"))["examples"]
SOURCE = {"normand": "metafor dat.normand1999 (Normand 1999, Statistics in Medicine 18:321-359)",
          "bcg": "metafor dat.bcg (Colditz et al. 1994, JAMA 271:698-702)",
          "hine": "metafor dat.hine1989 (Hine et al. 1989, Archives of Internal Medicine 149:2694-2698)"}
CASES = {"SMD": "normand_smd", "MD": "normand_md", "RR": "bcg_rr", "OR": "bcg_or", "RD": "hine_rd"}


def glumeta(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "glumeta.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=300)
    if check:
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r


def rows_of(example: str) -> list[dict]:
    """The example's input as CSV rows of a scaffolded file (column names of `glumeta new`)."""
    inp = REF[example]["input"]
    src = SOURCE[example.split("_")[0]]
    out = []
    for i in range(len(inp["n1"])):
        r = {"study_id": f"study-{i + 1}", "study": f"Study {i + 1}", "year": int(inp.get("year", [1999] * 99)[i]),
             "status": "complete", "source": src, "locator": f"row {i + 1} of the data set", "secondary": "true"}
        if "m1" in inp:
            r.update(n_arm1=inp["n1"][i], mean_arm1=inp["m1"][i], sd_arm1=inp["sd1"][i],
                     n_arm2=inp["n2"][i], mean_arm2=inp["m2"][i], sd_arm2=inp["sd2"][i])
        else:
            r.update(event_arm1=inp["e1"][i], totaln_arm1=inp["n1"][i], event_arm2=inp["e2"][i],
                     totaln_arm2=inp["n2"][i])
        out.append(r)
    return out


def front_matter_data(text: str) -> list[str] | None:
    """The page's `glumeta: data:` list (None without one)."""
    import yaml

    if not text.startswith("---"):
        return None
    meta = yaml.safe_load(text[3:text.index("\n---", 3)]) or {}
    return None if "glumeta" not in meta else list((meta["glumeta"] or {}).get("data") or [])


def scaffold(tmp_path: Path, name: str, measure: str) -> Path:
    book = copy_book(tmp_path / "book")
    before = (book / "data" / "datapackage.json").read_text(encoding="utf-8")
    toc_before = (book / "_toc.yml").read_text(encoding="utf-8")
    pages_before = {p.stem: p.read_text(encoding="utf-8") for p in (book / "book").glob("*.md")}
    analyses = [r["name"] for r in json.loads(before)["resources"] if "glumeta:analysis" in r["schema"]]
    # the pages that read every analysis file (the introduction's summary, the summary of findings)
    listing_all = {stem for stem, text in pages_before.items()
                   if set(analyses) <= set(front_matter_data(text) or ())}
    assert {"intro", "summary_of_findings"} <= listing_all
    r = glumeta("new", name, "--measure", measure, "--book-dir", book, "--data-dir", book / "data")
    for stem in listing_all:
        assert f"book/{stem}.md: '{name}' added" in r.stdout, r.stdout

    # datapackage.json: the old file up to the end of its last resource is kept byte for byte;
    # the one addition is the new resource
    after = (book / "data" / "datapackage.json").read_text(encoding="utf-8")
    end = before.rindex("\n  ]\n}")
    assert after.startswith(before[:end]) and after.endswith(before[end:])
    old, new = json.loads(before), json.loads(after)
    assert new["resources"][:-1] == old["resources"] and {k: v for k, v in new.items() if k != "resources"} == \
        {k: v for k, v in old.items() if k != "resources"}
    res = new["resources"][-1]
    assert res["name"] == name and res["schema"]["glumeta:analysis"]["measure"] == measure
    # the CSV header is the schema's columns; the chapter is listed in _toc.yml, before the synthesis
    header = (book / "data" / f"{name}.csv").read_text(encoding="utf-8").splitlines()
    assert header == [",".join(f["name"] for f in res["schema"]["fields"])]
    toc = (book / "_toc.yml").read_text(encoding="utf-8")
    assert toc == toc_before.replace("      - file: book/synthesis\n",
                                     f"      - file: book/{name}\n      - file: book/synthesis\n")
    assert f'Chapter("{name}", "{name}")' in (book / "book" / f"{name}.md").read_text(encoding="utf-8")
    # the pages listing every analysis file list the new one too, right after the last of them;
    # one line of their front matter changes, every other page is untouched
    for stem, text in pages_before.items():
        after_text = (book / "book" / f"{stem}.md").read_text(encoding="utf-8")
        if stem not in listing_all:
            assert after_text == text, stem
            continue
        dec = front_matter_data(text)
        i = max(dec.index(a) for a in analyses) + 1
        assert front_matter_data(after_text) == dec[:i] + [name] + dec[i:], stem
        changed = [(a, b) for a, b in zip(text.splitlines(), after_text.splitlines()) if a != b]
        assert len(changed) == 1 and len(text.splitlines()) == len(after_text.splitlines()), stem
        assert changed[0][1] == changed[0][0].replace(dec[i - 1], f"{dec[i - 1]}, {name}", 1), stem
    return book


def fill(book: Path, name: str, rows: list[dict]) -> None:
    p = book / "data" / f"{name}.csv"
    header = p.read_text(encoding="utf-8").strip().split(",")
    with p.open("a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, fieldnames=header, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize("measure", list(CASES))
def test_scaffold_fill_matches_metafor(tmp_path, measure):
    example, name = CASES[measure], f"new_{measure.lower()}"
    book = scaffold(tmp_path, name, measure)
    fill(book, name, rows_of(example))
    chk = glumeta("check", name, "--data-dir", book / "data")
    assert "valid" in chk.stdout

    out = json.loads(glumeta("analyze", name, "--json", "--test", "z", "--method", "REML",
                             "--data-dir", book / "data").stdout)
    a = {x["id"]: x for x in out["analyses"]}["overall"]
    ref = REF[example]["fits"]["REML:z"]
    assert a["k"] == ref["k"] and a["method"] == "REML" and a["test"] == "z"
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2", "i2"):
        assert a[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-8), key
    assert [s["yi"] for s in a["studies"]] == pytest.approx(REF[example]["yi"], rel=1e-9, abs=1e-12)
    assert [s["vi"] for s in a["studies"]] == pytest.approx(REF[example]["vi"], rel=1e-9, abs=1e-12)
    assert [s["weight"] for s in a["studies"]] == pytest.approx(ref["weights"], rel=1e-6)


def test_scaffolded_chapter_runs_and_glues_the_pooled_numbers(tmp_path):
    """The chapter from the template runs from a fresh kernel (as the book build and Jupyter run it)
    and glues the pooled SMD that `glumeta analyze` gives."""
    import jupytext
    import nbclient

    from glumeta.formatting import fmt, fmt_ci

    name = "normand_smd"
    book = scaffold(tmp_path, name, "SMD")
    fill(book, name, rows_of("normand_smd"))
    nb = jupytext.read(book / "book" / f"{name}.md")
    env = {"GLUMETA_DATA_DIR": str(book / "data"), "GLUMETA_DECLARED": name,
           "GLUMETA_BUILD_DIR": str(book / "_build")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    glued = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            key = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if key:
                glued[key] = next(v for m, v in o["data"].items() if m.endswith("text/plain"))
    out = json.loads(glumeta("analyze", name, "--json", "--method", "REML", "--data-dir", book / "data").stdout)
    a = {x["id"]: x for x in out["analyses"]}["overall"]
    assert glued["pooled_est"] == fmt(a["estimate"])
    assert glued["pooled_ci"] == fmt_ci(a["ci_lower"], a["ci_upper"])
    assert glued["pooled_k"] == "9"
    html = "".join(o["data"].get("text/html", "") for c in nb.cells for o in c.get("outputs", []) if "data" in o)
    assert '<figure class="glumeta-forest">' in html


def test_new_refuses_bad_or_taken_names(tmp_path):
    book = copy_book(tmp_path / "book")
    pkg = (book / "data" / "datapackage.json").read_bytes()
    for name in ("Bad-Name", "esketamine_madrs", "1abc"):
        r = glumeta("new", name, "--measure", "MD", "--book-dir", book, "--data-dir", book / "data", check=False)
        assert r.returncode == 1 and r.stderr.startswith("glumeta new: "), (name, r.stderr)
    r = glumeta("new", "x_y", "--measure", "HR", "--book-dir", book, "--data-dir", book / "data", check=False)
    assert r.returncode == 2  # argparse: invalid choice
    assert (book / "data" / "datapackage.json").read_bytes() == pkg
    assert not (book / "data" / "x_y.csv").exists()


def test_add_resource_keeps_a_differently_formatted_file(tmp_path):
    """A package file not in json.dumps layout gets the resource inserted as text, the rest untouched."""
    from glumeta.book.scaffold import add_resource, resource

    p = tmp_path / "datapackage.json"
    text = '{"name": "x",\n "resources": [\n    {"name": "a", "path": "a.csv", "schema": {"fields": []}}\n  ]\n}\n'
    p.write_text(text, encoding="utf-8")
    add_resource(p, resource("b", "RR"))
    after = p.read_text(encoding="utf-8")
    assert after.startswith(text[:text.rindex("\n  ]")]) and after.endswith("\n  ]\n}\n")
    assert [r["name"] for r in json.loads(after)["resources"]] == ["a", "b"]


def test_appendix_walks_through_the_command_and_lists_the_keys(tmp_path):
    """book/add_an_analysis.md: its `glumeta new` line runs as written (in a copy), and it names
    every measure, every route of glumeta.stats.escalc and every glumeta:analysis key the plan reads."""
    import re
    import shlex

    from glumeta.stats.escalc import ROUTES
    from glumeta.book.scaffold import MEASURES

    text = (ROOT / "book" / "add_an_analysis.md").read_text(encoding="utf-8")
    assert "book/add_an_analysis" in (ROOT / "_toc.yml").read_text(encoding="utf-8")
    for key in [*ROUTES, *MEASURES, "measure", "also", "label", "overall", "where", "per", "by", "subgroups",
                "forest_columns", "glue_analysis", "forest", "data_table"]:
        assert f"`{key}`" in text or f"`{key}(" in text or f".{key}(" in text, key
    cmd = re.search(r"^\.venv/bin/glumeta (new .+)$", text, re.M).group(1)
    book = copy_book(tmp_path / "book")
    args = shlex.split(cmd)
    glumeta(*args, "--book-dir", book, "--data-dir", book / "data")
    assert (book / "data" / f"{args[1]}.csv").is_file() and (book / "book" / f"{args[1]}.md").is_file()


def test_add_to_pages_edits_block_lists_and_refuses_other_layouts(tmp_path):
    """A block-style `data:` list gets the new name after the last analysis file; a list it cannot
    edit in place (a flow list over several lines) stops `glumeta new` before it writes anything."""
    from glumeta.book.scaffold import add_to_pages

    (tmp_path / "book").mkdir()
    page = tmp_path / "book" / "all.md"
    page.write_text("---\ntitle: x\nglumeta:\n  data:\n    - a\n    - 'b'  # last analysis\n    - reported\n"
                    "---\n\n# All\n", encoding="utf-8")
    other = tmp_path / "book" / "one.md"
    other.write_text("---\nglumeta:\n  data: [a]\n---\n# One\n", encoding="utf-8")
    out = add_to_pages(tmp_path, "c", ["a", "b"])
    assert list(out) == [page]
    assert out[page] == ("---\ntitle: x\nglumeta:\n  data:\n    - a\n    - 'b'  # last analysis\n    - c\n"
                         "    - reported\n---\n\n# All\n")

    book = copy_book(tmp_path / "copy")
    intro = book / "book" / "intro.md"
    text = intro.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("data: ["))
    intro.write_text(text.replace(line, line.replace(", ", ",\n    ", 1)), encoding="utf-8")
    before = {p: p.read_bytes() for p in [*book.rglob("*.md"), *book.rglob("*.json"), book / "_toc.yml"]}
    r = glumeta("new", "demo", "--measure", "MD", "--book-dir", book, "--data-dir", book / "data", check=False)
    assert r.returncode == 1 and "intro.md: cannot add 'demo'" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in before} == before
    assert not (book / "data" / "demo.csv").exists() and not (book / "book" / "demo.md").exists()


# ---- the whole appendix, build included ---------------------------------------------------------

def appendix_commands() -> list[list[str]]:
    """The `glumeta` command lines of book/add_an_analysis.md, in order (shell words, the program
    `.venv/bin/glumeta` dropped, comments cut)."""
    import re
    import shlex

    text = (ROOT / "book" / "add_an_analysis.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            if line.strip():
                words = shlex.split(line, comments=True)
                assert words[0] == ".venv/bin/glumeta", f"the appendix runs {line!r}; the test only runs glumeta"
                out.append(words[1:])
    return out


@pytest.fixture(scope="module")
def appendix_book(tmp_path_factory):
    """A copy of the repository taken through the appendix *Add an analysis* step by step, from
    inside the copy with relative folders (`--book-dir .`, `--data-dir data`): scaffold, fill with
    dat.normand1999, check, analyze, build. Yields (book, name, {command: completed process})."""
    book = copy_book(tmp_path_factory.mktemp("appendix") / "book")
    cmds = appendix_commands()
    assert [c[0] for c in cmds] == ["new", "check", "analyze", "analyze", "build"]
    name = cmds[0][1]
    assert cmds[0][2:4] == ["--measure", "SMD"]
    import glumeta as pkg

    # the glumeta under test, whatever the working directory (PYTHONPATH may be relative)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(pkg.__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    runs = {}
    for cmd in cmds:
        where = ["--book-dir", ".", "--data-dir", "data"] if cmd[0] in ("new", "build") else ["--data-dir", "data"]
        r = subprocess.run([sys.executable, "-m", "glumeta.cli", *cmd, *where], capture_output=True, text=True,
                           timeout=900, cwd=book, env=env)
        assert r.returncode == 0, (cmd, r.stdout[-3000:], r.stderr[-3000:])
        runs[" ".join(cmd)] = r
        if cmd[0] == "new":  # step 2: fill in the rows
            fill(book, name, rows_of("normand_smd"))
    yield book, name, runs


@pytest.mark.slow
def test_appendix_steps_build_a_chapter_that_matches_metafor(appendix_book):
    """Scaffold → fill → check → analyze → build, as the appendix says: the built chapter shows
    metafor's pooled SMD and CI (rma(method="REML", test="adhoc"), the book's default) and names
    the model; the introduction's summary and the summary of findings have a row for it."""
    from bookutil import page, text_of
    from glumeta.formatting import fmt, fmt_ci

    book, name, runs = appendix_book
    ref = REF["normand_smd"]["fits"]
    # step 3: the commands' own output
    js = json.loads(next(r.stdout for c, r in runs.items() if "--json" in c))
    z = {a["id"]: a for a in js["analyses"]}["overall"]
    for key in ("estimate", "ci_lower", "ci_upper", "tau2"):
        assert z[key] == pytest.approx(ref["REML:z"][key], rel=1e-6, abs=1e-8), key
    table = next(r.stdout for c, r in runs.items() if c == f"analyze {name}")
    assert table.startswith(f"{name}: method REML, test adhoc")
    # step 4: the built chapter
    a = {x["id"]: x for x in json.loads(glumeta("analyze", name, "--json", "--data-dir", book / "data").stdout)[
        "analyses"]}["overall"]
    adhoc = ref["REML:adhoc"]
    assert (a["method"], a["test"], a["k"]) == ("REML", "adhoc", adhoc["k"])
    for key in ("estimate", "ci_lower", "ci_upper"):
        assert a[key] == pytest.approx(adhoc[key], rel=1e-6, abs=1e-8), key
    est, ci = fmt(adhoc["estimate"]), fmt_ci(adhoc["ci_lower"], adhoc["ci_upper"])
    text = text_of(page(book, name))
    pi = fmt_ci(adhoc["pi_t_lower"], adhoc["pi_t_upper"])  # the book's rule: t(k - 2)
    assert f"SMD {est} (95% CI {ci}); prediction interval {pi}; k = 9;" in text  # the cell's output
    assert re.search(rf"gives SMD \(Hedges. g\) {est} \(95% CI {ci}\s*;", text)  # the prose (glue)
    assert f"Model: {a['model']}" in text
    assert "REML" in a["model"] and "Hartung–Knapp" in a["model"]
    assert "k = 9" in text and "Traceback" not in text
    # the introduction's summary table: a row for the new file, with the same numbers and model
    intro = page(book, "intro")
    rows = [text_of(tr) for tr in re.findall(r"<tr>.*?</tr>", intro, re.S)]
    row = [r for r in rows if f" {name} " in f" {r} "]  # the data file column (the last but one)
    assert len(row) == 1, rows
    assert est in row[0] and ci in row[0] and a["model"] in row[0]
    # the summary of findings: a row headed by the analysis label
    sof = text_of(page(book, "summary_of_findings"))
    assert a["label"] in sof and ci in sof


@pytest.mark.slow
def test_relative_book_dir_puts_downloads_where_the_pages_link(appendix_book):
    """`glumeta build --book-dir . --data-dir data` from inside the book: the figures and CSVs of
    every chapter land in _build/html beside the pages that link them (a relative book folder sent
    them to book/_build, leaving the links dead)."""
    import html as h

    book, name, _ = appendix_book
    out = book / "_build" / "html"
    assert not (book / "book" / "_build").exists()
    for slug in [name, "esketamine"]:
        src = (out / "book" / f"{slug}.html").read_text(encoding="utf-8")
        links = [h.unescape(x) for x in re.findall(r'(?:href|src)="(\.\./figures/[^"#?]+)"', src)]
        assert any(x.endswith("-results.csv") for x in links), (slug, links)
        for x in links:
            assert (out / "book" / x).resolve().is_file(), (slug, x)
