"""The data flow as objects (issue #17): a Workbook is made at the entry points only, and nothing
below them takes a folder or reads the environment.

* No function of the package has a parameter naming a data folder (``directory``, ``data_dir``,
  ``folder``): below the entry points a table travels as a :class:`glumeta.workbook.Dataset` (or a
  frame), a set of tables as a :class:`glumeta.workbook.Workbook`.
* The environment is read only by the entry points (the command line, the book build and its Sphinx
  extension, the live preview) and by :meth:`glumeta.workbook.Workbook.from_env`, which a chapter
  calls; everything else is handed what it needs.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "analysis" / "glumeta"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))

#: modules that are entry points: they may read and set the environment (and hand it to kernels)
ENTRY = {"cli.py", "build.py", "sphinxext.py", "serve.py", "preview.py", "inprocess.py"}
FOLDER_PARAMS = {"directory", "data_dir", "folder", "data_folder"}


def _rel(p: Path) -> str:
    return p.relative_to(PACKAGE).as_posix()


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _env_reads(tree) -> list[tuple[int, str]]:
    """(line, enclosing function) of every ``os.environ`` / ``os.getenv`` / ``environ`` use."""
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    out = []
    for node in ast.walk(tree):
        hit = (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv")) or (
            isinstance(node, ast.Name) and node.id in ("environ", "getenv"))
        if hit:
            up, func = node, ""
            while up in parents:
                up = parents[up]
                if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    func = up.name
                    break
            out.append((node.lineno, func))
    return out


def test_no_function_takes_a_data_folder():
    bad = []
    for p in MODULES:
        if p.name in ENTRY:
            continue
        for f in _functions(ast.parse(p.read_text(encoding="utf-8"))):
            a = f.args
            names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
            if p.name == "workbook.py" and f.name == "__init__":
                continue  # the Workbook itself is made from a folder (at an entry point)
            bad += [f"{_rel(p)}:{f.lineno} {f.name}({n})" for n in names if n in FOLDER_PARAMS]
    assert not bad, "functions below the entry points take a data folder:\n" + "\n".join(bad)


def test_the_environment_is_read_only_at_the_entry_points():
    bad = []
    for p in MODULES:
        if p.name in ENTRY:
            continue
        for line, func in _env_reads(ast.parse(p.read_text(encoding="utf-8"))):
            if p.name == "workbook.py" and func == "from_env":
                continue
            bad.append(f"{_rel(p)}:{line} (in {func or 'module level'})")
    assert not bad, "environment read below the entry points:\n" + "\n".join(bad)


def test_the_checks_see_what_they_look_for():
    """The two scans above find the patterns they forbid (they are not vacuous)."""
    src = "import os\ndef f(directory=None):\n    return os.environ.get('X')\n"
    tree = ast.parse(src)
    assert [a.arg for f in _functions(tree) for a in f.args.args] == ["directory"]
    assert _env_reads(tree) == [(3, "f")]
    assert len(MODULES) > 20


def test_a_workbook_round_trips_through_the_environment(tmp_path, monkeypatch):
    """What an entry point hands a kernel (Workbook.env) is what the kernel's Workbook.from_env reads."""
    from glumeta.workbook import Workbook

    wb = Workbook(tmp_path, declared=["a", "b"], build=tmp_path / "_build", in_book=True)
    for k, v in wb.env().items():
        monkeypatch.setenv(k, v)
    assert Workbook.from_env() == wb


def test_a_page_reads_only_its_declared_tables():
    import pytest

    from glumeta.data import UndeclaredDataError
    from glumeta.workbook import Workbook

    wb = Workbook(declared=["blood_glutamate"], in_book=True)
    assert len(wb.dataset("blood_glutamate").load()) > 0
    with pytest.raises(UndeclaredDataError, match="declares only"):
        wb.dataset("esketamine_madrs")


def test_a_dataset_is_computed_once_per_content(tmp_path):
    """The effect frame is cached by the bytes of the file: the same content is not computed twice,
    an edited file is never served stale."""
    import shutil

    from glumeta import escalc as ec
    from glumeta.workbook import Workbook

    d = tmp_path / "data"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data", d)
    ds = Workbook(d).dataset("blood_glutamate")
    first = ec.escalc(ds)
    n = len(ec._CACHE)
    assert ec.escalc(ds).equals(first) and len(ec._CACHE) == n  # a hit
    p = d / "blood_glutamate.csv"
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    p.write_text("".join(lines[:-1]), encoding="utf-8")  # one row fewer
    assert len(ec.escalc(ds)) == len(first) - 1


# ---- the layers: each module imports only from its own layer and the layers below it

#: the package's layers, lowest first (also in the package docstring, glumeta/__init__.py, and the
#: README's module table). A new module must be placed in one.
LAYERS = {
    "base": {"__init__", "constants", "paths", "formatting", "style", "counts", "verdicts"},
    "data": {"data", "rules", "validate", "workbook"},
    "statistics": {"effects", "models", "reproduce", "escalc", "eligibility", "sensitivity", "plan",
                   "synthesis", "ledger"},
    "views": {"forest", "figures", "flow", "bias", "findings", "export", "dictionary", "chapter", "html",
              "views", "glue"},
    "book": {"build", "sphinxext", "directives", "serve", "preview", "scaffold", "cli", "inprocess"},
}
ORDER = list(LAYERS)


def _layer(module: str) -> str | None:
    return next((name for name, mods in LAYERS.items() if module in mods), None)


def _imports(tree) -> set[str]:
    """The glumeta modules a module imports, eagerly or inside functions."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    out.add(node.module.split(".")[0])
                else:
                    out.update(a.name for a in node.names)
            elif node.module and node.module.startswith("glumeta."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("glumeta."))
    return out


def test_every_module_has_a_layer():
    missing = [p.stem for p in MODULES if p.parent == PACKAGE and _layer(p.stem) is None]
    assert not missing, f"place these modules in a layer (tests/test_layers.py LAYERS): {missing}"


def test_no_module_imports_from_a_layer_above_its_own():
    bad = []
    for p in MODULES:
        if p.parent != PACKAGE:
            continue
        mine = ORDER.index(_layer(p.stem))
        for dep in sorted(_imports(ast.parse(p.read_text(encoding="utf-8")))):
            layer = _layer(dep)
            if layer is not None and ORDER.index(layer) > mine:
                bad.append(f"{p.name} ({ORDER[mine]}) imports {dep} ({layer})")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_the_layer_scan_sees_imports():
    tree = ast.parse("from .escalc import escalc\ndef f():\n    from . import models\n    import glumeta.plan\n")
    assert _imports(tree) == {"escalc", "models", "plan"}
