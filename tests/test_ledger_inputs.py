"""Ledger checks name a declared table and a row by its key, and return one typed result (issue 17, item 2).

Every computation returns a :class:`glumeta.stats.ledger.CheckResult` (no tuples of varying length);
the ``inputs`` of each row of ``data/reported.csv`` are parsed once (:func:`glumeta.stats.ledger.parse_inputs`)
into :class:`glumeta.stats.ledger.Inputs`, whose ``table=`` must be a declared analysis table and whose
``row=`` must give the table's whole primary key and name a row that exists. A wrong reference is
an error naming the ledger file, line, column and value, not a silent "not checkable".
"""

import ast
import csv
import dataclasses
import shutil
from pathlib import Path

import pytest

from bookutil import rewrite_rows
from glumeta.stats import ledger as L
from glumeta.verdicts import Verdict
from glumeta.data.workbook import Workbook

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture
def data_copy(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(DATA, d)
    return d


def _records(path=DATA / "reported.csv"):
    with Path(path).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _line_of(path, check_id) -> int:
    """The physical line of a check in a ledger CSV (read here, not through glumeta)."""
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(f"{check_id},"):
            return i
    raise AssertionError(check_id)


def _set_inputs(path, check_id, inputs):
    def change(row):
        if row["check_id"] == check_id:
            row["inputs"] = inputs
    rewrite_rows(path, change)


def _error(data_copy, check_id, inputs, ids=None) -> L.LedgerInputError:
    path = data_copy / "reported.csv"
    _set_inputs(path, check_id, inputs)
    with pytest.raises(L.LedgerInputError) as exc:
        L.ledger(Workbook(data_copy), ids=ids)
    return exc.value


def _first(check_computation):
    return next(r for r in _records() if r["computation"] == check_computation)


# --- one typed result ----------------------------------------------------------------------------


def test_check_result_is_frozen_with_named_fields():
    r = L.CheckResult(1.0, Verdict.CONSISTENT, "why")
    assert [f.name for f in dataclasses.fields(L.CheckResult)] == ["value", "verdict", "explanation", "details"]
    assert r.details == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.value = 2.0


def test_every_computation_returns_a_check_result_in_the_source():
    """Every ``return`` of a registered computation builds a CheckResult (no tuples, no ``*details``)."""
    tree = ast.parse(Path(L.__file__).read_text(encoding="utf-8"))
    n = 0
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or not any(
                isinstance(d, ast.Call) and getattr(d.func, "id", "") == "computation" for d in fn.decorator_list):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Return):
                assert isinstance(node.value, ast.Call) and node.value.func.id == "CheckResult", (fn.name, node.lineno)
                n += 1
    assert n >= len(L.COMPUTE)
    assert "*details" not in Path(L.__file__).read_text(encoding="utf-8")


def test_a_computation_returning_a_tuple_is_refused():
    c = L.Computation("x", lambda rec, given, frames: (None, Verdict.NOT_CHECKABLE, "old style"))
    with pytest.raises(TypeError, match="not a CheckResult"):
        c({}, L.Inputs(), None)


def test_every_computation_of_the_schema_is_registered():
    res = Workbook().resource("reported")
    enum = next(f for f in res["schema"]["fields"] if f["name"] == "computation")["constraints"]["enum"]
    assert set(enum) == set(L.COMPUTE)


# --- inputs parsed once, references typed ----------------------------------------------------------


def test_inputs_parse_numbers_and_text():
    g = L.parse_inputs("md=-5.3; se=2.10;scale=log", Workbook())
    assert g["md"] == -5.3 and g["se"] == 2.10 and g.get("scale") == "log" and "lo" not in g
    assert g.table is g.row is g.study is None
    with pytest.raises(TypeError):
        g.values["md"] = 0  # read-only


def test_every_row_reference_of_the_ledger_is_a_full_key_of_a_declared_table():
    wb = Workbook()
    checks = L.read_checks(wb)
    refs = [g.row for _, g in checks if g.row is not None]
    assert refs, "the ledger has row references"
    for ref in refs:
        assert ref.table in wb.analyses()
        assert [f for f, _ in ref.key] == wb.resource(ref.table)["schema"]["primaryKey"]
    for rec, g in checks:  # every check that reads a data table names it
        if g.row is not None or g.study is not None:
            assert g.table == rec["analysis"], rec["check_id"]


def test_the_row_reference_selects_one_row():
    wb = Workbook()
    frames = L._Frames(wb)  # the effect frames the computations read
    for _, g in L.read_checks(wb):
        if g.row is not None:
            frame = frames.table(g.row.table)
            assert int(g.row.mask(frame).sum()) == 1, g.row


# --- clear errors --------------------------------------------------------------------------------


def _assert_located(err, data_copy, check_id, value_part):
    msg = str(err)
    line = _line_of(data_copy / "reported.csv", check_id)
    assert f"reported.csv:{line}:" in msg, msg
    assert "column 'inputs'" in msg, msg
    assert f"value '{value_part}" in msg, msg
    assert [p.line for p in err.problems] == [line]


def test_an_unknown_table_names_file_line_column_and_value(data_copy):
    rec = _first("es_from_md_se")
    bad = rec["inputs"].replace(f"table={rec['analysis']}", "table=no_such_table")
    err = _error(data_copy, rec["check_id"], bad)
    _assert_located(err, data_copy, rec["check_id"], "table=no_such_table")
    assert "unknown table 'no_such_table'" in str(err) and rec["analysis"] in str(err)


