"""``glumeta new NAME --measure SMD|MD|RR|OR|RD``: the skeleton of a new analysis.

A new analysis is three declarations and no code (see :meth:`glumeta.data.workbook.Workbook.analyses`):

1. a resource in ``data/datapackage.json`` — the columns (Table Schema ``fields``), the
   ``primaryKey``, the ``glumeta:representations`` a complete row may take (each names a route
   of :mod:`glumeta.stats.escalc`), the ``glumeta:rules`` checked on every row, and the
   ``glumeta:analysis`` plan (:mod:`glumeta.stats.plan`);
2. ``data/NAME.csv`` with those columns as its header;
3. ``book/NAME.md``, a chapter from ``templates/chapter.md`` making the same
   :class:`glumeta.views.chapter.Chapter` calls as the other chapters, listed in ``_toc.yml``.

A page that reads *every* analysis table (the introduction's summary, the summary of findings,
the ledger) says so in its front matter (``glumeta: data: [...]``): a page reads only the tables
it declares. :func:`new` adds NAME to the list of each such page (:func:`add_to_pages`), so that
the new analysis gets its row there.

:func:`new` writes these and nothing else. Every file is edited in place: the resource is
appended to ``resources``, NAME is inserted into a page's ``data:`` list, and every other byte is
kept, so that a ``git diff`` shows only the additions.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from string import Template

__all__ = ["MEASURES", "resource", "new", "pages_listing_all", "add_to_pages"]

#: Effect measures a scaffolded analysis can declare, with the word the chapter uses.
MEASURES = {"SMD": "SMD (Hedges' g)", "MD": "mean difference", "RR": "risk ratio", "OR": "odds ratio",
            "RD": "risk difference"}

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


def _f(name, type_, description, *, required=False, unit=None, **constraints):
    f = {"name": name, "type": type_, "description": description}
    if unit:
        f["unit"] = unit
    if required:
        constraints = {"required": True, **constraints}
    if constraints:
        f["constraints"] = constraints
    return f


def _head() -> list[dict]:
    return [
        _f("study_id", "string", "Unique slug of the study (lower case, digits, hyphens).", required=True,
           pattern="^[a-z0-9][a-z0-9-]*$"),
        _f("study", "string", "Label shown in tables and plots, e.g. 'Pan 2018'.", required=True, maxLength=120),
        _f("year", "integer", "Publication year.", required=True, minimum=1900, maximum=2100),
        _f("status", "string", "'complete' rows are analysed; 'pending' rows are listed as data gaps.",
           required=True, enum=["complete", "pending"]),
    ]


def _tail() -> list[dict]:
    return [
        _f("source", "string", "Address (URL or DOI) the numbers were read from.", required=True, maxLength=500),
        _f("locator", "string", "Where in the source (table, abstract, registry page) and a short verbatim snippet.",
           required=True, maxLength=1000),
        _f("secondary", "boolean", "True when any number in the row was read from a review or registry rather "
           "than the trial report.", required=True),
        _f("notes", "string", "Free text: assumptions, caveats.", maxLength=2000),
    ]


def _n(k):
    return _f(f"n_arm{k}", "integer", f"Participants analysed, arm {k}.", unit="participants",
              minimum=2, maximum=1000000)


def _arms(sem: bool) -> list[dict]:
    out = []
    for k in (1, 2):
        out += [_n(k), _f(f"mean_arm{k}", "number", f"Mean, arm {k}.", unit="see notes"),
                _f(f"sd_arm{k}", "number", f"Standard deviation, arm {k}.", unit="see notes", exclusiveMinimum=0)]
        if sem:
            out.append(_f(f"sem_arm{k}", "number", f"Standard error of the mean, arm {k} (converted: SD = SEM·√n).",
                          unit="see notes", exclusiveMinimum=0))
    return out


def _contrast() -> list[dict]:
    return [
        _f("md", "number", "Reported mean difference, arm 1 minus arm 2."),
        _f("md_se", "number", "Standard error of md.", exclusiveMinimum=0),
        _f("md_ci_lower", "number", "Lower 95% confidence limit of md."),
        _f("md_ci_upper", "number", "Upper 95% confidence limit of md."),
        _f("p", "number", "Reported p-value (two-sided). With p_prefix '<' it is an upper bound.", minimum=0, maximum=1),
        _f("p_prefix", "string", "'<' when the p-value was reported as a bound (e.g. 'P < .001').", enum=["<", "="]),
    ]


def _binary() -> list[dict]:
    out = []
    for k in (1, 2):
        out += [_f(f"event_arm{k}", "integer", f"Participants with the event, arm {k}.", unit="participants", minimum=0),
                _f(f"totaln_arm{k}", "integer", f"Participants analysed, arm {k}.", unit="participants",
                   minimum=2, maximum=1000000),
                _f(f"pct_arm{k}", "number", f"Reported percentage with the event, arm {k} (counts are derived "
                   "when not reported).", unit="%", minimum=0, maximum=100)]
    return out


def resource(name: str, measure: str, title: str | None = None) -> dict:
    """The ``datapackage.json`` resource of a new analysis *name* pooling *measure*.

    SMD: arm means with SDs (or SEMs) → Hedges' g (route ``arm_summaries``). MD: a reported
    difference with its SE, 95% CI or exact p (``md_se``, ``md_ci``, ``md_p``), or arm means and
    SDs (``arm_means``). RR, OR, RD: 2×2 counts (``events``) or percentages (``percentages``).

    Examples
    --------
    >>> r = resource("demo", "SMD")
    >>> r["path"], r["schema"]["glumeta:analysis"]["measure"], r["schema"]["glumeta:representations"][0]["route"]
    ('demo.csv', 'SMD', 'arm_summaries')
    """
    measure = measure.upper()
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    title = title or f"{name.replace('_', ' ').capitalize()}: arm 1 vs arm 2"
    if measure == "SMD":
        fields = _head() + _arms(sem=True) + _tail()
        reps = [{"name": "mean and SD (or SEM) per arm",
                 "requires": ["n_arm1", "n_arm2", "mean_arm1", "mean_arm2", ["sd_arm1", "sem_arm1"],
                              ["sd_arm2", "sem_arm2"]],
                 "route": "arm_summaries"}]
        rules = ["sd_sem_consistent"]
        cols = [{"header": "N 1", "template": "{n_arm1}"}, {"header": "Mean", "template": "{mean1_used:.1f}"},
                {"header": "SD", "template": "{sd1_used:.1f}"}, {"header": "N 2", "template": "{n_arm2}"},
                {"header": "Mean", "template": "{mean2_used:.1f}"}, {"header": "SD", "template": "{sd2_used:.1f}"}]
    elif measure == "MD":
        fields = _head() + [_n(1), _n(2)] + _contrast() + [f for f in _arms(sem=False) if not f["name"].startswith("n_")] + _tail()
        reps = [{"name": "difference and SE", "requires": ["md", "md_se"], "route": "md_se"},
                {"name": "difference and 95% CI", "requires": ["md", "md_ci_lower", "md_ci_upper"], "route": "md_ci"},
                {"name": "difference and exact p", "requires": ["md", "p"], "route": "md_p"},
                {"name": "arm means and SDs", "requires": ["n_arm1", "n_arm2", "mean_arm1", "sd_arm1", "mean_arm2",
                                                          "sd_arm2"], "route": "arm_means"}]
        rules = ["ci_ordered", "ci_contains_estimate", "se_ci_consistent", "p_exact_for_se"]
        cols = [{"header": "N 1", "template": "{n_arm1}"}, {"header": "N 2", "template": "{n_arm2}"}]
    else:
        fields = _head() + _binary() + _tail()
        reps = [{"name": "events and totals", "requires": ["event_arm1", "totaln_arm1", "event_arm2", "totaln_arm2"],
                 "route": "events"},
                {"name": "percentages and totals", "requires": ["pct_arm1", "totaln_arm1", "pct_arm2", "totaln_arm2"],
                 "route": "percentages"}]
        rules = ["events_le_total", "pct_matches_events", "pct_count_derivable"]
        cols = [{"header": "Arm 1", "template": "{event1_used}/{totaln_arm1}", "width": 0.75},
                {"header": "Arm 2", "template": "{event2_used}/{totaln_arm2}", "width": 0.75}]
    return {
        "name": name,
        "path": f"{name}.csv",
        "profile": "tabular-data-resource",
        "title": title,
        "encoding": "utf-8",
        "dialect": {"delimiter": ",", "quoteChar": "\"", "header": True},
        "schema": {
            "fields": fields,
            "primaryKey": ["study_id"],
            "glumeta:representations": reps,
            "glumeta:rules": rules,
            "glumeta:analysis": {"measure": measure, "label": "{study}",
                                 "overall": {"label": f"{title} ({measure})"},
                                 "forest_columns": cols},
        },
    }


def _dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    """Write *text* to *path* through a temporary file (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def add_resource(package: Path, res: dict) -> None:
    """Append *res* to the ``resources`` of *package*, keeping every other byte of the file.

    The file is re-read just before writing. If it is in the layout ``json.dumps(indent=2)``
    writes (as ``data/datapackage.json`` is), it is re-serialised, which is then byte-identical
    apart from the new resource; otherwise the resource is inserted as text before the closing
    bracket of ``resources``. Either way the result is parsed back and checked."""
    text = package.read_text(encoding="utf-8")
    pkg = json.loads(text)
    if any(r.get("name") == res["name"] for r in pkg["resources"]):
        raise ValueError(f"{package} already has a resource named {res['name']!r}")
    if _dump(pkg) == text:
        pkg["resources"].append(res)
        new_text = _dump(pkg)
    else:
        m = re.search(r"\n([ \t]*)\][ \t]*\n?\}\s*$", text)
        if not m or list(pkg)[-1] != "resources":
            raise ValueError(f"cannot find the end of 'resources' in {package}; add the resource by hand")
        indent = m.group(1) + "  "
        body = json.dumps(res, indent=2, ensure_ascii=False).replace("\n", "\n" + indent)
        new_text = text[:m.start()] + ",\n" + indent + body + text[m.start():]
    if json.loads(new_text) != dict(pkg, resources=[*json.loads(text)["resources"], res]):
        raise ValueError(f"inserting the resource into {package} went wrong; nothing was written")
    _write(package, new_text)


def add_to_toc(toc: Path, name: str) -> None:
    """List ``book/<name>`` among the analysis chapters of *toc* (before the synthesis, else after
    the last chapter of the first part)."""
    text = toc.read_text(encoding="utf-8")
    entry = f"book/{name}"
    if re.search(rf"^[ \t]*- file: {re.escape(entry)}[ \t]*$", text, re.M):
        return
    m = re.search(r"^([ \t]*)- file: book/synthesis[ \t]*$", text, re.M)
    if m:
        new = text[:m.start()] + f"{m.group(1)}- file: {entry}\n" + text[m.start():]
    else:
        parts = list(re.finditer(r"^([ \t]*)- file: \S+[ \t]*$", text, re.M))
        if not parts:
            raise ValueError(f"no chapter list found in {toc}; add '- file: {entry}' by hand")
        # the last chapter line before the second part (or the last one)
        second = re.search(r"^[ \t]*- caption:", text[parts[0].end():], re.M)
        limit = parts[0].end() + second.start() if second else len(text)
        last = [p for p in parts if p.end() <= limit][-1]
        new = text[:last.end()] + f"\n{last.group(1)}- file: {entry}" + text[last.end():]
    _write(toc, new)


_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(\n|\Z)", re.S)


def _declared(text: str) -> list[str] | None:
    """The ``glumeta: data:`` list of a page's front matter (None without one)."""
    import yaml

    m = _FRONT.match(text)
    if not m:
        return None
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError:
        return None
    g = meta.get("glumeta") if isinstance(meta, dict) else None
    if not isinstance(g, dict) or not isinstance(g.get("data"), list):
        return None
    return [str(x) for x in g["data"]]


def _insert_declared(text: str, after: str, name: str) -> str | None:
    """*text* with *name* inserted after the item *after* of its front matter's ``data:`` list,
    every other byte kept; None when the list is in a layout this does not edit (a flow list
    ``data: [a, b]`` on one line, or a block list of ``- a`` lines, are edited)."""
    m = _FRONT.match(text)
    front, start = m.group(1), m.start(1)
    g = re.search(r"^glumeta:[ \t]*\n((?:[ \t]+.*\n|[ \t]*\n)*)", front, re.M)
    if not g:
        return None
    block, bstart = g.group(1), start + g.start(1)
    flow = re.search(r"^([ \t]+data:[ \t]*\[)([^\]\n]*)\][ \t]*(#.*)?$", block, re.M)
    if flow:
        items, pos = [], bstart + flow.start(2)
        for part in flow.group(2).split(","):
            items.append((part.strip().strip("'\""), pos + len(part.rstrip())))
            pos += len(part) + 1
        ends = [end for value, end in items if value == after]
        if not ends:
            return None
        return text[:ends[0]] + f", {name}" + text[ends[0]:]
    blk = re.search(r"^([ \t]+)data:[ \t]*\n((?:\1[ \t]*- .*\n)+)", block, re.M)
    if blk:
        pos = bstart + blk.start(2)
        for line in blk.group(2).splitlines(keepends=True):
            item = re.match(r"^([ \t]*- )(.*?)[ \t]*(#.*)?$", line.rstrip("\n"))
            pos += len(line)
            if item.group(2).strip("'\"") == after:
                return text[:pos] + f"{item.group(1)}{name}\n" + text[pos:]
    return None


def pages_listing_all(book_dir: Path, analyses) -> list[Path]:
    """The pages under ``book_dir/book`` whose front matter declares every table of *analyses* (the
    pages that show something of each analysis: the introduction's summary, the summary of
    findings, the ledger)."""
    analyses = set(analyses)
    if not analyses:
        return []
    out = []
    for page in sorted((Path(book_dir) / "book").glob("*.md")):
        dec = _declared(page.read_text(encoding="utf-8"))
        if dec is not None and analyses <= set(dec):
            out.append(page)
    return out


def add_to_pages(book_dir: Path, name: str, analyses) -> dict[Path, str]:
    """The new text of every page that lists all of *analyses* (:func:`pages_listing_all`), with
    *name* added to its ``data:`` list after the last of them; nothing is written. Raises
    ``ValueError`` for a page whose list cannot be edited in place (then add *name* by hand)."""
    out = {}
    for page in pages_listing_all(book_dir, analyses):
        text = page.read_text(encoding="utf-8")
        dec = _declared(text)
        if name in dec:
            continue
        last = [d for d in dec if d in set(analyses)][-1]
        new_text = _insert_declared(text, last, name)
        want = dec[:dec.index(last) + 1] + [name] + dec[dec.index(last) + 1:]
        if new_text is None or _declared(new_text) != want or \
                _FRONT.sub("", new_text, count=1) != _FRONT.sub("", text, count=1):
            raise ValueError(f"{page}: cannot add {name!r} to its front matter 'glumeta: data:' list; "
                             "add it by hand")
        out[page] = new_text
    return out


def chapter_text(name: str, measure: str, title: str) -> str:
    """``book/<name>.md`` from ``templates/chapter.md``."""
    tpl = Template((Path(__file__).parent / "templates" / "chapter.md").read_text(encoding="utf-8"))
    xlabel = {"SMD": "Standardised mean difference (Hedges' g)", "MD": "Mean difference", "RR": "Risk ratio",
              "OR": "Odds ratio", "RD": "Risk difference"}[measure]
    return tpl.substitute(name=name, title=title, measure=measure, measure_words=MEASURES[measure], xlabel=xlabel)


def new(name: str, measure: str, *, workbook, book_dir: Path, title: str | None = None) -> list[Path]:
    """Scaffold analysis *name* in *workbook* (:class:`glumeta.data.workbook.Workbook`, whose folder
    receives the resource and the CSV) and the book at *book_dir*: resource, CSV header, chapter,
    ``_toc.yml`` entry, and *name* in the front matter of every page that lists all the analyses
    (:func:`add_to_pages`); returns the paths written (package, CSV, chapter, toc, then those
    pages). Refuses (``ValueError``), before writing anything, a bad name, one that exists in any
    of the four places, or a page list it cannot edit."""
    measure = measure.upper()
    if not _NAME.match(name):
        raise ValueError(f"name {name!r}: use lower-case letters, digits and underscores, starting with a letter")
    data_dir, book_dir = Path(workbook.folder).resolve(), Path(book_dir).resolve()
    package, csv_path = data_dir / "datapackage.json", data_dir / f"{name}.csv"
    chapter, toc = book_dir / "book" / f"{name}.md", book_dir / "_toc.yml"
    for p in (package, toc):
        if not p.is_file():
            raise ValueError(f"{p} not found")
    for p in (csv_path, chapter):
        if p.exists():
            raise ValueError(f"{p} already exists")
    res = resource(name, measure, title)
    header = ",".join(f["name"] for f in res["schema"]["fields"]) + "\n"
    text = chapter_text(name, measure, res["title"])
    pkg = json.loads(package.read_text(encoding="utf-8"))
    analyses = [r["name"] for r in pkg.get("resources", []) if "glumeta:analysis" in (r.get("schema") or {})]
    pages = add_to_pages(book_dir, name, analyses)  # computed first: nothing is written if one fails
    add_resource(package, res)  # first write: it refuses a name the package already has
    csv_path.write_text(header, encoding="utf-8")
    chapter.write_text(text, encoding="utf-8")
    add_to_toc(toc, name)
    for page, page_text in pages.items():
        _write(page, page_text)
    return [package, csv_path, chapter, toc, *pages]
