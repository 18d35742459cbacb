"""site.toml, read and checked: the main page's defaults, the scenes and the lessons.

Every target, family and initial q is checked by asking vi_core to evaluate it (the
same ``evaluate`` the page calls), so an unknown id or a broken q stops the build with vi_core's
own message, prefixed by where in site.toml it is.

The result is plain data::

    {"title": str,
     "defaults": {"target", "family", "optimizer", "natural": {means, scales, correlations,
                  weights} | None},
     "scenes": [{"slug", "title", "text", "claims": [{says, check, value}] (sitegen.claims),
                 "defaults": {...as above}}],
     "lessons": [{...as a scene, and "kind": "lesson", "step": 1, 2, ...}]}

A lesson is the guided path through the article: ``[[lessons]]`` in site.toml, in reading
order, each written like a scene (slug, title, target, family, optional optimizer and q, the
text of one or two sentences, and ``[[lessons.claims]]``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sitegen import BuildError
from sitegen.cache import Handler
from sitegen.claims import parse_claims
from vi_core.protocol import Session

Config = dict[str, Any]


def load_config(path: Path, session: Handler | None = None) -> Config:
    """Read ``path`` and check it (see ``parse_config``)."""
    return parse_config(tomllib.loads(path.read_text()), path.name, session or Session())


def parse_config(raw: dict, name: str, session: Handler) -> Config:
    """Check a parsed site.toml (``name`` is how messages call it); raise BuildError on the
    first problem: unknown ids, a broken q, a scene without slug/title/target/family, or a slug
    that is not unique letters, digits, - or _."""
    site = raw.get("site", {})
    defaults = {
        "target": site.get("target", "banana"),
        "family": site.get("family", "gaussian-full"),
        "optimizer": site.get("optimizer", "lbfgs"),
        "natural": _natural_from_config(site.get("q")),
    }
    reply = session.handle({"method": "evaluate", "params": defaults})
    if not reply["ok"]:
        raise BuildError(f"{name}: [site]: {reply['error']['message']}")
    scenes = _pages(raw.get("scenes", []), f"{name}: scene", defaults, session)
    lessons = _pages(raw.get("lessons", []), f"{name}: lesson step", defaults, session)
    for step, lesson in enumerate(lessons, start=1):
        lesson.update(kind="lesson", step=step)
    return {"title": site.get("title", "Variational inference"), "defaults": defaults,
            "scenes": scenes, "lessons": lessons}


def _pages(raw: list, label: str, defaults: dict, session: Handler) -> list[dict]:
    """Scenes or lessons (``label`` names one in messages): checked, with their defaults."""
    pages: list[dict] = []
    slugs = set()
    for i, scene in enumerate(raw):
        where = f"{label} {i + 1}"
        missing = {"slug", "title", "target", "family"} - scene.keys()
        if missing:
            raise BuildError(f"{where} lacks {', '.join(sorted(missing))}")
        slug = str(scene["slug"])
        if not slug.replace("-", "").replace("_", "").isalnum() or slug in slugs:
            raise BuildError(f"{where}: slug {slug!r} must be unique letters, digits, - or _")
        slugs.add(slug)
        natural = _natural_from_config(scene.get("q"))
        reply = session.handle({"method": "evaluate", "params": {
            "target": scene["target"], "family": scene["family"], "natural": natural}})
        if not reply["ok"]:
            raise BuildError(f"{where} ({slug}): {reply['error']['message']}")
        pages.append({
            "slug": slug,
            "title": str(scene["title"]),
            "text": str(scene.get("text", "")),
            "claims": parse_claims(scene.get("claims"), f"{where} ({slug})"),
            "defaults": {"target": scene["target"], "family": scene["family"],
                         "optimizer": scene.get("optimizer", defaults["optimizer"]),
                         "natural": natural},
        })
    return pages


def _natural_from_config(q: dict | None) -> dict | None:
    """site.toml's q -> the protocol's ``natural``: correlations default to 0, weights to equal."""
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
