"""Data layer: read and validate the trial tables in ``data/``.

The tables are described by a Frictionless Data Package (``data/datapackage.json``):
one Table Schema per CSV stating each column's type, unit, constraints and
required-ness, the primary key, the accepted *representations* of a complete row
(e.g. "mean and SD per arm" or "median and quartiles per arm"), the named
domain rules (``glumeta:rules``, implemented in the registry of :mod:`glumeta.data.rules`
with their thresholds in the schema) and the size limits (``glumeta:limits``).

Three layers, in this order: decoding the CSV (UTF-8, delimiter, quoting, the size
limits), the generic Table Schema constraints (types, ``enum``, ``minimum``,
``required``, ``primaryKey``) and the representations here, then the domain rules
of :mod:`glumeta.data.rules`. The schema is read and parsed once per process (again only
when the file's time stamp or size changes).

Why a Table Schema and our own reader rather than the ``frictionless`` library:
the descriptor is the standard, declarative part and any Frictionless tool can
read it; but the library does not know our cross-field rules, its import alone
takes longer than the 1-second budget of ``glumeta check``, and we need every
problem reported as ``FILE:LINE: column 'X': value 'V': message`` with the
physical line of the CSV. The reader is strict: it never guesses, never drops a
row, and reports every problem it finds before stopping.

Nothing here writes to ``data/``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import rules

__all__ = [
    "DataError",
    "UndeclaredDataError",
    "Problem",
    "Table",
    "check",
    "data_version",
    "datasets",
    "tables",
    "is_missing",
    "load",
    "load_package",
    "limits",
]



def datasets() -> tuple[str, ...]:
    """The analysis tables of the current workbook (:meth:`glumeta.data.workbook.Workbook.analyses`)."""
    from .workbook import current

    return current().analyses()


def tables() -> tuple[str, ...]:
    """Every table ``glumeta check`` validates (:meth:`glumeta.data.workbook.Workbook.tables`)."""
    from .workbook import current

    return current().tables()

#: Size limits used when the package declares none (``glumeta:limits`` at package or resource
#: level, ``{"bytes": ..., "rows": ...}``). A table past its limit is refused before it is parsed:
#: a meta-analysis table that size is an export accident, or more than the book can build.
MAX_ROWS = 100_000
MAX_BYTES = 100_000_000
#: Longest accepted cell (characters); csv's own limit would otherwise raise.
MAX_CELL = 100_000

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "True", "TRUE", "1"}
_FALSE = {"false", "False", "FALSE", "0"}


@dataclass(frozen=True)
class Problem:
    """One finding of the validator, located to file, line and column."""

    path: str
    line: int
    column: str | None
    value: str | None
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:"
        if self.column is not None:
            where += f" column '{self.column}':"
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            where += f" value '{shown}':"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where} {prefix}{self.message}"


class DataError(ValueError):
    """Raised when data fail validation; ``problems`` holds every error found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        lines = "\n".join(str(p) for p in errors[:50])
        more = f"\n... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{len(errors)} data error(s):\n{lines}{more}")


class UndeclaredDataError(RuntimeError):
    """A book page read a table it does not declare (see glumeta.book.sphinxext)."""


@dataclass
class Table:
    """A validated table: typed rows plus the physical CSV line of each."""

    name: str
    path: Path
    schema: dict
    rows: list[dict[str, Any]]
    lines: list[int]
    problems: list[Problem] = field(default_factory=list)
    shown: str = ""  # the path as messages show it
    dataset: Any = field(default=None, repr=False, compare=False)  # the Dataset it was read from

    def frame(self, *, include_pending: bool = True):
        """Rows as a :class:`pandas.DataFrame` with a ``line`` column."""
        import pandas as pd

        cols = [f["name"] for f in self.schema["fields"]]
        df = pd.DataFrame(self.rows, columns=cols)
        df.insert(0, "line", self.lines)
        for f in self.schema["fields"]:
            name = f["name"]
            if f["type"] == "number":
                df[name] = pd.to_numeric(df[name]).astype("float64")
            elif f["type"] == "integer":
                df[name] = df[name].astype("Int64")
            elif f["type"] == "boolean":
                df[name] = df[name].astype("boolean")
            else:
                df[name] = df[name].astype("object")
        if not include_pending:
            df = df[df["status"] == "complete"].reset_index(drop=True)
        return df


