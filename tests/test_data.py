"""The data package: the shipped files are valid and cited, and every kind of bad
input is refused with FILE:LINE, column and value — never a traceback or a dropped row."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from glumeta.data.tables import check, datasets, load, read
from bookutil import copy_data, edit_csv
from glumeta.data.workbook import Workbook

DATASETS = datasets()

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def glumeta(*args, env=None):
    return subprocess.run([sys.executable, "-m", "glumeta.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT)


def test_shipped_data_are_valid():
    errors = [p for p in Workbook(DATA).check() if p.severity == "error"]
    assert errors == []
    r = glumeta("check", "--data-dir", str(DATA))
    assert r.returncode == 0, r.stderr
    assert "are valid" in r.stdout


@pytest.mark.parametrize("name", DATASETS)
def test_every_row_is_cited(name):
    rows = list(csv.DictReader(open(DATA / f"{name}.csv", encoding="utf-8")))
    assert rows
    for i, r in enumerate(rows, start=2):
        assert r["source"].strip(), f"{name}.csv:{i}: empty source"
        assert r["locator"].strip(), f"{name}.csv:{i}: empty locator"
        assert r["secondary"] in ("true", "false"), f"{name}.csv:{i}: secondary must be true/false"


def _blocks(text: str) -> list[tuple[str, str]]:
    """(key, text) blocks of a sources file: each section keyed by its heading and the citation
    under it, each table row and each paragraph keyed by itself."""
    import re

    out = []
    for sec in re.split(r"\n(?=## )", text):
        paras = re.split(r"\n\s*\n", sec)
        head = paras[0] + ("\n" + paras[1] if len(paras) > 1 and not paras[1].lstrip().startswith("|") else "")
        out.append((head, sec))
        out += [(ln, ln) for ln in sec.splitlines() if ln.startswith("|")]
        out += [(p, p) for p in paras]
    return out


def _numbers(text: str) -> set[float]:
    import re

    return {float(x) for x in re.findall(r"\d+(?:\.\d+)?|\.\d+", text.replace("−", "-").replace("–", "-"))}


def numbers_near(name: str, study: str) -> set[float]:
    """Every number printed in a block of ../shared/sources/<name>.md or of the seeds that names
    the study (its first word: "Daly", "TRANSFORM-1", "Hu")."""
    import re

    shared = ROOT.parent / "shared"
    text = (shared / "sources" / f"{name}.md").read_text(encoding="utf-8") + "\n\n" + \
        "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((shared / "seeds").glob("*.txt")))
    token = re.split(r"[ (]", study)[0]
    out: set[float] = set()
    for key, block in _blocks(text):
        if token in key:
            out |= _numbers(block)
    return out


@pytest.mark.parametrize("name", DATASETS)
def test_every_number_is_in_the_sources(name):
    """Every non-empty numeric cell (but the year) is printed in a passage of ../shared that names
    the row's study: its table row, its section or its paragraph. A number typed from memory,
    back-calculated, or copied from another trial's row fails."""
    if not (ROOT.parent / "shared").is_dir():
        pytest.skip("../shared not present")
    pkg_fields = {f["name"]: f for res in __import__("json").load(open(DATA / "datapackage.json"))["resources"]
                  if res["name"] == name for f in res["schema"]["fields"]}
    rows = list(csv.DictReader(open(DATA / f"{name}.csv", encoding="utf-8")))
    for i, r in enumerate(rows, start=2):
        near = numbers_near(name, r["study"])
        for col, v in r.items():
            if pkg_fields[col]["type"] in ("number", "integer") and v.strip() and col != "year":
                assert abs(float(v)) in near, f"{name}.csv:{i}: column {col} value {v} not found near {r['study']}"


def test_number_check_is_local_to_the_study():
    """1.69 is TRANSFORM-2's SE; it is printed in ../shared, but not near Canuso 2018."""
    if not (ROOT.parent / "shared").is_dir():
        pytest.skip("../shared not present")
    assert 1.69 in numbers_near("esketamine_madrs", "TRANSFORM-2 (Popova 2019)")
    assert 1.69 not in numbers_near("esketamine_madrs", "Canuso 2018")
    assert 2.10 in numbers_near("esketamine_madrs", "Canuso 2018")


_copy = copy_data


_edit = edit_csv


def _set(name_col: str, value: str, row: int = 1):
    def f(rows):
        j = rows[0].index(name_col)
        rows[row][j] = value
        return rows
    return f


