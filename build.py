"""Build the static site: site_src/ + vi_core + vendored Pyodide -> dist/.

    python build.py [--out dist] [--config site.toml] [--pyodide-dir DIR] [--offline]
                    [--runtime vendored|cdn]

First gather everything (verified runtime files, the vi_core wheel, the first view of every
page, computed on CPython), then render the Jinja templates to strings, then write dist/:

    index.html          the interactive page (?target=&family=&optimizer=&embed=1 ...)
    scenes/<slug>.html  one embeddable page per scene of site.toml; scenes/index.html lists them
    standalone.html     the whole site in one file: opens by double-click, with no network
    licenses.html       notices of everything the site redistributes
    assets/, pyodide/   the page's script and style; the Python runtime and packages

Every URL in the output is relative, so the site works at any path (GitHub Pages serves a
project at https://user.github.io/repo/). Two builds of the same inputs are byte-identical.
"""

from __future__ import annotations

import argparse
import base64
import functools
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markupsafe

from sitegen import pyodide_assets as pa
from sitegen.vi_core_wheel import build_wheel, lock_entry

ROOT = Path(__file__).resolve().parent
SITE_SRC = ROOT / "site_src"
NPM = ROOT / "node_modules"
NPM_PYODIDE = NPM / "pyodide"
# What the page loads in Python: these and their dependencies in the official lock, nothing more.
PAGE_PACKAGES = ("numpy", "scipy")
FRONT_END_PACKAGES = ("d3-contour", "d3-array", "internmap", "d3-scale-chromatic",
                      "d3-interpolate", "d3-color")
TARGET_GRID = (144, 108)


class BuildError(RuntimeError):
    """The build cannot go on; the message says why."""


# ------------------------------------------------------------------------------------ gather


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


def load_config(path: Path) -> dict:
    """site.toml, checked: unknown targets/families/optimizers or broken q stop the build."""
    from vi_core.protocol import handle

    config = tomllib.loads(path.read_text())
    site = config.get("site", {})
    defaults = {
        "target": site.get("target", "banana"),
        "family": site.get("family", "gaussian-full"),
        "optimizer": site.get("optimizer", "lbfgs"),
        "natural": _natural_from_config(site.get("q")),
    }
    reply = handle({"method": "evaluate", "params": defaults})
    if not reply["ok"]:
        raise BuildError(f"{path.name}: [site]: {reply['error']['message']}")
    scenes = []
    slugs = set()
    for i, scene in enumerate(config.get("scenes", [])):
        where = f"{path.name}: scene {i + 1}"
        missing = {"slug", "title", "target", "family"} - scene.keys()
        if missing:
            raise BuildError(f"{where} lacks {', '.join(sorted(missing))}")
        slug = str(scene["slug"])
        if not slug.replace("-", "").replace("_", "").isalnum() or slug in slugs:
            raise BuildError(f"{where}: slug {slug!r} must be unique letters, digits, - or _")
        slugs.add(slug)
        natural = _natural_from_config(scene.get("q"))
        reply = handle({"method": "evaluate", "params": {
            "target": scene["target"], "family": scene["family"], "natural": natural}})
        if not reply["ok"]:
            raise BuildError(f"{where} ({slug}): {reply['error']['message']}")
        scenes.append({
            "slug": slug,
            "title": str(scene["title"]),
            "text": str(scene.get("text", "")),
            "defaults": {"target": scene["target"], "family": scene["family"],
                         "optimizer": scene.get("optimizer", defaults["optimizer"]),
                         "natural": natural},
        })
    return {"title": site.get("title", "Variational inference"), "defaults": defaults,
            "scenes": scenes}


def _natural_from_config(q: dict | None) -> dict | None:
    if q is None:
        return None
    means = q["means"]
    n = len(means)
    return {
        "means": means,
        "scales": q.get("scales"),
        "correlations": q.get("correlations", [0.0] * n),
        "weights": q.get("weights", [1.0 / n] * n),
    }


