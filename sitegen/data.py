"""What the pages show before Python has loaded in the browser, computed now on CPython through
the same protocol the page's worker serves (one ``vi_core.protocol.Session`` for the build).

The result is plain data (JSON-ready)::

    {"vi_core_version": str,
     "catalog": the protocol's catalog (targets, families, optimizers, defaults),
     "initial_thetas": {target id: {family id: theta}}: every built-in pair's Reset q,
     "first_views": {"main": first view, "scenes": {slug: first view},
                     "lessons": {slug: first view}},
     "views": {target id: {"target_grid": ..., "families": {family id: view}}}}

where a first view is ``{"target_grid": ..., "view": ...}`` for a page's defaults (inlined in
its HTML), and ``views`` holds every built-in target's colour grid and every target x family's
Reset view (at the family's default K), written to small files (sitegen.write) that a page
opened from any other link fetches, so it paints before Python is ready.
"""

from __future__ import annotations

from typing import Any

import vi_core
from sitegen import BuildError
from sitegen.cache import Handler
from sitegen.config import Config

Data = dict[str, Any]


def call(session: Handler, method: str, **params) -> Any:
    """One protocol request; an error reply stops the build with vi_core's message."""
    reply = session.handle({"method": method, "params": params})
    if not reply["ok"]:
        raise BuildError(f"vi_core {method} failed: {reply['error']['message']}")
    return reply["result"]


def reset_views(session: Handler, catalog: dict) -> dict[str, dict]:
    """Every built-in target's colour grid (on the catalog's default grid) and every target x
    family's Reset view: what ``evaluate`` without theta returns, the q Reset starts from."""
    nx, ny = catalog["defaults"]["target_grid"]
    return {
        target["id"]: {
            "target_grid": call(session, "target_grid", target=target["id"], nx=nx, ny=ny),
            "families": {family["id"]: call(session, "evaluate", target=target["id"],
                                            family=family["id"])
                         for family in catalog["families"]},
        }
        for target in catalog["targets"]
    }


def initial_thetas(views: dict[str, dict]) -> dict[str, dict[str, list[float]]]:
    """Every built-in target x family's Reset q, from ``reset_views``: the browser then resets
    at once instead of re-deriving it (it screens candidate starting points, which takes a
    moment), and its Optimize starts exactly where ``python -m vi_core fit`` does."""
    return {target: {family: view["theta"] for family, view in entry["families"].items()}
            for target, entry in views.items()}


def first_view(session: Handler, views: dict[str, dict], defaults: dict) -> dict:
    """A page's first view: the target's colour map (from ``reset_views``) and q's view
    (readouts, contours) for the page's defaults."""
    return {
        "target_grid": views[defaults["target"]]["target_grid"],
        "view": call(session, "evaluate", target=defaults["target"], family=defaults["family"],
                     natural=defaults["natural"]),
    }


def gather_data(config: Config, session: Handler) -> Data:
    """Everything the pages embed, for the main page and every scene and lesson of ``config``."""
    catalog = call(session, "catalog")
    views = reset_views(session, catalog)
    return {
        "vi_core_version": vi_core.__version__,
        "catalog": catalog,
        "initial_thetas": initial_thetas(views),
        "views": views,
        "first_views": {
            "main": first_view(session, views, config["defaults"]),
            "scenes": {scene["slug"]: first_view(session, views, scene["defaults"])
                       for scene in config["scenes"]},
            "lessons": {lesson["slug"]: first_view(session, views, lesson["defaults"])
                        for lesson in config.get("lessons", [])},
        },
    }


def initial_data(defaults: dict, data: Data, first: dict, runtime: dict,
                 views_url: str | None = None) -> dict:
    """The JSON a page embeds (``#vi-initial``): its defaults, the catalog, how to load the
    runtime, the Reset q's and its first view, so it paints before Python has loaded;
    ``views_url``: where the precomputed views of other links are (None: nowhere, e.g. a page
    opened from disk, which cannot fetch)."""
    return {
        "defaults": defaults,
        "catalog": data["catalog"],
        "runtime": runtime,
        "views_url": views_url,
        "initial_thetas": data["initial_thetas"],
        "target_grid": first["target_grid"],
        "view": first["view"],
    }
