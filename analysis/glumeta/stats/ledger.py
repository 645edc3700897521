"""The reproducibility ledger: every checkable number in the documents, reported vs re-computed.

Rows come from ``data/reported.csv`` (the number as printed, its quote, its
precision, and which computation re-derives it, with its inputs). Each row's
``inputs`` are parsed once into :class:`Inputs` (:func:`parse_inputs`): the numbers
quoted with it, and typed references to the data — ``table=`` a declared analysis
table, ``row=`` a row of it by its primary key (:class:`RowRef`), ``study=`` a study
of it — checked against the workbook, with errors that name the ledger file, line,
column and value. Each computation (:data:`COMPUTE`, registered with
:func:`computation` and the inputs it takes) returns one :class:`CheckResult`: the
re-computed value, a :class:`~glumeta.verdicts.Verdict`, an explanation that is
itself computed (which n, which test, which count would reproduce a discrepant
number) and the named intermediate numbers. ``glumeta ledger`` exits 1 when a
discrepant row has no explanation.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from . import reproduce as rp
from ..constants import Z975
from ..counts import count_from_percentage
from ..data.tables import DataError, Problem, _shown
from .effects import log_rr
from .plan import time_hours
from ..verdicts import Verdict, interval, matches, pct_matches

__all__ = ["CheckResult", "COMPUTE", "Inputs", "LedgerInputError", "LedgerRow", "RowRef", "computation",
           "ledger", "ledger_table", "main", "parse_inputs"]


@dataclass(frozen=True)
class LedgerRow:
    """One re-computed row of the ledger, as ``glumeta ledger`` prints it and the chapters show it.

    Attributes
    ----------
    check_id, document, analysis, quote, quantity : str
        The row's columns in the ledger table: its id, the document and passage quoted, the
        analysis it belongs to and what the number is.
    reported : str
        The number as printed.
    computed : float or None
        The re-computed value (None when there is none, or it is not finite).
    computed_text : str
        It, formatted (``"–"`` when there is none).
    verdict : str
        The :class:`~glumeta.verdicts.Verdict` value (``"reproduced"``, ``"consistent"``, ...).
    explanation : str
        Why, computed (:attr:`CheckResult.explanation`).
    details : dict
        The computation's named intermediate numbers (:attr:`CheckResult.details`); not compared.

    Examples
    --------
    >>> row = ledger(ids={"nagele-resp-n2o"})[0]
    >>> row.quote, row.reported, row.computed_text, row.verdict, row.explanation
    ('4 patients (20%) had treatment response', '20%', '20', 'consistent', '4/20 = 20.0%')
    """

    check_id: str
    document: str
    analysis: str
    quote: str
    quantity: str
    reported: str
    computed: float | None
    computed_text: str
    verdict: str
    explanation: str
    #: named intermediate numbers of the computation, formatted (e.g. ``se``, ``z``, ``p``),
    #: which the chapters glue into their prose (nothing is typed into a chapter)
    details: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class CheckResult:
    """What every computation returns: the re-computed number, the verdict and why.

    Attributes
    ----------
    value : float or None
        The re-computed number; None when nothing could be re-computed.
    verdict : Verdict
        The verdict (:class:`~glumeta.verdicts.Verdict`).
    explanation : str
        Why, computed: which n, which test, which count would reproduce a discrepant number.
    details : dict
        Named intermediate numbers, formatted (e.g. ``"SE"``, ``"z"``, ``"p"``), which the
        chapters glue into their prose.

    Examples
    --------
    >>> r = CheckResult(0.5, Verdict.CONSISTENT, "1/2 = 50.0%")
    >>> r.verdict.value, r.details
    ('consistent', {})
    """

    value: float | None
    verdict: Verdict
    explanation: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """Where a ledger cell is: the file as messages show it, its line, its column.

    Attributes
    ----------
    path : str
        The ledger file as messages show it (relative to the repository).
    line : int
        Its line (the header is line 1).
    column : str
        The column, default ``"inputs"``.

    Examples
    --------
    >>> Source("data/reported.csv", 7)
    Source(path='data/reported.csv', line=7, column='inputs')
    """

    path: str
    line: int
    column: str = "inputs"

    def error(self, value: str | None, message: str) -> "LedgerInputError":
        """The error to raise for *value* of this cell, with *message*.

        Returns
        -------
        LedgerInputError
            With one problem, located at this file, line and column.

        Examples
        --------
        >>> print(Source("data/reported.csv", 7).error("n=x", "n is not a number"))
        1 data error(s):
        data/reported.csv:7: column 'inputs': value 'n=x': n is not a number
        """
        return LedgerInputError([Problem(self.path, self.line, self.column, value, message)])


class LedgerInputError(DataError):
    """A ledger row whose inputs cannot be resolved: an unknown table, a row or study not in its
    table, a malformed or unexpected input. Each problem names the ledger file, line, column and
    value.

    A :class:`~glumeta.data.tables.DataError`: constructed from a list of
    :class:`~glumeta.data.tables.Problem` s, all reported at once.

    Examples
    --------
    >>> from glumeta.data.tables import DataError, Problem
    >>> e = LedgerInputError([Problem("data/reported.csv", 7, "inputs", "table=x", "unknown table 'x'")])
    >>> print(e)
    1 data error(s):
    data/reported.csv:7: column 'inputs': value 'table=x': unknown table 'x'
    >>> isinstance(e, DataError), e.problems[0].line
    (True, 7)
    """


#: separates the primary-key values of a row reference (``row=canuso2018|<comparison>|4 h``)
ROW_SEP = "|"
#: the inputs that refer to the data rather than quote a number
REFERENCES = ("table", "row", "study")
_KEY = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class RowRef:
    """One row of a declared table, named by its schema's ``primaryKey`` values (in that order).

    Attributes
    ----------
    table : str
        The table's name.
    key : tuple of (str, str)
        ``(field, value)`` pairs in the order of the table's ``primaryKey``; ``ref[field]`` reads one.

    Examples
    --------
    >>> ref = RowRef("t", (("study_id", "a2020"), ("time", "4 h")))
    >>> ref["time"], str(ref)
    ('4 h', 'a2020|4 h')
    """

    table: str
    key: tuple[tuple[str, str], ...]

    def __getitem__(self, name: str) -> str:
        for f, v in self.key:
            if f == name:
                return v
        raise KeyError(f"{name!r} is not a primary-key field of {self.table} ({', '.join(f for f, _ in self.key)})")

    def __str__(self) -> str:
        return ROW_SEP.join(v for _, v in self.key)

    def describe(self) -> str:
        """The key as ``field = value`` pairs, for messages.

        Returns
        -------
        str

        Examples
        --------
        >>> RowRef("t", (("study_id", "a2020"), ("time", "4 h"))).describe()
        "study_id = 'a2020', time = '4 h'"
        """
        return ", ".join(f"{f} = {v!r}" for f, v in self.key)

    def mask(self, frame):
        """Boolean Series: the rows of *frame* (a frame of :attr:`table`) with this key.

        Returns
        -------
        pandas.Series of bool
            Values are compared as text (``str`` of each cell).

        Examples
        --------
        >>> import pandas as pd
        >>> f = pd.DataFrame({"study_id": ["a2020", "a2020", "b2021"], "time": ["4 h", "24 h", "4 h"]})
        >>> RowRef("t", (("study_id", "a2020"), ("time", "4 h"))).mask(f).tolist()
        [True, False, False]
        """
        m = frame[self.key[0][0]].astype(str) == self.key[0][1]
        for f, v in self.key[1:]:
            m &= frame[f].astype(str) == v
        return m


@dataclass(frozen=True)
class Inputs:
    """The ``inputs`` cell of one ledger row, parsed once (:func:`parse_inputs`).

    The numbers quoted with the reported one (and a computation's options) are in :attr:`values`,
    read as ``given["md"]``, ``"split" in given``, ``given.get("scale")``; the references to the
    data are typed: :attr:`table` (a declared analysis table), :attr:`row` (a row of it, by its
    primary key) and :attr:`study` (a study of it).

    Attributes
    ----------
    values : mapping of str to float or str
        The quoted numbers and options (read-only).
    table : str or None
        ``table=``: a declared analysis table.
    row : RowRef or None
        ``row=``: a row of :attr:`table`.
    study : str or None
        ``study=``: a ``study_id`` of :attr:`table`.
    source : Source or None
        Where the cell is, for messages (not compared).

    Examples
    --------
    >>> g = Inputs({"md": -5.3, "scale": "log"}, table="t")
    >>> g["md"], "scale" in g, g.table, g.row
    (-5.3, True, 't', None)
    """

    values: Mapping[str, float | str] = field(default_factory=dict)
    table: str | None = None
    row: RowRef | None = None
    study: str | None = None
    source: Source | None = field(default=None, compare=False)

    def __getitem__(self, key: str):
        return self.values[key]

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str, default=None):
        """The value of input *key*, or *default* when the row does not give it.

        Returns
        -------
        float, str or the default

        Examples
        --------
        >>> g = Inputs({"k": 4.0})
        >>> g.get("k"), g.get("time"), g.get("time", "24 h")
        (4.0, None, '24 h')
        """
        return self.values.get(key, default)


def parse_inputs(text: str | None, workbook, *, computation: str | None = None,
                 source: Source | None = None) -> Inputs:
    """Parse a ledger ``inputs`` cell: ``key=value`` parts separated by ``;``.

    A value is a number when it reads as one, else text. Three keys refer to the data:
    ``table=<name>`` must be an analysis table declared in *workbook*'s ``datapackage.json``;
    ``row=<v1>|<v2>|...`` names a row of that table by the values of its schema's ``primaryKey``,
    in order; ``study=<study_id>`` a study of it. With *computation*, the keys must be those the
    computation takes (:func:`computation`). Whether the row or study exists is checked where the
    data are read (:func:`resolve_inputs`).

    Parameters
    ----------
    text : str or None
        The cell; ``None`` or empty gives no inputs.
    workbook : Workbook
        Whose ``datapackage.json`` declares the tables (:class:`glumeta.data.workbook.Workbook`).
    computation : str, optional
        The row's computation (a key of :data:`COMPUTE`): the keys must be those it takes.
    source : Source, optional
        Where the cell is, for messages; default ``Source("inputs", 0)``.

    Returns
    -------
    Inputs
        The numbers in :attr:`Inputs.values`; ``table``, ``row`` and ``study`` typed.

    Raises
    ------
    LedgerInputError
        naming the ledger file, line, column and the offending part (*source*).

    Notes
    -----
    Input names are lower-case identifiers, each given once. A ``row=`` or ``study=`` needs a
    ``table=``, and a ``row=`` gives exactly one non-empty value per primary-key field, separated
    by ``|`` (:data:`ROW_SEP`). Only the declarations are read here, not the table.

    Examples
    --------
    >>> from glumeta.data.workbook import Workbook
    >>> g = parse_inputs("md=-5.3;se=2.10", Workbook())
    >>> g["md"], "se" in g, g.table
    (-5.3, True, None)
    >>> wb = Workbook()
    >>> name = wb.analyses()[0]
    >>> pk = wb.resource(name)["schema"]["primaryKey"]
    >>> g = parse_inputs(f"table={name};row=" + "|".join(pk), wb)
    >>> g.row.table == name and [f for f, _ in g.row.key] == pk
    True
    >>> parse_inputs("table=nosuch", wb, source=Source("data/reported.csv", 7))
    Traceback (most recent call last):
    ...
    glumeta.stats.ledger.LedgerInputError: 1 data error(s):
    data/reported.csv:7: column 'inputs': value 'table=nosuch': unknown table 'nosuch'; ...
    """
    src = source or Source("inputs", 0)
    values: dict = {}
    refs: dict = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise src.error(part.strip(), "expected key=value (parts separated by ';')")
        k, v = part.split("=", 1)
        k = k.strip()
        if not _KEY.fullmatch(k):
            raise src.error(part.strip(), f"'{k}' is not an input name (lower-case letters, digits and '_')")
        if k in values or k in refs:
            raise src.error(part.strip(), f"input '{k}' is given twice")
        if k in REFERENCES:
            refs[k] = v.strip()
            continue
        try:
            values[k] = float(v)
        except ValueError:
            values[k] = v.strip()
    if computation is not None:
        if computation not in COMPUTE:
            raise Source(src.path, src.line, "computation").error(computation, "no such computation")
        spec = COMPUTE[computation]
        keys = list(refs) + list(values)
        missing = [k for k in spec.required if k not in keys]
        unknown = [k for k in keys if k not in spec.required + spec.optional]
        if missing or unknown:
            raise src.error(text, f"{computation} takes {spec.signature() or 'no inputs'}" +
                            (f"; missing: {', '.join(missing)}" if missing else "") +
                            (f"; not taken: {', '.join(unknown)}" if unknown else ""))
    table = refs.get("table")
    if table is not None:
        known = workbook.analyses()
        if table not in known:
            raise src.error(f"table={table}", f"unknown table '{table}'; the analysis tables declared in "
                                              f"{_shown(workbook.package_path)} are {', '.join(known)}")
    for k in ("row", "study"):
        if k in refs and table is None:
            raise src.error(f"{k}={refs[k]}", f"'{k}' names a row of a table: add table=<name> ({', '.join(workbook.analyses())})")
    row = None
    if "row" in refs:
        pk = workbook.resource(table)["schema"].get("primaryKey") or []
        pk = [pk] if isinstance(pk, str) else list(pk)
        vals = [x.strip() for x in refs["row"].split(ROW_SEP)]
        if len(vals) != len(pk) or not all(vals):
            raise src.error(f"row={refs['row']}", f"a row of {table} is named by its primary key, "
                                                  f"{ROW_SEP.join(pk)}: {len(pk)} non-empty value(s) separated by "
                                                  f"'{ROW_SEP}', in that order")
        row = RowRef(table, tuple(zip(pk, vals)))
    study = refs.get("study")
    if study is not None and not study:
        raise src.error("study=", "empty study id")
    return Inputs(MappingProxyType(values), table, row, study, src)


def resolve_inputs(given: Inputs, frames) -> Inputs:
    """Check that the row (or study) *given* names is in its table, when this page may read the
    table; *given* is returned. :class:`LedgerInputError` (ledger file, line, column, value)
    otherwise.

    Parameters
    ----------
    given : Inputs
        A row's parsed inputs (:func:`parse_inputs`).
    frames : _Frames
        The effect frames of the workbook's tables (read on first use) and the tables this
        process may read.

    Returns
    -------
    Inputs
        *given*, unchanged.

    Raises
    ------
    LedgerInputError
        The row or study is not in the table.

    Notes
    -----
    A table the page does not declare is not read, so its references are not checked there
    (the full ``glumeta ledger`` run checks them all).

    Examples
    --------
    >>> from glumeta.data.workbook import Workbook
    >>> wb = Workbook()
    >>> frames = _Frames(wb)
    >>> g = parse_inputs("table=esketamine_madrs;study=canuso2018", wb)
    >>> resolve_inputs(g, frames) is g
    True
    >>> resolve_inputs(parse_inputs("table=esketamine_madrs;study=nosuch", wb), frames)
    Traceback (most recent call last):
    ...
    glumeta.stats.ledger.LedgerInputError: 1 data error(s):
    inputs:0: column 'inputs': value 'study=nosuch': no row of data/esketamine_madrs.csv has study_id = 'nosuch'
    """
    if given.table is None or given.table not in frames.declared():
        return given
    src = given.source or Source("inputs", 0)
    shown = _shown(frames.workbook.dataset(given.table).path)
    t = frames.table(given.table)
    if given.row is not None and not given.row.mask(t).any():
        raise src.error(f"row={given.row}", f"no row of {shown} has {given.row.describe()}")
    if given.study is not None and not (t["study_id"].astype(str) == given.study).any():
        raise src.error(f"study={given.study}", f"no row of {shown} has study_id = {given.study!r}")
    return given

def _num(x: float, sig: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "∞" if x == math.inf else "–"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.{sig - 1}e}"
    return f"{x:.{max(sig, 3)}g}" if abs(x) >= 1 else f"{x:.{sig + 1}f}".rstrip("0").rstrip(".") if x else "0"


@dataclass(frozen=True)
class Computation:
    """A registered computation: the function and the inputs it takes.

    Calling it runs the function on ``(rec, given, frames)`` and checks that it returned a
    :class:`CheckResult` (TypeError otherwise).

    Attributes
    ----------
    name : str
        Its name in the ledger's ``computation`` column.
    run : callable
        ``run(rec, given, frames) -> CheckResult``.
    required, optional : tuple of str
        The input names it needs, and those it may take.

    Examples
    --------
    >>> from glumeta.data.workbook import Workbook
    >>> c = COMPUTE["pct_of_n"]
    >>> c.required, c.optional
    (('count', 'n'), ())
    >>> rec = {"value": 20.0, "decimals": 0, "reported": "20%"}
    >>> c(rec, parse_inputs("count=4;n=20", Workbook(), computation="pct_of_n"), None)
    CheckResult(value=20.0, verdict=<Verdict.CONSISTENT: 'consistent'>, explanation='4/20 = 20.0%', details={})
    """

    name: str
    run: Callable[..., CheckResult]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def __call__(self, rec: dict, given: Inputs, frames) -> CheckResult:
        out = self.run(rec, given, frames)
        if not isinstance(out, CheckResult):
            raise TypeError(f"computation {self.name} returned {type(out).__name__}, not a CheckResult")
        return out

    def signature(self) -> str:
        """The inputs it takes, as :func:`computation` declares them (optional ones in brackets).

        Returns
        -------
        str

        Examples
        --------
        >>> COMPUTE["es_from_md_se"].signature()
        'table row randomised [split]'
        """
        return " ".join([*self.required, *(f"[{k}]" for k in self.optional)])


#: the computations, by the name ``data/reported.csv`` gives in its ``computation`` column
COMPUTE: dict[str, Computation] = {}


def computation(name: str, inputs: str = ""):
    """Register a function ``f(rec, given, frames) -> CheckResult`` as computation *name*.

    *inputs* lists the input names it takes, space-separated, optional ones in brackets
    (``"table row randomised [split]"``); :func:`parse_inputs` refuses a row that lacks one or
    gives another.

    Parameters
    ----------
    name : str
        The name the ledger's ``computation`` column gives.
    inputs : str, optional
        The input names, space-separated; ``[name]`` for an optional one.

    Returns
    -------
    callable
        A decorator that registers its function in :data:`COMPUTE` and returns it unchanged.

    Notes
    -----
    A second registration under the same name replaces the first.

    Examples
    --------
    >>> from glumeta.verdicts import Verdict
    >>> from glumeta.data.workbook import Workbook
    >>> def twice(rec, given, frames):
    ...     return CheckResult(2 * given["x"], Verdict.CONSISTENT, "2·x")
    >>> computation("twice", "x [note]")(twice) is twice
    True
    >>> COMPUTE["twice"].signature(), parse_inputs("x=2", Workbook(), computation="twice")["x"]
    ('x [note]', 2.0)
    >>> parse_inputs("y=2", Workbook(), computation="twice")
    Traceback (most recent call last):
    ...
    glumeta.stats.ledger.LedgerInputError: 1 data error(s):
    inputs:0: column 'inputs': value 'y=2': twice takes x [note]; missing: x; not taken: y
    >>> del COMPUTE["twice"]
    """
    words = inputs.split()
    required = tuple(w for w in words if not w.startswith("["))
    optional = tuple(w.strip("[]") for w in words if w.startswith("["))

    def deco(f):
        COMPUTE[name] = Computation(name, f, required, optional)
        return f
    return deco

def _verdict(ok: bool, good: Verdict) -> Verdict:
    return good if ok else Verdict.DISCREPANT


def ledger_table(workbook=None) -> str:
    """The table of reported numbers: the resource declaring ``"glumeta:role": "ledger"`` (in
    *workbook*, default the current one).

    Parameters
    ----------
    workbook : Workbook, optional
        Default :func:`glumeta.data.workbook.current`.

    Returns
    -------
    str
        The table's name.

    Raises
    ------
    KeyError
        No resource declares the role.

    Notes
    -----
    The ledger is found by its declared role (:meth:`glumeta.data.workbook.Workbook.role`), so no code
    names its file.

    Examples
    --------
    >>> ledger_table()
    'reported'
    """
    from ..data.workbook import current

    name = (workbook or current()).role("ledger")
    if name is not None:
        return name
    raise KeyError("datapackage.json declares no resource with \"glumeta:role\": \"ledger\"")


@computation("not_checkable")
def _not_checkable(r, given, frames):
    return CheckResult(None, Verdict.NOT_CHECKABLE, r["notes"] or "inputs not reported")


@computation("p_from_rounded_ci", "est lo hi decimals")
def _p_from_rounded_ci(r, given, frames):
    est, lo, hi, d = given["est"], given["lo"], given["hi"], int(given["decimals"])
    p_at = rp.ci_z_p(est, (hi - lo) / (2 * Z975))["p"]
    pmin, pmax = rp.p_range_from_rounded_ci(est, lo, hi, d)
    ok = pmin <= r["value"] <= pmax
    se = (hi - lo) / (2 * Z975)
    details = {"SE from the CI": f"{se:.3f}", "z": f"{est / se:.2f}", "p (z-test)": f"{p_at:.1e}",
               "p range (rounding)": f"{pmin:.1e} to {pmax:.1e}"}
    return CheckResult(p_at, _verdict(ok, Verdict.CONSISTENT), (
        f"z-test p from the printed estimate and CI is {_num(p_at)}; the rounding of the printed numbers allows "
        f"any p from {_num(pmin)} to {_num(pmax)}, which {'includes' if ok else 'excludes'} the reported {r['reported']}"), details)


@computation("p_from_md_se", "md se")
def _p_from_md_se(r, given, frames):
    z = rp.ci_z_p(given["md"], given["se"])
    ok = matches(r["value"], r["decimals"], z["p"], r["prefix"])
    details = {"difference": f"{given['md']:g}", "SE": f"{given['se']:g}",
               "95% CI": f"{z['ci_lower']:.2f} to {z['ci_upper']:.2f}", "z": f"{z['stat']:.2f}", "p": f"{z['p']:.4f}"}
    return CheckResult(z["p"], _verdict(ok, Verdict.CONSISTENT), (
        f"z = {given['md']:g}/{given['se']:g} = {z['stat']:.2f}, two-sided p = {_num(z['p'])}"), details)


@computation("p_from_md_ci", "md lo hi n")
def _p_from_md_ci(r, given, frames):
    se = (given["hi"] - given["lo"]) / (2 * Z975)
    z = rp.ci_z_p(given["md"], se)
    ok = matches(r["value"], r["decimals"], z["p"], r["prefix"])
    df = int(given["n"]) - 1  # a paired (crossover) t-test on n − 1 df
    t = rp.ci_z_p(given["md"], (given["hi"] - given["lo"]) / (2 * rp.special.stdtrit(df, 0.975)), df=df)
    details = {"SE from the CI": f"{se:.3f}", "z": f"{z['stat']:.2f}", "p (z)": f"{z['p']:.5f}",
               f"p (t, {df} df)": f"{t['p']:.4f}", "reported": r["reported"]}
    return CheckResult(z["p"], _verdict(ok, Verdict.CONSISTENT), (
        f"SE from the CI = {se:.3f}; z = {z['stat']:.2f}, p = {_num(z['p'])} (a paired t-test on {df} df would give "
        f"{_num(t['p'])})"), details)


def _effect_size_search(md, se, target, decimals, n_total_range):
    """Arm sizes (n1, n2), n1 within 4 of half the total, whose Cohen's d rounds to *target*
    (all candidates in one call of :func:`glumeta.stats.reproduce.effect_size_candidates`)."""
    pairs = [(n1, total - n1) for total in n_total_range
             for n1 in range(max(2, total // 2 - 4), total // 2 + 5) if total - n1 >= 2]
    c = rp.effect_size_candidates(md, se, pairs, target, decimals)
    return [(int(a), int(b)) for a, b, ok in zip(c["n1"], c["n2"], c["d_matches"]) if ok]


def _es_text(x: float, decimals: int) -> str:
    """An effect size with one digit more than printed, or two when one more would sit on the
    rounding boundary (0.615 could be read either way; 0.6151 cannot)."""
    t = f"{x:.{decimals + 1}f}"
    return f"{x:.{decimals + 2}f}" if t.endswith("5") else t


def _trial_split(frames, ref: RowRef, given: Inputs, notes: str | None):
    """The one arm split (n1, n2) under which every effect-size check of the trial of row *ref* is
    judged.

    It is declared once: the analysed numbers of the trial's rows in ``data/<table>.csv`` (the same
    numbers its pooled analysis uses), which must agree across the trial's rows. A check may depart
    from it only with ``split=n1/n2`` in its inputs *and* a reason in its notes; a trial whose rows
    disagree has no declared split, and each check then says that it uses its own row's numbers.

    Returns ``(n1, n2, how, problem)``: *how* names the split in the explanation; *problem* is a
    reason the check cannot be judged (otherwise None)."""
    table, sid = ref.table, ref["study_id"]
    t = frames.table(table)
    rows = t[(t["study_id"] == sid) & (t["status"] == "complete")]
    label = str(rows["study"].iloc[0]) if len(rows) and "study" in rows else sid
    splits = sorted({(int(a), int(b)) for a, b in zip(rows["n_arm1"], rows["n_arm2"])})
    own = rows[ref.mask(rows)]
    n_rows = len(rows)
    if "split" in given:
        a, b = (int(x) for x in str(given["split"]).split("/"))
        if len(splits) == 1 and (a, b) == splits[0]:
            return a, b, f"{label}'s declared split {a}/{b}", None
        if not (notes or "").strip():
            return a, b, "", (f"the check departs from {label}'s split in data/{table}.csv "
                              f"({', '.join(f'{x}/{y}' for x, y in splits)}) with {a}/{b} but does not say why")
        return a, b, (f"the split {a}/{b}, not {label}'s declared "
                      f"{', '.join(f'{x}/{y}' for x, y in splits)}, because: {notes.strip().rstrip('.')}"), None
    if len(splits) == 1:
        a, b = splits[0]
        return a, b, (f"{label}'s declared split {a}/{b} (the analysed n of all {n_rows} of its rows in "
                      f"data/{table}.csv, used by every effect-size check of the trial)"), None
    a, b = int(own["n_arm1"].iloc[0]), int(own["n_arm2"].iloc[0])
    return a, b, (f"this row's own split {a}/{b}: {label}'s rows in data/{table}.csv differ in their analysed "
                  f"n ({', '.join(f'{x}/{y}' for x, y in splits)}), so the trial has no one split"), None


@computation("es_from_md_se", "table row randomised [split]")
def _effect_size_from_md_se(r, given, frames):
    """Cohen's d / Hedges' g from a reported MD and SE, with the SD recovered for the trial's one
    declared arm split (:func:`_trial_split`; Cochrane Handbook §6.5.2.3).

    Reproduced when d or g under that split rounds to the reported value; otherwise discrepant, and
    the explanation gives what would reproduce it: the randomised number split evenly, and the
    total sample sizes found by search."""
    ref = given.row
    table, time = ref.table, ref["time"]
    t = frames.table(table)
    sel = t[ref.mask(t) & (t["status"] == "complete")]
    if sel.empty:
        return CheckResult(None, Verdict.NOT_CHECKABLE, f"its input row ({ref.describe()}) is not complete in data/{table}.csv")
    row = sel.iloc[0]
    md, se = float(row["md"]), float(row["md_se"])
    n1, n2, how, problem = _trial_split(frames, ref, given, r.get("notes"))
    if problem:
        return CheckResult(None, Verdict.NOT_CHECKABLE, problem)
    rand = int(given["randomised"])
    h1, h2 = rand - rand // 2, rand // 2
    c = rp.effect_size_candidates(md, se, [(n1, n2), (h1, h2)], r["value"], r["decimals"])
    z = rp.ci_z_p(md, se)
    f = {k: [_es_text(float(v), r["decimals"]) for v in c[k]] for k in ("d", "g")}
    details = {"time": time, "LS diff": f"{md:g}", "SE": f"{se:g}", "95% CI": f"{z['ci_lower']:.2f} to {z['ci_upper']:.2f}",
               "z": f"{z['stat']:.2f}", "p": f"{z['p']:.4f}", "reported ES": r["reported"], "split": f"{n1}/{n2}",
               f"d ({n1}/{n2})": f["d"][0], f"g ({n1}/{n2})": f["g"][0],
               f"d ({rand} split evenly, {h1}/{h2})": f["d"][1]}
    for col, name, key in (("d_matches", "Cohen's d", "d"), ("g_matches", "Hedges' g", "g")):
        if c[col][0]:
            other = "g" if key == "d" else "d"
            return CheckResult(c[key][0], Verdict.REPRODUCED, (
                f"{name} with SD = SE/√(1/{n1}+1/{n2}) under {how} is {f[key][0]}, which rounds to {r['reported']} "
                f"({other} = {f[other][0]})"), details)
    even_ok = bool(c["d_matches"][1] or c["g_matches"][1])
    hits = _effect_size_search(md, se, r["value"], r["decimals"], range(max(4, rand // 2), 2 * rand + 1))
    totals = sorted({a + b for a, b in hits})
    hint = (f"it is reproduced only with {min(totals)}–{max(totals)} patients in all (e.g. {hits[0][0]}/{hits[0][1]})"
            if totals else f"no total sample size from {max(4, rand // 2)} to {2 * rand} reproduces it")
    return CheckResult(c["d"][0], Verdict.DISCREPANT, (
        f"under {how}, d = {f['d'][0]} and g = {f['g'][0]}, neither of which rounds to {r['reported']}; the {rand} "
        f"randomised split evenly, {h1}/{h2} (an assumption: no source gives the split), would give d = {f['d'][1]} "
        f"and g = {f['g'][1]}, {'which would' if even_ok else 'neither of which would'} round to {r['reported']}; "
        f"{hint}"), details)


@computation("pct_of_n", "count n")
def _percentage_of_n(r, given, frames):
    c, n = int(given["count"]), int(given["n"])
    v = 100 * c / n
    ok = pct_matches(c, n, r["value"], r["decimals"])
    return CheckResult(v, _verdict(ok, Verdict.CONSISTENT), f"{c}/{n} = {v:.1f}%")


def _table_totals(frames, printed: str, replace: dict | None = None) -> tuple[int, int]:
    """(remitters, nonremitters) summed over the ``side=rem`` ledger rows of the table printed in a
    document (``printed_table=<name>`` in their inputs), with *replace* = {check_id: (count, other)}
    applied."""
    rem = non = 0
    for rec, g in frames.checks:
        if g.get("printed_table") == printed and g.get("side") == "rem":
            c, o = (replace or {}).get(rec["check_id"], (int(g["count"]), int(g["other"])))
            rem, non = rem + c, non + o
    return rem, non


@computation("pct_of_row", "count other other_pct [printed_table] [side] [same_patients_as]")
def _percentage_of_row_total(r, given, frames):
    """A count and its row percentage (GRIM-style, Brown & Heathers 2017). For a discrepant row, a
    single-number correction is suggested only when it reproduces both percentages of the row *and*
    keeps the table's column totals equal to those of the table of the same patients
    (``same_patients_as``)."""
    c, o, opct = int(given["count"]), int(given["other"]), float(given["other_pct"])
    n = c + o
    v = 100 * c / n
    ok = pct_matches(c, n, r["value"], r["decimals"])
    if ok:
        return CheckResult(v, Verdict.CONSISTENT, f"{c}/{n} = {v:.1f}%")
    fixes = [(c, o2) for o2 in range(0, 1000) if c + o2 > 0 and pct_matches(c, c + o2, r["value"], r["decimals"])
             and pct_matches(o2, c + o2, opct, r["decimals"])]
    fixes += [(c2, o) for c2 in range(0, 1000) if c2 + o > 0 and pct_matches(c2, c2 + o, r["value"], r["decimals"])
              and pct_matches(o, c2 + o, opct, r["decimals"])]
    table, ref = given.get("printed_table"), given.get("same_patients_as")
    note = ""
    if table and ref:
        want = _table_totals(frames, ref)
        # the remitters' row of this table row: this one, or the side=rem row quoting the same line
        rem_id = r["check_id"] if given.get("side") == "rem" else next(
            (rec["check_id"] for rec, g in frames.checks if g.get("printed_table") == table
             and g.get("side") == "rem" and rec["quote"] == r["quote"]), None)
        keep = []
        for c2, o2 in fixes:
            pair = (c2, o2) if given.get("side") == "rem" else (o2, c2)
            if _table_totals(frames, table, {rem_id: pair}) == want:
                keep.append((c2, o2))
        dropped = len(fixes) - len(keep)
        have = _table_totals(frames, table)
        note = (f"; the {ref} table of the same patients has {want[0]} remitters of {sum(want)}, this table "
                f"{have[0]} of {sum(have)}" + (f"; {dropped} candidate correction(s) that break those totals "
                                                 "are not suggested" if dropped else ""))
        fixes = keep
    fix = "; ".join(f"with {c2} instead of {c}" if c2 != c else f"with {o2} instead of {o} in the other column"
                    for c2, o2 in fixes)
    if fixes:
        c2, o2 = fixes[0]
        fix += f", {c2}/{c2 + o2} = {100 * c2 / (c2 + o2):.1f}% and {o2}/{c2 + o2} = {100 * o2 / (c2 + o2):.1f}% reproduce both percentages"
    return CheckResult(v, Verdict.DISCREPANT, (f"{c}/{n} = {v:.1f}%, not {r['reported']}; " +
                                   (fix or "no single count reproduces both percentages") + note))


@computation("pct_count_unique", "n")
def _percentage_with_unique_count(r, given, frames):
    n = int(given["n"])
    res = count_from_percentage(r["value"], n, r["decimals"])
    if res.count is None:
        return CheckResult(None, Verdict.DISCREPANT, f"no unique count out of {n} prints as {r['reported']} (candidates {list(res.candidates)})")
    return CheckResult(100 * res.count / n, Verdict.CONSISTENT, f"{res.count}/{n} = {100 * res.count / n:.2f}% (the only count that prints as {r['reported']})")


@computation("conditional_or", "n2o placebo n lo hi [ci_decimals]")
def _conditional_odds_ratio(r, given, frames):
    b_rep, c_rep, n = int(given["n2o"]), int(given["placebo"]), int(given["n"])
    cd = int(given.get("ci_decimals", 2))
    lo_rep, hi_rep = given["lo"], given["hi"]
    # discordant pairs compatible with the reported counts: x patients had the event under both
    options = [(b_rep - x, c_rep - x) for x in range(0, min(b_rep, c_rep) + 1)]
    hits = rp.discordant_search(r["value"], lo_rep, hi_rep, n, (r["decimals"], cd, cd))
    b0, c0 = options[0]
    cc = rp.conditional_or(b0 + 0.5, c0 + 0.5)
    y, v = log_rr(b_rep, n, c_rep, n)
    details = {"discordant pairs reproducing it": ", ".join(f"b = {b}, c = {c}" for b, c in hits) or "none",
               "OR with 0.5 added": f"{cc['or']:.1f} ({cc['ci_lower']:.2f} to {cc['ci_upper']:.1f})",
               "McNemar exact p": f"{rp.mcnemar(b0, c0)['exact_p']:.3f}",
               "unpaired RR": f"{math.exp(y):.1f} ({math.exp(y - Z975 * v ** 0.5):.2f} to {math.exp(y + Z975 * v ** 0.5):.1f})"}
    for b, c in options:
        o = rp.conditional_or(b, c)
        if math.isfinite(o["or"]) and matches(r["value"], r["decimals"], o["or"]) and \
                matches(lo_rep, cd, o["ci_lower"]) and matches(hi_rep, cd, o["ci_upper"]):
            return CheckResult(o["or"], Verdict.CONSISTENT, (
                f"conditional (discordant-pair) OR {b}/{c} = {o['or']:.2f}, 95% CI {o['ci_lower']:.2f}–{o['ci_upper']:.2f}: "
                f"the crossover's paired OR with {b} patients responding only on N2O and {c} only on placebo"), details)
    o0 = rp.conditional_or(b0, c0)
    return CheckResult(o0["or"], Verdict.DISCREPANT, (
        f"the reported counts ({b_rep} vs {c_rep}) give discordant pairs {b0}/{c0}, a conditional OR of {_num(o0['or'])}; "
        f"OR {r['reported']} with its CI is reproduced only by discordant pairs {', '.join(f'{b}/{c}' for b, c in hits) or 'none'}; "
        f"adding 0.5 to each discordant count would give {cc['or']:.1f} ({cc['ci_lower']:.2f}–{cc['ci_upper']:.1f})"), details)


@computation("q_from_i2", "k")
def _q_from_i2(r, given, frames):
    """I² alone is not checkable without Q or τ²; the Q it implies is shown (I² = (Q − df)/Q,
    Higgins & Thompson 2002)."""
    k = int(given["k"])
    q = rp.q_from_i2(r["value"], k)
    return CheckResult(None, Verdict.NOT_CHECKABLE, (
        f"Q and τ² are not reported, so I² cannot be re-computed; I² = {r['reported']} with k = {k} implies "
        f"Q ≈ {q:.1f} on {k - 1} df"), {"Q implied": f"{q:.1f}", "df": str(k - 1)})


def _study_rows(frames, given: Inputs):
    """The rows of the study *given* names (``study=``) in its table (``table=``), or None when this
    page may not read that table."""
    if given.table not in frames.declared():
        return None
    t = frames.table(given.table)
    return t[t["study_id"] == given.study]


def _total_n(rows):
    a = "n_arm1" if "n_arm1" in rows else "totaln_arm1"
    b = "n_arm2" if "n_arm2" in rows else "totaln_arm2"
    return (rows[a] + rows[b]).astype(float)


@computation("n_vs_data", "table study")
def _n_vs_data(r, given, frames):
    """A reported number randomised against the analysed numbers of the trial's rows: consistent
    when no row analyses more patients than were randomised."""
    rows, name = _study_rows(frames, given), given.table
    if rows is None or rows.empty:
        return CheckResult(None, Verdict.NOT_CHECKABLE, f"no rows of {given.study} in the data files this page reads")
    totals = _total_n(rows).dropna()
    top = int(totals.max())
    ok = top <= r["value"]
    return CheckResult(float(top), _verdict(ok, Verdict.CONSISTENT), (
        f"the rows of {given.study} in data/{name}.csv analyse at most {top} patients "
        f"({', '.join(sorted({f'{int(x)}' for x in totals}))} per row), "
        + (f"{int(r['value']) - top} fewer than the {r['reported']} randomised (attrition)" if ok else
           f"more than the {r['reported']} randomised")))


def _pct_text(x) -> str:
    return f"{float(x):g}%"


@computation("time_vs_data", "table study [window]")
def _time_vs_data(r, given, frames):
    """The time a quoted phrase puts on the rates quoted under it, against the time of those rates in
    the trial's rows (as read from its own report).

    The rates are the trial's rows whose two percentages both appear in the quote; the phrase's time
    is the row's ``value`` (weeks). With ``window=<from> to <to>`` (the report's window of the
    continuous improvement), the explanation also says whether the phrase matches that window, i.e.
    whether it belongs to the improvement rather than to the rates."""
    rows, name = _study_rows(frames, given), given.table
    if rows is None or rows.empty:
        return CheckResult(None, Verdict.NOT_CHECKABLE, f"no rows of {given.study} in the data files this page reads")
    quote = " ".join(str(r["quote"]).split())
    quoted = rows[[_pct_text(a) in quote and _pct_text(b) in quote for a, b in zip(rows["pct_arm1"], rows["pct_arm2"])]]
    src = str(rows["source"].iloc[0])
    if quoted.empty:
        return CheckResult(None, Verdict.NOT_CHECKABLE, (
            f"none of the rates of {given.study} in data/{name}.csv is quoted with '{r['reported']}'"))
    rates = "; ".join(f"{o} {_pct_text(a)} vs {_pct_text(b)}"
                      for o, a, b in zip(quoted["outcome"], quoted["pct_arm1"], quoted["pct_arm2"]))
    times = sorted(set(quoted["time"]), key=time_hours)
    weeks = [time_hours(t) / 168 for t in times]
    ok = all(math.isfinite(w) and matches(r["value"], r["decimals"], w) for w in weeks)
    details = {"phrase": r["reported"], "rates quoted under it": rates, "time of those rates": ", ".join(times)}
    window = ""
    if "window" in given:
        end = str(given["window"]).split(" to ")[-1]
        w_ok = matches(r["value"], r["decimals"], time_hours(end) / 168)
        details["window of the improvement (report)"] = str(given["window"])
        window = (f"; the phrase {'matches' if w_ok else 'does not match'} the report's window of the improvement, "
                  f"{given['window']}" + (", so it belongs to the improvement, not to these rates" if w_ok and not ok
                                          else ""))
    adj = ", ".join(re.sub(r"^(\d+(?:\.\d+)?) (week|day|hour)s?$", r"\1-\2", t) for t in times)
    outcomes = " and ".join(dict.fromkeys(quoted["outcome"]))
    return CheckResult(weeks[0], _verdict(ok, Verdict.CONSISTENT), (
        f"the rates quoted under '{r['reported']}' ({rates}) are those of data/{name}.csv at {', '.join(times)} "
        f"(source: {src}), " + ("the time the phrase gives them" if ok else
                                f"not rates at '{r['reported']}': the document quotes the {adj} {outcomes} rates "
                                "under that phrase") + window), details)


#: a journal citation, "<journal> <volume>[ Suppl]:<page>[–<page>]", e.g. "J Psychiatr Res 96:23"
_CITATION = re.compile(r"[^\W\d][\w .&-]* \d+(?:\s*Suppl)?\s*:\s*\d+(?:[–-]\d+)?")


def _paper(row) -> str:
    """The paper a data row comes from, by its citation, never by its address (two papers can share
    one web address, one paper can give several rows): the journal citation that opens the row's
    ``locator`` (``J Psychiatr Res 96:23; ...``), else its ``study`` label without a trailing
    qualifier in brackets (``Ogawa 2018 (set A)`` → ``Ogawa 2018``)."""
    head = str(row.get("locator") or "").split(";")[0].strip()
    if _CITATION.fullmatch(head):
        return head
    return re.sub(r"\s*\([^()]*\)\s*$", "", str(row["study"])).strip()


def _papers(rows) -> dict:
    """Rows grouped by paper (:func:`_paper`): {citation: [study labels]}, in file order."""
    out: dict = {}
    for rec in rows.to_dict("records"):
        out.setdefault(_paper(rec), []).append(str(rec["study"]))
    return out


def _paper_note(rows) -> str:
    """Where counting by address would differ from counting by citation, computed."""
    papers = _papers(rows)
    notes = [f"{' and '.join(v)} are one paper" for v in papers.values() if len(v) > 1]
    by_src: dict = {}
    for rec in rows.to_dict("records"):
        by_src.setdefault(str(rec["source"]), {}).setdefault(_paper(rec), str(rec["study"]))
    notes += [f"{' and '.join(v.values())} share one source address but are {len(v)} papers"
              for v in by_src.values() if len(v) > 1]
    return f" (counted by citation: {'; '.join(notes)})" if notes else " (counted by citation)"


@computation("candidate_studies", "table column [controls]")
def _candidate_studies(r, given, frames):
    """Inoshita's k and n against the candidate studies in the blood-glutamate file (inclusion
    unconfirmed). Papers are counted by citation (:func:`_paper`), not by source address."""
    table = given.table
    t = frames.table(table)
    cand = t[t["inoshita_candidate"].fillna(False).astype(bool)]
    with_n = cand[cand["n_arm1"].notna() & cand["n_arm2"].notna()]
    n1, n2 = int(with_n["n_arm1"].sum()), int(with_n["n_arm2"].sum())
    if given["column"] == "k":
        k_papers = len(_papers(cand))
        return CheckResult(float(len(cand)), Verdict.NOT_CHECKABLE, (
            f"data/{table}.csv lists {len(cand)} candidate rows from {k_papers} papers{_paper_note(cand)}; "
            f"which {r['reported']} studies Inoshita pooled is not stated, so k cannot be re-derived"),
            {"candidate rows": str(len(cand)), "papers (by citation)": str(k_papers),
             "source addresses": str(cand["source"].nunique())})
    return CheckResult(float(n1), Verdict.NOT_CHECKABLE, (
        f"the {len(with_n)} candidate rows with n (from {len(_papers(with_n))} papers) total {n1} MDD / {n2} controls "
        f"against the reported {r['reported']}; the candidates' inclusion is not confirmed and "
        f"{len(cand) - len(with_n)} have no n, so the totals cannot be checked"))


@computation("two_by_two_p", "table row")
def _two_by_two_p(r, given, frames):
    """A p of a 2×2 table (the row *given* names: its events and totals) against the standard tests:
    Pearson χ² without continuity correction, Fisher's exact test, Yates-corrected χ²."""
    ref = given.row
    table = ref.table
    t = frames.table(table)
    sel = t[ref.mask(t) & (t["status"] == "complete")]
    if sel.empty:  # the details keep their names, so a chapter's glued prose still builds
        return CheckResult(None, Verdict.NOT_CHECKABLE, f"its input row ({ref.describe()}) is not complete in data/{table}.csv",
            {k: "n/a" for k in ("outcome", "reported", "Pearson χ²", "Fisher exact", "Yates-corrected χ²",
                                "smallest expected count")})
    row = sel.iloc[0]
    e1, n1, e2, n2 = int(row["event1_used"]), int(row["totaln_arm1"]), int(row["event2_used"]), int(row["totaln_arm2"])
    res = rp.two_by_two_tests(e1, n1, e2, n2)
    tests = [("Pearson χ² without continuity correction", res["pearson_p"]), ("Fisher's exact test", res["fisher_p"]),
             ("Yates-corrected χ²", res["yates_p"])]
    desc = "; ".join(f"{name} {_num(p)}" for name, p in tests)
    details = {"outcome": str(row["outcome"]), "reported": r["reported"], "Pearson χ²": f"{res['pearson_p']:.4f}",
               "Fisher exact": f"{res['fisher_p']:.4f}", "Yates-corrected χ²": f"{res['yates_p']:.4f}",
               "smallest expected count": f"{res['min_expected']:.1f}"}
    for name, p in tests:
        if matches(r["value"], r["decimals"], p, r["prefix"]):
            return CheckResult(p, Verdict.REPRODUCED, f"{e1}/{n1} vs {e2}/{n2}: reproduced by {name} (p = {_num(p)}); {desc}", details)
    return CheckResult(tests[0][1], Verdict.DISCREPANT, f"{e1}/{n1} vs {e2}/{n2}: no standard test gives {r['reported']}; {desc}", details)


