"""No code in ``analysis/glumeta/`` names a dataset: the schema (``data/datapackage.json``) declares
the tables, their roles and the cross-file synthesis, and code reads the names from it.

The rules, applied to every string constant of every module (f-string pieces included) after
stripping docstrings (module, class and function docstrings may name a real file in a runnable
example; they are documentation, not behaviour):

1. no constant contains a data file name, ``<resource>.csv``;
2. no constant passed as a call argument (positional or keyword) equals a resource name, e.g.
   ``load("reported")``;
3. no constant contains a resource name as a whole word (``_`` counts as a letter), except the
   names that are also a column declared in the schema (``reported`` is a column of the ledger
   and a word of the prose, so it is caught by rules 1 and 2 only).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "analysis" / "glumeta"
SCHEMA = json.loads((ROOT / "data" / "datapackage.json").read_text(encoding="utf-8"))
RESOURCES = [r["name"] for r in SCHEMA["resources"]]
COLUMNS = {f["name"] for r in SCHEMA["resources"] for f in r["schema"]["fields"]}
FILES = sorted({r.get("path", f"{r['name']}.csv") for r in SCHEMA["resources"]} |
               {p.name for p in (ROOT / "data").glob("*.csv")})
MODULES = sorted(PACKAGE.rglob("*.py"))


def _docstrings(tree) -> set[int]:
    """ids of the Constant nodes that are docstrings."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def _word(name: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def violations(source: str, resources=RESOURCES, files=FILES, columns=COLUMNS) -> list[str]:
    """``line: rule: constant`` for every string constant of *source* that names a dataset."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    args = {id(a) for node in ast.walk(tree) if isinstance(node, ast.Call)
            for a in list(node.args) + [k.value for k in node.keywords]}
    words = [(n, _word(n)) for n in resources if n not in columns]
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docs:
            continue
        s = node.value
        hits = [f"file name {f}" for f in files if f in s]
        if id(node) in args and s in resources:
            hits.append(f"resource {s} as an argument")
        hits += [f"resource {n}" for n, rx in words if rx.search(s)]
        out += [f"{node.lineno}: {h}: {s!r}" for h in hits]
    return out


def test_the_rules_catch_names_and_spare_docstrings():
    name = next(n for n in RESOURCES if n not in COLUMNS)
    src = (f'"""Module doc: load("{name}")."""\n'
           f'def f(load):\n    """>>> f("{name}")"""\n    return load("{name}")\n'
           f'x = f"data/{name}.csv"\ny = {{"{name}": 1}}\nz = f"read {name} here"\n'
           'w = load(name="reported")\nok = r["reported"] + "the reported number"\n')
    got = violations(src)
    lines = {int(v.split(":")[0]) for v in got}
    assert lines == {4, 5, 6, 7, 8}, got


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_dataset_name_in_code(path):
    bad = violations(path.read_text(encoding="utf-8"))
    assert not bad, f"{path.relative_to(ROOT)} names datasets (declare them in data/datapackage.json):\n" + "\n".join(bad)


def test_structural_tables_are_declared_by_role():
    roles = {r.get("glumeta:role"): r["name"] for r in SCHEMA["resources"] if r.get("glumeta:role")}
    assert set(roles) >= {"ledger", "bias_judgments"}
    from glumeta.views.bias import judgments_table
    from glumeta.stats.ledger import ledger_table

    assert ledger_table() == roles["ledger"] and judgments_table() == roles["bias_judgments"]


def test_synthesis_is_declared_and_its_page_declares_its_members():
    from glumeta.data.tables import datasets
    from glumeta.stats.synthesis import DRUGS, plan

    decl = SCHEMA["glumeta:synthesis"]
    p = plan()
    assert list(p.members) == [m["resource"] for m in decl["members"]] and set(p.members) <= set(datasets())
    assert DRUGS == p.members and (p.time, p.measure, p.r_assumed) == (decl["time"], decl["measure"], decl["r_assumed"])
    head = (ROOT / "book" / "synthesis.md").read_text(encoding="utf-8").split("---")[1]
    declared = re.search(r"data:\s*\[([^\]]*)\]", head).group(1)
    assert set(p.members) <= {x.strip() for x in declared.split(",")}