def _verdict(data_copy, check_id, inputs):
    _set_inputs(data_copy / "reported.csv", check_id, inputs)
    return L.ledger(Workbook(data_copy), ids={check_id})[0]


def test_a_row_not_in_its_table_makes_the_check_not_checkable_and_names_it(data_copy):
    """A reference to a row that is not in the data (a typo, or a trial's row removed from its file)
    cannot be checked: the verdict says so and names the row; the build is not stopped (removing a
    row from a data file must leave a buildable book). An unknown table or a malformed reference
    stays an error (the tests around this one)."""
    rec = _first("es_from_md_se")
    bad = rec["inputs"].replace("|4 h;", "|5 h;") if "|4 h;" in rec["inputs"] else rec["inputs"].replace("row=", "row=x")
    r = _verdict(data_copy, rec["check_id"], bad)
    assert r.verdict == Verdict.NOT_CHECKABLE.value and r.computed is None
    assert f"{rec['analysis']}.csv has study_id = 'canuso2018', comparison = " in r.explanation
    assert "removed or renamed" in r.explanation


def test_a_row_without_the_whole_key_names_the_key(data_copy):
    rec = _first("two_by_two_p")
    err = _error(data_copy, rec["check_id"], f"table={rec['analysis']};row=hu2016|response")
    _assert_located(err, data_copy, rec["check_id"], "row=hu2016|response")
    pk = Workbook().resource(rec["analysis"])["schema"]["primaryKey"]
    assert "|".join(pk) in str(err)


def test_a_row_without_a_table_is_an_error(data_copy):
    rec = _first("two_by_two_p")
    err = _error(data_copy, rec["check_id"], "row=hu2016|response|4 weeks")
    assert "two_by_two_p takes table row; missing: table" in str(err)
    with pytest.raises(L.LedgerInputError, match="'row' names a row of a table: add table=<name>"):
        L.parse_inputs("row=hu2016|response|4 weeks", Workbook())


def test_a_study_not_in_its_table_makes_the_check_not_checkable(data_copy):
    rec = _first("n_vs_data")
    r = _verdict(data_copy, rec["check_id"], f"table={rec['analysis']};study=nosuch2020")
    assert r.verdict == Verdict.NOT_CHECKABLE.value and "study_id = 'nosuch2020'" in r.explanation


@pytest.mark.parametrize("extra,words", [(";splt=34/34", "not taken: splt"), (";randomised=68", "given twice"),
                                         (";randomised", "expected key=value")])
def test_an_input_the_computation_does_not_take_is_an_error(data_copy, extra, words):
    """A typo in an input name (``splt=`` for ``split=``) was silently ignored; now it is refused."""
    rec = _first("es_from_md_se")
    err = _error(data_copy, rec["check_id"], rec["inputs"] + extra)
    assert words in str(err) and str(err.problems[0].line) in str(err)


def test_a_missing_input_is_named(data_copy):
    rec = _first("es_from_md_se")
    err = _error(data_copy, rec["check_id"], ";".join(p for p in rec["inputs"].split(";") if not p.startswith("randomised")))
    assert "missing: randomised" in str(err) and "es_from_md_se takes table row randomised [split]" in str(err)


def test_every_problem_is_reported_at_once(data_copy):
    path = data_copy / "reported.csv"
    a, b = _first("es_from_md_se"), _first("two_by_two_p")
    _set_inputs(path, a["check_id"], "table=nope;row=x;randomised=68")
    _set_inputs(path, b["check_id"], "table=nope2;row=y")
    with pytest.raises(L.LedgerInputError) as exc:
        L.ledger(Workbook(data_copy), ids={"nothing"})
    assert sorted(p.line for p in exc.value.problems) == sorted(
        [_line_of(path, a["check_id"]), _line_of(path, b["check_id"])])


def test_same_patients_as_must_name_a_printed_table(data_copy):
    rec = next(r for r in _records() if "same_patients_as=" in (r["inputs"] or ""))
    bad = ";".join(p if not p.startswith("same_patients_as=") else "same_patients_as=nowhere"
                   for p in rec["inputs"].split(";"))
    err = _error(data_copy, rec["check_id"], bad)
    _assert_located(err, data_copy, rec["check_id"], "same_patients_as=nowhere")


def test_the_cli_prints_the_error_and_exits_1(data_copy, capsys):
    rec = _first("es_from_md_se")
    _set_inputs(data_copy / "reported.csv", rec["check_id"],
                rec["inputs"].replace(f"table={rec['analysis']}", "table=no_such_table"))
    assert L.main(json_out=True, workbook=Workbook(data_copy)) == 1
    err = capsys.readouterr().err
    assert f"reported.csv:{_line_of(data_copy / 'reported.csv', rec['check_id'])}:" in err
    assert "unknown table 'no_such_table'" in err


def test_a_removed_data_row_makes_its_check_not_checkable(tmp_path):
    """Removing a trial's row from a data file must not stop the build: the ledger check that reads
    it becomes "not checkable" and names the missing row."""
    import shutil

    from glumeta.data.workbook import Workbook
    from glumeta.stats.ledger import ledger

    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d)
    p = d / "ketamine_escitalopram.csv"
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    p.write_text("".join(ln for ln in lines if not (ln.startswith("hu2016,") and ",remission," in ln)),
                 encoding="utf-8")
    rows = [r for r in ledger(Workbook(d)) if "study_id = 'hu2016', outcome = 'remission'" in r.explanation]
    assert rows and all(r.verdict == "not checkable" for r in rows)
    assert "no row of" in rows[0].explanation and "removed or renamed" in rows[0].explanation