def _protocol(method: str, **params) -> dict:
    from vi_core.protocol import handle

    reply = handle({"method": method, "params": params})
    if not reply["ok"]:
        raise BuildError(f"vi_core {method} failed: {reply['error']['message']}")
    return reply["result"]


def runtime_config(mode: str, runtime: Runtime, wheel: Path) -> dict:
    """How the page's worker gets Pyodide: vendored next to it, or from the official CDN with
    Subresource Integrity (sha384) for every core file; packages are checked by Pyodide itself
    against the official lock's sha256."""
    if mode == "vendored":
        return {"mode": "vendored"}
    integrity = {}
    for name in (*pa.CORE_FILES, "pyodide-lock.json"):
        digest = hashlib.sha384((NPM_PYODIDE / name).read_bytes()).digest()
        integrity[name] = "sha384-" + base64.b64encode(digest).decode()
    return {"mode": "cdn", "index_url": pa.CDN_BASE, "integrity": integrity,
            "vi_core_wheel": wheel.name}


@functools.cache
def initial_thetas() -> dict[str, dict[str, list[float]]]:
    """Every built-in target x family's Reset q (``family.initial_params``), computed once here
    on CPython: the browser then resets at once instead of re-deriving it (it screens candidate
    starting points, which takes a moment), and its Optimize starts exactly where
    ``python -m vi_core fit`` does."""
    catalog = _protocol("catalog")
    table: dict[str, dict[str, list[float]]] = {}
    for target in catalog["targets"]:
        table[target["id"]] = {
            family["id"]: _protocol("evaluate", target=target["id"], family=family["id"])["theta"]
            for family in catalog["families"]
        }
    return table


def initial_data(defaults: dict, catalog: dict, runtime: dict | None = None) -> dict:
    """A page's first view, computed now on CPython by the same protocol the worker serves, so
    the page paints at once and Python in the browser takes over when it is ready."""
    return {
        "defaults": defaults,
        "catalog": catalog,
        "runtime": runtime or {"mode": "vendored"},
        "initial_thetas": initial_thetas(),
        "target_grid": _protocol("target_grid", target=defaults["target"],
                                 nx=TARGET_GRID[0], ny=TARGET_GRID[1]),
        "view": _protocol("evaluate", target=defaults["target"], family=defaults["family"],
                          natural=defaults["natural"]),
    }


