"""The objects the data flows in: a :class:`Workbook` and its :class:`Dataset` s.

A **Workbook** is a data folder as one run sees it: the folder, its
``datapackage.json`` (read once per process, again only when the file changes),
the tables a book page may read, where figures are written and whether the run
is a book build. It is made only at the entry points:

* the command line (:mod:`glumeta.cli`) from ``--data-dir``;
* the book build (:mod:`glumeta.book.build`, :mod:`glumeta.book.sphinxext`), which hands it to each
  page's kernel as environment variables;
* a chapter, with :meth:`Workbook.from_env` — the one place below the entry points
  where the environment is read.

A **Dataset** is one table of a workbook: its resource (schema, analysis plan),
the validated :class:`~glumeta.data.tables.Table` and its effect frame, each computed once
per content of the file (the caches are keyed by a SHA-256 of the bytes, so an
edited CSV is never served stale, even in a long-lived ``glumeta serve``).

Everything below takes a Dataset (or a frame), never a folder; as in metafor, where
``escalc()`` returns what ``rma()`` takes::

    wb = Workbook.from_env()
    ds = wb.dataset("blood_glutamate")
    frame = escalc(ds)             # one effect per row (glumeta.stats.escalc), cached by content
    pools = analyze(ds)            # the declared pools (glumeta.stats.plan)

For convenience a table's *name* is accepted wherever a Dataset is, and resolved
in the :func:`current` workbook (installed by the entry point with :func:`use`,
else :meth:`Workbook.from_env`).

Layer: data. May import the base layer (:mod:`glumeta.paths`) and the data layer
(:mod:`glumeta.data.tables`); the statistics take a Dataset, not the other way round.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from ..paths import REPO

__all__ = ["Dataset", "Workbook", "current", "resolve", "use"]

#: Environment variables an entry point sets for a page's kernel (read by :meth:`Workbook.from_env`).
ENV_DATA, ENV_BUILD, ENV_DECLARED = "GLUMETA_DATA_DIR", "GLUMETA_BUILD_DIR", "GLUMETA_DECLARED"


class Workbook:
    """A data folder as one run sees it.

    Parameters
    ----------
    folder : path, optional
        The data folder (``datapackage.json`` and its CSVs); default ``<repo>/data``.
    declared : iterable of str, optional
        The tables this page may read (a book page's front matter); ``None`` allows all.
    build : path, optional
        The build folder figures are written to; default ``<repo>/_build``.
    in_book : bool
        True while a page is built into the book: figures are linked as files,
        not embedded.

    Attributes
    ----------
    folder : pathlib.Path
        The data folder, resolved.
    declared : tuple of str or None
        The tables a page may read (``None``: all).
    build : pathlib.Path
        The build folder.
    in_book : bool
        Whether a page is being built into the book.

    Examples
    --------
    >>> wb = Workbook()
    >>> "blood_glutamate" in wb.analyses()
    True
    >>> wb.dataset("blood_glutamate").plan["measure"]
    'SMD'
    """

    def __init__(self, folder=None, *, declared: Iterable[str] | None = None, build=None, in_book: bool = False):
        self.folder = Path(folder).resolve() if folder else REPO / "data"
        self.declared = None if declared is None else tuple(declared)
        self.build = Path(build) if build else REPO / "_build"
        self.in_book = bool(in_book)

    @classmethod
    def from_env(cls) -> "Workbook":
        """The workbook an entry point handed to this process: ``$GLUMETA_DATA_DIR`` (the data
        folder), ``$GLUMETA_BUILD_DIR`` (the build folder) and ``$GLUMETA_DECLARED`` (set by
        :mod:`glumeta.book.sphinxext` for a page being built: the tables it declares).

        Returns
        -------
        Workbook
            Unset variables give the defaults; ``in_book`` is True when ``$GLUMETA_DECLARED`` is set.

        Examples
        --------
        The inverse of :meth:`env`:

        >>> from unittest import mock
        >>> wb = Workbook(declared=["blood_glutamate"], in_book=True)
        >>> with mock.patch.dict("os.environ", wb.env()):
        ...     Workbook.from_env() == wb
        True
        """
        dec = os.environ.get(ENV_DECLARED)
        return cls(os.environ.get(ENV_DATA) or None, build=os.environ.get(ENV_BUILD) or None,
                   declared=None if dec is None else [n for n in dec.split(",") if n], in_book=dec is not None)

    def env(self) -> dict[str, str]:
        """The environment variables that hand this workbook to a child process
        (the inverse of :meth:`from_env`).

        Returns
        -------
        dict of str to str
            ``GLUMETA_DATA_DIR`` and ``GLUMETA_BUILD_DIR``, and ``GLUMETA_DECLARED`` (comma-separated)
            when the tables a page may read are restricted.

        Examples
        --------
        >>> env = Workbook(declared=["blood_glutamate", "reported"]).env()
        >>> sorted(env), env["GLUMETA_DECLARED"]
        (['GLUMETA_BUILD_DIR', 'GLUMETA_DATA_DIR', 'GLUMETA_DECLARED'], 'blood_glutamate,reported')
        """
        out = {ENV_DATA: str(self.folder), ENV_BUILD: str(self.build)}
        if self.declared is not None:
            out[ENV_DECLARED] = ",".join(self.declared)
        return out

    def __repr__(self) -> str:
        return f"Workbook({str(self.folder)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Workbook) and (self.folder, self.declared, self.build, self.in_book) == (
            other.folder, other.declared, other.build, other.in_book)

    def __hash__(self) -> int:
        return hash((self.folder, self.declared, self.build, self.in_book))

    # ------------------------------------------------------------------ the package
    @property
    def package_path(self) -> Path:
        """The folder's ``datapackage.json`` (the repository's when the folder has none).

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> from glumeta.paths import REPO
        >>> Workbook().package_path == REPO / "data" / "datapackage.json"
        True
        """
        pkg = self.folder / "datapackage.json"
        return pkg if pkg.exists() else REPO / "data" / "datapackage.json"

    @property
    def package(self) -> dict:
        """The parsed ``datapackage.json``, read once per process per file version (shared: read-only).

        Returns
        -------
        dict
            The data package: ``name``, ``resources`` (one per table), ...

        Examples
        --------
        >>> pkg = Workbook().package
        >>> pkg["name"], pkg is Workbook().package
        ('glumeta-data', True)
        """
        from .tables import _package

        return _package(self.package_path)[2]

    @property
    def package_bytes(self) -> bytes:
        """The bytes of ``datapackage.json``, as read for :attr:`package` (hashed into :meth:`version`).

        Returns
        -------
        bytes

        Examples
        --------
        >>> import json
        >>> wb = Workbook()
        >>> json.loads(wb.package_bytes) == wb.package
        True
        """
        from .tables import _package

        return _package(self.package_path)[1]

    def resource(self, name: str) -> dict:
        """The resource of table *name*; KeyError naming the known tables otherwise.

        Returns
        -------
        dict
            The table's resource of ``datapackage.json`` (``name``, ``path``, ``schema``, ...); shared,
            so read-only.

        Examples
        --------
        >>> wb = Workbook()
        >>> wb.resource("reported")["path"]
        'reported.csv'
        >>> wb.resource("nosuch")
        Traceback (most recent call last):
        ...
        KeyError: "unknown dataset 'nosuch'; known: blood_glutamate, ..."
        """
        for res in self.package["resources"]:
            if res["name"] == name:
                return res
        known = ", ".join(r["name"] for r in self.package["resources"])
        raise KeyError(f"unknown dataset {name!r}; known: {known}")

    def tables(self) -> tuple[str, ...]:
        """Every table ``glumeta check`` validates, in the package's order.

        Returns
        -------
        tuple of str

        Examples
        --------
        >>> wb = Workbook()
        >>> "reported" in wb.tables(), set(wb.analyses()) <= set(wb.tables())
        (True, True)
        """
        return tuple(r["name"] for r in self.package["resources"])

    def analyses(self) -> tuple[str, ...]:
        """The analysis tables: every resource whose schema declares ``glumeta:analysis``.
        A new CSV with such a resource is a new analysis; no code names the files.

        Returns
        -------
        tuple of str
            Their names, in the package's order.

        Examples
        --------
        >>> Workbook().analyses()
        ('blood_glutamate', 'esketamine_madrs', 'nitrous_oxide_hamd', 'ketamine_escitalopram')
        """
        return tuple(r["name"] for r in self.package["resources"] if "glumeta:analysis" in r["schema"])

    def role(self, role: str) -> str | None:
        """The table declaring ``glumeta:role`` *role* (e.g. ``ledger``), or None.

        Returns
        -------
        str or None
            The first resource declaring the role (on the resource or its schema).

        Examples
        --------
        >>> wb = Workbook()
        >>> wb.role("ledger"), wb.role("nosuch")
        ('reported', None)
        """
        for r in self.package["resources"]:
            if r.get("glumeta:role") == role or r["schema"].get("glumeta:role") == role:
                return r["name"]
        return None

    def dataset(self, name: str) -> "Dataset":
        """Table *name* of this workbook. A book page may read only the tables it declares
        (:class:`~glumeta.data.tables.UndeclaredDataError` otherwise).

        Returns
        -------
        Dataset

        Raises
        ------
        glumeta.data.tables.UndeclaredDataError
            The workbook restricts the tables (:attr:`declared`) and *name* is not among them.
        KeyError
            No such table.

        Examples
        --------
        >>> Workbook().dataset("blood_glutamate").name
        'blood_glutamate'
        >>> Workbook(declared=["blood_glutamate"]).dataset("reported")
        Traceback (most recent call last):
        ...
        glumeta.data.tables.UndeclaredDataError: this page reads data table 'reported' but its front matter declares only [blood_glutamate]; add it under 'glumeta: data:' so that edits to it rebuild the page
        """
        if self.declared is not None and name not in self.declared:
            from .tables import UndeclaredDataError

            raise UndeclaredDataError(
                f"this page reads data table '{name}' but its front matter declares only "
                f"[{','.join(self.declared)}]; add it under 'glumeta: data:' so that edits to it rebuild the page")
        return Dataset(self, name)

    def datasets(self) -> list["Dataset"]:
        """The analysis tables as Datasets (:meth:`analyses`).

        Returns
        -------
        list of Dataset

        Examples
        --------
        >>> [ds.name for ds in Workbook().datasets()] == list(Workbook().analyses())
        True
        """
        return [self.dataset(n) for n in self.analyses()]

    def check(self, names: Iterable[str] | None = None) -> list:
        """Validate every table (or *names*); every problem found (errors and warnings).

        Returns
        -------
        list of glumeta.data.tables.Problem
            Each names the file, line, column and value.

        Examples
        --------
        >>> [p for p in Workbook().check() if p.severity == "error"]
        []
        """
        out: list = []
        for name in self.tables() if names is None else names:
            out.extend(self.dataset(name).read().problems)
        return out

    def version(self, names: Iterable[str] | None = None) -> dict:
        """Short content hash and row counts of the tables a page reads:
        ``{"hash": "<12 hex>", "rows": {name: n}, "files": [...]}`` (hash over each CSV and the schema).

        Returns
        -------
        dict
            ``hash`` (12 hex digits), ``rows`` (data rows per table) and ``files`` (the CSV paths).

        Examples
        --------
        >>> v = Workbook().version(["blood_glutamate"])
        >>> sorted(v), len(v["hash"]), v["rows"]
        (['files', 'hash', 'rows'], 12, {'blood_glutamate': 14})
        """
        names = self.tables() if names is None else names
        h = hashlib.sha256()
        rows, files = {}, []
        for name in sorted(names):
            p = self.folder / f"{name}.csv"
            b = p.read_bytes()
            h.update(name.encode() + b"\0" + b)
            rows[name] = max(0, sum(1 for ln in b.splitlines() if ln.strip()) - 1)
            files.append(str(p))
        if (self.folder / "datapackage.json").exists():
            h.update(self.package_bytes)
        return {"hash": h.hexdigest()[:12], "rows": rows, "files": files}


class Dataset:
    """One table of a :class:`Workbook`: its schema, analysis plan and validated rows (its effect
    frame is :func:`glumeta.stats.escalc.escalc` of it, computed once per file content).

    Parameters
    ----------
    workbook : Workbook
        The workbook the table belongs to.
    name : str
        The table's name in its ``datapackage.json``.

    Attributes
    ----------
    workbook : Workbook
        As given.
    name : str
        As given.
    resource : dict
        The table's resource (KeyError on construction when there is none).

    Examples
    --------
    >>> ds = Workbook().dataset("ketamine_escitalopram")
    >>> ds.name, ds.plan["measure"]
    ('ketamine_escitalopram', 'RR')
    >>> len(ds.load()) > 0
    True
    """

    def __init__(self, workbook: Workbook, name: str):
        self.workbook = workbook
        self.name = name
        self.resource = workbook.resource(name)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {self.workbook!r})"

    @property
    def schema(self) -> dict:
        """The table's Table Schema (``fields``, ``primaryKey``, the ``glumeta:`` declarations).

        Returns
        -------
        dict

        Examples
        --------
        >>> Workbook().dataset("blood_glutamate").schema["primaryKey"]
        ['study_id']
        """
        return self.resource["schema"]

    @property
    def plan(self) -> dict | None:
        """The ``glumeta:analysis`` declaration (what to compute and pool), or None.

        Returns
        -------
        dict or None

        Examples
        --------
        >>> wb = Workbook()
        >>> wb.dataset("blood_glutamate").plan["measure"], wb.dataset("reported").plan
        ('SMD', None)
        """
        return self.schema.get("glumeta:analysis")

    def analysis_plan(self) -> dict:
        """:attr:`plan`, or KeyError when the table declares no analysis.

        Returns
        -------
        dict

        Raises
        ------
        KeyError
            The table declares no ``glumeta:analysis``.

        Examples
        --------
        >>> Workbook().dataset("reported").analysis_plan()
        Traceback (most recent call last):
        ...
        KeyError: "data file 'reported' declares no 'glumeta:analysis' in datapackage.json"
        """
        if self.plan is None:
            raise KeyError(f"data file {self.name!r} declares no 'glumeta:analysis' in datapackage.json")
        return self.plan

    @property
    def path(self) -> Path:
        """The table's CSV file: its resource's ``path`` in the workbook's folder.

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> Workbook().dataset("blood_glutamate").path.name
        'blood_glutamate.csv'
        """
        return self.workbook.folder / self.resource["path"]

    def fingerprint(self) -> str:
        """SHA-256 of the table's bytes, its schema and its folder: the key under which derived
        results may be cached (a changed byte, schema or folder is a different table).

        Returns
        -------
        str
            64 hex digits; a missing file hashes as ``b"missing"``.

        Examples
        --------
        >>> a = Workbook().dataset("blood_glutamate")
        >>> len(a.fingerprint()), a.fingerprint() == Workbook().dataset("blood_glutamate").fingerprint()
        (64, True)
        """
        h = hashlib.sha256(str(self.path).encode() + b"\0")
        h.update(json.dumps(self.resource, sort_keys=True).encode() + b"\0")
        try:
            h.update(self.path.read_bytes())
        except FileNotFoundError:
            h.update(b"missing")
        return h.hexdigest()

    def read(self):
        """The validated :class:`~glumeta.data.tables.Table` (problems collected, not raised).

        Returns
        -------
        glumeta.data.tables.Table

        Examples
        --------
        >>> t = Workbook().dataset("blood_glutamate").read()
        >>> t.shown, [p for p in t.problems if p.severity == "error"]
        ('data/blood_glutamate.csv', [])
        """
        from .tables import read

        return read(self)

    def load(self, *, include_pending: bool = True):
        """Validated rows as a DataFrame; :class:`~glumeta.data.tables.DataError` on any error.

        Returns
        -------
        pandas.DataFrame
            The rows, typed by the schema (with ``include_pending=False``, only complete ones).

        Examples
        --------
        >>> ds = Workbook().dataset("blood_glutamate")
        >>> len(ds.load()), ds.load(include_pending=False)["status"].unique().tolist()
        (14, ['complete'])
        """
        from .tables import load

        return load(self, include_pending=include_pending)


_INSTALLED: list[Workbook] = []


def current() -> Workbook:
    """The workbook of this run: the one an entry point installed with :func:`use`,
    else :meth:`Workbook.from_env` (a chapter run in Jupyter, a doctest).

    Returns
    -------
    Workbook

    Notes
    -----
    The innermost :func:`use` block wins; outside any, a new :meth:`Workbook.from_env` is made on
    each call (equal to the last one as long as the environment is unchanged).

    Examples
    --------
    >>> current() == Workbook.from_env()
    True
    """
    return _INSTALLED[-1] if _INSTALLED else Workbook.from_env()


@contextmanager
def use(workbook: Workbook):
    """Make *workbook* the :func:`current` one inside the ``with`` block (entry points only).

    Parameters
    ----------
    workbook : Workbook
        The workbook to install.

    Returns
    -------
    contextmanager
        Yields *workbook*; it is uninstalled on leaving the block, also on an exception.

    Notes
    -----
    Blocks nest: the installed workbooks form a stack, whose top is :func:`current`.

    Examples
    --------
    >>> page = Workbook(declared=["blood_glutamate"])
    >>> with use(page) as wb:
    ...     current() is page, resolve("blood_glutamate").workbook is page
    (True, True)
    >>> current() is page
    False
    """
    _INSTALLED.append(workbook)
    try:
        yield workbook
    finally:
        _INSTALLED.remove(workbook)


def resolve(data) -> Dataset:
    """*data* as a :class:`Dataset`: a Dataset is returned as is; a table name is looked up in
    the :func:`current` workbook.

    Parameters
    ----------
    data : Dataset or str
        A table, or its name.

    Returns
    -------
    Dataset

    Raises
    ------
    TypeError
        *data* is neither.

    Notes
    -----
    This is what lets every function below the entry points take a name as well as a Dataset.

    Examples
    --------
    >>> ds = Workbook().dataset("blood_glutamate")
    >>> resolve(ds) is ds, resolve("blood_glutamate").name
    (True, 'blood_glutamate')
    >>> resolve(1)
    Traceback (most recent call last):
    ...
    TypeError: expected a Dataset or a table name, not int
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str):
        return current().dataset(data)
    raise TypeError(f"expected a Dataset or a table name, not {type(data).__name__}")