@computation("ratio_p_from_ci", "est lo hi")
def _ratio_p_from_ci(r, given, frames):
    o = rp.ratio_p_from_ci(given["est"], given["lo"], given["hi"])
    ok = matches(r["value"], r["decimals"], o["p"], r["prefix"])
    details = {"quantity": r["quantity"], "HR": f"{given['est']:g}", "95% CI": f"{given['lo']:g} to {given['hi']:g}",
               "SE(log HR)": f"{o['se_log']:.3f}", "z": f"{o['z']:.2f}", "p": f"{o['p']:.2g}",
               "CI centre": f"{o['centre']:.3f}", "reported": r["reported"]}
    return CheckResult(o["p"], _verdict(ok, Verdict.CONSISTENT), (
        f"SE(log) from the CI = {o['se_log']:.3f}, z = {o['z']:.2f}, p = {_num(o['p'])}; CI centre on the log scale "
        f"{o['centre']:.3f} vs reported {given['est']:g}"), details)


@computation("p_from_t", "t df [n]")
def _p_from_t(r, given, frames):
    p = rp.p_from_t(given["t"], given["df"])
    ok = matches(r["value"], r["decimals"], p, r["prefix"])
    df_ok = "n" not in given or int(given["df"]) == 2 * int(given["n"]) - 2
    return CheckResult(p, _verdict(ok and df_ok, Verdict.CONSISTENT), (
        f"t({int(given['df'])}) = {given['t']:g} gives two-sided p = {_num(p)}"
        + (f"; df = 2·{int(given['n'])} − 2 = {2 * int(given['n']) - 2}" if "n" in given else "")))