def script_json(data: dict) -> markupsafe.Markup:
    """JSON that is safe inside <script type="application/json"> (no "</script>" possible)."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
    return markupsafe.Markup(text.replace("<", "\\u003c").replace("&", "\\u0026"))


def page_context(initial: dict, *, base: str, title: str, heading: str, intro: str,
                 scene_text: str = "", scenes_link: bool = True) -> dict:
    """Plain data for the app template (tested without touching disk)."""
    import vi_core

    return {
        "title": title,
        "heading": heading,
        "intro": intro,
        "scene_text": scene_text,
        "base": base,
        "scenes_link": scenes_link,
        "vi_core_version": vi_core.__version__,
        "pyodide_version": pa.PYODIDE_VERSION,
        "initial_json": script_json(initial),
        "inline_css": "",
        "inline_js": "",
        "inline_assets": [],
        "favicon_svg": "",
        "licenses": [],
    }


INTRO = ("The colours show a target density p, known only up to its normaliser Z. The orange "
         "contours are q, a simpler density. Move q and the ELBO changes; it never exceeds log Z. "
         "Press Optimize: variational inference is just climbing the ELBO.")


def license_notices(runtime: Runtime) -> list[dict]:
    """Everything the site redistributes, with its licence text, for licenses.html."""
    import vi_core

    def wheel_license(file_name: str, member: str) -> str:
        with zipfile.ZipFile(runtime.files[file_name]) as archive:
            return archive.read(member).decode()

    lock = runtime.lock["packages"]
    numpy_whl, scipy_whl = lock["numpy"]["file_name"], lock["scipy"]["file_name"]
    python_license = Path(sys.base_prefix) / "lib" / "python3.12" / "LICENSE.txt"
    notices = [
        {"name": f"vi_core {vi_core.__version__} and this page", "license": "MIT",
         "text": (ROOT / "LICENSE").read_text()},
        {"name": f"Pyodide {pa.PYODIDE_VERSION}", "license": "MPL-2.0",
         "text": (SITE_SRC / "licenses" / "pyodide.txt").read_text()},
        {"name": f"CPython {runtime.lock['info']['python']} (in Pyodide)",
         "license": "PSF-2.0",
         "text": python_license.read_text() if python_license.exists()
         else "Python Software Foundation License, https://docs.python.org/3/license.html"},
        {"name": f"numpy {lock['numpy']['version']}", "license": "BSD-3-Clause",
         "text": wheel_license(numpy_whl, f"numpy-{lock['numpy']['version']}.dist-info/LICENSE.txt")},
        {"name": f"scipy {lock['scipy']['version']}", "license": "BSD-3-Clause",
         "text": wheel_license(scipy_whl, f"scipy-{lock['scipy']['version']}.dist-info/LICENSE.txt")},
        {"name": f"OpenBLAS {lock['openblas']['version']}", "license": "BSD-3-Clause",
         "text": (SITE_SRC / "licenses" / "openblas.txt").read_text()},
    ]
    for package in FRONT_END_PACKAGES:
        meta = json.loads((NPM / package / "package.json").read_text())
        notices.append({"name": f"{package} {meta['version']}", "license": meta.get("license", ""),
                        "text": (NPM / package / "LICENSE").read_text()})
    return notices


# ------------------------------------------------------------------------------------ render


def make_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SITE_SRC / "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )


def bundle_js(entry: str, out_file: Path) -> None:
    """Bundle one entry of site_src/js (and the modules and npm libraries it imports) into one
    classic script: browsers refuse module scripts from file://, and a page opened from disk
    must still paint its first view and say what to do; the worker uses importScripts, which
    only classic workers have."""
    esbuild = NPM / ".bin" / "esbuild"
    subprocess.run(
        [str(esbuild), str(SITE_SRC / "js" / entry), "--bundle", "--format=iife",
         "--target=es2020", "--minify", "--legal-comments=none", "--log-level=warning",
         f"--outfile={out_file}"],
        check=True,
    )


def inline_asset(name: str, data: bytes) -> dict:
    # gzip shrinks the wasm and the (barely compressed) wheels; mtime=0 keeps builds identical.
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    return {"name": name, "data": base64.b64encode(packed).decode()}


def render_pages(config: dict, runtime: Runtime, wheel: Path, app_js: str, worker_js: str,
                 runtime_mode: str = "vendored") -> dict[str, str]:
    """Every HTML page of the site, by path in dist/."""
    env = make_env()
    app = env.get_template("_app.html.j2")
    catalog = _protocol("catalog")
    notices = license_notices(runtime)
    served = runtime_config(runtime_mode, runtime, wheel)
    pages: dict[str, str] = {}

    main_initial = initial_data(config["defaults"], catalog, served)
    main = page_context(main_initial, base="", title=config["title"],
                        heading="Variational inference is optimization", intro=INTRO)
    pages["index.html"] = app.render(**main)

    # One file for offline use: style, script, runtime and licences all inline.
    assets = [inline_asset("worker.js", worker_js.encode())]
    for name, path in sorted(runtime.files.items()):
        assets.append(inline_asset(name, path.read_bytes()))
    assets.append(inline_asset(wheel.name, wheel.read_bytes()))
    lock_text = json.dumps(runtime.lock, indent=1, sort_keys=True) + "\n"
    assets.append(inline_asset("pyodide-lock.json", lock_text.encode()))
    standalone = {
        **main,
        "scenes_link": False,
        "inline_css": markupsafe.Markup((SITE_SRC / "static" / "style.css").read_text()),
        "inline_js": markupsafe.Markup(app_js.replace("</script", "<\\/script")),
        "inline_assets": assets,
        "favicon_svg": (SITE_SRC / "static" / "favicon.svg").read_text().strip(),
        "licenses": notices,
    }
    # The same first view; the runtime comes inline, whatever the served pages use.
    standalone["initial_json"] = script_json({**main_initial, "runtime": {"mode": "inline"}})
    pages["standalone.html"] = app.render(**standalone)

    for scene in config["scenes"]:
        initial = initial_data(scene["defaults"], catalog, served)
        context = page_context(initial, base="../", title=scene["title"], heading=scene["title"],
                               intro="", scene_text=scene["text"])
        pages[f"scenes/{scene['slug']}.html"] = app.render(**context)
    pages["scenes/index.html"] = env.get_template("scenes.html.j2").render(
        title=config["title"], scenes=config["scenes"], base="../")
    pages["licenses.html"] = env.get_template("licenses.html.j2").render(
        title=config["title"], licenses=notices, base="")
    return pages


# ------------------------------------------------------------------------------------ write


def build(out_dir: Path, config_path: Path, cache_dir: Path, local_dir: Path | None,
          offline: bool, runtime_mode: str = "vendored") -> dict:
    started = time.perf_counter()
    import vi_core

    config = load_config(config_path)
    runtime = gather_runtime(cache_dir, local_dir, offline)
    wheel = build_wheel(ROOT, cache_dir / "wheel")
    runtime.lock["packages"]["vi-core"] = lock_entry(wheel, vi_core.__version__)
    bundle_js("main.js", cache_dir / "app.js")
    bundle_js("worker.js", cache_dir / "worker.js")
    app_js = (cache_dir / "app.js").read_text()
    worker_js = (cache_dir / "worker.js").read_text()
    pages = render_pages(config, runtime, wheel, app_js, worker_js, runtime_mode)

    # Write: a fresh dist/ each time, so nothing stale is deployed.
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "assets").mkdir(parents=True)
    (out_dir / "pyodide").mkdir()
    for name, html in pages.items():
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / name).write_text(html)
    for static in sorted((SITE_SRC / "static").rglob("*")):
        if static.is_file():
            shutil.copyfile(static, out_dir / "assets" / static.relative_to(SITE_SRC / "static"))
    (out_dir / "assets" / "app.js").write_text(app_js)
    (out_dir / "assets" / "worker.js").write_text(worker_js)
    shutil.copyfile(wheel, out_dir / "pyodide" / wheel.name)
    if runtime_mode == "vendored":
        for name, path in sorted(runtime.files.items()):
            shutil.copyfile(path, out_dir / "pyodide" / name)
        (out_dir / "pyodide" / "pyodide-lock.json").write_text(
            json.dumps(runtime.lock, indent=1, sort_keys=True) + "\n"
        )
    # GitHub Pages: serve files as they are (no Jekyll processing of the output).
    (out_dir / ".nojekyll").write_text("")

    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    return {"files": len(files), "bytes": total, "seconds": time.perf_counter() - started,
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
                             "Subresource Integrity) for a deploy of a few hundred KB; "
                             "standalone.html stays self-contained either way")
    args = parser.parse_args(argv)
    try:
        summary = build(args.out, args.config, args.cache_dir, args.pyodide_dir, args.offline,
                        args.runtime)
    except (BuildError, pa.VendorError, subprocess.CalledProcessError, jinja2.TemplateError,
            tomllib.TOMLDecodeError, OSError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    mb = summary["bytes"] / 1e6
    print(f"Built {args.out}: {summary['files']} files, {summary['bytes']:,} bytes ({mb:.1f} MB) "
          f"in {summary['seconds']:.1f} s; standalone.html {summary['standalone_bytes'] / 1e6:.1f} MB")
    print(f"Serve it with `make serve`, then open http://127.0.0.1:8000/ "
          f"(or open {args.out / 'standalone.html'} directly)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
