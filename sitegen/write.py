"""The write step: a fresh dist/ from the rendered pages and the gathered files.

    <page paths>           the HTML pages from sitegen.render
    views/                 the precomputed first views (JSON), also from sitegen.render
    assets/                site_src/static (style, favicon), app.js, worker.js
    pyodide/               the vi_core wheel; with the vendored runtime also the Pyodide files
                           and the site's pyodide-lock.json
    .nojekyll              GitHub Pages serves the files as they are
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sitegen import SITE_SRC
from sitegen.runtime import Runtime, lock_text


def write_site(out_dir: Path, pages: dict[str, str], *, app_js: str, worker_js: str,
               wheel: Path, runtime: Runtime, runtime_mode: str,
               static_dir: Path = SITE_SRC / "static") -> list[Path]:
    """Replace ``out_dir`` (so nothing stale is deployed) and return the files written, sorted."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "assets").mkdir(parents=True)
    (out_dir / "pyodide").mkdir()
    for name, html in pages.items():
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / name).write_text(html)
    for static in sorted(static_dir.rglob("*")):
        if static.is_file():
            shutil.copyfile(static, out_dir / "assets" / static.relative_to(static_dir))
    (out_dir / "assets" / "app.js").write_text(app_js)
    (out_dir / "assets" / "worker.js").write_text(worker_js)
    shutil.copyfile(wheel, out_dir / "pyodide" / wheel.name)
    if runtime_mode == "vendored":
        for name, path in sorted(runtime.files.items()):
            shutil.copyfile(path, out_dir / "pyodide" / name)
        (out_dir / "pyodide" / "pyodide-lock.json").write_text(lock_text(runtime))
    # GitHub Pages: serve files as they are (no Jekyll processing of the output).
    (out_dir / ".nojekyll").write_text("")
    return sorted(p for p in out_dir.rglob("*") if p.is_file())