def is_missing(x) -> bool:
    """True for every missing marker a loaded table can hold: None, NaN, pandas.NA."""
    if x is None:
        return True
    import pandas as pd

    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):  # list-likes are values, not missing markers
        return False


# --------------------------------------------------------------------------- paths

#: path of a datapackage.json -> ((mtime_ns, size), its bytes, the parsed package)
_PACKAGES: dict[str, tuple[tuple[int, int], bytes, dict]] = {}


def _read_package_file(path: Path) -> bytes:
    """The one place the schema file is read (a test counts the calls)."""
    return path.read_bytes()


def _package(path: Path) -> tuple[Path, bytes, dict]:
    """(path, bytes, parsed) of a ``datapackage.json``, read once per process
    and again only when the file's modification time or size changes."""
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _PACKAGES.get(str(path))
    if hit is None or hit[0] != stamp:
        raw = _read_package_file(path)
        hit = (stamp, raw, json.loads(raw.decode("utf-8")))
        _PACKAGES[str(path)] = hit
    return path, hit[1], hit[2]


def load_package() -> dict:
    """The parsed ``datapackage.json`` of the current workbook
    (:attr:`glumeta.data.workbook.Workbook.package`; read once per process per file version:
    the same dict is returned to every caller, so treat it as read-only)."""
    from .workbook import current

    return current().package


def limits(res: dict, pkg: dict) -> dict:
    """A resource's size limits: ``{"bytes": ..., "rows": ...}`` from its ``glumeta:limits``,
    else the package's, else :data:`MAX_BYTES` and :data:`MAX_ROWS`."""
    out = {"bytes": MAX_BYTES, "rows": MAX_ROWS}
    out.update(pkg.get("glumeta:limits") or {})
    out.update(res.get("glumeta:limits") or {})
    return out


def data_version(names: Iterable[str] | None = None) -> dict:
    """Content hash and row counts of the current workbook's tables
    (:meth:`glumeta.data.workbook.Workbook.version`)."""
    from .workbook import current

    return current().version(names)


# --------------------------------------------------------------------------- reading

def _decode(raw: bytes, shown: str) -> tuple[str | None, list[Problem]]:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start : exc.start + 1].hex()
        return None, [Problem(shown, line, None, f"0x{bad}",
                              "file is not valid UTF-8 (Latin-1 or Windows-1252 export?); "
                              "save it as UTF-8")]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return None, [Problem(shown, line, None, None, "file contains NUL bytes; not a text CSV")]
    return text, []


