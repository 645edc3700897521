"""Execute a chapter in the build's own process, as a fresh IPython kernel would, without one.

A kernel per page costs its start-up and a second import of pandas, matplotlib, scipy and glumeta
(about 3 of the 5–6 s an analysis chapter takes); the build process has them imported already
(the in-process pages use them), and each parallel reader is a fork of it. So a chapter's code
cells are run here by an IPython :class:`~IPython.core.interactiveshell.InteractiveShell` whose
display hook, display publisher, streams and traceback printer record **the outputs a kernel
would send** (ipykernel's ``ZMQShellDisplayHook``, ``ZMQDisplayPublisher``, ``OutStream`` and
``_showtraceback`` do the same with messages): ``execute_result`` and ``display_data`` with the
same format data (the same IPython display formatter; images base64-encoded as jupyter_client
does), ``stream`` text, ``error`` with the traceback, execution counts from 1. Figures left open
at the end of a cell are displayed as the inline backend does (matplotlib_inline's
``flush_figures``). ``tests/test_inprocess.py`` executes every chapter both ways and compares
the outputs.

Isolation: every notebook gets a new, empty user namespace and starts in its own folder (the
working directory is restored afterwards); modules stay imported (glumeta's caches are keyed by
the content of the files, so nothing stale carries over). A cell that runs longer than the
timeout is interrupted (``SIGALRM``, main thread only) and reported as a timeout.

Used by :mod:`glumeta.book.sphinxext` for pages executed with ``execute_notebooks: force``; set
``glumeta_execute: kernel`` in the Sphinx config (``_config.yml``, ``sphinx: config:``) to use
kernels instead.

Layer: book.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import signal
import sys
import threading
import time

__all__ = ["CellTimeout", "execute_notebook"]


class CellTimeout(TimeoutError):
    """A cell ran longer than the page's timeout."""


_SHELL = None


def _b64(data: dict) -> dict:
    """Binary format data as a kernel sends it: base64 text (jupyter_client's ``json_default``)."""
    return {k: (base64.b64encode(v).decode("ascii") if isinstance(v, (bytes, bytearray)) else v)
            for k, v in data.items()}


def _shell():
    """One InteractiveShell per process, its output machinery redirected into :data:`_Recorder`."""
    global _SHELL
    if _SHELL is not None:
        return _SHELL
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class Hook(DisplayHook):
        def start_displayhook(self):
            pass

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            _REC.add({"output_type": "execute_result", "execution_count": _REC.count,
                      "data": _b64(format_dict), "metadata": md_dict or {}})

        def finish_displayhook(self):
            pass

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
            _REC.add({"output_type": "display_data", "data": _b64(data), "metadata": metadata or {}})

        def clear_output(self, wait=False):
            _REC.clear(wait)

    # pandas decides that it renders for a notebook front end (and not a terminal of some width)
    # when the shell's class name holds "zmq" (pandas.io.formats.console.in_ipython_frontend):
    # this shell stands in for ipykernel's ZMQInteractiveShell, so its name says so
    class ZMQStandInShell(InteractiveShell):
        displayhook_class = Hook
        display_pub_class = Publisher

        def _showtraceback(self, etype, evalue, stb):
            _REC.add({"output_type": "error", "ename": etype.__name__ if isinstance(etype, type) else str(etype),
                      "evalue": str(evalue), "traceback": list(stb)})

    # the singleton: IPython.display.display() publishes through InteractiveShell.instance()
    # no input history: nothing written to ~/.ipython, no history thread (a kernel's history is
    # not part of a notebook's outputs)
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.HistoryManager.hist_file = ":memory:"
    _SHELL = ZMQStandInShell.instance(config=cfg, colors="linux")
    # a figure a cell leaves open is displayed as the inline backend of a kernel displays it:
    # a PNG, bbox_inches="tight" (matplotlib_inline's InlineBackend defaults)
    from IPython.core.pylabtools import select_figure_formats

    select_figure_formats(_SHELL, {"png"}, bbox_inches="tight")
    return _SHELL