def _errors(d, name):
    """What ``glumeta check`` reports for one file: table checks, then the effect-size step."""
    from glumeta.data.validate import validate

    return [str(p) for p in validate(Workbook(d), [name]) if p.severity == "error"]


# (data file, edit, expected fragments: line, column, message)
CASES = [
    ("blood_glutamate", _set("n_arm1", "1"), ["blood_glutamate.csv:2:", "column 'n_arm1'", "value '1'", "below the minimum 2"]),
    ("blood_glutamate", _set("sem_arm1", "0"), [":2:", "column 'sem_arm1'", "value '0'", "greater than 0"]),
    ("blood_glutamate", _set("sem_arm1", "-3"), [":2:", "column 'sem_arm1'", "greater than 0"]),
    ("blood_glutamate", _set("mean_arm1", "abc"), [":2:", "column 'mean_arm1'", "value 'abc'", "not a number"]),
    ("blood_glutamate", _set("mean_arm1", "1,5"), [":2:", "column 'mean_arm1'", "decimal comma"]),
    ("blood_glutamate", _set("mean_arm1", "nan"), [":2:", "column 'mean_arm1'", "not a finite number"]),
    ("blood_glutamate", _set("mean_arm1", "inf"), [":2:", "column 'mean_arm1'", "not a finite number"]),
    ("blood_glutamate", _set("study_id", "islam2020"), [":3:", "column 'study_id'", "duplicate study_id", "line 2"]),
    ("blood_glutamate", _set("source", ""), [":2:", "column 'source'", "required value is missing"]),
    ("blood_glutamate", _set("status", "done"), [":2:", "column 'status'", "not one of"]),
    ("blood_glutamate", _set("n_arm1", "12.5"), [":2:", "column 'n_arm1'", "not a whole number"]),
    ("blood_glutamate", _set("sd_arm1", "5"), [":2:", "column 'sd_arm1'", "contradict"]),
    ("blood_glutamate", _set("q1_arm1", "60", 2), [":3:", "column 'median_arm1'", "quartiles are not ordered"]),
    ("blood_glutamate", _set("sem_arm2", "", 1), [":2:", "column 'status'", "no full representation"]),
    ("esketamine_madrs", _set("md_ci_lower", "-1", 10), [":11:", "column 'md'", "outside its 95% CI"]),
    ("esketamine_madrs", _set("md_ci_lower", "1", 10), [":11:", "column 'md_ci_lower'", "above the upper limit"]),
    ("esketamine_madrs", _set("md_se", "9", 12), [":13:", "column 'md_se'", "contradicts the 95% CI"]),
    ("esketamine_madrs", _set("design", "cross-over"), [":2:", "column 'design'", "not one of"]),
    ("esketamine_madrs", _set("primary", "yes"), [":2:", "column 'primary'", "not a boolean"]),
    ("esketamine_madrs", _set("primary", "true", 2), [":3:", "column 'primary'", "more than one primary row"]),
    ("esketamine_madrs", _set("n_arm2", "30", 4), [":5:", "column 'n_arm2'", "shared control"]),
    ("esketamine_madrs", _set("p", "1.5"), [":2:", "column 'p'", "above the maximum 1"]),
    ("nitrous_oxide_hamd", _set("md_ci_lower", "", 2), [":3:", "column 'p_prefix'", "cannot be derived from a p-value bound"]),
    ("ketamine_escitalopram", _set("event_arm1", "14"), [":2:", "column 'event_arm1'", "more events than participants"]),
    ("ketamine_escitalopram", _set("pct_arm1", "50.5"), [":2:", "column 'pct_arm1'", "no unique event count"]),
    ("ketamine_escitalopram", _set("totaln_arm2", "0"), [":2:", "column 'totaln_arm2'", "below the minimum 2"]),
]


@pytest.mark.parametrize("name,edit,expect", CASES)
def test_cell_errors_are_located(tmp_path, name, edit, expect):
    d = _copy(tmp_path)
    _edit(d, name, edit)
    errs = _errors(d, name)
    assert errs, "no error reported"
    joined = "\n".join(errs)
    for frag in expect:
        assert frag in joined, f"{frag!r} not in:\n{joined}"
    r = glumeta("check", "--data-dir", str(d))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert expect[0] in r.stderr


