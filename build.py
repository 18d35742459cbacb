"""Build the static site: site_src/ + vi_core + vendored Pyodide -> dist/.

    python build.py [--out dist] [--pyodide-dir DIR] [--offline]

First gather everything (verified runtime files, the vi_core wheel, the precomputed first view),
then render the Jinja templates, then write dist/. Every URL in the output is relative, so the
site works at any path (e.g. https://user.github.io/repo/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markupsafe

from sitegen import pyodide_assets as pa
from sitegen.vi_core_wheel import build_wheel, lock_entry

ROOT = Path(__file__).resolve().parent
SITE_SRC = ROOT / "site_src"
NPM_PYODIDE = ROOT / "node_modules" / "pyodide"
# What the page loads in Python: these and their dependencies in the official lock, nothing more.
PAGE_PACKAGES = ("numpy", "scipy")


@dataclass
class Runtime:
    """Verified files of the Pyodide runtime the site ships (name in dist/pyodide -> source)."""

    files: dict[str, Path]
    lock: dict


def gather_runtime(cache_dir: Path, local_dir: Path | None, offline: bool) -> Runtime:
    lock = pa.load_lock(NPM_PYODIDE)
    names = pa.dependency_closure(lock, PAGE_PACKAGES)
    print(f"Pyodide {pa.PYODIDE_VERSION}: packages {', '.join(names)}")
    sources = pa.default_sources(cache_dir, local_dir, offline)
    files = pa.fetch_package_files(lock, names, cache_dir, sources)
    for core in pa.CORE_FILES:
        path = NPM_PYODIDE / core
        if not path.exists():
            raise pa.VendorError(f"{path} is missing: run `npm ci` first")
        files[core] = path
    return Runtime(files=files, lock=pa.site_lock(lock, names, []))


def make_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SITE_SRC / "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )


DEFAULTS = {"target": "banana", "family": "gaussian-full", "optimizer": "lbfgs"}


def _protocol(method: str, **params) -> dict:
    from vi_core.protocol import handle

    reply = handle({"method": method, "params": params})
    if not reply["ok"]:
        raise RuntimeError(f"vi_core {method} failed: {reply['error']['message']}")
    return reply["result"]


def initial_data(defaults: dict) -> dict:
    """The first view, computed now on CPython by the same protocol the worker serves, so the
    page paints at once and Python in the browser only takes over when it is ready."""
    return {
        "defaults": defaults,
        "catalog": _protocol("catalog"),
        "target_grid": _protocol("target_grid", target=defaults["target"], nx=160, ny=120),
        "view": _protocol("evaluate", target=defaults["target"], family=defaults["family"]),
    }


def script_json(data: dict) -> markupsafe.Markup:
    """JSON that is safe inside <script type="application/json"> (no "</script>" possible)."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
    return markupsafe.Markup(text.replace("<", "\\u003c").replace("&", "\\u0026"))


def page_context(defaults: dict, *, base: str = "", embed: bool = False) -> dict:
    """Plain data for the app template (tested without touching disk)."""
    import vi_core

    return {
        "title": "Variational inference, interactively",
        "heading": "Variational inference is optimization",
        "intro": "The colours are a target density p known only up to its normaliser Z. The "
                 "orange contours are q, a simpler density. Move q: the ELBO changes, and it never "
                 "exceeds log Z. Press Optimize: VI is just climbing the ELBO.",
        "scene_text": "",
        "embed": embed,
        "base": base,
        "vi_core_version": vi_core.__version__,
        "pyodide_version": pa.PYODIDE_VERSION,
        "initial_json": script_json(initial_data(defaults)),
    }


def bundle_js(out_dir: Path) -> None:
    """Bundle the page's ES modules (and the npm libraries they import) into one file."""
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    subprocess.run(
        [str(esbuild), str(SITE_SRC / "js" / "main.js"), "--bundle", "--format=esm",
         "--target=es2020", "--minify", "--legal-comments=none", "--log-level=warning",
         f"--outfile={out_dir / 'assets' / 'app.js'}"],
        check=True,
    )


def build(out_dir: Path, cache_dir: Path, local_dir: Path | None, offline: bool) -> dict:
    started = time.perf_counter()
    import vi_core

    runtime = gather_runtime(cache_dir, local_dir, offline)
    wheel = build_wheel(ROOT, cache_dir / "wheel")
    runtime.lock["packages"]["vi-core"] = lock_entry(wheel, vi_core.__version__)
    context = page_context(DEFAULTS)

    env = make_env()
    rendered = {
        name.removesuffix(".j2"): env.get_template(name).render(**context)
        for name in sorted(env.list_templates(filter_func=lambda n: n.endswith(".html.j2")))
        if not name.startswith("_")
    }

    # Write: a fresh dist/ each time, so nothing stale is deployed.
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "assets").mkdir(parents=True)
    (out_dir / "pyodide").mkdir()
    for name, html in rendered.items():
        (out_dir / name).write_text(html)
    for static in sorted((SITE_SRC / "static").rglob("*")):
        if static.is_file():
            dest = out_dir / "assets" / static.relative_to(SITE_SRC / "static")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(static, dest)
    bundle_js(out_dir)
    for name, path in sorted(runtime.files.items()):
        shutil.copyfile(path, out_dir / "pyodide" / name)
    shutil.copyfile(wheel, out_dir / "pyodide" / wheel.name)
    (out_dir / "pyodide" / "pyodide-lock.json").write_text(
        json.dumps(runtime.lock, indent=1, sort_keys=True) + "\n"
    )

    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    return {"files": len(files), "bytes": total, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "pyodide",
                        help="where verified runtime files are kept between builds")
    parser.add_argument("--pyodide-dir", type=Path, default=os.environ.get("PYODIDE_DIST_DIR"),
                        help="a local Pyodide distribution to take package files from first")
    parser.add_argument("--offline", action="store_true",
                        default=os.environ.get("VI_OFFLINE") == "1",
                        help="do not try the CDN")
    args = parser.parse_args(argv)
    try:
        summary = build(args.out, args.cache_dir, args.pyodide_dir, args.offline)
    except (pa.VendorError, subprocess.CalledProcessError, jinja2.TemplateError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    mb = summary["bytes"] / 1e6
    print(f"Built {args.out}: {summary['files']} files, {summary['bytes']:,} bytes ({mb:.1f} MB) "
          f"in {summary['seconds']:.1f} s")
    print(f"Open it with `make serve` -> http://127.0.0.1:8000/  ({args.out / 'index.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
