"""Claims that scenes and lessons make, checked with vi_core when the site is built.

A scene's (or a lesson step's) text says what the reader will see ("Optimize pulls q back",
"mean field loses nothing here"). Each such sentence can carry a machine-checked claim in
site.toml; the build fits the page's q with vi_core (the same fit the page runs) and refuses to
build when a claim is false, naming the scene or lesson, the claim and the numbers. A claim is a
table with the sentence it checks (``says``) and exactly one check (``[[lessons.claims]]`` the
same)::

    [[scenes.claims]]
    says = "Optimize raises the ELBO by more than 1 nat"
    elbo_gain_above = 1.0

Checks (the fit is the scene's optimizer from the scene's q, or the family's Reset q):

    elbo_gain_above = g          ELBO(fit) - ELBO(scene's q) > g
    kl_above = v / kl_below = v  KL(q || p) of the fit, i.e. log Z - ELBO, above / below v
    kl_worse_than = {family = F, by = d}
                                 KL(fit) - KL(fit of family F from its Reset q) > d
    kl_better_than = {family = F, by = d}
                                 KL(fit of family F from its Reset q) - KL(fit) > d
    kl_same_as = {family = F, within = d}
                                 |KL(fit) - KL(fit of family F)| < d
    log_z_above = v / log_z_below = v
                                 the target's log Z (the page's log Z readout)
    start_kl_above / start_kl_below / start_entropy_above / start_entropy_below = v
                                 KL(q || p) or H[q] of the page's q before any Optimize
    wider_q_trades_terms = f     widening the page's q (all scales times f > 1) raises H[q] and
                                 lowers E_q[log p~]: the ELBO's two terms pull apart
    mean_x_below / mean_x_above / mean_y_below / mean_y_above = v
                                 q's mean (all components, by weight) of the fit
    scale_x_below / scale_x_above / scale_y_below / scale_y_above = v
                                 a single Gaussian's standard deviation along x / y in the fit

Numbers in the messages are vi_core's; a claim holds only with room for the ELBO's error
(the fit's ELBO error is subtracted from, or added to, the side that favours the claim).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import vi_core as vi
from sitegen import BuildError
from sitegen.cache import source_digest

BOUNDS = {  # check -> (what it compares, direction)
    "elbo_gain_above": ("gain", ">"),
    "kl_above": ("kl", ">"),
    "kl_below": ("kl", "<"),
    "mean_x_below": ("mean_x", "<"),
    "mean_x_above": ("mean_x", ">"),
    "mean_y_below": ("mean_y", "<"),
    "mean_y_above": ("mean_y", ">"),
    "scale_x_below": ("scale_x", "<"),
    "scale_x_above": ("scale_x", ">"),
    "scale_y_below": ("scale_y", "<"),
    "scale_y_above": ("scale_y", ">"),
    "log_z_above": ("log_z", ">"),
    "log_z_below": ("log_z", "<"),
    "start_kl_above": ("start_kl", ">"),
    "start_kl_below": ("start_kl", "<"),
    "start_entropy_above": ("start_entropy", ">"),
    "start_entropy_below": ("start_entropy", "<"),
}
COMPARISONS = ("kl_worse_than", "kl_better_than", "kl_same_as")
PROBES = ("wider_q_trades_terms",)
CHECKS = (*BOUNDS, *COMPARISONS, *PROBES)
SLACK = {"gain": "elbo_error", "kl": "elbo_error", "log_z": "elbo_error",
         "start_kl": "start_error", "start_entropy": "start_error"}  # quantity -> its error


@dataclass(frozen=True)
class Fit:
    """What the claims read from one fit."""

    start_elbo: float
    start_error: float
    start_kl: float
    start_entropy: float
    log_z: float
    elbo: float
    elbo_error: float
    kl: float
    mean_x: float
    mean_y: float
    scale_x: float
    scale_y: float


def parse_claims(raw: Any, where: str) -> list[dict]:
    """A scene's or lesson's ``claims`` list, checked for shape (not yet for truth); BuildError
    if broken."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BuildError(f"{where}: claims must be a list of tables ([[scenes.claims]])")
    claims = []
    for i, claim in enumerate(raw):
        at = f"{where}: claim {i + 1}"
        if (not isinstance(claim, dict) or not isinstance(claim.get("says"), str)
                or not claim["says"]):
            raise BuildError(f"{at} needs says = \"the sentence it checks\"")
        checks = [k for k in claim if k != "says"]
        unknown = [k for k in checks if k not in CHECKS]
        if unknown or len(checks) != 1:
            raise BuildError(f"{at} ({claim['says']!r}) must have exactly one check, one of: "
                             f"{', '.join(CHECKS)}"
                             + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
        (check,) = checks
        value = claim[check]
        if check in BOUNDS:
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value)):
                raise BuildError(f"{at} ({claim['says']!r}): {check} must be a number")
        elif check in PROBES:
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or value <= 1):
                raise BuildError(f"{at} ({claim['says']!r}): {check} must be a number above 1")
        else:
            key = "within" if check == "kl_same_as" else "by"
            if (not isinstance(value, dict) or set(value) != {"family", key}
                    or not isinstance(value[key], int | float) or isinstance(value[key], bool)):
                raise BuildError(f"{at} ({claim['says']!r}): {check} must be "
                                 f"{{family = \"...\", {key} = number}}")
        claims.append({"says": claim["says"], "check": check, "value": value})
    return claims


