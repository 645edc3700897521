"""The warm build process behind ``glumeta serve`` (live preview in about two seconds).

``glumeta build`` in a fresh process spends most of an edit's rebuild starting up: importing
Sphinx and Jupyter Book, loading the environment, starting a kernel for the chapter, importing
pandas, matplotlib and glumeta in it, then rendering every figure in three formats before the
page can be written. The preview keeps all of that warm in one long-lived **worker** process
(``python -m glumeta.book.preview``, started and driven by :mod:`glumeta.book.serve`):

* **One Sphinx application** for the whole session, made exactly as ``glumeta build`` makes it
  (Jupyter Book 1's configuration, warnings as errors, keep going, parallel readers, the
  crash-safety marker). Each edit is an incremental ``app.build()``: the same extension
  (:mod:`glumeta.book.sphinxext`) decides which pages are out of date and why.
* **A pre-started kernel** in the chapters' folder with the imports done (glumeta, pandas,
  matplotlib, myst-nb) and matplotlib's font caches warm. It is started *before* the next edit
  and handed to myst-nb for the next notebook page, then discarded (a page never runs in a
  kernel that ran anything but the imports). During the warm-up the kernel sees no data folder,
  so nothing data-dependent can be computed or cached before the page runs; a warm-up that
  prints, warns or fails is not used (the page gets a fresh kernel, exactly as in a build).
* **The open page first.** :mod:`glumeta.book.serve` says which pages a browser has open; when
  one of them is out of date, the build reads and writes only those pages first (phase 1),
  tells the server the moment each page file is written (the browser reloads it), then builds
  everything else that is out of date (phase 2). Both phases are ordinary incremental builds
  of the same application, so the end state is the state ``glumeta build`` reaches, and
  :mod:`glumeta.book.serve` holds back every request for a file that is not yet up to date.
* **Download formats after the page.** In the preview kernel, :func:`glumeta.views.forest.save_figure`
  records the figure instead of rendering it; the page is written with the same links (the
  files exist, as after a build) and the kernel renders SVG/PDF/PNG while Sphinx writes the
  page. A figure whose file the page code reads (the flow diagram, embedded in the page) is
  rendered at that moment: the returned paths render their figure when opened, so nothing ever
  reads a figure before it is drawn. The server serves ``figures/`` only once the renders are
  copied.

Data are validated first, as by ``glumeta build``; an error stops the cycle before any page is
touched and is reported (file, line, column, value) to the server, which shows it instead of
the book. Any failed build ends the worker (Sphinx's environment is then discarded, as after a
failed ``glumeta build``); the next edit starts a new one. ``data/`` is never written.

Protocol (JSON lines): commands on the worker's stdin, events on the file descriptor
``--events-fd``. Commands: ``{"cmd": "build", "open": [docnames]}``, ``{"cmd": "stop"}``.
Events: ``hello`` (root doc), ``started``, ``written`` (a page whose HTML changed, as soon as
it is on disk), ``phase1`` (the open pages and their figures are done; the pages still to be
rebuilt), ``done`` (``ok``, ``errors``, ``restart``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]

#: The modules a chapter imports, imported by the warm-up (data-independent; see :func:`_warm_up`).
WARM_IMPORTS = (
    "glumeta.data.workbook", "glumeta.data.tables", "glumeta.stats.escalc", "glumeta.stats.plan", "glumeta.stats.models",
    "glumeta.stats.sensitivity", "glumeta.stats.eligibility", "glumeta.stats.ledger", "glumeta.stats.synthesis",
    "glumeta.views.forest", "glumeta.views.figures", "glumeta.views.flow", "glumeta.views.bias", "glumeta.views.findings",
    "glumeta.views.export", "glumeta.views.chapter", "pandas", "numpy", "scipy.stats", "matplotlib.pyplot",
    "IPython.display", "myst_nb",
)

#: The data folder a warm kernel sees until it is handed a page: nothing can be read before.
NO_DATA = "/nonexistent/glumeta-preview-warm-up"


# ======================================================================= inside a preview kernel

_WARM: dict = {"ok": False, "why": "not warmed up"}
_DEFERRED: dict = {}  # output path (str) -> _Job
_JOBS: list = []


class _Job:
    """One deferred :func:`glumeta.views.forest.save_figure` call."""

    def __init__(self, save, args, kwargs, files):
        self.save, self.args, self.kwargs, self.files, self.done = save, args, kwargs, files, False

    def render(self) -> None:
        if not self.done:
            self.done = True
            self.save(*self.args, **self.kwargs)


def _pending_path_class():
    base = type(Path())

    class PendingPath(base):
        """A figure path whose figure is rendered when the file is opened (``os.fspath``), not when
        its existence is checked: code that reads a deferred figure always reads the new one."""

        def __fspath__(self):
            s = str(self)
            job = _DEFERRED.get(s)
            if job is not None:
                job.render()
            return s

        def stat(self, *, follow_symlinks=True):
            return os.stat(str(self), follow_symlinks=follow_symlinks)

    return PendingPath


def _defer_figures() -> None:
    """In this process, :func:`glumeta.views.forest.save_figure` records the figure and returns its paths
    (each file exists, as after a build: a missing one is created empty until rendered). Only in
    this process: a process forked from it (a parallel reader) renders at once, as a build does."""
    from ..views import forest

    stock = forest.save_figure
    if getattr(stock, "_glumeta_deferred", False):
        return
    PendingPath = _pending_path_class()
    owner = os.getpid()

    import inspect

    sig = inspect.signature(stock)

    def save_figure(*args, **kwargs):
        if os.getpid() != owner:
            return stock(*args, **kwargs)
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        out = forest.save_dir(a["chapter"], a.get("root"))
        paths = {ext: PendingPath(out / f"{a['name']}.{ext}") for ext in a["formats"]}
        job = _Job(stock, args, kwargs, [str(p) for p in paths.values()])
        for s in job.files:
            if not os.path.exists(s):
                open(s, "wb").close()
            _DEFERRED[s] = job
        _JOBS.append(job)
        return paths

    save_figure._glumeta_deferred = True
    save_figure.__doc__ = stock.__doc__
    forest.save_figure = save_figure


def _warm_up() -> None:
    """Import what a chapter imports and draw one throw-away figure in every format, with no data
    folder. Records in ``_WARM`` whether anything was printed, warned or raised (then the kernel
    is not used: a fresh kernel would have shown that output in the page's first cell)."""
    import contextlib
    import importlib
    import io
    import warnings

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            for m in WARM_IMPORTS:
                importlib.import_module(m)
            _warm_drawing()
            _defer_figures()
        why = []
        if out.getvalue() or err.getvalue():
            why.append(f"printed: {(out.getvalue() + err.getvalue())[:200]!r}")
        if caught:
            why.append(f"warned: {str(caught[0].message)[:200]}")
        _WARM.update(ok=not why, why="; ".join(why))
    except BaseException as exc:  # noqa: BLE001 - any failure: the kernel is not used
        _WARM.update(ok=False, why=f"{type(exc).__name__}: {exc}")


def _warm_drawing() -> None:
    """Draw and render one throw-away figure (no data) in every format: matplotlib's font and text
    caches are then warm for the first page this process runs."""
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title("warm-up 0.1 – µ ≥ χ²")
    fig.text(0.1, 0.1, "text", fontsize=8)
    for fmt in ("svg", "pdf", "png"):
        fig.savefig(io.BytesIO(), format=fmt, dpi=150 if fmt == "png" else None)


def _handoff(env: dict, unset: list) -> None:
    """Give the kernel the page's environment (as a fresh kernel would have inherited it).
    Raises if the warm-up was not clean, so that the page gets a fresh kernel instead."""
    if not _WARM.get("ok"):
        raise RuntimeError(f"warm-up not clean: {_WARM.get('why')}")
    for k in unset:
        os.environ.pop(k, None)
    os.environ.update(env)


def _render_deferred() -> list:
    """Render every deferred figure (in the order the page saved them); the files written."""
    done = []
    for job in _JOBS:
        job.render()
        done += job.files
    _JOBS.clear()
    _DEFERRED.clear()
    return done


# ======================================================================= the worker process

def _events(fd: int):
    f = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def emit(ev: str, **kw) -> None:
        f.write(json.dumps({"ev": ev, **kw}) + "\n")
        f.flush()

    return emit


class _Tee:
    """The warning stream of the Sphinx application: to stderr, and kept for the error page."""

    def __init__(self):
        self.lines: list[str] = []

    def write(self, s: str) -> int:
        sys.stderr.write(s)
        self.lines.extend(ln for ln in s.splitlines() if ln.strip())
        return len(s)

    def flush(self) -> None:
        sys.stderr.flush()


class _KernelThread:
    """An event loop in a thread of its own for the kernels the worker itself drives: the main
    thread, which forks Sphinx's parallel readers, never holds a loop or a kernel socket."""

    def __init__(self):
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="glumeta-kernels", daemon=True)
        self.thread.start()

    def run(self, coro, timeout=None):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class _Warm:
    def __init__(self, km, kc, cwd: str, kernel_name: str, env: dict, msg_id: str):
        self.km, self.kc, self.cwd, self.kernel_name, self.env, self.msg_id = km, kc, cwd, kernel_name, env, msg_id
        self.render_id: str | None = None


