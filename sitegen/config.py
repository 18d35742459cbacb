"""site.toml, read and checked: the main page's defaults and the scenes.

Every target, family and initial q is checked by asking vi_core to evaluate it (the
same ``evaluate`` the page calls), so an unknown id or a broken q stops the build with vi_core's
own message, prefixed by where in site.toml it is.

The result is plain data::

    {"title": str,
     "defaults": {"target", "family", "optimizer", "natural": {means, scales, correlations,
                  weights} | None},
     "scenes": [{"slug", "title", "text", "claims": [{says, check, value}] (sitegen.claims),
                 "defaults": {...as above}}]}
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sitegen import BuildError
from sitegen.claims import parse_claims
from vi_core.protocol import Session

Config = dict[str, Any]


def load_config(path: Path, session: Session | None = None) -> Config:
    """Read ``path`` and check it (see ``parse_config``)."""
    return parse_config(tomllib.loads(path.read_text()), path.name, session or Session())


def parse_config(raw: dict, name: str, session: Session) -> Config:
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
    scenes = []
    slugs = set()
    for i, scene in enumerate(raw.get("scenes", [])):
        where = f"{name}: scene {i + 1}"
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
        scenes.append({
            "slug": slug,
            "title": str(scene["title"]),
            "text": str(scene.get("text", "")),
            "claims": parse_claims(scene.get("claims"), f"{where} ({slug})"),
            "defaults": {"target": scene["target"], "family": scene["family"],
                         "optimizer": scene.get("optimizer", defaults["optimizer"]),
                         "natural": natural},
        })
    return {"title": site.get("title", "Variational inference"), "defaults": defaults,
            "scenes": scenes}


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
