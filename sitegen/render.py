"""The render step: ``render(config, data, assets) -> {path in dist/: text}`` (the HTML pages,
and the precomputed views as JSON files under views/).

Pure: it reads no file, computes no number and compresses nothing (it hashes only the inline
script and style of standalone.html, for its Content-Security-Policy: sitegen.csp). Everything
comes in as plain data gathered before (sitegen.config, sitegen.data, and the assets below), so it can
be tested without touching disk. ``assets`` is::

    {"templates": {name: Jinja source},       site_src/templates
     "runtime": {mode, ...},                  how served pages load Pyodide (runtime_config)
     "pyodide_version": str,
     "licenses": [{name, license, text}],     sitegen.licences
     "app_js", "css": str,                   inlined in standalone.html
     "favicon_svg": str,                      inlined in every app page (see _app.html.j2)
     "inline_assets": [{name, data}]}         the worker's files, gzip+base64 (sitegen.bundle)
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
import markupsafe

from sitegen.config import Config
from sitegen.csp import served_policy, standalone_policy
from sitegen.data import Data, initial_data

Assets = dict[str, Any]

HEADING = "Variational inference is optimization"
INTRO = ("The colours show a target density p, known only up to its normaliser Z. The orange "
         "contours are q, a simpler density. Move q and the ELBO changes; it never exceeds log Z. "
         "Press Optimize: variational inference is just climbing the ELBO.")


def make_env(templates: dict[str, str]) -> jinja2.Environment:
    """The one Jinja environment: templates from memory, undefined names are errors, HTML
    autoescaped."""
    return jinja2.Environment(
        loader=jinja2.DictLoader(templates),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )


def script_json(data: dict) -> markupsafe.Markup:
    """JSON that is safe inside <script type="application/json"> (no "</script>" possible)."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
    return markupsafe.Markup(text.replace("<", "\\u003c").replace("&", "\\u0026"))


def page_context(initial: dict, *, base: str, title: str, heading: str, intro: str,
                 vi_core_version: str, pyodide_version: str, favicon_svg: str,
                 scene_text: str = "", scenes_link: bool = True) -> dict:
    """The app template's context for a served page (standalone.html adds its inline parts)."""
    return {
        "title": title,
        "heading": heading,
        "intro": intro,
        "scene_text": scene_text,
        "base": base,
        "scenes_link": scenes_link,
        "vi_core_version": vi_core_version,
        "pyodide_version": pyodide_version,
        "initial_json": script_json(initial),
        "inline_css": "",
        "inline_js": "",
        "inline_assets": [],
        "favicon_svg": favicon_svg,
        "licenses": [],
        "csp": "",
    }


VIEWS_DIR = "views"


def view_files(data: Data) -> dict[str, str]:
    """The precomputed first views of every built-in link, one small file per request a page
    makes: ``views/<target>/grid.json`` (the colour grid) and ``views/<target>/<family>.json``
    (the Reset view at the family's default K)."""
    files = {}
    for target, entry in data["views"].items():
        files[f"{VIEWS_DIR}/{target}/grid.json"] = json_text(entry["target_grid"])
        for family, view in entry["families"].items():
            files[f"{VIEWS_DIR}/{target}/{family}.json"] = json_text(view)
    return files


def json_text(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)


def render(config: Config, data: Data, assets: Assets) -> dict[str, str]:
    """Every text file of the site, by path in dist/: index.html, standalone.html, one page per
    scene, scenes/index.html, licenses.html and the precomputed views (view_files)."""
    env = make_env(assets["templates"])
    app = env.get_template("_app.html.j2")
    versions = {"vi_core_version": data["vi_core_version"],
                "pyodide_version": assets["pyodide_version"],
                "favicon_svg": assets["favicon_svg"]}
    pages: dict[str, str] = {}

    main_initial = initial_data(config["defaults"], data, data["first_views"]["main"],
                                assets["runtime"], views_url=f"{VIEWS_DIR}/")
    csp = served_policy(assets["runtime"].get("index_url"))
    main = page_context(main_initial, base="", title=config["title"], heading=HEADING,
                        intro=INTRO, **versions)
    main["csp"] = csp
    pages["index.html"] = app.render(**main)

    # One file for offline use: style, script, runtime and licences all inline, and the same
    # first view; the runtime comes inline, whatever the served pages use.
    inline_js = assets["app_js"].replace("</script", "<\\/script")
    standalone = {
        **main,
        "scenes_link": False,
        # From disk nothing can be fetched: other links paint when Python is ready.
        "initial_json": script_json({**main_initial, "runtime": {"mode": "inline"},
                                     "views_url": None}),
        "inline_css": markupsafe.Markup(assets["css"]),
        "inline_js": markupsafe.Markup(inline_js),
        "csp": standalone_policy(inline_js, assets["css"]),
        "inline_assets": assets["inline_assets"],
        "licenses": assets["licenses"],
    }
    pages["standalone.html"] = app.render(**standalone)

    for scene in config["scenes"]:
        initial = initial_data(scene["defaults"], data,
                               data["first_views"]["scenes"][scene["slug"]], assets["runtime"],
                               views_url=f"../{VIEWS_DIR}/")
        context = page_context(initial, base="../", title=scene["title"], heading=scene["title"],
                               intro="", scene_text=scene["text"], **versions)
        context["csp"] = csp
        pages[f"scenes/{scene['slug']}.html"] = app.render(**context)
    pages["scenes/index.html"] = env.get_template("scenes.html.j2").render(
        title=config["title"], scenes=config["scenes"], base="../", csp=csp)
    pages["licenses.html"] = env.get_template("licenses.html.j2").render(
        title=config["title"], licenses=assets["licenses"], base="", csp=csp)
    pages.update(view_files(data))
    return pages
