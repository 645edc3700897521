"""Data layer: read and validate the trial tables in ``data/``.

The tables are described by a Frictionless Data Package (``data/datapackage.json``):
one Table Schema per CSV stating each column's type, unit, constraints and
required-ness, the primary key, the accepted *representations* of a complete row
(e.g. "mean and SD per arm" or "median and quartiles per arm") and the named
cross-field rules implemented below.

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
import hashlib
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .constants import Z975
from .paths import REPO, data_dir

__all__ = [
    "DataError",
    "UndeclaredDataError",
    "Problem",
    "Table",
    "check",
    "data_dir",
    "data_version",
    "datasets",
    "tables",
    "is_missing",
    "load",
    "load_package",
]



def datasets(directory=None) -> tuple[str, ...]:
    """The analysis tables, in the package's order: every resource whose schema declares
    ``glumeta:analysis`` (what to compute and pool). A new CSV with such a resource is a
    new analysis; no code names the files."""
    return tuple(r["name"] for r in load_package(directory)["resources"] if "glumeta:analysis" in r["schema"])


def tables(directory=None) -> tuple[str, ...]:
    """Every table ``glumeta check`` validates: the analyses and the ledger of reported numbers."""
    return tuple(r["name"] for r in load_package(directory)["resources"])

#: Files larger than this many data rows are refused: a meta-analysis table this
#: size is an export accident, and validating it cell by cell would stall the build.
MAX_ROWS = 100_000
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
    """A book page read a table it does not declare (see glumeta.sphinxext)."""


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

def load_package(directory: str | os.PathLike | None = None) -> dict:
    """Read ``datapackage.json`` from the data folder (falls back to the repo's)."""
    d = data_dir(directory)
    pkg = d / "datapackage.json"
    if not pkg.exists():
        pkg = REPO / "data" / "datapackage.json"
    with open(pkg, encoding="utf-8") as fh:
        return json.load(fh)


def _resource(pkg: dict, name: str) -> dict:
    for res in pkg["resources"]:
        if res["name"] == name:
            return res
    known = ", ".join(r["name"] for r in pkg["resources"])
    raise KeyError(f"unknown dataset {name!r}; known: {known}")


def data_version(names: Iterable[str] | None = None, directory=None) -> dict:
    """Short content hash and row counts of the files a page reads.

    Returns ``{"hash": "<12 hex>", "rows": {name: n}, "files": [...]}``; the hash
    covers the bytes of each CSV and of the schema.
    """
    d = data_dir(directory)
    names = tables(d) if names is None else names
    h = hashlib.sha256()
    rows = {}
    files = []
    for name in sorted(names):
        p = d / f"{name}.csv"
        b = p.read_bytes()
        h.update(name.encode() + b"\0" + b)
        rows[name] = max(0, sum(1 for ln in b.splitlines() if ln.strip()) - 1)
        files.append(str(p))
    pkg = d / "datapackage.json"
    if pkg.exists():
        h.update(pkg.read_bytes())
    return {"hash": h.hexdigest()[:12], "rows": rows, "files": files}


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


def _check_declared(name: str) -> None:
    declared = os.environ.get("GLUMETA_DECLARED")
    if declared is not None and name not in declared.split(","):
        raise UndeclaredDataError(
            f"this page reads data table '{name}' but its front matter declares only "
            f"[{declared}]; add it under 'glumeta: data:' so that edits to it rebuild the page")


def _shown(path: Path) -> str:
    """The path as error messages show it: relative to the working directory when shorter."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    return rel if len(rel) <= len(str(path)) else str(path)


def fingerprint(name: str, directory=None) -> str:
    """SHA-256 of one table's bytes, its schema and its folder: the key under which derived
    results may be cached (a changed byte, schema or folder is a different table)."""
    _check_declared(name)
    d = data_dir(directory)
    pkg = load_package(d)
    res = _resource(pkg, name)
    path = d / res["path"]
    h = hashlib.sha256(str(path).encode() + b"\0")
    h.update(json.dumps(res, sort_keys=True).encode() + b"\0")
    try:
        h.update(path.read_bytes())
    except FileNotFoundError:
        h.update(b"missing")
    return h.hexdigest()


def read(name: str, directory=None) -> Table:
    """Read and validate one table; problems are collected, not raised."""
    _check_declared(name)
    d = data_dir(directory)
    pkg = load_package(d)
    res = _resource(pkg, name)
    schema = res["schema"]
    path = d / res["path"]
    shown = _shown(path)
    table = Table(name, path, schema, [], [], shown=shown)
    probs = table.problems
    if not path.exists():
        probs.append(Problem(shown, 0, None, None, "file not found"))
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
    if n_lines > MAX_ROWS + 1:
        probs.append(Problem(shown, MAX_ROWS + 2, None, None,
                             f"file has about {n_lines:,} lines; more than {MAX_ROWS:,} rows is refused "
                             "(an export accident?)"))
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
    _cross_field(table, shown)
    return table


# --------------------------------------------------------------------------- cross-field rules

def _present(row: dict, spec) -> bool:
    if isinstance(spec, list):
        return any(row.get(s) is not None for s in spec)
    return row.get(spec) is not None


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _cross_field(table: Table, shown: str) -> None:
    schema = table.schema
    probs = table.problems
    rules = set(schema.get("glumeta:rules", []))
    reps = schema.get("glumeta:representations", [])
    key = schema.get("primaryKey", [])
    seen_keys: dict[tuple, int] = {}
    # an 'excluded' row needs its reason, and only such a row has one: checked wherever the schema
    # knows the status or the column (declared as 'exclusion_reason_iff_excluded'), so that a file
    # without the column cannot carry an unexplained exclusion
    fields = {f["name"]: f for f in schema["fields"]}
    excludable = ("exclusion_reason_iff_excluded" in rules or "exclusion_reason" in fields
                  or "excluded" in fields.get("status", {}).get("constraints", {}).get("enum", []))

    def err(line, col, value, msg, severity="error"):
        probs.append(Problem(shown, line, col, None if value is None else _fmt(value), msg, severity))

    for row, line in zip(table.rows, table.lines):
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
        if excludable:
            _exclusion_rule(row, line, err)
        _row_rules(row, line, rules, err)

    if "one_primary_per_comparison" in rules:
        prim: dict[tuple, list[int]] = {}
        for row, line in zip(table.rows, table.lines):
            if row.get("primary") and row.get("status") == "complete":
                prim.setdefault((row["study_id"], row["comparison"]), []).append(line)
        for (sid, comp), lines in prim.items():
            if len(lines) > 1:
                err(lines[1], "primary", "true",
                    f"{sid} / {comp}: more than one primary row (lines {', '.join(map(str, lines))}); "
                    "exactly one time point per comparison enters the overall pool")
    if "n_consistent_within_study" in rules:
        # plausibility: a trial's total n should not vary much between its rows (same comparison
        # across time points, or the same time across outcomes); a large gap is attrition worth a
        # look, or a typo
        groups_n: dict[tuple, list[tuple[int, int]]] = {}
        for row, line in zip(table.rows, table.lines):
            a = row.get("n_arm1", row.get("totaln_arm1"))
            b = row.get("n_arm2", row.get("totaln_arm2"))
            if a is None or b is None or row.get("study_id") is None:
                continue
            key = (row["study_id"], row.get("comparison") or row.get("time"))
            groups_n.setdefault(key, []).append((a + b, line))
        for (sid, _), members in groups_n.items():
            top = max(n for n, _ in members)
            for n, line in members:
                if n < 0.8 * top:
                    col = "n_arm1" if "n_arm1" in table.rows[0] else "totaln_arm1"
                    err(line, col, n, f"total n {n} is far below {top} on another row of {sid} "
                        "(more than 20% apart): attrition, or a typo?", "warning")

    if "shared_control_consistent" in rules:
        groups: dict[tuple, list[tuple[int, int, str]]] = {}
        for row, line in zip(table.rows, table.lines):
            sc = row.get("shared_control")
            if sc and row.get("n_arm2") is not None:
                groups.setdefault((sc, row["time"]), []).append((row["n_arm2"], line, row["study_id"]))
        for (sc, t), members in groups.items():
            studies = {m[2] for m in members if m[2]}  # a missing study_id is reported elsewhere
            if len(studies) > 1:
                err(members[0][1], "shared_control", sc,
                    f"shared control key is used by several studies ({', '.join(sorted(studies))}); keys must be per trial")
            sizes = [m[0] for m in members]
            if len(set(sizes)) > 1:
                common = max(set(sizes), key=sizes.count)
                for n2, line, _ in members:
                    if n2 != common:
                        others = ", ".join(str(ln) for m2, ln, _ in members if m2 == common)
                        err(line, "n_arm2", n2,
                            f"rows sharing the shared control '{sc}' at {t} must agree on its size: lines {others} say {common}")


#: Judgments each risk-of-bias tool uses (RoB 1: low / unclear / high risk; RoB 2: low / some concerns / high).
_TOOL_JUDGMENTS = {"rob 1": {"low", "unclear", "high"}, "rob 2": {"low", "some concerns", "high"}}


def _exclusion_rule(row: dict, line: int, err) -> None:
    status, reason = row.get("status"), row.get("exclusion_reason")
    if status == "excluded" and reason is None:
        err(line, "exclusion_reason", "",
            "row is 'excluded' but gives no exclusion_reason; say why it is left out "
            "(e.g. 'active comparator, not placebo')")
    elif status is not None and status != "excluded" and reason is not None:
        err(line, "exclusion_reason", reason,
            f"only an 'excluded' row takes an exclusion_reason (this row is '{status}'); "
            "clear the reason or set status to 'excluded'")


def _row_rules(row: dict, line: int, rules: set, err) -> None:
    g = row.get
    if "judgment_fits_tool" in rules and g("tool") and g("judgment"):
        tool = re.sub(r"\s+", " ", g("tool").lower().replace("-", " "))
        for name, allowed in _TOOL_JUDGMENTS.items():
            if name in tool and g("judgment") not in allowed:
                err(line, "judgment", g("judgment"),
                    f"{g('tool')} has no judgment '{g('judgment')}' (it uses: {', '.join(sorted(allowed))})")
    if "ci_ordered" in rules and g("md_ci_lower") is not None and g("md_ci_upper") is not None:
        if g("md_ci_lower") > g("md_ci_upper"):
            err(line, "md_ci_lower", g("md_ci_lower"),
                f"lower confidence limit is above the upper limit ({_fmt(g('md_ci_upper'))})")
    if "ci_contains_estimate" in rules and g("md") is not None:
        lo, hi = g("md_ci_lower"), g("md_ci_upper")
        if lo is not None and hi is not None and lo <= hi and not (lo <= g("md") <= hi):
            err(line, "md", g("md"), f"estimate lies outside its 95% CI [{_fmt(lo)}, {_fmt(hi)}]")
    if "se_ci_consistent" in rules and None not in (g("md_se"), g("md_ci_lower"), g("md_ci_upper")):
        se_ci = (g("md_ci_upper") - g("md_ci_lower")) / (2 * Z975)
        rel = abs(se_ci - g("md_se")) / g("md_se")
        if rel > 0.25:
            err(line, "md_se", g("md_se"),
                f"contradicts the 95% CI, which implies SE {se_ci:.3g} ({rel:.0%} apart)")
        elif rel > 0.05:
            err(line, "md_se", g("md_se"),
                f"differs from the SE implied by the 95% CI ({se_ci:.3g}, {rel:.0%} apart)", "warning")
    if "p_exact_for_se" in rules and g("status") == "complete" and g("md") is not None:
        only_p = g("md_se") is None and (g("md_ci_lower") is None or g("md_ci_upper") is None)
        if only_p and g("p_prefix") == "<" and g("mean_arm1") is None:
            err(line, "p_prefix", "<", "the SE cannot be derived from a p-value bound; "
                "give md_se, a 95% CI, or an exact p")
        if only_p and g("p") is not None and g("p") in (0.0, 1.0):
            err(line, "p", g("p"), "an SE cannot be derived from p = 0 or p = 1")
    if "quartiles_ordered" in rules:
        for k in (1, 2):
            q1, m, q3 = g(f"q1_arm{k}"), g(f"median_arm{k}"), g(f"q3_arm{k}")
            if None not in (q1, m, q3) and not (q1 <= m <= q3):
                err(line, f"median_arm{k}", m, f"quartiles are not ordered: Q1 {_fmt(q1)} ≤ median ≤ Q3 {_fmt(q3)} fails")
    if "sd_sem_consistent" in rules:
        for k in (1, 2):
            sd, sem, n = g(f"sd_arm{k}"), g(f"sem_arm{k}"), g(f"n_arm{k}")
            if sd is not None and sem is not None:
                if n is None or abs(sem * math.sqrt(n) - sd) / sd > 0.02:
                    implied = "" if n is None else f" (SEM·√n = {sem * math.sqrt(n):.4g})"
                    err(line, f"sd_arm{k}", sd,
                        f"SD and SEM are both given and contradict each other{implied}; give one")
    if "arm_representation_per_arm" in rules and g("status") == "complete":
        for k in (1, 2):
            has_mean = g(f"mean_arm{k}") is not None
            has_med = g(f"median_arm{k}") is not None
            if has_mean and has_med:
                err(line, f"median_arm{k}", g(f"median_arm{k}"),
                    "both mean and median are given for one arm; give one representation per arm", "warning")
    if "plausible_smd" in rules and g("status") == "complete":
        m1, m2, n1, n2 = g("mean_arm1"), g("mean_arm2"), g("n_arm1"), g("n_arm2")
        s1 = g("sd_arm1")
        s2 = g("sd_arm2")
        if None not in (m1, m2, n1, n2, s1, s2):
            sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
            d = (m1 - m2) / sp
            if abs(d) > 2:
                err(line, "sd_arm1", s1,
                    f"implausible standardised difference d = {d:.2f}; was an SEM entered as an SD?", "warning")
    if "events_le_total" in rules:
        for k in (1, 2):
            e, n = g(f"event_arm{k}"), g(f"totaln_arm{k}")
            if e is not None and n is not None and e > n:
                err(line, f"event_arm{k}", e, f"more events than participants ({n})")
    if "pct_matches_events" in rules:
        for k in (1, 2):
            e, n, pct = g(f"event_arm{k}"), g(f"totaln_arm{k}"), g(f"pct_arm{k}")
            if None not in (e, n, pct) and e <= n:
                if abs(100 * e / n - pct) > 0.05 + 1e-9 and round(100 * e / n) != round(pct):
                    err(line, f"pct_arm{k}", pct,
                        f"percentage does not match {e}/{n} = {100 * e / n:.1f}%", "warning")


# --------------------------------------------------------------------------- public API

def check(directory=None, names: Iterable[str] | None = None) -> list[Problem]:
    """Validate every table; return all problems (errors and warnings)."""
    out: list[Problem] = []
    for name in tables(directory) if names is None else names:
        out.extend(read(name, directory).problems)
    return out


def load(name: str, directory=None, *, include_pending: bool = True):
    """Validated rows of one table as a DataFrame; raises :class:`DataError` on any error."""
    table = read(name, directory)
    errors = [p for p in table.problems if p.severity == "error"]
    if errors:
        raise DataError(table.problems)
    return table.frame(include_pending=include_pending)
