"""``glumeta serve``: live preview of the book while data and chapters are edited.

Built from sphinx-autobuild's parts rather than a home-made server: its
``RebuildServer`` watches the folders (watchfiles) and tells the browser to reload
over a websocket, its middleware injects the reload script into every page, and
Starlette/uvicorn serve the HTML folder. Only the build step is ours: each change
runs ``glumeta build`` (validate the data, then rebuild only the pages whose
sources or data changed, saying which and why). A data error is printed with
``FILE:LINE`` and stops that build before any page is touched, so the last good
book stays served.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["serve"]


class Rebuild:
    """The change callback: one ``glumeta build`` per batch of changes (run in a worker process
    by sphinx-autobuild, so it must be picklable: plain paths only)."""

    def __init__(self, root: Path, data: Path):
        self.root, self.data = Path(root), Path(data)

    def __call__(self, *, changed_paths=()) -> int:
        if changed_paths:
            shown = ", ".join(sorted({_rel(p, self.root) for p in changed_paths})[:5])
            print(f"glumeta serve: changed: {shown}", flush=True)
        r = subprocess.run([sys.executable, "-m", "glumeta.cli", "build", "--book-dir", str(self.root),
                            "--data-dir", str(self.data)])
        if r.returncode:
            print("glumeta serve: the build stopped (see above); still serving the last good book", flush=True)
        else:
            print("glumeta serve: rebuilt; the browser reloads", flush=True)
        return r.returncode


def _rel(p, root: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(p)


def app(root: Path, data: Path, url_host: str):
    """The Starlette app: the HTML folder, the reload websocket and the watcher (sphinx-autobuild)."""
    from sphinx_autobuild.__main__ import _create_app  # the app sphinx-autobuild itself serves
    from sphinx_autobuild.filter import IgnoreFilter

    root, data = Path(root).resolve(), Path(data).resolve()
    watch = [root / "book", data, root / "_config.yml", root / "_toc.yml"]
    ignore = IgnoreFilter([str(root / "_build")], [r"(^|/)\.", r"~$", r"\.sw[px]$", r"__pycache__"])
    out = root / "_build" / "html"
    out.mkdir(parents=True, exist_ok=True)
    return _create_app([p for p in watch if p.exists()], ignore, Rebuild(root, data), out, url_host)


def serve(root: Path, data: Path, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Build once, then serve ``_build/html`` on http://HOST:PORT and rebuild on every change."""
    import uvicorn

    first = Rebuild(root, data)()
    if first:
        print("glumeta serve: the first build failed; serving what _build/html holds", flush=True)
    url = f"{host}:{port}"
    print(f"glumeta serve: http://{url}/ (watching book/, {data}, _config.yml, _toc.yml; Ctrl-C stops)", flush=True)
    uvicorn.run(app(root, data, url), host=host, port=port, log_level="warning")
    return 0