@computation("p_from_f", "f df1 df2 [n] [groups]")
def _p_from_f(r, given, frames):
    p = rp.p_from_f(given["f"], given["df1"], given["df2"])
    ok = matches(r["value"], r["decimals"], p, r["prefix"])
    df_ok = "n" not in given or int(given["df2"]) == int(given["groups"]) * int(given["n"]) - int(given["groups"])
    return CheckResult(p, _verdict(ok and df_ok, Verdict.CONSISTENT), (
        f"F({int(given['df1'])}, {int(given['df2'])}) = {given['f']:g} gives p = {_num(p)}"
        + (f"; df2 = {int(given['groups'])}·{int(given['n'])} − {int(given['groups'])} = {int(given['groups']) * int(given['n']) - int(given['groups'])}" if "n" in given else "")))


# ------------------------------------------------------------------ published meta-analyses
# A published pooled result is checked twice: against itself (does its interval contain and centre
# on its estimate, does its p follow from them) and against the book's own pool over the trials the
# book holds, converted and pooled by the book's own functions. A reproduction needs the same
# trials: when the book pools fewer (or other) trials the row is "not checkable" as a reproduction,
# and its explanation gives both numbers and the computed reason.


def _scale(given) -> tuple[Callable, Callable, str]:
    """(to analysis scale, back, name) of a published estimate: log for ratios (``scale=log``)."""
    if given.get("scale") == "log":
        return math.log, math.exp, "log"
    return (lambda x: x), (lambda x: x), "linear"