async def _reply(kc, msg_id: str, timeout: float) -> dict:
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no reply from the preview kernel within {timeout:g} s")
        msg = await kc.get_shell_msg(timeout=left)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]


def _call(func: str, *args) -> str:
    """Kernel code calling ``glumeta.book.preview.<func>(*args)`` without binding any name in the page's namespace."""
    return f"__import__('glumeta.book.preview', fromlist=['_']).{func}({', '.join(repr(a) for a in args)})"


class Kernels:
    """One pre-started, warmed-up kernel for the next notebook page, and the pages' executions
    (myst-nb's ``single_nb_execution``, replaced in the worker process only)."""

    ENV_KEYS = ("GLUMETA_DATA_DIR", "GLUMETA_BUILD_DIR", "GLUMETA_DECLARED")

    def __init__(self, cwd: Path, kernel_name: str = "python3"):
        self.cwd, self.kernel_name = str(cwd), kernel_name
        self.pid = os.getpid()
        self._thread: _KernelThread | None = None
        self.warm: _Warm | None = None
        self.used: list[_Warm] = []
        self.stats = {"warm": 0, "cold": 0}

    @property
    def thread(self) -> _KernelThread:
        if self._thread is None:
            self._thread = _KernelThread()
        return self._thread

    # -- starting
    def _env(self) -> dict:
        return {k: v for k, v in os.environ.items() if k not in self.ENV_KEYS}

    def prestart(self) -> None:
        if self.warm is None:
            try:
                self.warm = self.thread.run(self._start(), timeout=60)
            except Exception as exc:  # the pages then run in fresh kernels, as in a build
                print(f"glumeta serve: could not pre-start a kernel ({exc}); pages start their own", flush=True)
                self.warm = None

    async def _start(self) -> _Warm:
        import jupyter_client  # after glumeta.book.sphinxext's setup: its kernel manager class (ipc sockets)

        env = dict(os.environ)
        env.pop("GLUMETA_DECLARED", None)
        env["GLUMETA_DATA_DIR"] = NO_DATA
        km = jupyter_client.AsyncKernelManager(kernel_name=self.kernel_name)
        await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=self.cwd, env=env)
        kc = km.client()
        kc.start_channels()
        kc.allow_stdin = False
        msg_id = kc.execute(_call("_warm_up"), silent=True, store_history=False)
        return _Warm(km, kc, self.cwd, self.kernel_name, self._env(), msg_id)

    async def _take(self, cwd: str, kernel_name: str):
        w, self.warm = self.warm, None
        if w is None:
            return None
        if (w.cwd, w.kernel_name) != (cwd, kernel_name) or w.env != self._env():
            await self._shutdown(w)
            return None
        try:
            r = await _reply(w.kc, w.msg_id, 120)
            if r.get("status") != "ok":
                raise RuntimeError(r.get("evalue"))
            env = {k: os.environ[k] for k in self.ENV_KEYS if k in os.environ}
            unset = [k for k in self.ENV_KEYS if k not in os.environ]
            r = await _reply(w.kc, w.kc.execute(_call("_handoff", env, unset), silent=True, store_history=False), 30)
            if r.get("status") != "ok":
                raise RuntimeError(f"{r.get('ename')}: {r.get('evalue')}")
        except Exception as exc:
            print(f"glumeta serve: the pre-started kernel is not used ({exc}); starting a fresh one", flush=True)
            await self._shutdown(w)
            return None
        return w

    async def _shutdown(self, w: _Warm) -> None:
        try:
            w.kc.stop_channels()
            await w.km.shutdown_kernel(now=True)
        except Exception:  # pragma: no cover - best effort
            pass

    # -- executing a page (replaces myst-nb's single_nb_execution in this process)
    def single_nb_execution(self, nb, cwd, timeout, allow_errors, meta_override=True, record_timing=False,
                            **kwargs):
        from jupyter_cache.executors import utils

        if os.getpid() != self.pid or kwargs:  # a forked parallel reader: the stock path, fresh kernel
            return _STOCK(nb, cwd=cwd, timeout=timeout, allow_errors=allow_errors, meta_override=meta_override,
                          record_timing=record_timing, **kwargs)
        if meta_override and "execution" in nb.metadata:
            timeout = nb.metadata.execution.get("timeout", timeout)
            allow_errors = nb.metadata.execution.get("allow_errors", allow_errors)
        t0 = time.perf_counter()
        err = exc_string = None
        try:
            self.thread.run(self._execute(nb, cwd, timeout, allow_errors, record_timing))
        except (utils.CellExecutionError, utils.CellTimeoutError) as e:
            import traceback

            err, exc_string = e, "".join(traceback.format_exc())
        return utils.ExecutionResult(nb, cwd, time.perf_counter() - t0, err, exc_string)

    async def _execute(self, nb, cwd, timeout, allow_errors, record_timing):
        from nbclient import NotebookClient

        name = (nb.metadata.get("kernelspec") or {}).get("name") or self.kernel_name
        w = await self._take(os.path.abspath(cwd), name)
        kw = dict(resources={"metadata": {"path": cwd}}, timeout=timeout, allow_errors=allow_errors,
                  record_timing=record_timing)
        if w is None:  # as jupyter-cache runs it: a fresh kernel, shut down afterwards
            self.stats["cold"] += 1
            await NotebookClient(nb=nb, **kw).async_execute()
            return
        self.stats["warm"] += 1
        self.used.append(w)
        client = NotebookClient(nb=nb, km=w.km, **kw)
        client.kc = w.kc
        await client.async_execute()
        # the page ran: its figures are drawn while Sphinx writes the page
        w.render_id = w.kc.execute("", silent=True, store_history=False,
                                   user_expressions={"paths": _call("_render_deferred")})

    # -- after the page is written
    def finish(self, timeout: float = 600) -> tuple[list[str], list[str]]:
        """Wait for the deferred renders of the pages run since the last call, shut their kernels
        down; (files written, errors)."""
        return self.thread.run(self._finish(timeout))

    async def _finish(self, timeout):
        import ast

        files, errors = [], []
        used, self.used = self.used, []
        for w in used:
            try:
                if w.render_id is not None:
                    r = await _reply(w.kc, w.render_id, timeout)
                    ue = (r.get("user_expressions") or {}).get("paths") or {}
                    if r.get("status") != "ok" or ue.get("status") != "ok":
                        errors.append(f"rendering the figures failed: {ue.get('ename', r.get('ename'))}: "
                                      f"{ue.get('evalue', r.get('evalue'))}")
                    else:
                        files += ast.literal_eval(ue["data"]["text/plain"])
            except Exception as exc:
                errors.append(f"rendering the figures failed: {exc}")
            finally:
                await self._shutdown(w)
        return files, errors

    def close(self) -> None:
        ws = [w for w in [self.warm, *self.used] if w is not None]
        if not ws:
            return
        self.warm, self.used = None, []
        for w in ws:
            try:
                self.thread.run(self._shutdown(w), timeout=10)
            except Exception:  # pragma: no cover
                pass