class _Fits:
    """Fits made once per build: (target, family, optimizer, start) -> Fit."""

    def __init__(self) -> None:
        self._done: dict[tuple, Fit] = {}

    def get(self, target: str, family: str, optimizer: str, natural: dict | None) -> Fit:
        key = (target, family, optimizer, repr(natural))
        if key not in self._done:
            self._done[key] = _fit(target, family, optimizer, natural)
        return self._done[key]


def _start(target, family, natural: dict | None) -> np.ndarray:
    """The scene's q as theta, or the family's Reset q (a flow's own start for flows)."""
    if natural:
        return family.from_natural(natural)
    if isinstance(family, vi.FlowFamily):
        return vi.initial_flow_params(target, family)
    return vi.initial_params(target, family)


def _elbo(target, family, theta: np.ndarray):
    """The ELBO the page shows for theta: a flow's by its own cubature (vi_core.flows)."""
    if isinstance(family, vi.FlowFamily):
        return vi.flow_elbo(target, family, theta, with_grad=False)
    return vi.elbo(target, family, theta, with_grad=False)


def _fit(target_id: str, family_id: str, optimizer: str, natural: dict | None) -> Fit:
    target, family = vi.get_target(target_id), vi.get_family(family_id)
    theta0 = _start(target, family, natural)
    start = _elbo(target, family, theta0)
    flow = isinstance(family, vi.FlowFamily)
    # A flow's fit is checked on fresh draws; its elbo_error covers |cubature - Monte Carlo|.
    result = vi.fit_flow(target, family, optimizer, theta0=theta0) \
        if isinstance(family, vi.FlowFamily) else vi.fit(target, family, optimizer, theta0=theta0)
    params = result.params
    weights = np.asarray(params["weights"], dtype=float)
    means = np.asarray(params["means"], dtype=float)
    # A flow's m is its base's mean, not q's: mean and scale claims are for Gaussian q's.
    mean = np.full(2, math.nan) if flow else weights @ means / weights.sum()
    scales = np.asarray(params["scales"], dtype=float)
    single = len(weights) == 1 and not flow
    start_error = float(start.error) + float(target.log_z_error)
    return Fit(start_elbo=float(start.elbo), start_error=start_error,
               start_kl=float(target.log_z - start.elbo), start_entropy=float(start.entropy),
               log_z=float(result.log_z), elbo=result.elbo,
               elbo_error=result.elbo_error + result.log_z_error, kl=result.kl,
               mean_x=float(mean[0]), mean_y=float(mean[1]),
               scale_x=float(scales[0][0]) if single else math.nan,
               scale_y=float(scales[0][1]) if single else math.nan)


