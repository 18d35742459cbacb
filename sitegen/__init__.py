"""The site generator behind build.py: first gather all data, then render, then write.

    config    site.toml, read and checked                  -> config  (plain data)
    data      catalog, first views, Reset q's, target       -> data    (plain data)
              grids, all through one vi_core.protocol.Session
    runtime   the verified Pyodide files the site ships     -+
    wheel     vi_core as a py-compiled wheel for the browser |
    licences  notices of everything redistributed            +-> assets (plain data)
    bundle    esbuild bundles, style, favicon, templates;    |
              gzip+base64 copies for standalone.html        -+
    render    (config, data, assets) -> {path: html}: pure, no disk, no computing
    write     a fresh dist/ from the pages and the gathered files

build.py at the root is the command line and the recipe that calls these in that order.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE_SRC = ROOT / "site_src"
NPM = ROOT / "node_modules"


class BuildError(RuntimeError):
    """The build cannot go on; the message says why."""