def _raw(d: Path, name: str, data: bytes):
    (d / f"{name}.csv").write_bytes(data)


def _text(name):
    return (DATA / f"{name}.csv").read_bytes()


FILE_CASES = {
    "empty": (b"", [":1:", "empty"]),
    "header only": (lambda b: b.split(b"\n", 1)[0] + b"\n", [":2:", "no data rows"]),
    "semicolon": (lambda b: b.replace(b",", b";"), [":1:", "semicolon-separated"]),
    "tab": (lambda b: b.replace(b",", b"\t"), [":1:", "tab-separated"]),
    "latin-1": (lambda b: b.decode("utf-8").encode("latin-1", errors="replace"), ["not valid UTF-8"]),
    "unclosed quote": (lambda b: b.replace(b"\nislam2020,", b"\n\"islam2020,", 1), ["double quote", ":3:"]),
    "ragged row": (lambda b: b.replace(b"\nislam2020,", b"\nislam2020,,", 1), [":3:", "cells but the header has"]),
    "NUL bytes": (lambda b: b.replace(b"islam2020", b"islam\x002020", 1), ["NUL"]),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_file_level_errors(tmp_path, case):
    d = _copy(tmp_path)
    make, expect = FILE_CASES[case]
    data = make(_text("blood_glutamate")) if callable(make) else make
    _raw(d, "blood_glutamate", data)
    errs = "\n".join(_errors(d, "blood_glutamate"))
    assert errs
    for frag in expect:
        assert frag in errs, f"{frag!r} not in {errs}"
    r = glumeta("check", "--data-dir", str(d))
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_unknown_column(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "blood_glutamate", lambda rows: [r + (["extra"] if i == 0 else ["x"]) for i, r in enumerate(rows)])
    errs = "\n".join(_errors(d, "blood_glutamate"))
    assert ":1:" in errs and "column 'extra'" in errs and "unknown column" in errs


def test_missing_required_column(tmp_path):
    d = _copy(tmp_path)

    def drop(rows):
        j = rows[0].index("status")
        return [r[:j] + r[j + 1:] for r in rows]
    _edit(d, "blood_glutamate", drop)
    errs = "\n".join(_errors(d, "blood_glutamate"))
    assert ":1:" in errs and "column 'status'" in errs and "missing from the header" in errs


def test_bom_is_accepted(tmp_path):
    d = _copy(tmp_path)
    _raw(d, "blood_glutamate", b"\xef\xbb\xbf" + _text("blood_glutamate"))
    assert _errors(d, "blood_glutamate") == []
    assert len(load(Workbook(d).dataset("blood_glutamate"))) == len(load(Workbook(DATA).dataset("blood_glutamate")))


def test_crlf_line_endings_are_accepted(tmp_path):
    d = _copy(tmp_path)
    _raw(d, "esketamine_madrs", _text("esketamine_madrs").replace(b"\n", b"\r\n"))
    assert _errors(d, "esketamine_madrs") == []
    assert list(load(Workbook(d).dataset("esketamine_madrs"))["line"]) == list(load(Workbook(DATA).dataset("esketamine_madrs"))["line"])


def test_huge_file_is_refused_quickly(tmp_path):
    import time

    d = _copy(tmp_path)
    body = _text("blood_glutamate").split(b"\n")
    row = body[3]
    _raw(d, "blood_glutamate", body[0] + b"\n" + (row + b"\n") * 1_000_000)
    t = time.perf_counter()
    errs = "\n".join(_errors(d, "blood_glutamate"))
    assert "refused" in errs
    assert time.perf_counter() - t < 5


def test_quote_never_closed(tmp_path):
    d = _copy(tmp_path)
    b = _text("blood_glutamate").rstrip(b"\n")
    _raw(d, "blood_glutamate", b + b',"unterminated note\n')
    errs = "\n".join(_errors(d, "blood_glutamate"))
    assert "double quote" in errs and "Traceback" not in errs


def test_huge_cell_is_refused(tmp_path):
    # 200,000 characters: past the cell limit, within the file's byte limit (glumeta:limits; a
    # 10 MB cell makes a file past that limit, refused before it is read: tests/test_limits.py)
    d = _copy(tmp_path)
    _edit(d, "blood_glutamate", _set("notes", "x" * 200_000))
    errs = "\n".join(_errors(d, "blood_glutamate"))
    assert ":2:" in errs and "longer than" in errs


def test_no_row_is_dropped(tmp_path):
    """Blank lines are skipped, but every non-blank line becomes a row or an error."""
    d = _copy(tmp_path)
    b = _text("blood_glutamate")
    _raw(d, "blood_glutamate", b.replace(b"\nislam2020,", b"\n\n\nislam2020,", 1))
    t = read(Workbook(d).dataset("blood_glutamate"))
    assert [p for p in t.problems if p.severity == "error"] == []
    assert len(t.rows) == len(read(Workbook(DATA).dataset("blood_glutamate")).rows)
    assert t.lines[1] == 5  # physical line numbers survive blank lines


def test_warnings_do_not_fail(tmp_path):
    d = _copy(tmp_path)
    # percentages inconsistent with explicit counts: a warning, not an error
    def f(rows):
        j = rows[0].index("event_arm1")
        rows[1][j] = "11"
        return rows
    _edit(d, "ketamine_escitalopram", f)
    probs = read(Workbook(d).dataset("ketamine_escitalopram")).problems
    assert any(p.severity == "warning" and "does not match" in p.message for p in probs)
    assert not any(p.severity == "error" for p in probs)


def test_smd_plausibility_warning(tmp_path):
    """An SEM typed into the SD column gives |d| > 2: warned."""
    d = _copy(tmp_path)

    def f(rows):
        h = rows[0]
        rows[1][h.index("sd_arm1")] = "110.78"  # an SEM of 1107.83/√100 typed as the SD
        rows[1][h.index("sem_arm1")] = ""
        rows[1][h.index("sd_arm2")] = "102.45"
        rows[1][h.index("sem_arm2")] = ""
        return rows
    _edit(d, "blood_glutamate", f)
    probs = read(Workbook(d).dataset("blood_glutamate")).problems
    assert any(p.severity == "warning" and "SEM entered as an SD" in p.message for p in probs)


def test_analysis_refuses_invalid_data(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "esketamine_madrs", _set("md_se", "-2"))
    r = glumeta("analyze", "esketamine_madrs", "--json", "--data-dir", str(d))
    assert r.returncode == 1
    assert "esketamine_madrs.csv:2:" in r.stderr and "Traceback" not in r.stderr


def _tree_hash(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode() + p.read_bytes())
    return h.hexdigest()


def test_check_and_analyze_do_not_write_data():
    before = _tree_hash(DATA)
    for name in DATASETS:
        assert glumeta("analyze", name, "--json").returncode == 0
    assert glumeta("check").returncode == 0
    assert _tree_hash(DATA) == before


def test_undeclared_table_is_refused(monkeypatch):
    """Inside a book build a page may read only the tables its front matter declares."""
    from glumeta.data.tables import UndeclaredDataError

    monkeypatch.setenv("GLUMETA_DECLARED", "blood_glutamate")
    assert len(load("blood_glutamate")) > 0
    with pytest.raises(UndeclaredDataError, match="declares only"):
        load("esketamine_madrs")


def test_declarations_match_what_pages_read():
    from glumeta.book.sphinxext import declared

    book = ROOT / "book"
    assert declared((book / "esketamine.md").read_text()) == ["esketamine_madrs", "reported", "risk_of_bias"]
    assert declared((book / "methods.md").read_text()) is None
    assert declared((book / "data_dictionary.md").read_text()) == []


def test_n_far_from_the_rest_of_the_study_is_warned(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "esketamine_madrs", _set("n_arm1", "12", 2))  # Canuso 24 h: 12 instead of 35
    probs = read(Workbook(d).dataset("esketamine_madrs")).problems
    w = [p for p in probs if p.severity == "warning" and "far below" in p.message]
    assert w and w[0].line == 3 and w[0].column == "n_arm1"
    assert not [p for p in probs if p.severity == "error"]


# ---- the schema is read once per process; the domain rules are a registry named by the schema

def test_the_schema_is_read_once_per_process(monkeypatch):
    import glumeta.views.chapter
    import glumeta.data.tables as data
    import glumeta.stats.ledger

    reads = []
    stock = data._read_package_file

    def counted(path):
        reads.append(path)
        return stock(path)

    monkeypatch.setattr(data, "_PACKAGES", {})
    monkeypatch.setattr(data, "_read_package_file", counted)
    monkeypatch.delenv("GLUMETA_DECLARED", raising=False)
    monkeypatch.delenv("GLUMETA_DATA_DIR", raising=False)
    glumeta.views.chapter.Chapter("esketamine_madrs", "x")
    glumeta.stats.ledger.ledger()
    assert len(reads) == 1, reads


def test_the_schema_is_read_again_when_it_changes(tmp_path, monkeypatch):
    import os

    import glumeta.data.tables as data

    d = _copy(tmp_path)
    p = d / "datapackage.json"
    assert Workbook(d).package["name"] == "glumeta-data"
    assert Workbook(d).package is Workbook(d).package
    p.write_text(p.read_text(encoding="utf-8").replace('"glumeta-data"', '"glumeta-data-2"', 1), encoding="utf-8")
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert Workbook(d).package["name"] == "glumeta-data-2"


def test_every_rule_the_schema_names_is_registered_with_its_parameters():
    import json

    from glumeta.data.rules import RULES, declared

    pkg = json.load(open(DATA / "datapackage.json", encoding="utf-8"))
    named = set()
    for res in pkg["resources"]:
        for name, params in declared(res["schema"]).items():
            assert name in RULES, name
            assert set(params) <= set(RULES[name].parameters()), (name, params)
            named.add(name)
    assert named == set(RULES)  # no rule is registered that no table uses
    # the thresholds are in the schema, not only in the code
    bg = next(r for r in pkg["resources"] if r["name"] == "blood_glutamate")["schema"]["glumeta:rules"]
    assert bg["plausible_smd"] == {"max_abs_smd": 2} and bg["sd_sem_consistent"] == {"max_relative_gap": 0.02}


def _rules_of(d: Path, name: str, old: str, new: str):
    """Replace text inside *name*'s ``glumeta:rules`` block of the copy's schema."""
    p = d / "datapackage.json"
    text = p.read_text(encoding="utf-8")
    start = text.index('"glumeta:rules"', text.index(f'"name": "{name}"'))
    end = text.index("\n        }", start)
    assert old in text[start:end], old
    p.write_text(text[:start] + text[start:end].replace(old, new, 1) + text[end:], encoding="utf-8")


def test_a_threshold_in_the_schema_changes_the_check(tmp_path):
    d = _copy(tmp_path)
    assert not [p for p in Workbook(d).check(["esketamine_madrs"]) if "implied by the 95% CI" in p.message]
    _rules_of(d, "esketamine_madrs", '"warn_relative_gap": 0.05', '"warn_relative_gap": 0.0001')
    warned = [p for p in Workbook(d).check(["esketamine_madrs"]) if "implied by the 95% CI" in p.message]
    assert warned and all(p.severity == "warning" and p.column == "md_se" for p in warned)
    _rules_of(d, "esketamine_madrs", '"max_relative_gap": 0.25', '"max_relative_gap": 0.005')
    assert [p for p in Workbook(d).check(["esketamine_madrs"]) if "contradicts the 95% CI" in p.message and p.severity == "error"]


def test_a_plain_list_of_rule_names_takes_the_defaults(tmp_path):
    import json
    import re

    d = _copy(tmp_path)
    before = [str(p) for p in Workbook(d).check()]
    p = d / "datapackage.json"
    pkg = json.loads(p.read_text(encoding="utf-8"))
    for res in pkg["resources"]:
        res["schema"]["glumeta:rules"] = list(res["schema"].get("glumeta:rules", []))
    p.write_text(json.dumps(pkg, indent=2, ensure_ascii=False), encoding="utf-8")
    assert [str(x) for x in Workbook(d).check()] == before
    assert re.search(r'"glumeta:rules": \[', p.read_text(encoding="utf-8"))


def test_an_unknown_rule_or_parameter_is_an_error_of_the_schema(tmp_path):
    d = _copy(tmp_path)
    _rules_of(d, "blood_glutamate", '"plausible_smd": {', '"plausible_smdd": {')
    errs = [e for e in _errors(d, "blood_glutamate") if "datapackage.json:" in e]
    assert len(errs) == 1 and "value 'plausible_smdd': blood_glutamate: unknown rule in 'glumeta:rules'" in errs[0]
    d2 = _copy(tmp_path / "2")
    _rules_of(d2, "blood_glutamate", '"max_abs_smd": 2', '"max_smd": 2')
    errs = _errors(d2, "blood_glutamate")
    assert any("rule plausible_smd takes no parameter 'max_smd' (it takes: max_abs_smd)" in e for e in errs), errs