def _ci_reading(given, decimals: int) -> dict:
    """What a printed estimate and 95% CI say about each other, allowing the rounding of each number.

    ``lo``/``hi`` are the limits in the order printed. Returns the sorted limits, whether the printed
    order is reversed, whether some values that print as these numbers put the estimate inside the
    interval (``contained``) and at its centre on the analysis scale (``centred``), the centre, and
    the SE, z and p of a symmetric 95% interval of that width around the estimate."""
    to, back, name = _scale(given)
    est, a, b = given["est"], given["lo"], given["hi"]
    lo, hi = min(a, b), max(a, b)
    h = 0.5 * 10.0 ** (-decimals)
    contained = est + h >= lo - h and est - h <= hi + h
    c_min = (to(max(lo - h, 1e-12) if name == "log" else lo - h) + to(max(hi - h, 1e-12) if name == "log" else hi - h)) / 2
    c_max = (to(lo + h) + to(hi + h)) / 2
    e_min, e_max = to(max(est - h, 1e-12) if name == "log" else est - h), to(est + h)
    centred = e_max >= c_min and e_min <= c_max
    centre = (to(lo) + to(hi)) / 2
    se = (to(hi) - to(lo)) / (2 * Z975)
    z = rp.ci_z_p(to(est), se)
    zc = rp.ci_z_p(centre, se)
    return {"lo": lo, "hi": hi, "reversed": a > b, "h": h, "contained": contained, "centred": centred,
            "centre": centre, "centre_back": back(centre), "se": se, "z": z["stat"], "p": z["p"],
            "z_centre": zc["stat"], "p_centre": zc["p"], "scale": name}


