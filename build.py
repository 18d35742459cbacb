"""Build the static site: site_src/ + vi_core + vendored Pyodide -> dist/.

    python build.py [--out dist] [--config site.toml] [--cache-dir DIR] [--pyodide-dir DIR]
                    [--offline] [--runtime vendored|cdn]

First gather everything (the checked site.toml, the first view of every page computed on
CPython, verified runtime files, the vi_core wheel, the bundles, the licences), then render the
Jinja templates to strings, then write dist/ (the steps live in sitegen/):

    index.html          the interactive page (?target=&family=&optimizer=&embed=1 ...)
    scenes/<slug>.html  one embeddable page per scene of site.toml; scenes/index.html lists them
    lessons/<n>-<slug>.html  the guided path: one page per [[lessons]] step, with Back/Next;
                        lessons/index.html lists them
    standalone.html     the whole site in one file: opens by double-click, with no network
    licenses.html       notices of everything the site redistributes
    assets/, pyodide/   the page's script and style; the Python runtime and packages

Every URL in the output is relative, so the site works at any path (GitHub Pages serves a
project at https://user.github.io/repo/). Two builds of the same inputs are byte-identical.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import jinja2

import vi_core
from sitegen import ROOT, BuildError
from sitegen.bundle import gather_front_end, inline_assets
from sitegen.cache import Memo, build_session
from sitegen.claims import check_all
from sitegen.config import load_config
from sitegen.data import gather_data
from sitegen.licences import license_notices
from sitegen.render import render
from sitegen.runtime import PYODIDE_VERSION, gather_runtime, runtime_config
from sitegen.wheel import build_wheel, lock_entry
from sitegen.write import write_site

__all__ = ["build", "load_config", "main"]


def build(out_dir: Path, config_path: Path, cache_dir: Path, local_dir: Path | None,
          offline: bool, runtime_mode: str = "vendored", fresh: bool = False) -> dict:
    """Gather, render, write; return a summary ``{files, bytes, seconds, standalone_bytes}``.

    What was computed for the same sources before is taken from ``cache_dir`` (sitegen.cache),
    unless ``fresh``: then only the verified Pyodide files are (a fresh build is byte-identical
    to a kept one; tests/sitegen checks it)."""
    started = time.perf_counter()
    memo = Memo(None if fresh else cache_dir)
    session = build_session(memo)

    # Gather: all the data and files the pages need, checked.
    config = load_config(config_path, session)
    # Every scene's and lesson's claims hold for what the page shows.
    claims = check_all(config, None if fresh else cache_dir / "claims")
    print(f"Checked {claims} claim{'' if claims == 1 else 's'} of {len(config['scenes'])} "
          f"scenes and {len(config['lessons'])} lesson steps with vi_core")
    data = gather_data(config, session)
    wheel = build_wheel(ROOT, memo)
    runtime = gather_runtime(cache_dir, local_dir, offline,
                             extra_entries=[lock_entry(wheel, vi_core.__version__)], memo=memo)
    front = gather_front_end(cache_dir)
    assets = {
        "templates": front["templates"],
        "runtime": runtime_config(runtime_mode, wheel, runtime),
        "pyodide_version": PYODIDE_VERSION,
        "licenses": license_notices(runtime, vi_core.__version__),
        "app_js": front["app_js"],
        "css": front["css"],
        "favicon_svg": front["favicon_svg"],
        "inline_assets": inline_assets(front["worker_js"], runtime, wheel, memo),
    }

    # Render: plain data in, HTML strings out.
    pages = render(config, data, assets)

    # Write: a fresh out_dir.
    files = write_site(out_dir, pages, app_js=front["app_js"], worker_js=front["worker_js"],
                       wheel=wheel, runtime=runtime, runtime_mode=runtime_mode)
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files),
            "seconds": time.perf_counter() - started,
            "standalone_bytes": (out_dir / "standalone.html").stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--config", type=Path, default=ROOT / "site.toml")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "pyodide",
                        help="where verified runtime files are kept between builds")
    parser.add_argument("--pyodide-dir", type=Path, default=os.environ.get("PYODIDE_DIST_DIR"),
                        help="a local Pyodide distribution to take package files from first")
    parser.add_argument("--offline", action="store_true",
                        default=os.environ.get("VI_OFFLINE") == "1",
                        help="do not try the CDN")
    parser.add_argument("--runtime", choices=("vendored", "cdn"), default="vendored",
                        help="cdn: load Pyodide, numpy and scipy from the official CDN (with "
                             "Subresource Integrity) for a deploy of about 5 MB (no runtime); "
                             "standalone.html stays self-contained either way")
    args = parser.parse_args(argv)
    try:
        summary = build(args.out, args.config, args.cache_dir, args.pyodide_dir, args.offline,
                        args.runtime)
    except (BuildError, subprocess.CalledProcessError, jinja2.TemplateError,
            tomllib.TOMLDecodeError, OSError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    mb = summary["bytes"] / 1e6
    print(f"Built {args.out}: {summary['files']} files, {summary['bytes']:,} bytes ({mb:.1f} MB) "
          f"in {summary['seconds']:.1f} s; standalone.html "
          f"{summary['standalone_bytes'] / 1e6:.1f} MB")
    print(f"Serve it with `make serve`, then open http://127.0.0.1:8000/ "
          f"(or open {args.out / 'standalone.html'} directly)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
