"""The render step: ``render(config, data, assets) -> {path in dist/: text}`` (the HTML pages,
and the precomputed views as JSON files under views/).

Pure: it reads no file, computes no number and compresses nothing (it hashes only the inline
script and style of standalone.html, for its Content-Security-Policy: sitegen.csp). Everything
comes in as plain data gathered before (sitegen.config, sitegen.data, and the assets below), so it
can be tested without touching disk. ``assets`` is::

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
                 scene_text: str = "", scenes_link: bool = True, lessons_link: bool = False,
                 lesson: dict | None = None) -> dict:
    """The app template's context for a served page (standalone.html adds its inline parts);
    ``lesson``: a lesson step's bar (``lesson_bar``)."""
    return {
        "title": title,
        "heading": heading,
        "intro": intro,
        "scene_text": scene_text,
        "base": base,
        "scenes_link": scenes_link,
        "lessons_link": lessons_link,
        "lesson": lesson,
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
LESSONS_DIR = "lessons"


def lesson_file(lesson: dict) -> str:
    """A lesson step's file name in lessons/: ``<step>-<slug>.html``."""
    return f"{lesson['step']}-{lesson['slug']}.html"


def lesson_bar(lessons: list[dict], i: int) -> dict:
    """What the bar of lesson step ``i`` (0-based) shows: step N of M, its text, and plain links
    (relative to lessons/) back, next (None on the first / last step) and to the start."""
    lesson = lessons[i]
    return {
        "step": lesson["step"], "count": len(lessons), "title": lesson["title"],
        "text": lesson["text"],
        "back": lesson_file(lessons[i - 1]) if i > 0 else None,
        "next": lesson_file(lessons[i + 1]) if i + 1 < len(lessons) else None,
        "next_title": lessons[i + 1]["title"] if i + 1 < len(lessons) else None,
        "first": lesson_file(lessons[0]),
        "index": "index.html",
    }


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
    scene, scenes/index.html, one page per lesson step and lessons/index.html (when site.toml
    has lessons), licenses.html and the precomputed views (view_files)."""
    env = make_env(assets["templates"])
    app = env.get_template("_app.html.j2")
    versions = {"vi_core_version": data["vi_core_version"],
                "pyodide_version": assets["pyodide_version"],
                "favicon_svg": assets["favicon_svg"]}
    pages: dict[str, str] = {}

    main_initial = initial_data(config["defaults"], data, data["first_views"]["main"],
                                assets["runtime"], views_url=f"{VIEWS_DIR}/")
    csp = served_policy(assets["runtime"].get("index_url"))
    lessons = config.get("lessons", [])
    main = page_context(main_initial, base="", title=config["title"], heading=HEADING,
                        intro=INTRO, lessons_link=bool(lessons), **versions)
    main["csp"] = csp
    pages["index.html"] = app.render(**main)

    # One file for offline use: style, script, runtime and licences all inline, and the same
    # first view; the runtime comes inline, whatever the served pages use.
    inline_js = assets["app_js"].replace("</script", "<\\/script")
    standalone = {
        **main,
        "scenes_link": False,
        "lessons_link": False,
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
                               intro="", scene_text=scene["text"], lessons_link=bool(lessons),
                               **versions)
        context["csp"] = csp
        pages[f"scenes/{scene['slug']}.html"] = app.render(**context)
    pages["scenes/index.html"] = env.get_template("scenes.html.j2").render(
        title=config["title"], scenes=config["scenes"], base="../", csp=csp,
        lessons_link=bool(lessons))

    # The guided path: one app page per step, with its bar (step i of N, text, Back/Next).
    for i, lesson in enumerate(lessons):
        initial = initial_data(lesson["defaults"], data,
                               data["first_views"]["lessons"][lesson["slug"]], assets["runtime"],
                               views_url=f"../{VIEWS_DIR}/")
        bar = lesson_bar(lessons, i)
        context = page_context(initial, base="../", heading=lesson["title"], intro="",
                               title=(f"{bar['step']}. {lesson['title']} · Lessons · "
                                      f"{config['title']}"),
                               lesson=bar, **versions)
        context["csp"] = csp
        pages[f"{LESSONS_DIR}/{lesson_file(lesson)}"] = app.render(**context)
    if lessons:
        pages[f"{LESSONS_DIR}/index.html"] = env.get_template("lessons.html.j2").render(
            title=config["title"],
            lessons=[{**lesson, "file": lesson_file(lesson)} for lesson in lessons],
            base="../", csp=csp)
    pages["licenses.html"] = env.get_template("licenses.html.j2").render(
        title=config["title"], licenses=assets["licenses"], base="", csp=csp)
    pages.update(view_files(data))
    return pages