def _dec(x: float, d: int) -> str:
    return f"{x:.{d}f}"


@computation("ci_vs_estimate", "est lo hi [scale]")
def _ci_vs_estimate(r, given, frames):
    """A published estimate against its own 95% CI: the interval must contain the estimate and, being
    a z or t interval, be centred on it on the analysis scale (log for ratios), within the rounding
    of the three printed numbers. A misprint is named, never corrected: which of the numbers is
    wrong cannot be derived from them."""
    d = r["decimals"]
    c = _ci_reading(given, d)
    est = given["est"]
    sc = "log " if c["scale"] == "log" else ""
    details = {"estimate": _dec(est, d), "95% CI (sorted)": f"{_dec(c['lo'], d)} to {_dec(c['hi'], d)}",
               f"CI centre ({c['scale']} scale)": f"{c['centre']:.3f}",
               f"SE from the CI ({c['scale']} scale)": f"{c['se']:.3f}",
               "z": f"{c['z']:.2f}", "p (z-test)": f"{c['p']:.1e}",
               "contains the estimate": "yes" if c["contained"] else "no"}
    order = " (printed with the upper limit first)" if c["reversed"] else ""
    if not c["contained"]:
        side, gap = (("below the lower", c["lo"] - est) if est < c["lo"] else ("above the upper", est - c["hi"]))
        return CheckResult(c["centre_back"], Verdict.DISCREPANT, (
            f"the printed interval {r['reported']}{order} runs from {_dec(c['lo'], d)} to {_dec(c['hi'], d)} and does "
            f"not contain the estimate {_dec(est, d)}, which lies {gap:.2f} {side} limit, more than the "
            f"±{c['h']:g} rounding of each printed number allows; the interval's centre is {c['centre']:.3f} "
            f"({c['scale']} scale), not {_dec(est, d)}, so at least one of the three numbers is misprinted; which one, and "
            f"the interval that was meant, cannot be derived from the printed numbers"), details)
    if not c["centred"]:
        return CheckResult(c["centre_back"], Verdict.DISCREPANT, (
            f"the interval {_dec(c['lo'], d)} to {_dec(c['hi'], d)} contains the estimate {_dec(est, d)} but is not "
            f"centred on it on the {sc or 'linear '}scale (centre {c['centre']:.3f}), as a z or t interval is, even "
            f"allowing the ±{c['h']:g} rounding of each printed number"), details)
    return CheckResult(c["centre_back"], Verdict.CONSISTENT, (
        f"the interval {_dec(c['lo'], d)} to {_dec(c['hi'], d)} contains the estimate {_dec(est, d)} and is "
        f"centred on it on the {sc or 'linear '}scale (centre {c['centre']:.3f}, within the rounding); the SE it "
        f"implies is {c['se']:.3f}, z = {c['z']:.2f}, p = {_num(c['p'])}"), details)


