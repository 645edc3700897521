"""``glumeta build``: validate the data, then build the book incrementally.

The data are checked first; any error stops the build before a chapter runs, among them
a table past the size the schema declares (``glumeta:limits``), so that a book that
cannot be built is refused up front rather than after minutes of a cell's timeout. A
page that fails while it runs is named with its cell and cause (:mod:`glumeta.book.sphinxext`).
Jupyter Book 1 then rebuilds; :mod:`glumeta.book.sphinxext` makes each chapter's
declared data files, the schema and the glumeta sources dependencies of that
chapter, so exactly the chapters whose sources or inputs changed are re-read and
(in ``force`` mode) re-executed. The build never writes to ``data/``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from ..paths import REPO


def build(all_: bool = False, workbook=None, root: Path | None = None, jobs: int | None = None) -> int:
    """Validate *workbook* (default: the repository's data folder), then build the book at *root*."""
    from ..data.validate import validate
    from ..data.workbook import ENV_BUILD, ENV_DATA, Workbook

    # absolute: chapters execute with their own folder as working directory, where a relative
    # book or data folder would name another place (figures under book/_build, dead links)
    root = Path(root or REPO).resolve()
    wb = workbook or Workbook()
    d = Path(wb.folder).resolve()
    probs = validate(wb)
    errors = [p for p in probs if p.severity == "error"]
    for p in probs:
        print(p, file=sys.stderr)
    if errors:
        print(f"glumeta build: stopped: {len(errors)} data error(s); no chapter was run", file=sys.stderr)
        return 1
    # handed to the Sphinx extension and, through it, to every page's kernel (Workbook.from_env)
    os.environ[ENV_DATA] = str(d)
    os.environ[ENV_BUILD] = str(root / "_build")
    return run_sphinx(root, all_=all_, jobs=jobs)


#: Present while a build runs; left behind by a build that was interrupted or failed.
MARKER = ".glumeta-build-incomplete"


def run_sphinx(root: Path, all_: bool = False, jobs: int | None = None) -> int:
    """Jupyter Book 1's own build (``jupyter_book.sphinx.build_sphinx``, as its CLI calls it),
    with warnings as errors, ``--keep-going``, and *jobs* parallel readers so that chapters
    execute on all cores (the JB1 CLI has no ``-j``).

    Crash safety: Sphinx writes each HTML page in place, so a build killed while writing
    can leave a truncated page whose time stamp is newer than its sources, which the next
    incremental build would keep. A marker file in ``_build`` exists for the whole build
    and is removed only when it succeeds; a build that finds it rewrites every page
    (``force_all``; pages whose inputs are unchanged are not re-executed). Reading is
    safe by itself: Sphinx pickles its environment only after every page was read, and a
    truncated pickle is discarded. Figures are written to a temporary name and renamed.
    """
    # JB1 validates _config.yml with jsonschema, which at import builds the grammar of its optional
    # IRI format checker (rfc3987_syntax: 1.2 s of every build, a no-op's largest part). The
    # book's config has no IRI-format field and jsonschema skips a format it has no checker for,
    # so the optional module is marked absent (jsonschema imports it inside suppress(ImportError)).
    sys.modules.setdefault("rfc3987_syntax", None)
    from jupyter_book.sphinx import build_sphinx

    jobs = jobs or min(os.cpu_count() or 1, 4)
    toc = root / "_toc.yml"
    marker = root / "_build" / MARKER
    interrupted = marker.exists()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    print(f"glumeta build: {root} ({jobs} parallel reader(s){', all pages' if all_ else ''})", flush=True)
    if interrupted:
        print("glumeta build: the previous build did not finish; every page is written again", flush=True)
    from ..data import workbook

    # each page makes its own workbook from the environment (its declared tables; built into the
    # book), as a kernel would, not the one the command line installed for itself
    installed, workbook._INSTALLED[:] = workbook._INSTALLED[:], []
    try:
        result = build_sphinx(
            root, root / "_build" / "html",
            use_external_toc=True, noconfig=True, path_config=str(root / "_config.yml"),
            confoverrides={"external_toc_path": toc.as_posix(), "latex_individualpages": False},
            builder="html", warningiserror=True, keep_going=True, freshenv=all_, force_all=interrupted, jobs=jobs,
        )
    finally:
        workbook._INSTALLED[:] = installed
    if isinstance(result, Exception):
        # a page whose execution failed says which page, cell and cause (glumeta.book.sphinxext)
        page = re.search(r"glumeta: (page .+)", str(result))
        print(f"glumeta build: failed: {page.group(1) if page else result}", file=sys.stderr)
        return 1
    if result:
        print("glumeta build: failed (see the warnings above; warnings are errors)", file=sys.stderr)
        return 1
    marker.unlink()
    print(f"glumeta build: open file://{root / '_build' / 'html' / 'index.html'}")
    return 0
