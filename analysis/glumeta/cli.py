"""Command line: ``glumeta check | analyze | build | serve | ledger | new``.

Heavy modules are imported inside the commands so that start-up stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _cmd_check(args) -> int:
    from .data.validate import validate

    wb = args.workbook
    d = wb.folder
    names = args.names or wb.tables()
    probs = validate(wb, names)
    errors = [p for p in probs if p.severity == "error"]
    for p in probs:
        print(p, file=sys.stderr if p.severity == "error" else sys.stdout)
    if errors:
        print(f"glumeta check: {len(errors)} error(s) in {d}; nothing was analysed", file=sys.stderr)
        return 1
    n_warn = len(probs) - len(errors)
    print(f"glumeta check: {len(names)} file(s) in {d} are valid"
          + (f" ({n_warn} warning(s))" if n_warn else ""))
    return 0


def _fmt(x, nd=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{nd}f}"


def _cmd_analyze(args) -> int:
    from .data.tables import DataError
    from .stats.plan import analyze, on_display_scale

    try:
        opts = {k: v for k, v in (("test", args.test), ("pi", args.pi)) if v is not None}  # else the plan's defaults
        ds = args.workbook.dataset(args.name)
        res = analyze(ds, method=args.method, **opts)
    except DataError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.json:
        json.dump({"dataset": args.name, "analyses": [a.to_dict() for a in res]}, sys.stdout, indent=2,
                  allow_nan=False, ensure_ascii=False)
        print()
        return 0
    if args.csv:
        from .stats.escalc import escalc_all
        from .views.export import results_frame, to_safe_csv

        frame = results_frame(escalc_all(ds), res)
        if args.csv == "-":  # standard output, for a pipe (`glumeta analyze X --csv - | ...`)
            to_safe_csv(frame, sys.stdout)
            return 0
        to_safe_csv(frame, args.csv)
        print(f"wrote {args.csv}")
        return 0
    first = next((a for a in res if hasattr(a, "pi_rule")), None)
    print(f"{args.name}: method {args.method}, test {first.test if first else args.test or 'default'}"
          + (f", prediction interval {first.pi_rule}" if first else ""))
    head = f"{'id':34} {'k':>3} {'measure':>7} {'estimate':>9} {'95% CI':>20} {'p':>9} {'tau2':>8} {'I2 %':>6} {'pend':>4}"
    print(head)
    print("-" * len(head))
    for a in res:
        if a.id.startswith("subgroups:"):
            print(f"{a.id:34} {a.k:>3} {'':>7} Q_between = {_fmt(a.q_between, 2)}, df = {a.df}, p = {_fmt(a.p, 4)}")
            continue
        d = on_display_scale(a)
        est, lo, hi, meas = d["estimate"], d["ci_lower"], d["ci_upper"], a.measure
        ci = f"[{_fmt(lo)}, {_fmt(hi)}]"
        print(f"{a.id:34} {a.k:>3} {meas:>7} {_fmt(est):>9} {ci:>20} {_fmt(a.p, 4):>9} "
              f"{_fmt(a.tau2, 3):>8} {_fmt(a.i2, 1):>6} {a.pending:>4}")
    return 0


def _book_dir(args) -> Path:
    """``--book-dir`` as an absolute path (default: this repository). A chapter runs with its own
    folder as working directory, so a relative book or data folder would point elsewhere there
    (a build from ``--book-dir .`` wrote the chapters' figures under ``book/_build``)."""
    from .paths import REPO

    return Path(args.book_dir or REPO).resolve()


def _cmd_build(args) -> int:
    from .book.build import build

    return build(all_=args.all, workbook=args.workbook, root=_book_dir(args))


def _cmd_serve(args) -> int:
    from .book.serve import serve

    return serve(_book_dir(args), Path(args.workbook.folder).resolve(), host=args.host, port=args.port)


def _cmd_ledger(args) -> int:
    from .stats.ledger import main as ledger_main

    if args.json:
        return ledger_main(json_out=True, workbook=args.workbook)
    from .data.tables import DataError
    from .stats.ledger import findings, ledger, summary
    from .verdicts import Verdict

    try:
        rows = ledger(args.workbook)
    except DataError as exc:
        print(exc, file=sys.stderr)
        return 1
    w = max([len("check"), *(len(r.check_id) for r in rows)])
    head = f"{'check':{w}}  {'reported':>12}  {'re-computed':>11}  {'verdict':13}  explanation"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.check_id:{w}}  {r.reported:>12}  {r.computed_text:>11}  {r.verdict:13}  {r.explanation}")
    print()
    counts, distinct = summary(rows), findings(rows)
    wv = max(len("verdict"), *(len(k) for k in counts))
    print(f"{'verdict':{wv}}  {'rows':>5}  {'findings':>8}")
    for k, v in counts.items():
        print(f"{k:{wv}}  {v:>5}  {distinct[k]:>8}")
    print(f"{'total':{wv}}  {len(rows):>5}  {sum(distinct.values()):>8}")
    unexplained = [r for r in rows if r.verdict == Verdict.DISCREPANT.value and not r.explanation.strip()]
    if unexplained:
        print(f"glumeta ledger: {len(unexplained)} discrepant row(s) without an explanation", file=sys.stderr)
        return 1
    return 0