@computation("p_from_published_ci", "est lo hi decimals [scale]")
def _p_from_published_ci(r, given, frames):
    """A printed p against the estimate and 95% CI printed with it. When the interval does not contain
    the estimate (:func:`_ci_vs_estimate`), there is no consistent pair to test the p against: the
    row is not checkable, and both readings of the printed numbers are computed."""
    c = _ci_reading(given, int(given["decimals"]))
    if c["contained"]:
        a, b = sorted((given["lo"], given["hi"]))
        pmin, pmax = rp.p_range_from_rounded_ci(given["est"], a, b, int(given["decimals"]), log=c["scale"] == "log")
        lo_v, hi_v = interval(r["value"], r["decimals"])
        ok = {"<": pmin < r["value"], ">=": pmax >= r["value"]}.get(r["prefix"], pmin < hi_v and pmax >= lo_v)
        return CheckResult(c["p"], _verdict(ok, Verdict.CONSISTENT), (
            f"z-test p from the printed estimate and the SE implied by the interval ({c['se']:.3f}) is "
            f"{_num(c['p'])}; the rounding of the printed numbers allows any p from {_num(pmin)} to {_num(pmax)}, "
            f"which {'agrees' if ok else 'does not agree'} with the reported {r['reported']}"),
            {"SE from the CI": f"{c['se']:.3f}", "z": f"{c['z']:.2f}", "p (z-test)": f"{c['p']:.1e}",
             "p range (rounding)": f"{pmin:.1e} to {pmax:.1e}"})
    ok_est = matches(r["value"], r["decimals"], c["p"], r["prefix"])
    ok_ctr = matches(r["value"], r["decimals"], c["p_centre"], r["prefix"])
    details = {"SE from the CI width": f"{c['se']:.3f}", "z (estimate)": f"{c['z']:.2f}",
               "p (estimate)": f"{c['p']:.1e}", "z (CI centre)": f"{c['z_centre']:.2f}",
               "p (CI centre)": f"{c['p_centre']:.1e}"}
    agree = lambda ok: "which agrees with" if ok else "which does not agree with"  # noqa: E731
    return CheckResult(None, Verdict.NOT_CHECKABLE, (
        f"the printed interval ({_dec(c['lo'], 2)} to {_dec(c['hi'], 2)}) does not contain the estimate "
        f"{_dec(given['est'], 2)}, so the p has no consistent estimate and interval to be checked against: the "
        f"estimate over the SE implied by the interval's width ({c['se']:.3f}) gives z = {c['z']:.2f}, p = "
        f"{_num(c['p'])} ({agree(ok_est)} {r['reported']}); the interval's own centre gives z = "
        f"{c['z_centre']:.2f}, p = {_num(c['p_centre'])} ({agree(ok_ctr)} {r['reported']})"), details)


def smd_rows_at(frames, table: str, time: str | None = None, start: str | None = None, r: float | None = None):
    """The rows of *table* the book pools at one time (*time*) or at the first time of each trial from
    *start* on, as Hedges' g, with the rows left out and why.

    Parameters
    ----------
    frames : _Frames
        The effect frames of the workbook's tables.
    table : str
        An analysis table whose rows are mean differences.
    time : str, optional
        The rows at this ``time``; else *start*.
    start : str, optional
        The rows from this time on (:func:`glumeta.stats.plan.time_hours`), each trial at its earliest.
    r : float, optional
        The assumed within-patient correlation of a crossover; default
        :data:`glumeta.stats.synthesis.R_ASSUMED`.

    The rows are those the file's declared eligibility rules admit with the time rule relaxed (as the
    chapters' by-time pools do); a trial with rows at several times in the window enters at its
    earliest. Each mean difference is converted exactly as :func:`glumeta.stats.synthesis.synthesis_rows`
    converts the 24 h rows, with the same functions: a parallel trial's SD from the SE of its MD
    (:func:`glumeta.stats.effects.smd_from_md_se`), a crossover's parallel-equivalent g under the assumed
    within-patient r (:func:`glumeta.stats.effects.crossover_smd`, :data:`glumeta.stats.synthesis.R_ASSUMED`,
    J(n − 1)), shared controls split on the SMD scale (:func:`glumeta.stats.escalc.with_effects`).

    Returns
    -------
    rows : pandas.DataFrame
        The rows pooled, with ``measure = "SMD"``, ``yi``, ``vi``, CI and ``derivation``
        (:func:`glumeta.stats.escalc.with_effects`).
    left_out : list of (str, str)
        (label, reason) of the rows in the window not pooled.

    Notes
    -----
    Parallel trial: ``g`` from the MD with ``SD = SE/√(1/n1 + 1/n2)`` (Cochrane Handbook §6.5.2.3).
    Crossover: the parallel-equivalent d under the within-patient r (Elbourne et al. 2002), times
    Hedges' J(n − 1).

    Examples
    --------
    >>> from glumeta.data.workbook import Workbook
    >>> rows, left = smd_rows_at(_Frames(Workbook()), "nitrous_oxide_hamd", time="2 h")
    >>> rows[["study", "design", "yi"]].round(2)
             study     design    yi
    0  Nagele 2015  crossover -0.67
    3  Nagele 2021  crossover -0.08
    >>> left[1]
    ('Yan 2022 (50% N2O vs air/oxygen, 2 h)', 'pending: numbers not found')
    """
    import numpy as np

    from . import effects as es
    from .eligibility import evaluate, rules_of
    from .escalc import with_effects
    from .synthesis import R_ASSUMED

    r = R_ASSUMED if r is None else r
    t = frames.table(table)
    rules = rules_of(frames.workbook.dataset(table).analysis_plan())
    ok, why = evaluate(t, rules, relax={x.id for x in rules if x.column == "time"})
    hours = t["time"].map(time_hours)
    if time is not None:
        window = (t["time"] == time).to_numpy()
    else:
        h0 = time_hours(start)
        window = ((hours >= h0) & np.isfinite(hours)).to_numpy()
    complete = ((t["status"] == "complete") & t["yi"].notna()).to_numpy()
    take = window & complete & ok
    first = t[take].groupby("study_id")["time"].transform(lambda s: min(s, key=time_hours))
    keep = t[take][t[take]["time"] == first].copy()
    left = []
    for i in np.flatnonzero(window):
        row = t.iloc[i]
        label = f"{row['study']} ({row['comparison']}, {row['time']})"
        if not complete[i]:
            left.append((label, "pending: numbers not found" if row["status"] == "pending" else str(row["derivation"])))
        elif not ok[i]:
            left.append((label, why[i]))
        elif t.index[i] not in keep.index:
            left.append((label, "a later time of a trial already pooled at an earlier one"))
    n1 = keep["n_arm1"].astype(float).to_numpy()
    n2 = keep["n_arm2"].astype(float).to_numpy()
    md, se = keep["yi"].to_numpy(float), np.sqrt(keep["vi_unsplit"].to_numpy(float))
    cross = (keep["design"] == "crossover").to_numpy()
    g_par, v_par = es.smd_from_md_se(md, se, n1, n2)
    d_x, v_x, _ = es.crossover_smd(md, se, n1, r)
    d_x = es.hedges_j(n1 - 1) * d_x
    how = [f"crossover: parallel-equivalent g under within-patient r = {r:g} (Elbourne 2002); {h}" if c else
           f"parallel: g with SD = SE/√(1/n1+1/n2) from the adjusted MD (Cochrane §6.5.2.3); {h}"
           for c, h in zip(cross, keep["derivation_unsplit"])]
    keep["measure"] = "SMD"
    return with_effects(keep, np.where(cross, d_x, g_par), np.where(cross, v_x, v_par), how), left


