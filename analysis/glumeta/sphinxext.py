"""Sphinx extension: data files and the glumeta package are dependencies of chapters.

Stock Jupyter Book 1 keys a notebook's execution on its source alone, so after a
CSV edit a rebuild shows stale results (even ``execute_notebooks: force`` only
re-executes the pages Sphinx re-reads; MyST-NB#299, jupyter-book#1633).

Each chapter declares the tables it reads in its front matter::

    glumeta:
      data: [blood_glutamate]

This extension

* records, when a page is read, a SHA-256 of each declared CSV, the schema
  (``datapackage.json``) and the ``glumeta`` package sources, and registers the
  files with ``env.note_dependency``;
* on every later build (``env-get-outdated``) re-hashes them and sends any page
  whose data, schema, data folder or package code changed back to be re-read,
  which in ``force`` mode re-executes it; pages whose inputs are unchanged are
  neither re-read nor re-executed;
* exports the declaration as ``GLUMETA_DECLARED`` to the page's kernel, where
  :func:`glumeta.data.read` refuses to read an undeclared table, so a missing
  declaration cannot silently leave a page stale.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml

from .data import data_dir

_PKG = Path(__file__).resolve().parent


def declared(source: str) -> list[str] | None:
    """Table names declared under ``glumeta: data:`` in a page's YAML front matter.

    ``None`` when the page has no ``glumeta`` key (it reads no data); ``[]`` when it
    declares no table but depends on the schema (e.g. the data dictionary).
    """
    if not source.startswith("---"):
        return None
    end = source.find("\n---", 3)
    if end < 0:
        return None
    meta = yaml.safe_load(source[3:end]) or {}
    if "glumeta" not in meta:
        return None
    names = (meta.get("glumeta") or {}).get("data") or []
    return [str(n) for n in names]


def _hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "missing"


def package_hash() -> str:
    """Hash of the glumeta sources: a code change re-executes every data page."""
    h = hashlib.sha256()
    for p in sorted(_PKG.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _inputs(names: list[str]) -> dict[str, str]:
    d = data_dir()
    files = [d / f"{n}.csv" for n in names]
    files.append(d / "datapackage.json")
    return {str(p): _hash(p) for p in files}


def _source_read(app, docname, source):
    names = declared(source[0])
    os.environ["GLUMETA_DECLARED"] = ",".join(names or [])
    deps = app.env.__dict__.setdefault("glumeta_deps", {})
    inputs = _inputs(names) if names is not None else {}
    deps[docname] = {"dir": str(data_dir()), "inputs": inputs, "package": package_hash()}
    for f in inputs:
        app.env.note_dependency(f)


def _outdated(app, env, added, changed, removed):
    deps = env.__dict__.get("glumeta_deps", {})
    cur_dir = str(data_dir())
    pkg = package_hash()
    stale = []
    for doc, rec in deps.items():
        if doc in removed or doc in changed:
            continue
        if not rec["inputs"]:
            continue
        if rec["dir"] != cur_dir or rec["package"] != pkg:
            stale.append(doc)
            continue
        names = [Path(f).stem for f in rec["inputs"] if f.endswith(".csv")]
        if _inputs(names) != {str(Path(cur_dir) / Path(f).name): h for f, h in rec["inputs"].items()}:
            stale.append(doc)
    return stale


def _purge(app, env, docname):
    env.__dict__.get("glumeta_deps", {}).pop(docname, None)


def _merge(app, env, docnames, other):
    mine = env.__dict__.setdefault("glumeta_deps", {})
    theirs = other.__dict__.get("glumeta_deps", {})
    for d in docnames:
        if d in theirs:
            mine[d] = theirs[d]


def _publish(app, exception):
    """Copy figures and the data files into the HTML output so download links resolve.

    Reads ``data/``; never writes there.
    """
    import shutil

    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    figs = Path(app.srcdir) / "_build" / "figures"
    if figs.is_dir():
        shutil.copytree(figs, out / "figures", dirs_exist_ok=True)
    d = data_dir()
    (out / "data").mkdir(exist_ok=True)
    for p in list(d.glob("*.csv")) + [d / "datapackage.json"]:
        if p.exists():
            shutil.copyfile(p, out / "data" / p.name)


def setup(app):
    app.connect("build-finished", _publish)
    app.connect("source-read", _source_read)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