def _cmd_new(args) -> int:
    from .book.scaffold import new

    try:
        paths = new(args.name, args.measure, workbook=args.workbook, book_dir=_book_dir(args), title=args.title)
    except ValueError as exc:
        print(f"glumeta new: {exc}", file=sys.stderr)
        return 1
    package, csv_path, chapter, toc, *pages = paths
    print(f"glumeta new: analysis {args.name!r} ({args.measure.upper()})")
    print(f"  {package}: resource {args.name!r} added (columns, representations, rules, analysis plan)")
    print(f"  {csv_path}: header written; add one row per study")
    print(f"  {chapter}: chapter written")
    print(f"  {toc}: chapter listed")
    for page in pages:
        print(f"  {page}: {args.name!r} added to the tables it reads (front matter 'glumeta: data:')")
    print("Next: fill in the CSV, then `glumeta check`, `glumeta analyze "
          f"{args.name}` and `glumeta build` (see the book's appendix 'Add an analysis').")
    return 0


def _exit_now(rc: int) -> None:
    """End ``glumeta build`` run as a program without the interpreter's teardown.

    After a build the process holds Sphinx's environment, pandas, matplotlib and IPython; freeing
    them module by module at exit took 0.4–0.5 s of every rebuild (measured: 5.95 s → 5.40 s for
    an add-a-row rebuild), with nothing left to write. The exit handlers registered with
    :mod:`atexit` still run (logging, temporary folders, multiprocessing), and standard output and
    error are flushed; only the final garbage collection and module teardown are skipped. Used only
    when :func:`main` reads the command line itself (the ``glumeta`` program), never when a caller
    passes *argv* (tests, other Python code)."""
    import atexit

    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="glumeta", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    def data_opt(sp):
        sp.add_argument("--data-dir", default=None,
                        help="data folder (default: $GLUMETA_DATA_DIR or the repository's data/)")

    c = sub.add_parser("check", help="validate the data files; exit 1 on any error")
    c.add_argument("names", nargs="*", help="data file stems (default: all)")
    data_opt(c)
    c.set_defaults(func=_cmd_check)

    a = sub.add_parser("analyze", help="pool one data file")
    a.add_argument("name", help="data file stem: NAME of data/NAME.csv")
    a.add_argument("--method", default="REML", choices=["REML", "DL", "PM", "ML", "FE"])
    a.add_argument("--test", default=None, choices=["z", "knha", "adhoc"],
                   help="test and CI of the pooled estimate (default: the analysis plan's, see glumeta.stats.models)")
    a.add_argument("--pi", default=None, choices=["t(k-2)", "predict"],
                   help="prediction-interval rule (default: the analysis plan's)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.add_argument("--csv", metavar="FILE", help="write study-level results and the pooled rows to FILE "
                   "(spreadsheet-safe CSV; '-' for standard output)")
    data_opt(a)
    a.set_defaults(func=_cmd_analyze)

    b = sub.add_parser("build", help="validate data, then build the book (re-running changed chapters)")
    b.add_argument("--all", action="store_true", help="rebuild and re-execute every chapter")
    b.add_argument("--book-dir", default=None, help="book root holding _config.yml (default: this repository)")
    data_opt(b)
    b.set_defaults(func=_cmd_build)

    sv = sub.add_parser("serve", help="build, serve the book and rebuild it live as data/ and book/ change")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--book-dir", default=None, help="book root holding _config.yml (default: this repository)")
    data_opt(sv)
    sv.set_defaults(func=_cmd_serve)

    led = sub.add_parser("ledger", help="reported vs re-computed numbers; exit 1 on unexplained discrepancies")
    led.add_argument("--json", action="store_true")
    data_opt(led)
    led.set_defaults(func=_cmd_ledger)

    n = sub.add_parser("new", help="scaffold a new analysis: schema resource, CSV header, chapter, _toc.yml entry")
    n.add_argument("name", help="data file stem and chapter name, e.g. gibson_smd (lower case, digits, _)")
    n.add_argument("--measure", required=True, type=str.upper, choices=["SMD", "MD", "RR", "OR", "RD"])
    n.add_argument("--title", default=None, help="resource and chapter title (default: from NAME)")
    n.add_argument("--book-dir", default=None, help="book root holding _toc.yml and book/ (default: this repository)")
    data_opt(n)
    n.set_defaults(func=_cmd_new)

    args = p.parse_args(argv)
    from .data.workbook import ENV_DATA, Workbook, use

    # the entry point: the one Workbook of this run, from --data-dir, else the environment
    # ($GLUMETA_DATA_DIR), else the repository's data/; handed to child processes (the build's
    # kernels) through the environment
    if getattr(args, "data_dir", None):
        os.environ[ENV_DATA] = os.path.abspath(args.data_dir)
    args.workbook = Workbook.from_env()
    try:
        with use(args.workbook):
            rc = args.func(args)
        if argv is None and args.cmd == "build":
            _exit_now(rc)
        return rc
    except BrokenPipeError:  # e.g. `glumeta analyze X --json | head`
        sys.stderr.close()
        return 0
    except KeyError as exc:
        print(f"glumeta: {exc.args[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