def _flagged_rows(frames, table: str, column: str):
    """The complete rows of a file analysed as SMD whose boolean *column* is true, as they are, and
    the flagged rows left out (without numbers) with the reason."""

    if frames.workbook.dataset(table).analysis_plan()["measure"] != "SMD":
        raise ValueError(f"data/{table}.csv is not analysed as SMD; use time= or from= (smd_rows_at)")
    t = frames.table(table)
    flag = t[column].fillna(False).astype(bool)
    complete = (t["status"] == "complete") & t["yi"].notna()
    left = [(str(s), "pending: numbers not found" if st == "pending" else str(d))
            for s, st, d in zip(t.loc[flag & ~complete, "study"], t.loc[flag & ~complete, "status"],
                                t.loc[flag & ~complete, "derivation"])]
    return t[flag & complete].copy(), left


#: the pools set beside a published one: (name, method, test); the first is the book's default
_POOLS = (("the book's pool (REML τ², modified HKSJ)", "REML", "adhoc"), ("REML τ², z-test", "REML", "z"),
          ("DerSimonian–Laird τ², z-test", "DL", "z"))


def _ci_text(lo, hi) -> str:
    return f"{lo:.2f} to {hi:.2f}"


@computation("book_pool", "table k [where] [time] [from]")
def _book_pool(r, given, frames):
    """A published pooled SMD beside the book's own pool of the same outcome at the same time
    (:func:`smd_rows_at`), under the book's default test, the z-test and DerSimonian–Laird.

    A reproduction needs the same trials. With as many trials as the publication (``k``), the
    verdict is reproduced when one of the three pools rounds to the published number and discrepant
    otherwise; with a different number of trials it is not checkable, and the explanation gives
    the trials pooled, k, the three pools, and where the published estimate lies against them."""
    from .models import DEFAULT_TEST
    from .plan import pool_frame

    assert _POOLS[0][2] == DEFAULT_TEST
    table, k_rep = given.table, int(given["k"])
    if "where" in given:  # a file already on the SMD scale: the rows flagged in column *where*
        rows, left = _flagged_rows(frames, table, str(given["where"]))
        when = f"among the rows flagged {given['where']}"
    else:
        when = f"at {given['time']}" if "time" in given else f"from {given['from']} on (each trial at its first time)"
        rows, left = smd_rows_at(frames, table, given.get("time"), given.get("from"))
    k = len(rows)
    trials = [f"{rec['study']} ({', '.join(str(rec[c]) for c in ('comparison', 'time', 'design') if c in rec)}"
              f"{': ' if any(c in rec for c in ('comparison', 'time', 'design')) else ''}g = {rec['yi']:.2f}, "
              f"95% CI {_ci_text(rec['ci_lower'], rec['ci_upper'])})" for rec in rows.to_dict("records")]
    out_txt = "; ".join(f"{a}: {b}" for a, b in left)
    details = {"rows": when, "k (book)": str(k),
               "k (published)": str(k_rep), "trials pooled": ", ".join(rows["study"]) or "none",
               "left out": out_txt or "none"}
    notes = (r.get("notes") or "").strip().rstrip(".")
    if k == 0:
        return CheckResult(None, Verdict.NOT_CHECKABLE, (
            f"data/{table}.csv has no row the book pools {when}" + (f" (left out: {out_txt})" if out_txt else "")
            + f", against the {k_rep} studies pooled as published; there is no pool to set beside it"
            + (f". {notes}" if notes else "")), details)
    pools = [(name, pool_frame(f"published:{r['check_id']}", name, rows, "SMD", method, test))
             for name, method, test in _POOLS]
    est = pools[0][1].estimate
    for name, a in pools:
        details[name] = f"{a.estimate:.2f} ({_ci_text(a.ci_lower, a.ci_upper)})"
    pool_txt = "; ".join(f"{name[0].upper() + name[1:]}: g = {a.estimate:.2f} (95% CI {_ci_text(a.ci_lower, a.ci_upper)})"
                         for name, a in pools)
    inside = [name for name, a in pools if a.ci_lower <= r["value"] <= a.ci_upper]
    where = (f"The published {r['reported']} lies {r['value'] - est:+.2f} from the book's estimate, inside the "
             f"interval of {', '.join(inside)}" if inside else
             f"The published {r['reported']} lies {r['value'] - est:+.2f} from the book's estimate, outside all three intervals")
    cross = int((rows["design"] == "crossover").sum()) if "design" in rows else 0
    from .synthesis import R_ASSUMED

    head = (f"the book pools {k} trial{'s' if k != 1 else ''} {when} on the SMD scale: {'; '.join(trials)}"
            + (f" (crossover trials as parallel-equivalent g under the assumed within-patient r = {R_ASSUMED:g}, "
               "Elbourne 2002)" if cross else "")
            + (f"; left out: {out_txt}" if out_txt else "") + f". {pool_txt}. {where}")
    tail = f". {notes}" if notes else ""
    if k != k_rep:
        return CheckResult(est, Verdict.NOT_CHECKABLE, (
            f"{head}. With {k} trial{'s' if k != 1 else ''} against the {k_rep} pooled as published, the pools are "
            f"over different trials, so the published number cannot be reproduced{tail}"), details)
    hit = [name for name, a in pools if matches(r["value"], r["decimals"], a.estimate)]
    if hit:
        return CheckResult(est, Verdict.REPRODUCED, f"{head}. With the same k, {', '.join(hit)} round(s) to {r['reported']}{tail}", details)
    return CheckResult(est, Verdict.DISCREPANT, (
        f"{head}. With the same k ({k}; the trials themselves not confirmed), none of the three pools rounds to "
        f"{r['reported']}{tail}"), details)


@computation("book_pool_binary", "table")
def _book_pool_binary(r, given, frames):
    """A published pooled ratio of a binary outcome beside the book's data: the book can pool it only
    when the data file holds event counts of both arms."""
    table = given.table
    fields = [f["name"] for f in frames.workbook.dataset(table).schema["fields"]]
    events = [f for f in fields if f.startswith(("event", "responders", "remitters"))]
    measure = frames.workbook.dataset(table).analysis_plan()["measure"]
    notes = (r.get("notes") or "").strip().rstrip(".")
    details = {"data file": f"data/{table}.csv", "measure": measure, "event columns": ", ".join(events) or "none",
               "k (book)": "0"}
    if events:
        return CheckResult(None, Verdict.NOT_CHECKABLE, (
            f"data/{table}.csv has event columns ({', '.join(events)}) but this check does not pool them yet"
            + (f". {notes}" if notes else "")), details)
    return CheckResult(None, Verdict.NOT_CHECKABLE, (
        f"data/{table}.csv holds no event counts (its measure is {measure}; no event column among its "
        f"{len(fields)} fields), so the book has no pool to set beside the published pooled ratio "
        f"{r['reported']}" + (f". {notes}" if notes else "")), details)


@computation("published_trials", "table column search_year")
def _published_trials(r, given, frames):
    """A published meta-analysis' k or n against the trials of the book's data file published before
    its search ended (``search_year``: the first year not searched). Which trials it pooled is
    checked only when the publication names them; otherwise not checkable, with the candidates."""
    t = frames.table(given.table)
    year = int(given["search_year"])
    before = t[t["year"].astype(int) < year]
    after = sorted(set(t.loc[t["year"].astype(int) >= year, "study"]))
    cands = list(dict.fromkeys(before["study"]))
    withn = [s for s in cands if ((before["study"] == s) & (before["status"] == "complete")).any()]
    details = {"candidate trials": ", ".join(cands), "with numbers": ", ".join(withn) or "none",
               "published after the search": ", ".join(after) or "none"}
    notes = (r.get("notes") or "").strip().rstrip(".")
    tail = (f"; published after the search: {', '.join(after)}" if after else "") + (f". {notes}" if notes else "")
    if given["column"] == "k":
        return CheckResult(float(len(cands)), Verdict.NOT_CHECKABLE, (
            f"data/{given.table}.csv lists {len(cands)} trials published before {year}: {', '.join(cands)} "
            f"({len(withn)} with numbers: {', '.join(withn) or 'none'}); which {r['reported']} studies were pooled "
            f"is not stated, so k cannot be re-derived{tail}"), details)
    per = []
    total = 0
    for s in cands:
        rows = before[before["study"] == s]
        n = (rows[["n_arm1", "n_arm2"]].astype(float).max(axis=1) if (rows["design"] == "crossover").all()
             else rows["n_arm1"].astype(float) + rows["n_arm2"].astype(float)).max()
        if n == n:
            per.append(f"{s} {int(n)}" + (" (crossover, patients counted once)" if (rows["design"] == "crossover").all() else ""))
            total += int(n)
    details["analysed n"] = f"{total}"
    return CheckResult(float(total), Verdict.NOT_CHECKABLE, (
        f"the {len(cands)} candidate trials' rows analyse at most {total} patients ({'; '.join(per)}) against the "
        f"reported {r['reported']}; which trials, and which n of each, were pooled is not stated, so n cannot be "
        f"checked{tail}"), details)


