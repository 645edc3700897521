"""The data flow as objects (issue #17): a Workbook is made at the entry points only, and nothing
below them takes a folder or reads the environment.

* No function of the package has a parameter naming a data folder (``directory``, ``data_dir``,
  ``folder``): below the entry points a table travels as a :class:`glumeta.data.workbook.Dataset` (or a
  frame), a set of tables as a :class:`glumeta.data.workbook.Workbook`.
* The environment is read only by the entry points (the command line, the book build and its Sphinx
  extension, the live preview) and by :meth:`glumeta.data.workbook.Workbook.from_env`, which a chapter
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
    from glumeta.data.workbook import Workbook

    wb = Workbook(tmp_path, declared=["a", "b"], build=tmp_path / "_build", in_book=True)
    for k, v in wb.env().items():
        monkeypatch.setenv(k, v)
    assert Workbook.from_env() == wb


def test_a_page_reads_only_its_declared_tables():
    import pytest

    from glumeta.data.tables import UndeclaredDataError
    from glumeta.data.workbook import Workbook

    wb = Workbook(declared=["blood_glutamate"], in_book=True)
    assert len(wb.dataset("blood_glutamate").load()) > 0
    with pytest.raises(UndeclaredDataError, match="declares only"):
        wb.dataset("esketamine_madrs")


def test_a_dataset_is_computed_once_per_content(tmp_path):
    """The effect frame is cached by the bytes of the file: the same content is not computed twice,
    an edited file is never served stale."""
    import shutil

    from glumeta.stats import escalc as ec
    from glumeta.data.workbook import Workbook

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

#: the package's layers, lowest first: the modules at the package's top level (``base``; the
#: command line, an entry point, counts as ``book``) and one subpackage per layer above them
#: (also in the package docstring, glumeta/__init__.py, and the README's module table).
ORDER = ["base", "data", "stats", "views", "book"]
BASE = {"__init__", "constants", "paths", "formatting", "style", "counts", "verdicts"}


def _module(p: Path) -> str:
    """The dotted name of a package file, relative to glumeta (``stats.escalc``, ``cli``)."""
    rel = p.relative_to(PACKAGE).with_suffix("")
    parts = [x for x in rel.parts if x != "__init__"]
    return ".".join(parts) or "__init__"


def _layer(module: str) -> str | None:
    top = module.split(".")[0]
    if "." not in module and top in BASE:
        return "base"
    if module == "cli":
        return "book"
    return top if top in ORDER else None


def _imports(tree, module: str) -> set[str]:
    """The glumeta modules (dotted, relative to glumeta) a module imports, eagerly or in functions."""
    pkg = module.split(".")[:-1] if "." in module else []
    if (PACKAGE / Path(*module.split("."))).is_dir():
        pkg = module.split(".")
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else list(pkg)
                if node.module:
                    mod = ".".join(base + node.module.split("."))
                    out.add(mod)
                    # `from ..data import tables`: the name may be a module of that package
                    out.update(f"{mod}.{a.name}" for a in node.names
                               if (PACKAGE / Path(*mod.split(".")) / f"{a.name}.py").is_file())
                else:
                    out.update(".".join(base + [a.name]) for a in node.names)
            elif node.module and node.module.startswith("glumeta."):
                out.add(node.module.removeprefix("glumeta."))
            elif node.module == "glumeta":
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name.removeprefix("glumeta.") for a in node.names if a.name.startswith("glumeta."))
    return out


def test_every_module_has_a_layer():
    missing = [_module(p) for p in MODULES if _layer(_module(p)) is None]
    assert not missing, f"put these modules in a layer's subpackage (or BASE in tests/test_layers.py): {missing}"


def test_no_module_imports_from_a_layer_above_its_own():
    bad = []
    for p in MODULES:
        mod = _module(p)
        mine = ORDER.index(_layer(mod))
        for dep in sorted(_imports(ast.parse(p.read_text(encoding="utf-8")), mod)):
            layer = _layer(dep)
            if layer is not None and ORDER.index(layer) > mine:
                bad.append(f"{mod} ({ORDER[mine]}) imports {dep} ({layer})")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_the_layer_scan_sees_imports():
    tree = ast.parse("from .escalc import escalc\ndef f():\n    from ..data import tables\n    import glumeta.views.forest\n"
                     "    from .. import paths\n")
    assert _imports(tree, "stats.plan") == {"stats.escalc", "data", "data.tables", "views.forest", "paths"}
    assert _layer("views.forest") == "views" and _layer("formatting") == "base" and _layer("cli") == "book"