def _widened(target_id: str, family_id: str, natural: dict | None, factor: float) -> tuple:
    """(start, widened): the ELBO's terms at the page's q and at q with its scales times factor
    (``vi.scaled``: a flow's base L, a mixture's every component)."""
    target, family = vi.get_target(target_id), vi.get_family(family_id)
    theta0 = _start(target, family, natural)
    return _elbo(target, family, theta0), _elbo(target, family, vi.scaled(family, theta0, factor))


def check_claims(scene: dict, fits: _Fits | None = None) -> None:
    """Raise BuildError unless every claim of ``scene`` (a parsed scene or lesson step) holds."""
    fits = fits or _Fits()
    d = scene["defaults"]
    for claim in scene.get("claims", []):
        fit = fits.get(d["target"], d["family"], d["optimizer"], d["natural"])
        check, value = claim["check"], claim["value"]
        if check in BOUNDS:
            quantity, direction = BOUNDS[check]
            shown = fit.elbo - fit.start_elbo if quantity == "gain" else getattr(fit, quantity)
            if math.isnan(shown):
                raise BuildError(_false(scene, claim, f"{quantity} is defined for a Gaussian q "
                                        "only (mean: also mixtures; not flows)"))
            slack = getattr(fit, SLACK[quantity]) if quantity in SLACK else 0.0
            holds = shown - slack > value if direction == ">" else shown + slack < value
            if not holds:
                raise BuildError(_false(scene, claim, f"{quantity} = {shown:.4g}, "
                                        f"not {direction} {value:g}"))
        elif check in PROBES:
            start, wide = _widened(d["target"], d["family"], d["natural"], float(value))
            slack = float(start.error) + float(wide.error)
            d_entropy = wide.entropy - start.entropy
            d_cross = wide.expected_log_density - start.expected_log_density
            if not (d_entropy > slack and d_cross < -slack):
                raise BuildError(_false(scene, claim, (
                    f"scales times {value:g} change H[q] by {d_entropy:+.4g} and E_q[log p~] by "
                    f"{d_cross:+.4g}, not up and down")))
        else:
            other = fits.get(d["target"], value["family"], d["optimizer"], None)
            diff = fit.kl - other.kl
            slack = fit.elbo_error + other.elbo_error
            if check == "kl_worse_than":
                holds, said = diff - slack > value["by"], f"by more than {value['by']:g}"
            elif check == "kl_better_than":
                holds, said = -diff - slack > value["by"], f"by less than -{value['by']:g}"
            else:
                holds, said = abs(diff) + slack < value["within"], f"within {value['within']:g}"
            if not holds:
                raise BuildError(_false(scene, claim,
                                        f"KL({d['family']}) - KL({value['family']}) = "
                                        f"{fit.kl:.4g} - {other.kl:.4g} = {diff:.4g}, not {said}"))


def check_all(config: dict, cache_dir: Path | None = None) -> int:
    """Check every scene's and lesson step's claims (fits shared across them); return how many
    were checked.

    With ``cache_dir``, a scene whose claims held before for the same scene and the same
    vi_core source is not fitted again (the result is a pure function of the two)."""
    fits = _Fits()
    source = _vi_core_digest() if cache_dir else ""
    pages = [*config["scenes"], *config.get("lessons", [])]
    for scene in pages:
        if not scene.get("claims"):
            continue
        key = hashlib.sha256((source + json.dumps(scene, sort_keys=True)).encode()).hexdigest()
        mark = cache_dir / f"{key}.held" if cache_dir else None
        if mark and mark.exists():
            continue
        check_claims(scene, fits)
        if mark:
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.write_text(scene["slug"] + "\n")
    return sum(len(scene.get("claims", [])) for scene in pages)


def _vi_core_digest() -> str:
    """What a held claim depends on: vi_core's source and this module's (its checks)."""
    return source_digest([Path(vi.__file__).parent, Path(__file__)])


def _false(scene: dict, claim: dict, why: str) -> str:
    kind = scene.get("kind", "scene")  # "scene" or "lesson" (step N, sitegen.config)
    name = (f"lesson step {scene['step']} {scene['slug']!r}" if kind == "lesson"
            else f"scene {scene['slug']!r}")
    return (f"{name}: the claim {claim['says']!r} is false for what the page "
            f"shows: {why}. Change the {kind}'s text and claim, or its q.")