class _Recorder:
    """The outputs of the cell being run, in the order a kernel would send them."""

    def __init__(self):
        self.outputs: list | None = None
        self.count: int | None = None  # the execution count of the cell being run
        self._clear_pending = False

    def add(self, out: dict) -> None:
        if self.outputs is None:
            return
        if self._clear_pending:
            self.outputs.clear()
            self._clear_pending = False
        self.outputs.append(out)

    def stream(self, name: str, text: str) -> None:
        if self.outputs is None or not text:
            return
        if self._clear_pending:
            self.outputs.clear()
            self._clear_pending = False
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text  # as nbclient appends to the previous stream output of the same name
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def clear(self, wait: bool) -> None:
        if self.outputs is None:
            return
        if wait:
            self._clear_pending = True
        else:
            self.outputs.clear()


_REC = _Recorder()


class _Stream(io.TextIOBase):
    def __init__(self, name: str):
        self.name = name

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        _REC.stream(self.name, s)
        return len(s)

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _alarm(seconds):
    """Raise :class:`CellTimeout` in the cell after *seconds* (main thread only; else no limit)."""
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(signum, frame):
        raise CellTimeout(f"cell still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _flush_figures(shell):
    """Display and close the figures a cell left open, as matplotlib_inline's ``flush_figures``."""
    if "matplotlib.pyplot" not in sys.modules:
        return
    import matplotlib.pyplot as plt
    from IPython.display import display

    for num in plt.get_fignums():
        fig = plt.figure(num)
        display(fig)
    plt.close("all")


def _language_info() -> dict:
    """The ``language_info`` ipykernel reports (``IPythonKernel.language_info``), as nbclient stores it."""
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


def execute_notebook(nb, cwd: str | None, timeout: float | None = None, allow_errors: bool = False) -> dict:
    """Run the code cells of *nb* (an nbformat notebook, changed in place) in this process.

    Returns ``{"time": seconds, "error": exception or None}``; with ``allow_errors`` False the
    first failing cell stops the run, and its exception is an
    :class:`nbclient.exceptions.CellExecutionError` (or :class:`CellTimeout`), as nbclient raises.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError

    meta = nb.metadata.get("execution") or {}
    timeout = meta.get("timeout", timeout)
    allow_errors = meta.get("allow_errors", allow_errors)
    from ..data import workbook

    shell = _shell()
    shell.reset(new_session=True)  # a fresh namespace, execution count 1
    # what nbclient records from the kernel's kernel_info reply (the page's code lexer comes from it)
    nb.metadata["language_info"] = _language_info()
    # a kernel starts with no workbook installed: the chapter makes its own from the environment
    # (its declared tables, built into the book), not the one of the process that forked this reader
    installed, workbook._INSTALLED[:] = workbook._INSTALLED[:], []
    shell.execution_count = 1
    if "matplotlib.pyplot" in sys.modules:  # a fresh kernel has no figure open
        sys.modules["matplotlib.pyplot"].close("all")
    here = os.getcwd()
    start = time.perf_counter()
    error = None
    saved = sys.stdout, sys.stderr
    try:
        if cwd:
            os.chdir(cwd)
        sys.stdout, sys.stderr = _Stream("stdout"), _Stream("stderr")
        for cell in nb.cells:
            if cell.get("cell_type") != "code":
                continue
            tags = cell.get("metadata", {}).get("tags", [])
            if not cell.source.strip() or "skip-execution" in tags:
                continue
            cell.outputs = []
            cell.execution_count = _REC.count = shell.execution_count
            _REC.outputs = cell.outputs
            _REC._clear_pending = False
            try:
                with _alarm(timeout):
                    res = shell.run_cell(cell.source, store_history=True, silent=False)
                    _flush_figures(shell)
            except CellTimeout as exc:
                error = exc
                break
            finally:
                _REC.outputs = None
                cell.outputs = [nbformat.from_dict(o) for o in cell.outputs]
            failed = res.error_before_exec or res.error_in_exec
            if failed is not None and not allow_errors and "raises-exception" not in tags:
                if isinstance(failed, CellTimeout):
                    error = failed
                    break
                err = next((o for o in cell.outputs if o["output_type"] == "error"), None)
                ename = err["ename"] if err else type(failed).__name__
                evalue = err["evalue"] if err else str(failed)
                tb = "\n".join(err["traceback"]) if err else ""
                error = CellExecutionError(tb, ename, evalue)
                break
    finally:
        sys.stdout, sys.stderr = saved
        os.chdir(here)
        workbook._INSTALLED[:] = installed
        with contextlib.suppress(Exception):
            import matplotlib.pyplot as plt

            plt.close("all")
    return {"time": time.perf_counter() - start, "error": error}