_STOCK = None  # myst-nb's own single_nb_execution


def _install_executor(kernels: Kernels) -> None:
    global _STOCK
    from myst_nb.core.execute import direct

    if _STOCK is None:
        _STOCK = direct.single_nb_execution
    direct.single_nb_execution = kernels.single_nb_execution


class Worker:
    """The long-lived Sphinx application of one ``glumeta serve`` session."""

    def __init__(self, root: Path, data: Path, emit, jobs: int | None = None):
        from contextlib import ExitStack

        from .build import MARKER
        from .sphinxext import package_hash
        from ..data.workbook import ENV_BUILD, ENV_DATA

        self.root, self.data, self.emit = Path(root).resolve(), Path(data).resolve(), emit
        self.jobs = jobs or min(os.cpu_count() or 1, 4)
        self.marker = self.root / "_build" / MARKER
        self.out = self.root / "_build" / "html"
        os.environ[ENV_DATA] = str(self.data)
        os.environ[ENV_BUILD] = str(self.root / "_build")
        self.package = package_hash()
        self.config = {p: _digest(self.root / p) for p in ("_config.yml", "_toc.yml")}
        self.stack = ExitStack()
        self.warnings = _Tee()
        self.app = self._make_app()
        # the page assets registered while the application was made; each build starts from them, as
        # in a new process (the theme registers a per-page script at every page, which Sphinx would
        # otherwise carry into the next build's pages)
        reg, b = self.app.registry, self.app.builder
        self.assets = (list(reg.js_files), list(reg.css_files), list(getattr(b, "_js_files", [])),
                       list(getattr(b, "_css_files", [])))
        self.only: set[str] | None = None  # phase 1: the open pages
        self.deferred: list[str] = []  # phase 1: the out-of-date pages left for phase 2
        self.written: list[str] = []
        self.t0, self.trace = time.perf_counter(), []
        self._hook()
        self.kernels = Kernels(self.root / "book")
        _install_executor(self.kernels)
        # chapters executed in this process (glumeta.book.sphinxext's in-process mode, when present):
        # their figures are deferred here and drawn by a forked child while Sphinx writes the page
        from . import sphinxext

        self.inprocess = getattr(sphinxext, "_EXECUTE", "kernel") == "in-process"
        self.renderers: list[tuple[int, list]] = []
        if self.inprocess:
            _defer_figures()
            self._render_after_pages()

    def _make_app(self):
        """The Sphinx application ``glumeta build`` makes (:func:`glumeta.book.build.run_sphinx` through
        ``jupyter_book.sphinx.build_sphinx``), kept for the whole session."""
        from jupyter_book.config import get_final_config
        from jupyter_book.pdf import update_latex_documents
        from sphinx.application import Sphinx
        from sphinx.util.docutils import docutils_namespace, patch_docutils

        toc = self.root / "_toc.yml"
        sphinx_config, meta = get_final_config(
            user_yaml=self.root / "_config.yml",
            cli_config={"external_toc_path": toc.as_posix(), "latex_individualpages": False},
            sourcedir=self.root, use_external_toc=True)
        self.stack.enter_context(patch_docutils(None))
        self.stack.enter_context(docutils_namespace())
        app = Sphinx(srcdir=self.root, confdir=None, outdir=self.out, doctreedir=self.root / "_build" / ".doctrees",
                     buildername="html", confoverrides=sphinx_config, status=sys.stdout, warning=self.warnings,
                     freshenv=False, warningiserror=True, tags=None, verbosity=0, parallel=self.jobs,
                     keep_going=True)
        app.config.latex_documents = update_latex_documents(app.config.latex_documents, meta["latex_doc_overrides"])
        if app.config["use_multitoc_numbering"]:
            import yaml

            if "external_toc_path" in app.config:
                if "numbered: true" in yaml.dump(app.config.external_site_map.as_json()):
                    app.setup_extension("sphinx_multitoc_numbering")
            else:
                app.setup_extension("sphinx_multitoc_numbering")
        return app

    def _hook(self) -> None:
        app = self.app

        def before_read(app_, env, docnames):
            if self.only is None:
                return
            first = [d for d in docnames if d in self.only]
            if first:  # phase 1: the open pages only; the rest waits for phase 2
                self.deferred = [d for d in docnames if d not in self.only]
                docnames[:] = first
            else:  # no open page is out of date: this is the whole build
                self.only = None
                self.deferred = []

        app.connect("env-before-read-docs", before_read, priority=100)  # before sphinxext counts them
        builder = app.builder
        stock = builder.handle_page

        def handle_page(pagename, *args, **kwargs):
            path = Path(builder.get_outfilename(pagename))
            try:
                before = path.read_bytes()
            except OSError:
                before = None
            res = stock(pagename, *args, **kwargs)
            try:
                changed = path.read_bytes() != before
            except OSError:
                changed = True
            if changed:
                self.written.append(pagename)
                self.mark(f"written {pagename}")
                self.emit("written", page=pagename)
            return res

        builder.handle_page = handle_page

        dump = getattr(builder, "dump_search_index", None)
        if dump is not None:  # every page loads the search index: it is ready once it is rewritten
            def dump_search_index(*args, **kwargs):
                res = dump(*args, **kwargs)
                self.mark("search index written")
                self.emit("written", page="searchindex")
                return res

            builder.dump_search_index = dump_search_index
        for event in ("env-before-read-docs", "env-updated", "write-started", "build-finished"):
            app.connect(event, lambda *a, _e=event: self.mark(_e), priority=1000)

    def mark(self, what: str) -> None:
        """A time stamp of this rebuild (in the ``done`` event: where a rebuild spends its time)."""
        self.trace.append((what, round(time.perf_counter() - self.t0, 3)))

    def _render_after_pages(self) -> None:
        """After each page executed in this process, fork a child that renders its deferred figures
        (on the other core, while this process turns the outputs into HTML)."""
        from myst_nb.core.execute.direct import NotebookClientDirect

        stock = NotebookClientDirect.start_client
        pid = os.getpid()

        def start_client(client):
            res = stock(client)
            if os.getpid() == pid and _JOBS:
                jobs = list(_JOBS)
                _JOBS.clear()
                child = os.fork()
                if child == 0:  # the renderer: draw, then leave without running any exit handler
                    code = 0
                    try:
                        for job in jobs:
                            job.render()
                    except BaseException:  # noqa: BLE001
                        import traceback

                        traceback.print_exc()
                        code = 1
                    finally:
                        sys.stderr.flush()
                        os._exit(code)
                self.renderers.append((child, jobs))
            return res

        NotebookClientDirect.start_client = start_client

    def _finish(self) -> list[str]:
        """Wait for this build's figure renders (preview kernels, forked renderers, and what is left
        in this process); the files they wrote. Raises if one failed."""
        files, errors = self.kernels.finish()
        renderers, self.renderers = self.renderers, []
        for child, jobs in renderers:
            _, status = os.waitpid(child, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                errors.append("rendering the figures failed (see the traceback above)")
            for job in jobs:
                job.done = True
                files += job.files
                for f in job.files:
                    _DEFERRED.pop(f, None)
        if self.inprocess:
            files += _render_deferred()
        if errors:
            raise _Failed("; ".join(errors))
        return files

    def _build(self, force_all: bool = False) -> None:
        reg, b = self.app.registry, self.app.builder
        reg.js_files[:], reg.css_files[:] = self.assets[0], self.assets[1]
        if hasattr(b, "_js_files"):
            b._js_files[:], b._css_files[:] = self.assets[2], self.assets[3]
        # doctrees read by a forked parallel reader reach this process as files, but the environment
        # keeps the pickled doctree it last saw in memory (a fresh process has none): without this
        # the next write would use the old doctree of a re-read page (Sphinx's own SphinxTestApp
        # clears it before each build for the same reason)
        self.app.env._pickled_doctree_cache.clear()
        self.app.env._write_doc_doctree_cache.clear()
        self.app._warncount = 0
        self.app.statuscode = 0
        self.app.build(force_all=force_all)
        if self.app.statuscode:
            raise _Failed("warnings are errors")

    def check(self) -> tuple[list[str], bool]:
        """(data problems, any error?), as ``glumeta build`` checks before building."""
        from ..data.validate import validate
        from ..data.workbook import Workbook

        probs = validate(Workbook(self.data))
        for p in probs:
            print(p, file=sys.stderr, flush=True)
        return [str(p) for p in probs if p.severity == "error"], any(p.severity == "error" for p in probs)

    def cycle(self, open_docs=()) -> dict:
        """One rebuild: check the data, build the open pages first, then the rest."""
        from .sphinxext import package_hash

        t0 = self.t0 = time.perf_counter()
        self.trace = []
        if package_hash() != self.package:
            return {"ok": False, "restart": True, "errors": [], "why": "glumeta's code changed"}
        if any(_digest(self.root / p) != h for p, h in self.config.items()):
            return {"ok": False, "restart": True, "errors": [], "why": "_config.yml or _toc.yml changed"}
        errors, bad = self.check()
        self.mark("data checked")
        if bad:
            print(f"glumeta build: stopped: {len(errors)} data error(s); no chapter was run", file=sys.stderr,
                  flush=True)
            return {"ok": False, "restart": False, "errors": errors}
        self.emit("started")
        interrupted = self.marker.exists()
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self.marker.touch()
        self.warnings.lines = []
        self.written = []
        try:
            self.only = set(open_docs) if open_docs and not interrupted else None
            self.deferred = []
            self._build(force_all=interrupted)
            phase1 = self.only is not None
            self.only = None
            self._publish(self._finish())
            self.mark("figures rendered and copied")
            if phase1:
                self.emit("phase1", deferred=self.deferred, seconds=round(time.perf_counter() - t0, 3))
                if self.deferred:
                    self._build()
                    self._publish(self._finish())
        except Exception as exc:  # the application is discarded: the next edit starts a new worker
            self.only = None
            for child, _ in self.renderers:
                os.waitpid(child, 0)
            self.renderers = []
            self._discard_env()
            lines = [ln for ln in self.warnings.lines if "WARNING" in ln or "ERROR" in ln or "glumeta:" in ln]
            msg = str(exc)
            import re

            page = re.search(r"glumeta: (page .+)", msg)
            lines.append(f"glumeta build: failed: {page.group(1) if page else msg}")
            print(lines[-1], file=sys.stderr, flush=True)
            return {"ok": False, "restart": True, "errors": lines}
        self.marker.unlink()
        print(f"glumeta serve: rebuilt in {time.perf_counter() - t0:.2f} s "
              f"({', '.join(self.written) or 'no page changed'})", flush=True)
        return {"ok": True, "restart": False, "errors": [], "written": self.written,
                "seconds": round(time.perf_counter() - t0, 3), "trace": self.trace}

    def _publish(self, files) -> None:
        """Copy the figures the preview kernels rendered after Sphinx's own copy (build-finished)."""
        import shutil

        figs = self.root / "_build" / "figures"
        for f in files:
            p = Path(f)
            try:
                rel = p.relative_to(figs)
            except ValueError:
                continue
            dst = self.out / "figures" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.preview.tmp")
            shutil.copyfile(p, tmp)
            os.replace(tmp, dst)

    def _discard_env(self) -> None:
        from sphinx.application import ENV_PICKLE_FILENAME

        try:
            (Path(self.app.doctreedir) / ENV_PICKLE_FILENAME).unlink()
        except (OSError, AttributeError):
            pass

    def close(self) -> None:
        self.kernels.close()
        self.stack.close()


class _Failed(Exception):
    pass


def _digest(p: Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(p.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m glumeta.book.preview", description=__doc__.split("\n")[0])
    ap.add_argument("--book-dir", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--events-fd", type=int, required=True)
    ap.add_argument("--jobs", type=int, default=None)
    a = ap.parse_args(argv)
    emit = _events(a.events_fd)
    w = Worker(Path(a.book_dir), Path(a.data_dir), emit, jobs=a.jobs)
    emit("hello", root_doc=w.app.config.root_doc)
    try:
        first, warmed = True, False
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd.get("cmd") == "stop":
                break
            if cmd.get("cmd") == "build":
                if first and not w.inprocess:
                    w.kernels.prestart()  # warms up while the first build runs
                first = False
                res = w.cycle(cmd.get("open") or ())
                emit("done", **res)
                if res.get("restart"):
                    break
                if not w.inprocess:
                    w.kernels.prestart()  # for the next edit
                elif not warmed:
                    _warm_drawing()  # the pages run here: the first one should not pay for matplotlib's caches
                    warmed = True
    except KeyboardInterrupt:
        pass
    finally:
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