class _Frames:
    """Effect frames (:func:`glumeta.stats.escalc.escalc`) of the data files the computations read,
    computed on first use or taken from the caller (a chapter passes its own), and the ledger's
    rows with their parsed inputs (*checks*, :func:`read_checks`)."""

    def __init__(self, workbook, frames: dict | None = None, checks: list | None = None):
        self.workbook = workbook
        self._t: dict = dict(frames or {})
        self.checks: list[tuple[dict, Inputs]] = list(checks or [])

    def declared(self) -> set:
        """The tables this process may read (a book page reads only those it declares)."""
        names = set(self.workbook.analyses())
        dec = self.workbook.declared
        return names if dec is None else names & set(dec)

    def table(self, name):
        if name not in self._t:
            from .escalc import escalc

            self._t[name] = escalc(self.workbook.dataset(name))
        return self._t[name]


def read_checks(workbook=None) -> list[tuple[dict, Inputs]]:
    """The rows of the ledger table (:func:`ledger_table`) of *workbook*, each with its ``inputs``
    parsed once (:func:`parse_inputs`: tables declared, row keys complete, the inputs those of its
    computation), and every ``same_patients_as`` naming a ``printed_table`` of the ledger.

    Parameters
    ----------
    workbook : Workbook, optional
        Default :func:`glumeta.data.workbook.current`.

    Returns
    -------
    list of (dict, Inputs)
        Per ledger row, in file order: its record (missing cells as None) and its parsed inputs.

    Raises
    ------
    LedgerInputError
        with every problem of every row, each naming the ledger file, line, column and value.

    Notes
    -----
    The ledger table is the one declaring the ``ledger`` role (:func:`ledger_table`). The data
    tables are not read here; whether a named row or study exists is checked by
    :func:`resolve_inputs`.

    Examples
    --------
    >>> rec, given = next((r, g) for r, g in read_checks() if g.row is not None)
    >>> given.row.table == given.table, given.source.column
    (True, 'inputs')
    >>> rec["check_id"], given.row.describe()
    ('canuso-4h-es', "study_id = 'canuso2018', comparison = 'esketamine 84 mg vs placebo', time = '4 h'")
    """
    from ..data.tables import is_missing
    from ..data.workbook import current

    wb = workbook or current()
    ds = wb.dataset(ledger_table(wb))
    shown = _shown(ds.path)
    out, problems = [], []
    for rec in ds.load().to_dict("records"):
        rec = {k: None if is_missing(v) else v for k, v in rec.items()}
        try:
            given = parse_inputs(rec["inputs"], wb, computation=rec["computation"],
                                 source=Source(shown, int(rec["line"])))
        except LedgerInputError as exc:
            problems.extend(exc.problems)
            continue
        out.append((rec, given))
    printed = {g.get("printed_table") for _, g in out} - {None}
    for _, g in out:
        same = g.get("same_patients_as")
        if same is not None and same not in printed:
            problems.append(Problem(shown, g.source.line, "inputs", f"same_patients_as={same}",
                                    f"no row of the ledger has printed_table={same} "
                                    f"(printed tables: {', '.join(sorted(printed)) or 'none'})"))
    if problems:
        raise LedgerInputError(problems)
    return out


def ledger(workbook=None, analysis: str | None = None, tables: dict | None = None,
           ids=None) -> list[LedgerRow]:
    """All ledger rows (optionally those of one analysis, or the checks *ids*), re-computed now from
    ``data/reported.csv`` and the effect frames (*tables*: frames already computed, by data file name)
    of *workbook* (default: the current one, :func:`glumeta.data.workbook.current`).

    Every row's inputs are parsed and checked first (:func:`read_checks`: an unknown table or a
    malformed reference stops the run); a row or study that is not in its table
    (:func:`resolve_inputs`), e.g. a trial's row removed from the data, makes that check "not
    checkable", saying which row is missing.

    Parameters
    ----------
    workbook : Workbook, optional
        Default :func:`glumeta.data.workbook.current`.
    analysis : str, optional
        Only the rows of this ``analysis``.
    tables : dict of str to pandas.DataFrame, optional
        Effect frames already computed (:func:`glumeta.stats.escalc.escalc`), by table name.
    ids : collection of str, optional
        Only these ``check_id`` s.

    Returns
    -------
    list of LedgerRow
        In the ledger's order.

    Raises
    ------
    LedgerInputError
        Any row's inputs are invalid (all problems at once).

    Notes
    -----
    Each row's :data:`COMPUTE` entry re-derives the number and judges it with the rounding rules
    of :mod:`glumeta.verdicts`; nothing is cached between calls.

    Examples
    --------
    >>> [(r.check_id, r.reported, r.computed_text, r.verdict) for r in ledger(ids={"hu-resp-p"})]
    [('hu-resp-p', '.04', '0.0372', 'reproduced')]
    >>> ledger(ids={"hu-resp-p"})[0].details["Fisher exact"]
    '0.0768'
    """
    from ..data.workbook import current

    wb = workbook or current()
    frames = _Frames(wb, tables, read_checks(wb))
    out = []
    for rec, given in frames.checks:
        rec = dict(rec, decimals=int(rec["decimals"]))
        if (analysis and rec["analysis"] != analysis) or (ids is not None and rec["check_id"] not in ids):
            continue
        try:
            resolve_inputs(given, frames)
        except LedgerInputError as exc:
            # the row or study it reads is not (or no longer) in the data, e.g. a trial's row removed
            # while its number stays in the ledger: the check cannot be made, and says why; the build
            # goes on (an unknown table or a malformed reference stops it, in read_checks). The
            # computation's detail names are kept (as "n/a" where it says so), so that a chapter's
            # glued prose still builds.
            why = "; ".join(p.message for p in exc.problems)
            try:
                details = COMPUTE[rec["computation"]](rec, given, frames).details
            except (KeyError, IndexError, ValueError):  # it cannot run without the row
                details = {}
            res = CheckResult(None, Verdict.NOT_CHECKABLE,
                              f"the data this check reads are missing: {why} (was the row removed or renamed?)",
                              details)
        else:
            res = COMPUTE[rec["computation"]](rec, given, frames)
        value = res.value
        out.append(LedgerRow(rec["check_id"], rec["document"], rec["analysis"], rec["quote"], rec["quantity"],
                             rec["reported"], None if value is None or not math.isfinite(value) else float(value),
                             "–" if value is None else _num(float(value)), res.verdict.value, res.explanation,
                             res.details))
    return out


def summary(rows: list[LedgerRow]) -> dict:
    """Rows per verdict.

    Parameters
    ----------
    rows : list of LedgerRow

    Returns
    -------
    dict of str to int
        Every verdict's value, in :class:`~glumeta.verdicts.Verdict` order, with its row count.

    Notes
    -----
    Counts rows; :func:`findings` counts the passages they quote.

    Examples
    --------
    >>> summary(ledger(ids={"hu-resp-pct-ket", "hu-resp-pct-plc", "hu-resp-p"}))
    {'reproduced': 1, 'consistent': 2, 'discrepant': 0, 'not checkable': 0}
    """
    out = {v.value: 0 for v in Verdict}
    for r in rows:
        out[r.verdict] += 1
    return out


def findings(rows: list[LedgerRow]) -> dict:
    """Distinct findings per verdict: rows that check numbers of one quoted passage (e.g. both
    percentages of one table row, broken by one typo) are one finding.

    Parameters
    ----------
    rows : list of LedgerRow

    Returns
    -------
    dict of str to int
        Every verdict's value with its number of distinct ``(document, quote)`` pairs.

    Notes
    -----
    Beside :func:`summary`: both percentages of "92.3% vs 57.1%" are two consistent rows but one
    consistent finding.

    Examples
    --------
    >>> findings(ledger(ids={"hu-resp-pct-ket", "hu-resp-pct-plc", "hu-resp-p"}))
    {'reproduced': 1, 'consistent': 1, 'discrepant': 0, 'not checkable': 0}
    """
    seen: dict = {v.value: set() for v in Verdict}
    for r in rows:
        seen[r.verdict].add((r.document, r.quote))
    return {k: len(v) for k, v in seen.items()}


def main(json_out: bool = False, workbook=None) -> int:
    """``glumeta ledger``: print every ledger row and the counts per verdict (or all as JSON).

    Parameters
    ----------
    json_out : bool
        Write ``{"summary", "findings", "rows"}`` as JSON instead of the table.
    workbook : Workbook, optional
        Default :func:`glumeta.data.workbook.current`.

    Returns
    -------
    int
        The exit status: 1 when the data or the ledger's inputs are invalid (the errors on
        stderr) or a discrepant row has no explanation, else 0.

    Notes
    -----
    The table gives one line per row (id, reported, re-computed, verdict, explanation), then
    :func:`summary`, with the number of :func:`findings` beside the discrepant rows when it differs.

    Examples
    --------
    >>> import contextlib, io, json
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     code = main(json_out=True)
    >>> doc = json.loads(out.getvalue())
    >>> code, sorted(doc), doc["rows"][0]["check_id"]
    (0, ['findings', 'rows', 'summary'], 'inoshita-smd')
    """
    import json

    from ..data.tables import DataError

    try:
        rows = ledger(workbook)
    except DataError as exc:
        print(exc, file=sys.stderr)
        return 1
    unexplained = [r for r in rows if r.verdict == Verdict.DISCREPANT.value and not r.explanation.strip()]
    if json_out:
        json.dump({"summary": summary(rows), "findings": findings(rows), "rows": [asdict(r) for r in rows]},
                  sys.stdout, indent=2,
                  ensure_ascii=False, allow_nan=False)
        print()
    else:
        w = max(len(r.check_id) for r in rows)
        for r in rows:
            print(f"{r.check_id:{w}}  {r.reported:>12}  {r.computed_text:>10}  {r.verdict:13}  {r.explanation}")
        print()
        f = findings(rows)
        print("  ".join(f"{k}: {v}" + (f" ({f[k]} finding(s))" if k == Verdict.DISCREPANT.value and f[k] != v else "")
                        for k, v in summary(rows).items()))
    if unexplained:
        print(f"glumeta ledger: {len(unexplained)} discrepant row(s) without an explanation", file=sys.stderr)
        return 1
    return 0
