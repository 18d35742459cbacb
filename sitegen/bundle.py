"""The page's front end, gathered for rendering: esbuild bundles of site_src/js, the style,
the favicon, the templates, and for standalone.html every file the worker needs, inline.

    site_src/js/main.js   -> app.js     (the page, with its modules and npm libraries)
    site_src/js/worker.js -> worker.js  (the Web Worker that runs Pyodide)
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import subprocess
from pathlib import Path

from sitegen import NPM, SITE_SRC
from sitegen.cache import Memo
from sitegen.runtime import CORE_FILES, Runtime, lock_text, prefetch_list


def bundle_js(entry: str, out_file: Path, js_dir: Path = SITE_SRC / "js") -> str:
    """Bundle one entry of site_src/js (and the modules and npm libraries it imports) into one
    classic script, written to ``out_file`` and returned: browsers refuse module scripts from
    file://, and a page opened from disk must still paint its first view and say what to do;
    the worker uses importScripts, which only classic workers have."""
    esbuild = NPM / ".bin" / "esbuild"
    subprocess.run(
        [str(esbuild), str(js_dir / entry), "--bundle", "--format=iife",
         "--target=es2020", "--minify", "--legal-comments=none", "--log-level=warning",
         f"--outfile={out_file}"],
        check=True,
    )
    return out_file.read_text()


def gather_front_end(cache_dir: Path, site_src: Path = SITE_SRC) -> dict:
    """``{app_js, worker_js, css, favicon_svg, templates: {name: source}}``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    templates = site_src / "templates"
    return {
        "app_js": bundle_js("main.js", cache_dir / "app.js", site_src / "js"),
        "worker_js": bundle_js("worker.js", cache_dir / "worker.js", site_src / "js"),
        "css": (site_src / "static" / "style.css").read_text(),
        "favicon_svg": (site_src / "static" / "favicon.svg").read_text().strip(),
        "templates": {path.name: path.read_text(encoding="utf-8")
                      for path in sorted(templates.glob("*.j2"))},
    }


def inline_asset(name: str, data: bytes, start: bool = True, memo: Memo | None = None) -> dict:
    """``{name, data, start}``: the file gzip-compressed, then base64 for a <script> element;
    ``start``: the worker needs it to start (else it is decoded only when asked for). The
    encoding is kept in ``memo`` by the bytes' sha256 (the runtime's 30 MB take seconds)."""
    def encode() -> str:
        # gzip shrinks the wasm and the (barely compressed) wheels; mtime=0 keeps builds identical.
        return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode()

    text = (memo or Memo(None)).text("inline", [hashlib.sha256(data).hexdigest()], encode)
    return {"name": name, "data": text, "start": start}


def inline_assets(worker_js: str, runtime: Runtime, wheel: Path, memo: Memo | None = None
                  ) -> list[dict]:
    """Every file standalone.html's worker fetches, in a fixed order: the worker, the runtime
    files by name, the vi_core wheel, the site's lock. Package files that Python does not load
    at start (scipy, openblas: see runtime.START_PACKAGES) are marked ``start: False``: the
    page decodes them only when a custom target imports them."""
    at_start = set(prefetch_list(runtime, wheel_package(runtime, wheel)))
    assets = [inline_asset("worker.js", worker_js.encode(), memo=memo)]
    for name, path in sorted(runtime.files.items()):
        assets.append(inline_asset(name, path.read_bytes(),
                                   start=name in at_start or name in CORE_FILES, memo=memo))
    assets.append(inline_asset(wheel.name, wheel.read_bytes(), memo=memo))
    assets.append(inline_asset("pyodide-lock.json", lock_text(runtime).encode(), memo=memo))
    return assets


def wheel_package(runtime: Runtime, wheel: Path) -> str:
    """The lock's name for our wheel."""
    return next(name for name, entry in runtime.lock["packages"].items()
                if entry["file_name"] == wheel.name)
