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
  :func:`glumeta.data.tables.read` refuses to read an undeclared table, so a missing
  declaration cannot silently leave a page stale.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import yaml

from ..data.workbook import ENV_DECLARED, Workbook

#: the glumeta package (this module is in glumeta/book/): every source file of it, in every layer
_PKG = Path(__file__).resolve().parents[1]


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
    for p in sorted(_PKG.rglob("*.py")):
        h.update(p.relative_to(_PKG).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def data_dir() -> Path:
    """The data folder of this build (``glumeta build`` hands it over as :meth:`Workbook.from_env`)."""
    return Workbook.from_env().folder


def _inputs(names: list[str]) -> dict[str, str]:
    d = data_dir()
    files = [d / f"{n}.csv" for n in names]
    files.append(d / "datapackage.json")
    return {str(p): _hash(p) for p in files}


def _package_hash(app) -> str:
    """:func:`package_hash`, computed once per build (parallel readers inherit it)."""
    if not hasattr(app, "_glumeta_package_hash"):
        app._glumeta_package_hash = package_hash()
    return app._glumeta_package_hash


def _source_read(app, docname, source):
    import time

    _STARTED[docname] = time.perf_counter()
    names = declared(source[0])
    os.environ[ENV_DECLARED] = ",".join(names or [])
    deps = app.env.__dict__.setdefault("glumeta_deps", {})
    inputs = _inputs(names) if names is not None else {}
    deps[docname] = {"dir": str(data_dir()), "names": names or [], "inputs": inputs, "package": _package_hash(app)}
    for f in inputs:
        app.env.note_dependency(f)


#: docname -> when its reading began (this process): the read times order the next build's readers
_STARTED: dict[str, float] = {}


def _doctree_read(app, doctree):
    import time

    doc = app.env.docname
    rec = app.env.__dict__.get("glumeta_deps", {}).get(doc)
    if rec is not None and doc in _STARTED:
        rec["seconds"] = round(time.perf_counter() - _STARTED.pop(doc), 3)


def _why(rec: dict, cur_dir: str, pkg: str) -> list[str]:
    """Why a page's recorded inputs are out of date, in words ("data/x.csv changed"); [] if current."""
    if not rec["inputs"]:
        return []
    if rec["dir"] != cur_dir:
        return [f"data folder is now {cur_dir}"]
    now = _inputs(rec["names"])
    why = [f"{Path(f).parent.name}/{Path(f).name} changed" for f in sorted(now) if now[f] != rec["inputs"].get(f)]
    if rec["package"] != pkg:
        why.append("glumeta's code changed")
    return why


def _outdated(app, env, added, changed, removed):
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    deps = env.__dict__.get("glumeta_deps", {})
    cur_dir = str(data_dir())
    pkg = _package_hash(app)
    out = []
    reasons = []
    for doc, rec in sorted(deps.items()):
        if doc in removed or doc in changed:
            continue
        why = _why(rec, cur_dir, pkg)
        if why:
            out.append(doc)
            reasons.append(f"glumeta: re-running {doc}.md: {'; '.join(why)}")
    for doc in sorted(changed):  # Sphinx saw a newer source, or a newer noted dependency (a data file)
        why = _why(deps[doc], cur_dir, pkg) if doc in deps else []
        reasons.append(f"glumeta: re-running {doc}.md: {'; '.join(why) or 'its source changed'}")
    if reasons:  # on lines of their own, after Sphinx's "updating environment:"
        log.info("\n" + "\n".join(reasons))
    return out


def _before_read(app, env, docnames):
    """Progress: how many pages this build reads (each re-run page has said why, above); with
    in-process execution, the chapters' imports done once here, before the readers fork."""
    if docnames:
        from sphinx.util import logging

        logging.getLogger(__name__).info(f"glumeta: {len(docnames)} page(s) to read")
        if _EXECUTE == "in-process" and any(declared_of(env, d) for d in docnames):
            _warm_imports()


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
        # hidden entries are the render cache and the temporary files of an interrupted build
        shutil.copytree(figs, out / "figures", dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
    d = data_dir()
    (out / "data").mkdir(exist_ok=True)
    for p in list(d.glob("*.csv")) + [d / "datapackage.json"]:
        if p.exists():
            shutil.copyfile(p, out / "data" / p.name)


def _declare_parallel_safe(app):
    for name in ("sphinx_multitoc_numbering", "sphinx_jupyterbook_latex"):
        ext = app.extensions.get(name)
        if ext is not None and ext.parallel_read_safe is None:
            ext.parallel_read_safe = True
    # Sphinx reads in parallel only when more than 5 documents changed
    # (Builder.read, Sphinx 7.x). After a CSV edit typically 2-3 pages re-execute
    # (the chapter, the summary, the ledger); each is a notebook run of seconds, so
    # reading them in parallel is worth the fork. Falls back to Sphinx's own serial
    # read wherever the private hook is absent.
    #
    # Chunks: Sphinx slices the documents into equal chunks, one forked reader each. Here
    # every notebook page gets a reader of its own (its time is a kernel's), and all the
    # in-process pages (glumeta.book.directives) share one reader, so they import pandas and
    # matplotlib once and share the effect frames glumeta caches per data file.
    b = app.builder
    serial = getattr(b, "_read_serial", None)
    par = getattr(b, "_read_parallel", None)
    import sphinx.builders as sb

    if app.parallel > 1 and serial is not None and par is not None and hasattr(sb, "make_chunks"):
        stock = sb.make_chunks

        def _chunks(docnames, nproc, maxbatch=10):
            # one reader per page, the slowest first (their read times in the last build;
            # a page not timed yet counts as a notebook's or an in-process page's typical
            # time), so that the pages spread over the cores and the longest page starts first
            deps = app.env.__dict__.get("glumeta_deps", {})

            def cost(d):
                t = deps.get(d, {}).get("seconds")
                return t if t is not None else (3.0 if _is_notebook(app.env, d) else 0.5)

            return [[d] for d in sorted(docnames, key=cost, reverse=True)]

        def _read_parallel(docnames, nproc):
            sb.make_chunks = _chunks
            try:
                return par(docnames, nproc=nproc)
            finally:
                sb.make_chunks = stock

        def _read(docnames):
            if len(docnames) > 1 and app.is_parallel_allowed("read"):
                return _read_parallel(docnames, nproc=min(app.parallel, len(docnames)))
            return serial(docnames)
        b._read_serial = _read
        b._read_parallel = _read_parallel  # Sphinx calls it directly for more than 5 pages


_SOURCES: dict[str, tuple[int, str]] = {}


def _source(env, docname: str) -> str | None:
    """The text of page *docname*, read once per version of the file (keyed by path and mtime):
    the reader order (:func:`_is_notebook`) and the warm-up (:func:`declared_of`) both need it."""
    path = Path(env.doc2path(docname))
    try:
        mtime = path.stat().st_mtime_ns
        if _SOURCES.get(str(path), (None,))[0] != mtime:
            _SOURCES[str(path)] = (mtime, path.read_text(encoding="utf-8"))
    except OSError:
        return None
    return _SOURCES[str(path)][1]


def _is_notebook(env, docname: str) -> bool:
    """A MyST page with a jupytext header and a kernel is executed as a notebook by myst-nb."""
    text = _source(env, docname)
    if text is None:
        return False
    head = text[:2000]
    return head.startswith("---") and "\nkernelspec:" in head.split("\n---", 1)[0]


def _config_inited(app, config):
    global _EXECUTE
    if config.glumeta_execute not in ("in-process", "kernel"):
        raise ValueError(f"glumeta_execute: {config.glumeta_execute!r}; use 'in-process' or 'kernel'")
    _EXECUTE = config.glumeta_execute
    # JB1 leaves pydata-sphinx-theme's default_mode empty, which the theme's script
    # reports as a console error ("Got invalid theme mode").
    ctx = dict(config.html_context or {})
    ctx.setdefault("default_mode", "auto")  # pydata-sphinx-theme reads it from html_context
    config.html_context = ctx


def _page_context(app, pagename, templatename, context, doctree):
    """Clean the page's scripts so that it loads with an empty console and offline.

    * JB1 injects sphinx-thebe's configuration script twice; the second ``const``
      declaration is a JavaScript error. Identical scripts are kept once.
    * MathJax comes from a CDN; the book states its formulas in Unicode (no TeX math),
      so the script would be the page's only external request. It is dropped.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, out = set(), []
    for js in scripts:
        name = str(getattr(js, "filename", js) or "")
        key = (name, str(getattr(js, "attributes", {}).get("body", "")))
        if key in seen or "mathjax" in name.lower():
            continue
        seen.add(key)
        out.append(js)
    context["script_files"] = out


def _encrypt_kernel_transport() -> None:
    """Kernels started for the book talk to it over CurveZMQ-encrypted sockets.

    ipykernel ≥ 7 prints "Kernel is running over TCP without encryption" once per kernel
    unless its manager provisions CurveZMQ keys. jupyter_client does that when its
    ``KernelManager.transport_encryption`` policy is ``"auto"`` and the kernelspec declares
    ``supported_encryption: ["curve"]`` (ipykernel's does); the default policy is
    ``"disabled"``. myst-nb starts kernels through nbclient with no traitlets config to carry
    the setting, so it is made the class default, in the build process only, and only where
    the installed pyzmq has CURVE. Kernels without declared support still start, unencrypted."""
    try:
        import zmq
        from jupyter_client.manager import KernelManager
    except ImportError:  # pragma: no cover
        return
    trait = KernelManager.class_traits().get("transport_encryption")
    if trait is not None and zmq.has("curve"):
        trait.default_value = "auto"


def _kernels_over_ipc() -> None:
    """Kernels started for the book listen on Unix sockets with unique paths, not TCP ports.

    jupyter_client picks a kernel's five TCP ports by binding port 0 and closing the
    socket; the kernel binds them a second or so later. Chapters execute in parallel
    readers, so another kernel (or anything else on the machine) can take a port in
    between; the kernel then dies with ``ZMQError: Address already in use`` and the page
    fails after the 60 s start-up timeout (seen once in CI, in the crash-safety test's
    rapid rebuilds). Over the ``ipc`` transport there are no ports to race for, provided
    each kernel's socket prefix is unique: jupyter_client's default prefix is
    ``kernel-ipc`` in the working directory, shared by every chapter of the book, and its
    free-name search (``os.path.exists``) races the same way, so each manager gets its own
    random prefix in the temporary folder. nbclient (used by myst-nb's every execution
    mode) imports ``jupyter_client.AsyncKernelManager`` when it creates a kernel, so the
    subclass is installed there, in the build process only."""
    try:
        import jupyter_client
        from traitlets import CaselessStrEnum
    except ImportError:  # pragma: no cover
        return
    base = jupyter_client.AsyncKernelManager
    if getattr(base, "_glumeta_ipc", False):
        return

    class BookKernelManager(base):
        _glumeta_ipc = True
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        def _ip_default(self) -> str:
            import tempfile
            import uuid

            folder = tempfile.gettempdir()
            if len(folder) > 60:  # a Unix socket path holds at most 107 bytes
                folder = "/tmp"
            return os.path.join(folder, f"glumeta-kernel-{uuid.uuid4().hex[:16]}")

    jupyter_client.AsyncKernelManager = BookKernelManager


#: The book's source folder, set in :func:`setup` (forked readers inherit it): pages are named
#: relative to it in failure messages.
_SRCDIR: Path | None = None


def _page_name(path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(Path(_SRCDIR).resolve()).as_posix() if _SRCDIR else str(p)
    except ValueError:
        return str(p)


def _code_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]


def _last_line(text: str) -> str:
    """The last non-empty line of an error text, without terminal colour codes."""
    lines = [ln.rstrip() for ln in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def describe_failure(nb, path, exc, timeout=None, cell_line=None) -> str:
    """One line saying which page failed, in which cell, and why (an error and its last line,
    a timeout, or a dead kernel), from the executed notebook *nb* and the exception myst-nb
    raised (whose cause is nbclient's ``CellExecutionError`` or ``CellTimeoutError``)."""
    cause = exc.__cause__ or exc
    kind = type(cause).__name__
    code = _code_cells(nb)
    failed = None
    if kind == "CellExecutionError":  # the cell holding the error output
        failed = next((i for i in code if any(o.get("output_type") == "error" for o in nb.cells[i].get("outputs", []))), None)
    if failed is None and code:
        # a timeout or a dead kernel: the cell that was running is the last one the kernel started
        # (nbclient sets its execution_count on execute_input); a timeout's message quotes the
        # cell's source, which picks it out when the kernel had not yet acknowledged it
        started = [i for i in code if nb.cells[i].get("execution_count") is not None]
        failed = started[-1] if started else code[0]
        m = re.search(r"preview of the cell contents:\s*\n-+\n(.*)\n-+\s*$", str(cause), re.S)
        quoted = [i for i in code if m and nb.cells[i].get("source", "").strip() == m.group(1).strip()]
        if quoted:
            failed = min(quoted, key=lambda i: abs(i - failed))
    page = _page_name(path)
    where = "cell unknown"
    if failed is not None:
        src = next((ln.strip() for ln in nb.cells[failed].get("source", "").splitlines() if ln.strip()), "")
        src = src if len(src) <= 70 else src[:67] + "..."
        line = ""
        if cell_line is not None:
            try:
                line = f", line {cell_line(failed)}"
            except Exception:  # pragma: no cover - the source map is myst-nb's
                line = ""
        where = f"code cell {code.index(failed) + 1}{line} ({src})"
    if kind == "CellExecutionError":
        last = _last_line(f"{cause.ename}: {cause.evalue}") if getattr(cause, "ename", None) else _last_line(str(cause))
        why = f"error: {last}"
    elif kind == "CellTimeoutError" or isinstance(cause, TimeoutError):
        limit = f"{timeout:g} s" if isinstance(timeout, (int, float)) else "the time limit"
        why = (f"timeout: the cell was still running after {limit} (execute: timeout in _config.yml, or the "
               "page's execution: timeout); make it faster, or check the size of the tables it reads")
    elif kind == "DeadKernelError":
        why = f"the kernel died (out of memory?): {_last_line(str(cause))}"
    else:
        why = f"error: {kind}: {_last_line(str(cause))}"
    return f"glumeta: page {page} failed: {where}: {why}"


#: How chapters are executed (``glumeta_execute`` in the Sphinx config): ``in-process`` (default)
#: or ``kernel`` (myst-nb's stock: a Jupyter kernel per page). Set at ``config-inited``; the
#: forked readers inherit it.
_EXECUTE = "in-process"


def _execute_in_process() -> None:
    """Run ``force``-mode pages in the reader's own process (:mod:`glumeta.book.inprocess`), not in a
    kernel: the same outputs (tests/test_inprocess.py), without a kernel start and a second import
    of pandas, matplotlib and glumeta per page (:func:`_before_read` imports them once, before the
    readers fork). A page whose kernelspec is not Python keeps its kernel."""
    try:
        from myst_nb.core.execute.base import ExecutionError
        from myst_nb.core.execute.direct import NotebookClientDirect
    except ImportError:  # pragma: no cover
        return
    stock = NotebookClientDirect.start_client
    if getattr(stock, "_glumeta_inprocess", False):
        return

    def start_client(self):
        lang = ((self.notebook.metadata.get("kernelspec") or {}).get("language") or "python").lower()
        if _EXECUTE != "in-process" or lang != "python" or self.nb_config.execution_in_temp or self.path is None:
            return stock(self)
        from datetime import datetime

        from .inprocess import execute_notebook

        self.logger.info("Executing notebook in the build process [glumeta]")
        res = execute_notebook(self.notebook, str(self.path.parent), timeout=self.nb_config.execution_timeout,
                               allow_errors=self.nb_config.execution_allow_errors)
        err = res["error"]
        if err is not None and self.nb_config.execution_raise_on_error:
            raise ExecutionError(str(self.path)) from err
        if err is not None:
            self.logger.warning(f"Executing notebook failed: {err.__class__.__name__}", subtype="exec")
        else:
            self.logger.info(f"Executed notebook in {res['time']:.2f} seconds")
        self.exec_metadata = {"mtime": datetime.now().timestamp(), "runtime": res["time"],
                              "method": self.nb_config.execution_mode, "succeeded": err is None,
                              "error": None if err is None else err.__class__.__name__, "traceback": None}

    start_client._glumeta_inprocess = True
    NotebookClientDirect.start_client = start_client


def declared_of(env, docname: str) -> list[str] | None:
    """The tables page *docname* declares (None for a page without a ``glumeta:`` block)."""
    text = _source(env, docname)
    return None if text is None else declared(text)


def _warm_imports() -> None:
    """Done once in the build process before the readers fork, so that every reader inherits it:
    the chapters' imports, the IPython shell that runs them, and the validated effect frame of every
    analysis table and its pools (glumeta.stats.escalc and glumeta.stats.plan cache them by the
    file's content), which the chapters and the in-process pages (summary, ledger, synthesis,
    findings) all read."""
    from ..views import chapter
    from . import inprocess  # noqa: F401  (pandas, matplotlib, statsmodels' WLS via glumeta)
    from ..data.tables import DataError
    from ..stats.escalc import escalc
    from ..stats.plan import analyze

    inprocess._shell()
    wb = Workbook.from_env()
    for name in wb.analyses():
        try:
            ds = Workbook(wb.folder).dataset(name)
            escalc(ds)
            analyze(ds)  # the chapter, the introduction and the summary of findings all pool it
        except (DataError, KeyError, OSError, ValueError):
            pass  # the page that reads it reports the problem


def _explain_failed_pages() -> None:
    """Make a page whose execution fails say which page, which cell and why.

    myst-nb (``nb_execution_raise_on_error``) raises ``ExecutionError(<path>)`` alone, which
    Sphinx prints as ``ExecutionError: book/x.md``; the cell and the cause are in the executed
    notebook and in the exception's cause. The notebook client is wrapped (in the build process,
    before the readers fork) so that the failure is re-raised with one line of
    :func:`describe_failure` as its message, which Sphinx and ``glumeta build`` print."""
    try:
        from myst_nb.core.execute.base import ExecutionError
        from myst_nb.core.execute.direct import NotebookClientDirect
    except ImportError:  # pragma: no cover
        return
    stock = NotebookClientDirect.start_client
    if getattr(stock, "_glumeta", False):
        return

    def start_client(self):
        try:
            return stock(self)
        except Exception as exc:
            try:
                timeout = (self.notebook.metadata.get("execution") or {}).get("timeout", self.nb_config.execution_timeout)
                msg = describe_failure(self.notebook, self.path, exc, timeout, self.cell_line)
            except Exception:  # never hide the original failure
                raise exc
            raise ExecutionError(msg) from (exc.__cause__ or exc)

    start_client._glumeta = True
    NotebookClientDirect.start_client = start_client


def setup(app):
    from .directives import setup as add_directives

    global _SRCDIR
    _SRCDIR = Path(app.srcdir)
    _encrypt_kernel_transport()
    if os.name == "posix":
        _kernels_over_ipc()
    _execute_in_process()
    _explain_failed_pages()  # wraps the executor installed above
    app.add_config_value("glumeta_execute", "in-process", "env")
    add_directives(app)  # the in-process pages: summary, ledger, synthesis, dictionary, environment
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _page_context, priority=900)
    # Jupyter Book 1 always loads two extensions that do not declare parallel safety,
    # so Sphinx falls back to serial reading (and serial notebook execution):
    # * sphinx_multitoc_numbering renumbers sections across toctrees when the env is
    #   assembled, in the main process, and keeps no per-document state while reading;
    # * sphinx_jupyterbook_latex's read-time transforms only annotate the current
    #   document's own doctree (toctree wrappers); the rest acts on LaTeX builders.
    # Neither shares state between documents while reading, so parallel reading is safe.
    app.connect("builder-inited", _declare_parallel_safe)
    app.connect("build-finished", _publish)
    app.connect("source-read", _source_read)
    app.connect("doctree-read", _doctree_read)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-before-read-docs", _before_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 2}
