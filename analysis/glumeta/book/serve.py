"""``glumeta serve``: live preview of the book while data and chapters are edited.

The server is Starlette/uvicorn with watchfiles, as in sphinx-autobuild, whose script injection
it follows; the building is done by a warm worker process (:mod:`glumeta.book.preview`): one Sphinx
application for the whole session, a pre-started kernel with the imports done, the open page
built and written first and its download formats rendered after it. An appended row shows in
the open page in about two seconds (``benchmarks/README.md``) instead of a full ``glumeta build``.

What the browser sees is never stale:

* every page carries a small script that tells the server which page it shows and reloads it
  when told; a page is reloaded when its HTML file changed on disk, the moment it is written;
* while a rebuild runs, a request for anything that may still change (a page not yet rebuilt,
  its figures, the data downloads) waits until it is written; only the theme's static files, and
  pages already rebuilt, are served at once (and the search index that every page loads but only
  the search page reads: to the search page, once the whole rebuild is done); every response says
  ``Cache-Control: no-cache`` so that a reload never shows a cached old figure;
* when the data have an error (``FILE:LINE: column 'x': value 'v': problem``, as ``glumeta check``
  prints it) or a page fails (page, cell and cause), every page shows that error instead of the
  book until the next save fixes it. The book is never shown with data that are not the data on
  disk.

A change to ``_config.yml``/``_toc.yml`` or to glumeta's own code starts a new worker (the next
build re-reads what changed, as ``glumeta build`` would). ``data/`` is never written.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["serve", "app"]

RELOAD_SCRIPT = (
    "<script>(function(){var ws=new WebSocket((location.protocol==='https:'?'wss://':'ws://')+location.host+"
    "'/websocket-reload');ws.onopen=function(){ws.send(location.pathname)};"
    "ws.onmessage=function(){window.location.reload()};})();</script>"
).encode()


def _rel(p, root: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(p)


class Preview:
    """The session: the worker process, which pages are open, and what may be served."""

    def __init__(self, root: Path, data: Path, jobs: int | None = None):
        self.root, self.data, self.jobs = Path(root).resolve(), Path(data).resolve(), jobs
        self.out = self.root / "_build" / "html"
        self.sockets: dict = {}  # WebSocket -> docname it shows
        self.root_doc = "index"
        # what may be served: "building" (see _ready), "idle", "error"
        self.state = "building"
        self.errors: list[str] = []
        self.written: set[str] = set()  # pages rewritten in this cycle
        self.deferred: set[str] | None = None  # after phase 1: pages still to be rebuilt
        self.static_ok = False
        self.cond: asyncio.Condition | None = None
        self.changes: set[Path] = set()
        self.changed: asyncio.Event | None = None
        self.proc = None
        self.events: asyncio.Queue | None = None
        self.cycles: list[dict] = []  # timings, for the log and the benchmark
        self.need_restart = False

    # ------------------------------------------------------------------ the worker
    async def _start_worker(self) -> None:
        loop = asyncio.get_running_loop()
        r, w = os.pipe()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "glumeta.book.preview", "--book-dir", str(self.root), "--data-dir", str(self.data),
            "--events-fd", str(w), *(["--jobs", str(self.jobs)] if self.jobs else []),
            stdin=asyncio.subprocess.PIPE, pass_fds=(w,))
        os.close(w)
        reader = asyncio.StreamReader(limit=1 << 24)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(r, "rb"))
        self.events = asyncio.Queue()
        self.reader_task = asyncio.create_task(self._read_events(reader, self.events))
        ev = await self.events.get()
        if ev.get("ev") == "hello":
            self.root_doc = ev["root_doc"]
        self.need_restart = False

    async def _read_events(self, reader, q) -> None:
        while True:
            line = await reader.readline()
            if not line:
                await q.put({"ev": "eof"})
                return
            await q.put(json.loads(line))

    async def _stop_worker(self) -> None:
        p, self.proc = self.proc, None
        if p is None or p.returncode is not None:
            return
        try:
            p.stdin.write(b'{"cmd": "stop"}\n')
            await p.stdin.drain()
            await asyncio.wait_for(p.wait(), 30)
        except (Exception, asyncio.TimeoutError):
            p.kill()
            await p.wait()

    # ------------------------------------------------------------------ a rebuild
    async def _set(self, **kw) -> None:
        async with self.cond:
            for k, v in kw.items():
                setattr(self, k, v)
            self.cond.notify_all()

    async def cycle(self, changed=()) -> None:
        """One rebuild in the worker; pages are reloaded as they are written."""
        t0 = time.perf_counter()
        shown = ", ".join(sorted({_rel(p, self.root) for p in changed})[:5])
        if shown:
            print(f"glumeta serve: changed: {shown}", flush=True)
        config = any(Path(p).name in ("_config.yml", "_toc.yml") and Path(p).parent == self.root for p in changed)
        if config or self.need_restart or self.proc is None or self.proc.returncode is not None:
            await self._stop_worker()
            await self._start_worker()
        data_only = all(self._is_data_or_page(p) for p in changed)
        await self._set(state="building", written=set(), deferred=None, static_ok=bool(changed) and data_only)
        opened = sorted({d for d in self.sockets.values() if d})
        self.proc.stdin.write((json.dumps({"cmd": "build", "open": opened}) + "\n").encode())
        await self.proc.stdin.drain()
        timing = {"open": opened, "changed": [_rel(p, self.root) for p in changed]}
        had_error = bool(self.errors)
        refreshed: set[str] = set()
        while True:
            ev = await self.events.get()
            kind = ev.get("ev")
            if kind == "written":
                t = timing.setdefault("written", {})[ev["page"]] = round(time.perf_counter() - t0, 3)
                async with self.cond:
                    self.written.add(ev["page"])
                    self.cond.notify_all()
                refreshed.add(ev["page"])
                await self._refresh(lambda d, page=ev["page"]: d == page)
                if ev["page"] != "searchindex":
                    print(f"glumeta serve: {ev['page']}.html rewritten {t:.2f} s after the change was seen", flush=True)
            elif kind == "phase1":
                timing["phase1"] = round(time.perf_counter() - t0, 3)
                await self._set(deferred=set(ev["deferred"]))
            elif kind in ("done", "eof"):
                break
        timing["done"] = round(time.perf_counter() - t0, 3)
        timing["worker"] = ev.get("trace")
        self.cycles.append(timing)
        if kind == "eof":
            ev = {"ok": False, "restart": True, "errors": ["glumeta serve: the build process stopped unexpectedly"]}
        if ev.get("restart") and not ev.get("errors"):  # code or configuration changed: a new worker builds
            print(f"glumeta serve: {ev.get('why', 'restarting')}; starting a new build process", flush=True)
            self.need_restart = True
            await self.cycle(changed)
            return
        if ev.get("restart"):
            self.need_restart = True
        if ev.get("ok"):
            await self._set(state="idle", errors=[])
            if had_error:  # the pages that showed the error and were not rewritten
                await self._refresh(lambda d: d not in refreshed)
            print(f"glumeta serve: rebuilt in {timing['done']:.2f} s; open pages reloaded", flush=True)
        else:
            await self._set(state="error", errors=list(ev.get("errors") or []))
            await self._refresh(lambda d: True)
            print("glumeta serve: the build stopped (see above); every page shows the error until it is fixed",
                  flush=True)

    def _is_data_or_page(self, p) -> bool:
        p = Path(p).resolve()
        return p.parent == self.data or (p.suffix == ".md" and self.root in p.parents)

    async def _refresh(self, which) -> None:
        for ws, doc in list(self.sockets.items()):
            if which(doc):
                try:
                    await ws.send_text("refresh")
                except Exception:
                    self.sockets.pop(ws, None)

    async def driver(self) -> None:
        """Rebuild after each batch of changes; changes made during a rebuild start another."""
        while True:
            await self.changed.wait()
            self.changed.clear()
            changed, self.changes = sorted(self.changes), set()
            try:
                await self.cycle(changed)
            except Exception as exc:  # never leave the server without a state
                await self._set(state="error", errors=[f"glumeta serve: {type(exc).__name__}: {exc}"])
                self.need_restart = True

    async def watch(self, paths, ignore) -> None:
        import watchfiles

        async for changes in watchfiles.awatch(*paths, watch_filter=lambda _, path: not ignore(path), step=20):
            self.changes.update(Path(p).resolve() for _, p in changes)
            self.changed.set()

    # ------------------------------------------------------------------ serving
    def docname(self, path: str) -> str | None:
        if path in ("/", "/index.html"):
            return self.root_doc
        if path.endswith(".html"):
            return path.lstrip("/")[: -len(".html")]
        return None

    def _ready(self, path: str) -> bool:
        """May *path* be served while a rebuild runs?"""
        if path.startswith("/_static/"):
            return self.static_ok
        if path == "/searchindex.js":  # see gate()
            return False
        doc = self.docname(path)
        if doc is not None and doc in self.written:
            return True
        if self.deferred is None:  # before the open pages are done (or a whole-book build): wait
            return False
        if doc is not None:
            return doc not in self.deferred
        if path.startswith("/figures/"):
            slug = path.split("/")[2] if path.count("/") >= 3 else ""
            return not any(d.rsplit("/", 1)[-1] == slug for d in self.deferred)
        # the rest (the search index every page loads, data downloads, images of pages already done):
        # written by phase 1; the search index is refreshed again when phase 2 ends
        return True

    async def gate(self, path: str, referer: str = "") -> str:
        """"ok" once *path* may be served; "error" when the last build failed.

        The search index is loaded by every page, but only the search page reads it (the book
        sets ``search_as_you_type`` off): a content page gets it at once, the search page once the
        whole rebuild is done."""
        if path == "/searchindex.js" and not referer.split("?")[0].endswith("/search.html"):
            return "ok" if self.state != "error" else "error"
        async with self.cond:
            while True:
                if self.state == "error":
                    return "ok" if path.startswith("/_static/") else "error"
                if self.state == "idle" or self._ready(path):
                    return "ok"
                await self.cond.wait()

    def error_page(self) -> bytes:
        items = "".join(f"<li><code>{html.escape(e)}</code></li>" for e in self.errors) or \
            "<li>the build failed; see the terminal running <code>glumeta serve</code></li>"
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>The book was not rebuilt</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.5}"
            "li{margin:.4em 0}code{white-space:pre-wrap;word-break:break-word}h1{color:#a00}</style></head><body>"
            "<h1 id='glumeta-build-error'>The book was not rebuilt</h1>"
            "<p>The last change stopped the build, so no page is shown: it would show results that are not "
            "those of the files on disk.</p>"
            f"<ul>{items}</ul>"
            "<p>Fix the file and save it: this page reloads by itself.</p></body></html>").encode()


class _Middleware:
    """Holds back requests for files that a running rebuild may still change, serves the error page
    while the last build failed, injects the reload script into every HTML page, and marks every
    response ``no-cache`` (revalidated on reload)."""

    def __init__(self, inner, pv: Preview):
        self.inner, self.pv = inner, pv

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        from starlette.datastructures import MutableHeaders

        path = scope.get("path", "/")
        if path == "/_glumeta/status":  # for tests and benchmarks: the state and the rebuilds' timings
            body = json.dumps({"state": self.pv.state, "errors": self.pv.errors, "cycles": self.pv.cycles}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": body})
            return
        referer = dict(scope.get("headers") or []).get(b"referer", b"").decode("latin-1")
        if await self.pv.gate(path, referer) == "error":
            is_html = path.endswith("/") or path.endswith(".html")
            body = self.pv.error_page() + RELOAD_SCRIPT if is_html else b"the book was not rebuilt: see the terminal\n"
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"text/html; charset=utf-8" if is_html else b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": body})
            return
        inject = False

        async def send_wrapper(message):
            nonlocal inject
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Cache-Control"] = "no-cache"
                if headers.get("content-type", "").startswith("text/html"):
                    inject = True
                    if "content-length" in headers:
                        headers["content-length"] = str(int(headers["content-length"]) + len(RELOAD_SCRIPT))
            elif message["type"] == "http.response.body" and inject and not message.get("more_body", False):
                message["body"] = message.get("body", b"") + RELOAD_SCRIPT
            await send(message)

        await self.inner(scope, receive, send_wrapper)


def app(root: Path, data: Path, jobs: int | None = None):
    """The Starlette app: the HTML folder behind the gate, the reload websocket, the watcher and the worker."""
    from contextlib import asynccontextmanager

    from sphinx_autobuild.filter import IgnoreFilter
    from starlette.applications import Starlette
    from starlette.routing import Mount, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocketDisconnect

    pv = Preview(root, data, jobs)
    root, data = pv.root, pv.data
    watch = [root / "book", data, root / "_config.yml", root / "_toc.yml"]
    ignore = IgnoreFilter([str(root / "_build")], [r"(^|/)\.", r"~$", r"\.sw[px]$", r"__pycache__",
                                                   r"\.ipynb_checkpoints"])
    pv.out.mkdir(parents=True, exist_ok=True)

    async def websocket(ws):
        await ws.accept()
        pv.sockets[ws] = None
        try:
            async for msg in ws.iter_text():
                pv.sockets[ws] = pv.docname(msg)
        except WebSocketDisconnect:
            pass
        finally:
            pv.sockets.pop(ws, None)

    @asynccontextmanager
    async def lifespan(_app):
        pv.cond, pv.changed = asyncio.Condition(), asyncio.Event()
        await pv._start_worker()
        await pv.cycle()  # the first build, before the server answers
        if pv.state == "error":
            print("glumeta serve: the first build failed; every page shows why until it is fixed", flush=True)
        tasks = [asyncio.create_task(pv.driver()),
                 asyncio.create_task(pv.watch([p for p in watch if p.exists()], ignore))]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            await pv._stop_worker()

    static = StaticFiles(directory=pv.out, html=True)
    a = Starlette(routes=[WebSocketRoute("/websocket-reload", websocket), Mount("/", app=static)], lifespan=lifespan)
    a.state.preview = pv
    return _Middleware(a, pv)


def serve(root: Path, data: Path, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Build once, then serve ``_build/html`` on http://HOST:PORT and rebuild on every change."""
    import uvicorn

    print(f"glumeta serve: building {root} (data: {data}); then serving http://{host}:{port}/ "
          f"(watching book/, the data folder, _config.yml, _toc.yml; Ctrl-C stops)", flush=True)
    uvicorn.run(app(root, data), host=host, port=port, log_level="warning", ws="websockets", lifespan="on")
    return 0