def _parse_cell(spec: dict, raw: str) -> tuple[Any, str | None]:
    """Convert one non-empty cell; return (value, error message or None)."""
    t = spec["type"]
    s = raw.strip()
    if t == "number":
        if _NUMBER.match(s):
            v = float(s)
            if not math.isfinite(v):
                return None, "not a finite number"
            return v, None
        if re.match(r"^[+-]?\d+,\d+$", s):
            return None, "decimal comma; write numbers with a point (1.5, not 1,5)"
        if s.lower() in {"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "na", "n/a", "null"}:
            return None, "not a finite number; leave the cell empty when the value is missing"
        return None, "not a number"
    if t == "integer":
        if _INTEGER.match(s):
            return int(s), None
        if _NUMBER.match(s):
            return None, "not a whole number"
        return None, "not a whole number"
    if t == "boolean":
        if s in _TRUE:
            return True, None
        if s in _FALSE:
            return False, None
        return None, "not a boolean (use true or false)"
    return raw, None


def _check_constraints(spec: dict, value: Any, raw: str) -> str | None:
    c = spec.get("constraints", {})
    if "enum" in c and value not in c["enum"]:
        return "not one of: " + ", ".join(repr(e) for e in c["enum"])
    if "pattern" in c and not re.fullmatch(c["pattern"], value):
        return f"does not match the pattern {c['pattern']}"
    if "maxLength" in c and len(value) > c["maxLength"]:
        return f"longer than {c['maxLength']} characters"
    if "minimum" in c and value < c["minimum"]:
        return f"below the minimum {c['minimum']}"
    if "maximum" in c and value > c["maximum"]:
        return f"above the maximum {c['maximum']}"
    if "exclusiveMinimum" in c and value <= c["exclusiveMinimum"]:
        return f"must be greater than {c['exclusiveMinimum']}"
    return None


def _shown(path: Path) -> str:
    """The path as error messages show it: relative to the working directory when shorter."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    return rel if len(rel) <= len(str(path)) else str(path)


def fingerprint(data) -> str:
    """SHA-256 of a table's bytes, schema and folder (:meth:`glumeta.data.workbook.Dataset.fingerprint`)."""
    from .workbook import resolve

    return resolve(data).fingerprint()


def read(data) -> Table:
    """Read and validate one table (a :class:`~glumeta.data.workbook.Dataset` or a table name);
    problems are collected, not raised."""
    from .workbook import resolve

    ds = resolve(data)
    name, res, pkg = ds.name, ds.resource, ds.workbook.package
    pkg_path = ds.workbook.package_path
    schema = res["schema"]
    path = ds.path
    shown = _shown(path)
    table = Table(name, path, schema, [], [], shown=shown, dataset=ds)
    probs = table.problems
    if not path.exists():
        probs.append(Problem(shown, 0, None, None, "file not found"))
        return table
    limit = limits(res, pkg)
    where = f"glumeta:limits in {_shown(pkg_path)}"
    size = path.stat().st_size
    if size > limit["bytes"]:  # refused before it is read
        probs.append(Problem(shown, 1, None, None,
                             f"file is {size:,} bytes; more than the declared limit of {limit['bytes']:,} bytes "
                             f"is refused ({where}). Check that it is the intended export (no stray rows or "
                             f"columns), split it into smaller tables, or raise 'bytes' in glumeta:limits if "
                             "the book is meant to hold a table this size"))
        return table
    raw = path.read_bytes()
    if not raw.strip():
        probs.append(Problem(shown, 1, None, None, "file is empty; expected a header row and data rows"))
        return table
    text, decode_problems = _decode(raw, shown)
    if text is None:
        probs.extend(decode_problems)
        return table
    n_lines = text.count("\n")
    if n_lines > limit["rows"] + 1:
        n_rows = sum(1 for ln in text.splitlines() if ln.strip()) - 1
        if n_rows > limit["rows"]:
            probs.append(Problem(shown, limit["rows"] + 2, None, None,
                                 f"file has about {n_rows:,} data rows; more than the declared limit of "
                                 f"{limit['rows']:,} rows is refused ({where}). Check that it is the intended "
                                 "export (an export accident?), split it into smaller tables, or raise 'rows' "
                                 "in glumeta:limits if the book is meant to hold a table this size"))
            return table

    first = text.split("\n", 1)[0]
    if ";" in first and "," not in first:
        probs.append(Problem(shown, 1, None, first[:60],
                             "header is semicolon-separated (a European-locale export?); "
                             "save as comma-separated CSV with a point as decimal mark"))
        return table
    if "\t" in first and "," not in first:
        probs.append(Problem(shown, 1, None, first[:60], "header is tab-separated; save as comma-separated CSV"))
        return table

    fields = {f["name"]: f for f in schema["fields"]}
    csv.field_size_limit(MAX_CELL * 4)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        header = next(reader)
    except csv.Error as exc:
        probs.append(Problem(shown, 1, None, None, f"unreadable header: {exc}"))
        return table
    header = [h.strip() for h in header]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            probs.append(Problem(shown, 1, h, None, "column appears twice in the header"))
        seen.add(h)
        if h not in fields:
            probs.append(Problem(shown, 1, h, None,
                                 "unknown column (not in data/datapackage.json); "
                                 "fix the name or add the column to the schema"))
    for fname, spec in fields.items():
        if fname not in seen and spec.get("constraints", {}).get("required"):
            probs.append(Problem(shown, 1, fname, None, "required column is missing from the header"))
    if any(p.severity == "error" for p in probs):
        return table

    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            msg = str(exc)
            if "field larger" in msg:
                msg = f"a cell is longer than {MAX_CELL * 4:,} characters"
            elif "EOF" in msg or "end of data" in msg:
                msg = "a quoted cell is never closed (unbalanced double quote)"
            elif "expected after" in msg:
                msg = f"misplaced double quote (text after a closing quote, or a quote never closed): {msg}"
            probs.append(Problem(shown, start, None, None, f"malformed CSV: {msg}"))
            return table
        line = start
        start = reader.line_num + 1
        if not cells:  # a blank line is not a row
            continue
        if len(cells) != len(header):
            probs.append(Problem(shown, line, None, None,
                                 f"row has {len(cells)} cells but the header has {len(header)} "
                                 "(a stray comma, or an unquoted comma inside a value?)"))
            continue
        if all(not c.strip() for c in cells):
            probs.append(Problem(shown, line, None, None, "row is empty; delete the line or fill it in"))
            continue
        row: dict[str, Any] = {f: None for f in fields}
        for col, rawv in zip(header, cells):
            spec = fields[col]
            if len(rawv) > MAX_CELL:
                probs.append(Problem(shown, line, col, rawv[:20], f"cell longer than {MAX_CELL:,} characters"))
                continue
            if not rawv.strip():
                if spec.get("constraints", {}).get("required"):
                    probs.append(Problem(shown, line, col, "", "required value is missing"))
                continue
            value, err = _parse_cell(spec, rawv)
            if err is None:
                err = _check_constraints(spec, value, rawv)
            if err:
                probs.append(Problem(shown, line, col, rawv, err))
            else:
                row[col] = value
        table.rows.append(row)
        table.lines.append(line)

    if not table.rows and not any(p.severity == "error" for p in probs) and not schema.get("glumeta:may_be_empty"):
        probs.append(Problem(shown, 2, None, None, "no data rows (header only)"))
    _cross_field(table, shown, pkg_path)
    return table


# --------------------------------------------------------------------------- representations and rules

def _present(row: dict, spec) -> bool:
    if isinstance(spec, list):
        return any(row.get(s) is not None for s in spec)
    return row.get(spec) is not None


def _fmt(v: Any) -> str:
    return rules.fmt_value(v)


def _line_of(text: bytes, needle: str) -> int:
    """The line of the first occurrence of *needle* in *text* (1 when absent)."""
    i = text.find(needle.encode("utf-8"))
    return 1 if i < 0 else text.count(b"\n", 0, i) + 1


def _cross_field(table: Table, shown: str, pkg_path: Path) -> None:
    """The primary key and the representations (generic), then the domain rules the schema
    names (:mod:`glumeta.data.rules`)."""
    schema = table.schema
    probs = table.problems
    reps = schema.get("glumeta:representations", [])
    key = schema.get("primaryKey", [])
    seen_keys: dict[tuple, int] = {}

    def err(line, col, value, msg, severity="error"):
        probs.append(Problem(shown, line, col, None if value is None else _fmt(value), msg, severity))

    bad_rules = rules.schema_problems(schema)
    if bad_rules:
        raw = _package(pkg_path)[1]
        for name, msg in bad_rules:
            probs.append(Problem(_shown(pkg_path), _line_of(raw, f'"{name}"'), None, name,
                                 f"{table.name}: {msg}"))

    def generic(row, line):
        k = tuple(row.get(c) for c in key)
        if None not in k:
            if k in seen_keys:
                label = " + ".join(key)
                err(line, key[0], row[key[0]] if len(key) == 1 else " / ".join(map(str, k)),
                    f"duplicate {label}: already used on line {seen_keys[k]}")
            else:
                seen_keys[k] = line
        if row.get("status") == "complete" and reps:
            if not any(all(_present(row, s) for s in r["requires"]) for r in reps):
                names = "; ".join(r["name"] for r in reps)
                err(line, "status", "complete",
                    f"row is 'complete' but has no full representation (one of: {names}); "
                    "fill in the numbers or mark it 'pending'")

    rules.apply(table, err, before_row=generic)


# --------------------------------------------------------------------------- public API

def check(names: Iterable[str] | None = None) -> list[Problem]:
    """Validate every table of the current workbook (:meth:`glumeta.data.workbook.Workbook.check`)."""
    from .workbook import current

    return current().check(names)


def load(data, *, include_pending: bool = True):
    """Validated rows of one table (a Dataset or a name) as a DataFrame; raises
    :class:`DataError` on any error."""
    table = read(data)
    errors = [p for p in table.problems if p.severity == "error"]
    if errors:
        raise DataError(table.problems)
    return table.frame(include_pending=include_pending)
