"""The page's one door into vi_core: JSON requests in, JSON replies out.

A ``Session`` owns everything a visitor's page has made: the custom target, the open
optimization runs and the cache of starting points. The page's worker makes one session and
calls ``session.handle_json('{"method": ..., "params": {...}}')``; the site generator and the
tests make their own. A reply is ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {"name": ..., "message": ...}}``; a session never raises. Nothing here
draws or knows about the DOM: it turns plain data into vi_core calls and back, and sends the
page every rule it needs (q's ranges, K's limits, defaults, animation pacing), so the page
restates none of them.

Names: K, the number of mixture components, is ``k`` here and in the page's links
(``Family.n_components`` in Python); a family's covariance shape is its ``kind``.

Methods (params -> result):

``versions`` {} -> {python, numpy, scipy (null when not loaded), vi_core}
``catalog`` {} -> {targets: [target entry], families: [family entry] (every family, the flow
    included: kind "flow", its view as below), optimizers: [...],
    defaults: {samples, target_grid: [nx, ny]},
    comparisons: [{id, objective, alpha, name}] (what the page's Compare offers beside the
    reverse-KL fit: ``compare``'s objective and alpha)}
    target entry: {id, name, description, extent, log_z, log_z_error, log_z_method,
        ranges: {mean_x, mean_y, scale, correlation: [lo, hi]} (the box q must stay in),
        axes: [name of x, name of y], group: "Shapes" | "Posteriors from data" | "Your own",
        data: null, or for a posterior from data {kind: "values" | "labelled", points (the
        data now: numbers, or [input, label] pairs), default, min_points, max_points,
        range: [lo, hi] (of values or inputs), decimals (what the page rounds to), noun}}
    family entry: {id, name, description, kind, shared_scale, learns_weights, k, n_params,
        k_range: {min, max, default} for mixture-full, else null,
        layers_range: for the flow {min, max, default, name, description}, else null: the
        page offers ``flow-N`` for N in [min, max] (``flow`` is N = default), each named by
        formatting ``name`` and ``description`` with ``{n}`` = N}
    optimizer entry: {id, name, description, pacing: {frame_ms, steps_per_frame, budget_ms,
        speedup_every, max_speedup, max_budget_ms}} (how the page animates a run)
``target_grid`` {target, nx?, ny?} -> {target, extent, nx, ny, unit, log_density: row-major,
    y from ymin, whole numbers of ``unit`` nats (null where the density is 0 or not a number):
    the grids are for drawing, never for the numbers shown}
``evaluate`` {target, family, k?, theta? | natural?} -> a *view* of q (below); no theta/natural
    means the family's starting q for that target (the page's Reset)
``samples`` {target, family, k?, theta, n, seed} -> {points: [[x, y], ...],
    mc: {elbo, error, n}}: the Monte Carlo ELBO (reparameterised, standard error) of q
``diagnostics`` {target, family, k?, theta? | natural?, seed?, n?, iw_k?, iw_n?} -> {khat, ess,
    n, iw_elbo, iw_se, iw_k, iw_n, log_z, reading, caveat, seed}: when to distrust q
    (``vi_core.diagnostics.diagnose``): PSIS k̂ and ESS of n draws from q (default 4000), the
    IW-ELBO with K = iw_k (default 100) over iw_n groups (default 50) and its standard error,
    the one-line ``reading`` of k̂ and the ``caveat`` (what k̂ cannot see); seed default 0
``forces`` {target, family, k?, theta? | natural?} -> {theta, factors, expected_log_density,
    entropy, elbo, error, log_z}: the ELBO's two terms for q with every scale multiplied by
    each of 13 factors (0.2 ... 5; ``vi_core.forces.scale_sweep``), null where that q leaves the box
``fit`` {target, family, k?, optimizer?, theta? | natural?, seed?} -> the CLI's ``fit --json``
    (diagnostics included, seeded by ``seed``, default 0)
``compare`` {target, family, k?, objective?, alpha?} -> {target, family, k, objective, alpha,
    reverse: fit, forward: fit, note}: the family's reverse-KL fit (the ELBO's optimum, as
    Reset then Optimize reach it) and its fit by ``objective`` ("forward-kl", default: KL(p‖q);
    or "alpha" with ``alpha``: D_α(p‖q)) by ``vi_core.objectives.fit_objective``, both from the
    family's starting q, except that a single Gaussian's forward fit starts at its optimum, the
    moment match; a fit is a view (below) with {elbo, kl, forward_kl, divergence, converged,
    iterations} (``kl`` = log Z - ELBO = KL(q‖p), ``forward_kl`` = KL(p‖q), ``divergence`` what
    that fit minimised); ``note`` says that only reverse KL gives the bound
``set_custom_target`` {source} -> target entry; afterwards ``target: "custom"`` refers to it
``set_data`` {target, data, family, k?, theta? | natural?} -> {target: target entry, grid (as
    ``target_grid``), view (as ``evaluate``)}: a posterior from data (an entry with ``data``)
    given new data (null: its built-in data), all computed before the session changes;
    afterwards that id refers to it (``vi_core.targets.with_data`` has the data's format)
``start_run`` {target, family, k?, optimizer, theta, resume?} -> {run_id}; ``resume`` is a
    ``state`` from an earlier run (say, before Python was restarted): the run goes on from it
``advance_run`` {run_id, steps, budget_ms?, at_rest?} -> {done, converged, iteration,
    trace: [[iteration, elbo]...], view, state}; ``done`` comes with the last iteration, however
    the run ended (converged, max_iter, no finite step): a done run takes no more steps. With
    ``at_rest`` (the frame that ends a Step) the view is one at rest, as ``pause_run``'s
``pause_run`` {run_id} -> {iteration, converged, view, state}: the run's q as a view at rest
    (a flow's ELBO checked on fresh draws, as ``finish_run``'s), the run kept to continue (a Stop)
``finish_run`` {run_id, reason} -> {reason, iteration, converged, view, state}

``state`` is the optimizer's state as JSON (``vi_core.optimize.state_to_json``) with the ids of
its target and family: with it a paused run survives the loss of its session. A ``resume`` is
accepted only for the same target and family, and only if the ELBO it carries is what the
target gives at its theta now (a custom target of the same id may have changed).

A view is {target, family, k, theta, natural, components: {weights, means, covs},
readouts: {elbo, expected_log_density, entropy, log_z, kl, elbo_error, log_z_error},
q_grid: {nx, ny, unit, log_density} or null} where q_grid covers the target's extent like
``target_grid``, for a q of several components or a flow; a single Gaussian's density contours
are ellipses, which the page draws from ``components`` (so a drag need not send a grid). A
flow's ``components`` are one: centred at T(0) (q's centre; ``natural.means`` is the base's m,
and moving T(0) by d moves m by d), with the base's covariance L Lᵀ, and its readouts
carry ``check``: {exact, mc_elbo, mc_error, n}, the cubature ELBO checked on n fresh draws (the
ELBO's error covers the difference), or null on a run's intermediate frames.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import vi_core
from vi_core._numeric import json_number
from vi_core.custom_target import target_from_source
from vi_core.diagnostics import DEFAULT_DRAWS, DEFAULT_IW_K, DEFAULT_IW_N, diagnose
from vi_core.elbo import ElboResult, elbo, elbo_mc
from vi_core.errors import VIError
from vi_core.families import (
    DEFAULT_MIXTURE_FULL_K,
    MAX_COMPONENTS,
    MAX_FLOW_LAYERS,
    Family,
    family_ids,
    get_family,
)
from vi_core.fit import fit as run_fit
from vi_core.flow_family import DEFAULT_FLOW_LAYERS, FLOW_DESCRIPTION, FLOW_NAME, FlowFamily
from vi_core.flows import (
    FLOW_LBFGS_TOL,
    FLOW_MAX_ITER,
    FlowCheck,
    FlowObjective,
    check_flow,
    fit_flow,
    flow_elbo,
    flow_elbo_mc,
    initial_flow_params,
)
from vi_core.forces import scale_sweep
from vi_core.objectives import (
    TargetQuadrature,
    check_objective,
    divergence,
    fit_objective,
    moment_match,
    target_quadrature,
)
from vi_core.optimize import (
    DEFAULT_OPTIMIZER,
    OPTIMIZERS,
    Objective,
    Optimizer,
    OptState,
    get_optimizer,
    state_from_json,
    state_to_json,
)
from vi_core.starts import StartCache, initial_params
from vi_core.target import Target
from vi_core.targets import DATA_SPECS, get_target, target_ids, with_data

__all__ = ["PACING", "Q_GRID", "SAMPLES", "TARGET_GRID", "Session", "on_page", "page_family_ids"]

Json = dict[str, Any]
#: q's contour grid: fine enough for smooth contours at 800 px, cheap to send.
Q_GRID = (96, 72)
#: What the page uses unless told otherwise: samples drawn from q, the target's colour grid.
SAMPLES = 400
TARGET_GRID = (144, 108)
#: How the page animates a run of each optimizer: ``steps_per_frame`` iterations every
#: ``frame_ms`` ms, at most ``budget_ms`` of Python per frame; every ``speedup_every`` frames
#: both double (up to ``max_speedup`` times, the budget up to ``max_budget_ms``), so the first
#: frames are for watching and the rest for arriving. L-BFGS takes few, big steps: one per
#: 150 ms frame, so that its usual 10-30 iterations take 1.5-3 s and a reader sees q move and
#: the trace rise step by step (at 50 ms a default run was over in under a second); the
#: first-order optimizers take hundreds of small ones, two per 50 ms frame.
_FRAME = {"frame_ms": 50, "budget_ms": 25, "speedup_every": 40, "max_speedup": 1024,
          "max_budget_ms": 200}
PACING: dict[str, Json] = {
    "gradient-ascent": {**_FRAME, "steps_per_frame": 2},
    "adam": {**_FRAME, "steps_per_frame": 2},
    "lbfgs": {**_FRAME, "frame_ms": 150, "steps_per_frame": 1, "speedup_every": 16},
}
_MAX_SAMPLES = 20000
#: Fresh draws that check a flow's cubature ELBO in each view at rest (``_flow_view``): its
#: standard error is ~1e-2 nats on a good fit, and it costs a few ms of numpy.
PAGE_MC_DRAWS = 4000
#: The most draws ``diagnostics`` takes for the IW-ELBO (iw_k x iw_n): ~0.1 s of Python.
_MAX_IW_DRAWS = 100_000
_MAX_GRID = 1000


@dataclass
class Run:
    """An open optimization run: what it optimizes, with which optimizer, and where it is."""

    target: Target
    family: Family
    optimizer: Optimizer
    objective: Objective
    state: OptState


#: Grids for drawing are sent as whole numbers of this many nats (0.01 % in density): whole
#: numbers keep pages and messages small and are several times faster to write as JSON than
#: floats, which matters on every drag (a q grid goes with every view).
GRID_UNIT = 1e-4


def _grid_values(values: np.ndarray) -> list[int | None]:
    """A log-density grid for drawing, in GRID_UNITs; -inf (zero density) and NaN are null."""
    flat = np.asarray(values, dtype=float).ravel()
    finite = np.isfinite(flat)
    out: list[int | None] = (np.rint(np.where(finite, flat, 0.0) / GRID_UNIT).astype(np.int64)
                             .tolist())
    if not finite.all():
        for i in np.flatnonzero(~finite).tolist():
            out[i] = None
    return out


def _grid(extent: tuple[float, float, float, float], nx: int, ny: int
          ) -> tuple[np.ndarray, np.ndarray]:
    xmin, xmax, ymin, ymax = extent
    x = np.linspace(xmin, xmax, nx)
    y = np.linspace(ymin, ymax, ny)
    return np.meshgrid(x, y)  # (ny, nx): rows run along y from ymin


def _text(params: Json, key: str) -> str:
    value = params[key]
    if not isinstance(value, str):
        raise VIError(f"{key} must be an id (text), got {type(value).__name__}")
    return value


def on_page(family_id: str) -> bool:
    """Whether the page offers a family: every family, flows included (their views carry q on
    a grid and the flow ELBO checked on fresh draws, ``_flow_view``)."""
    return bool(family_id)


def page_family_ids() -> list[str]:
    """``family_ids()`` that the page offers (``on_page``): what ``catalog`` lists."""
    return [fid for fid in family_ids() if on_page(fid)]


#: What "Compare" sets beside the reverse-KL fit (the page's choices, in this order): ``compare``'s
#: objective and alpha, and the choice's name.
COMPARISONS: tuple[dict[str, Any], ...] = (
    {"id": "forward-kl", "objective": "forward-kl", "alpha": None,
     "name": "forward KL(p‖q), mass-covering"},
    {"id": "alpha-0.5", "objective": "alpha", "alpha": 0.5,
     "name": "Rényi α = 0.5, between the two"},
    {"id": "alpha-2", "objective": "alpha", "alpha": 2.0,
     "name": "Rényi α = 2, covers mass harder"},
)

#: The target list's groups (the page's <optgroup>s).
SHAPES, POSTERIORS, YOURS = "Shapes", "Posteriors from data", "Your own"


def target_entry(target: Target) -> Json:
    """A target as the page sees it, with the box of q's natural parameters it allows, its
    parameters' names (``axes``), its group in the list, and for a posterior from data its
    ``data``: the spec (``DataSpec.to_json``: kind, default, limits) and the ``points`` it
    conditions on now."""
    ranges = Family.natural_ranges(target.extent)
    spec = DATA_SPECS.get(target.id) if target.data is not None else None
    data = None
    if spec is not None and target.data is not None:
        data = {**spec.to_json(),
                "points": [list(p) if isinstance(p, tuple) else p for p in target.data]}
    return {
        "id": target.id,
        "name": target.name,
        "description": target.description,
        "extent": [float(v) for v in target.extent],
        "log_z": target.log_z,
        "log_z_error": target.log_z_error,
        "log_z_method": target.log_z_method,
        "ranges": {key: [float(lo), float(hi)] for key, (lo, hi) in ranges.items()},
        "axes": list(target.axes),
        "group": POSTERIORS if data else (YOURS if target.id == "custom" else SHAPES),
        "data": data,
    }


def family_entry(family: Family) -> Json:
    """A family as the page sees it: its kind and K (and K's choices for mixture-full)."""
    entry = {"id": family.id, "name": family.name, "description": family.description,
             "kind": family.kind, "shared_scale": bool(family.shared_scale),
             "learns_weights": bool(family.learns_weights), "k": family.n_components,
             "n_params": family.n_params, "k_range": None, "layers_range": None}
    if family.id == "mixture-full":  # K is chosen separately; name it for any K
        entry["name"] = "Mixture of K full Gaussians"
        entry["description"] = ("K full-covariance Gaussians with learned weights "
                                f"(softmax); choose K from 1 to {MAX_COMPONENTS}.")
        entry["k_range"] = {"min": 1, "max": MAX_COMPONENTS, "default": DEFAULT_MIXTURE_FULL_K}
    if isinstance(family, FlowFamily) and family.n_layers == DEFAULT_FLOW_LAYERS:
        # The select's entry (Layers beside it); each depth has its own.
        entry["name"] = "Planar flow"
        entry["layers_range"] = {"min": 1, "max": MAX_FLOW_LAYERS, "default": DEFAULT_FLOW_LAYERS,
                                 "name": FLOW_NAME, "description": FLOW_DESCRIPTION}
    return entry


class Session:
    """One page's conversation with vi_core (see the module docstring for the methods)."""

    def __init__(self) -> None:
        self.custom_target: Target | None = None
        #: Posteriors whose data the page changed (``set_data``), by id; the others have their
        #: built-in data.
        self.data_targets: dict[str, Target] = {}
        self.runs: dict[int, Run] = {}
        self._run_ids = itertools.count(1)
        self.starts: StartCache = {}
        #: p's cubature for forward KL, per target object (a new custom target gets its own).
        self.quadratures: list[tuple[Target, TargetQuadrature]] = []
        self.methods: dict[str, Callable[[Json], Json]] = {
            "versions": self.versions,
            "catalog": self.catalog,
            "target_grid": self.target_grid,
            "evaluate": self.evaluate,
            "samples": self.samples,
            "diagnostics": self.diagnostics,
            "forces": self.forces,
            "fit": self.fit,
            "compare": self.compare,
            "set_custom_target": self.set_custom_target,
            "set_data": self.set_data,
            "start_run": self.start_run,
            "advance_run": self.advance_run,
            "pause_run": self.pause_run,
            "finish_run": self.finish_run,
        }

    # -- dispatch -------------------------------------------------------------------------

    def handle(self, request: Json) -> Json:
        """Dispatch one request; every failure becomes an error reply, never an exception."""
        method = request.get("method") if isinstance(request, dict) else None
        fn = self.methods.get(method) if isinstance(method, str) else None
        if fn is None:
            return {"ok": False, "error": {"name": "ProtocolError",
                                           "message": f"unknown method {method!r}"}}
        try:
            params = request.get("params") or {}
            if not isinstance(params, dict):
                raise VIError(f"{method}: params must be an object")
            return {"ok": True, "result": fn(params)}
        except VIError as exc:
            return {"ok": False, "error": {"name": type(exc).__name__,
                                           "message": " ".join(str(exc).split())}}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": {"name": "BadRequest",
                                           "message": f"{method}: bad parameters ({exc})"}}
        except Exception as exc:  # noqa: BLE001 - the page must stay usable whatever Python does
            return {"ok": False, "error": {"name": type(exc).__name__,
                                           "message": " ".join(f"{method} failed: {exc}".split())}}

    def handle_json(self, request: str) -> str:
        """``handle`` over JSON text: what the worker calls (strings cross the JS/Python border
        cheaply and without proxies to free)."""
        try:
            parsed = json.loads(request)
        except json.JSONDecodeError as exc:
            return json.dumps({"ok": False, "error": {"name": "ProtocolError",
                                                      "message": f"request is not JSON: {exc}"}})
        return json.dumps(self.handle(parsed), allow_nan=False)

    # -- lookups --------------------------------------------------------------------------

    def _target(self, params: Json) -> Target:
        target_id = _text(params, "target")
        if target_id == "custom":
            if self.custom_target is None:
                raise VIError("No custom target yet: submit a log_density first")
            return self.custom_target
        return self.data_targets.get(target_id) or get_target(target_id)

    @staticmethod
    def _family(params: Json) -> Family:
        family_id = _text(params, "family")
        if not on_page(family_id):
            raise VIError(f"{family_id}: not a family the page offers")
        k = params.get("k")
        return get_family(family_id, n_components=k) if k else get_family(family_id)

    def _theta(self, family: Family, params: Json, target: Target) -> np.ndarray:
        if params.get("theta") is not None:
            theta = np.asarray(params["theta"], dtype=float)
            if theta.shape != (family.n_params,) or not np.all(np.isfinite(theta)):
                raise VIError(f"theta for {family.id} must be {family.n_params} finite numbers")
        elif params.get("natural") is not None:
            theta = family.from_natural(params["natural"])
        elif isinstance(family, FlowFamily):
            return initial_flow_params(target, family, cache=self.starts)
        else:
            return initial_params(target, family, cache=self.starts)
        _check_in_range(family, theta, target)
        return theta

    # -- methods --------------------------------------------------------------------------

    def versions(self, params: Json) -> Json:
        try:  # scipy is optional: the core needs numpy only (only report it if it is there)
            import scipy  # type: ignore[import-untyped]
            scipy_version: str | None = scipy.__version__
        except ImportError:
            scipy_version = None
        return {"python": sys.version.split()[0], "numpy": np.__version__,
                "scipy": scipy_version, "vi_core": vi_core.__version__}

    def catalog(self, params: Json) -> Json:
        return {
            "targets": [target_entry(get_target(tid)) for tid in target_ids()],
            "families": [family_entry(get_family(fid)) for fid in page_family_ids()],
            "optimizers": [
                {"id": oid, "name": spec.name, "description": spec.description,
                 "pacing": dict(PACING[oid])}
                for oid, spec in OPTIMIZERS.items()
            ],
            "defaults": {"samples": SAMPLES, "target_grid": list(TARGET_GRID)},
            "comparisons": [dict(c) for c in COMPARISONS],
        }

    def target_grid(self, params: Json) -> Json:
        return self._grid(self._target(params), params)

    @staticmethod
    def _grid(target: Target, params: Json) -> Json:
        nx, ny = (default if params.get(key) is None else int(params[key])
                  for key, default in zip(("nx", "ny"), TARGET_GRID, strict=True))
        if not (2 <= nx <= _MAX_GRID and 2 <= ny <= _MAX_GRID):
            raise VIError(f"grid size must be between 2 and {_MAX_GRID} in each direction")
        gx, gy = _grid(target.extent, nx, ny)
        return {"target": target.id, "extent": [float(v) for v in target.extent],
                "nx": nx, "ny": ny, "unit": GRID_UNIT,
                "log_density": _grid_values(target.log_density(gx, gy))}

    def evaluate(self, params: Json) -> Json:
        target = self._target(params)
        family = self._family(params)
        return _view(target, family, self._theta(family, params, target))

    def samples(self, params: Json) -> Json:
        target = self._target(params)
        family = self._family(params)
        theta = self._theta(family, params, target)
        n = SAMPLES if params.get("n") is None else int(params["n"])
        if not 1 <= n <= _MAX_SAMPLES:
            raise VIError(f"the number of samples must be between 1 and {_MAX_SAMPLES}")
        seed = int(params.get("seed", 0))
        points = family.sample(theta, n, np.random.default_rng(seed))
        # What the samples are for: an unbiased (noisy) ELBO, next to the deterministic one.
        rng = np.random.default_rng(seed)
        mc = flow_elbo_mc(target, family, theta, n_samples=max(n, 2), rng=rng) \
            if isinstance(family, FlowFamily) else \
            elbo_mc(target, family, theta, n_samples=max(n, 2), rng=rng, with_grad=False)
        return {"points": points.tolist(),
                "mc": {"elbo": json_number(mc.elbo), "error": json_number(mc.error), "n": n}}

    def diagnostics(self, params: Json) -> Json:
        """When to distrust q: k̂, ESS, the IW-ELBO, and what they mean in one line."""
        target = self._target(params)
        family = self._family(params)
        theta = self._theta(family, params, target)
        n = _whole(params, "n", DEFAULT_DRAWS, 2, _MAX_SAMPLES)
        iw_k = _whole(params, "iw_k", DEFAULT_IW_K, 1, _MAX_IW_DRAWS)
        iw_n = _whole(params, "iw_n", DEFAULT_IW_N, 2, _MAX_IW_DRAWS)
        if iw_k * iw_n > _MAX_IW_DRAWS:
            raise VIError(f"iw_k x iw_n must be at most {_MAX_IW_DRAWS}, got {iw_k} x {iw_n}")
        d = diagnose(target, family, theta, seed=params.get("seed", 0), n=n, iw_k=iw_k,
                     iw_n=iw_n)
        return {"khat": json_number(d.khat), "ess": json_number(d.ess), "n": d.n,
                "iw_elbo": json_number(d.iw.value), "iw_se": json_number(d.iw.se),
                "iw_k": d.iw.k, "iw_n": d.iw.n, "log_z": json_number(target.log_z),
                "reading": d.reading, "caveat": d.caveat, "seed": d.seed}

    def forces(self, params: Json) -> Json:
        """The ELBO's two terms as q's scale is shrunk and grown (``vi_core.forces``)."""
        target = self._target(params)
        family = self._family(params)
        theta = self._theta(family, params, target)
        sweep = scale_sweep(target, family, theta, target.extent)
        out: Json = _json_numbers({"theta": theta.tolist(), "factors": sweep.factors,
                                   "expected_log_density": sweep.expected_log_density,
                                   "entropy": sweep.entropy, "elbo": sweep.elbo,
                                   "error": sweep.error, "log_z": target.log_z})
        return out

    def fit(self, params: Json) -> Json:
        """A whole fit in one call (what ``python -m vi_core fit --json`` prints)."""
        target = self._target(params)
        family = self._family(params)
        theta0 = self._theta(family, params, target) if (
            params.get("theta") is not None or params.get("natural") is not None) else None
        optimizer = params.get("optimizer", DEFAULT_OPTIMIZER)
        result = fit_flow(target, family, optimizer, theta0=theta0) \
            if isinstance(family, FlowFamily) else \
            run_fit(target, family, optimizer, theta0=theta0)
        out = {**result.to_dict(),
               **diagnose(target, family, result.theta, seed=params.get("seed", 0)).to_dict()}
        safe: Json = _json_numbers(out)
        return safe

    def compare(self, params: Json) -> Json:
        """The reverse-KL fit and the forward-KL (or α) fit of one target and family."""
        target = self._target(params)
        family = self._family(params)
        objective = str(params.get("objective") or "forward-kl")
        if objective == "reverse-kl":
            raise VIError("compare: objective must be forward-kl or alpha (reverse KL is the "
                          "other side of the comparison)")
        alpha = check_objective(objective, params.get("alpha"))
        if isinstance(family, FlowFamily):
            raise VIError(f"compare: {family.id} is a flow; the reverse vs forward KL comparison "
                          "is for the Gaussian families and mixtures (flows are not compared yet)")
        quad = self._quadrature(target)
        start = initial_params(target, family, cache=self.starts)
        rev = run_fit(target, family, theta0=start)
        # A single Gaussian's forward-KL optimum is the moment match: start there (the fit then
        # only confirms it) rather than make the page wait for the climb.
        start_other = moment_match(quad, family) if (
            objective == "forward-kl" and family.n_components == 1) else start
        other = fit_objective(target, family, objective, alpha=alpha, theta0=start_other,
                              quadrature=quad)

        def side(theta: list[float], converged: bool, iterations: int,
                 minimised: float | None) -> Json:
            view = _view(target, family, np.asarray(theta, dtype=float))
            fwd = divergence(quad, family, theta, with_grad=False).value
            kl = view["readouts"]["kl"]
            return {**view, "elbo": view["readouts"]["elbo"], "kl": kl,
                    "forward_kl": json_number(fwd),
                    "divergence": kl if minimised is None else json_number(minimised),
                    "converged": converged, "iterations": iterations}

        reverse = side(rev.theta, rev.converged, rev.iterations, None)
        forward = side(other.fit.theta, other.fit.converged, other.fit.iterations,
                       other.divergence)
        return {"target": target.id, "family": family.id, "k": family.n_components,
                "objective": objective, "alpha": alpha, "reverse": reverse,
                "forward": forward, "note": other.note}

    def _quadrature(self, target: Target) -> TargetQuadrature:
        for known, quad in self.quadratures:
            if known is target:
                return quad
        quad = target_quadrature(target)
        self.quadratures = [*self.quadratures[-3:], (target, quad)]
        return quad

    def set_custom_target(self, params: Json) -> Json:
        self.custom_target = target_from_source(params["source"], target_id="custom")
        return target_entry(self.custom_target)

    def set_data(self, params: Json) -> Json:
        """A posterior from data given new data, atomically: the target, its grid and q's view
        (as ``evaluate`` with the same family, k, theta or natural) are all computed before
        anything changes; a refusal leaves the session as it was. ``data`` null: the built-in
        data again."""
        target = with_data(_text(params, "target"), params.get("data"))
        family = self._family(params)
        grid = self._grid(target, params)
        view = _view(target, family, self._theta(family, params, target))
        if target is get_target(target.id):
            self.data_targets.pop(target.id, None)
        else:
            self.data_targets[target.id] = target
        return {"target": target_entry(target), "grid": grid, "view": view}

    def start_run(self, params: Json) -> Json:
        target = self._target(params)
        family = self._family(params)
        optimizer_id = params.get("optimizer", DEFAULT_OPTIMIZER)
        if isinstance(family, FlowFamily):
            # A flow's stopping rule (vi_core.flows: looser tolerance, fewer iterations for L-BFGS)
            lbfgs = optimizer_id == "lbfgs"
            optimizer = get_optimizer(optimizer_id, tol=FLOW_LBFGS_TOL if lbfgs else None,
                                      max_iter=FLOW_MAX_ITER if lbfgs else None)
            objective: Objective = FlowObjective(target, family)
        else:
            optimizer = get_optimizer(optimizer_id)
            objective = Objective(target, family)
        if params.get("resume") is not None:
            state = _resumed(optimizer, objective, target, family, params["resume"])
        else:
            state = optimizer.init(objective, self._theta(family, params, target))
        run_id = next(self._run_ids)
        self.runs[run_id] = Run(target, family, optimizer, objective, state)
        return {"run_id": run_id}

    def advance_run(self, params: Json) -> Json:
        run = self._run(params)
        trace = []
        # A frame's worth of work: up to `steps` iterations, fewer if `budget_ms` runs out first.
        budget = float(params.get("budget_ms", math.inf)) / 1000.0
        started = time.perf_counter()
        for i in range(max(1, int(params.get("steps", 1)))):
            if run.state.done or (i > 0 and time.perf_counter() - started > budget):
                break
            run.state = run.optimizer.step(run.objective, run.state)
            trace.append([run.state.iteration, json_number(run.state.result.elbo)])
        # at_rest: the run pauses after this frame (the end of a Step), so its view is a final one.
        return {"done": run.state.done, **self._run_report(run, final=bool(params.get("at_rest"))),
                "trace": trace}

    def pause_run(self, params: Json) -> Json:
        """The run's q at rest (a Stop between frames): its view is a final one, and the run
        stays to be continued."""
        return self._run_report(self._run(params), final=True)

    def finish_run(self, params: Json) -> Json:
        run = self._run(params)
        del self.runs[int(params["run_id"])]
        return {"reason": str(params.get("reason", "done")), **self._run_report(run, final=True)}

    def _run(self, params: Json) -> Run:
        run = self.runs.get(int(params["run_id"]))
        if run is None:
            raise VIError(f"no optimization run {params['run_id']}")
        return run

    @staticmethod
    def _run_report(run: Run, final: bool = False) -> Json:
        """The run's progress; its view is a final one (a flow's ELBO checked on fresh draws)
        when the run is done or being finished, not for the frames in between."""
        s = run.state
        return {"converged": bool(s.converged), "iteration": s.iteration,
                "view": _view(run.target, run.family, s.theta, s.result, checked=final or s.done),
                "state": {"target": run.target.id, "family": run.family.id,
                          **state_to_json(run.optimizer, s)}}


def _whole(params: Json, key: str, default: int, low: int, high: int) -> int:
    """params[key] (default if absent) as a whole number in [low, high], else VIError."""
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not low <= value <= high or value != int(value):
        raise VIError(f"{key} must be a whole number between {low} and {high}, got {value!r}")
    return int(value)


def _json_numbers(value: Any) -> Any:
    """Floats made JSON-safe (NaN and inf -> null) all the way down dicts and lists."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    return value


def _resumed(optimizer: Optimizer, objective: Objective, target: Target, family: Family,
             saved: Any) -> OptState:
    """A saved run's state, checked against the target and family it is to continue on."""
    if not isinstance(saved, dict):
        raise VIError("resume must be a saved run's state (an object)")
    if (saved.get("target"), saved.get("family")) != (target.id, family.id):
        raise VIError(f"the saved run is for {saved.get('target')!r} x {saved.get('family')!r}, "
                      f"not {target.id!r} x {family.id!r}")
    state = state_from_json(optimizer, family, saved)
    _check_in_range(family, state.theta, target)
    if not math.isfinite(state.result.elbo):
        raise VIError("the saved run has no finite ELBO to continue from; start a new run")
    objective.rule_for(state.iteration)  # the rule the saved ELBO was computed on
    again = objective(state.theta, min_order=state.result.order or None)
    if not abs(again.elbo - state.result.elbo) <= 1e-9 * max(1.0, abs(again.elbo)):
        raise VIError("the saved run does not match this target any more (its ELBO differs); "
                      "start a new run")
    return state


def _check_in_range(family: Family, theta: np.ndarray, target: Target) -> None:
    """q must lie in the box the optimizers keep to (``Family.bounds``); far outside it the
    ELBO is meaningless (e.g. overflows), so say what the range is instead of showing a broken
    number."""
    lo, hi = family.bounds(target.extent)
    if np.all((theta >= lo - 1e-9) & (theta <= hi + 1e-9)):
        return
    r = family.natural_ranges(target.extent)
    raise VIError(
        f"q is out of range for this target: means must lie within "
        f"[{r['mean_x'][0]:g}, {r['mean_x'][1]:g}] x [{r['mean_y'][0]:g}, {r['mean_y'][1]:g}], "
        f"scales within [{r['scale'][0]:.2g}, {r['scale'][1]:.3g}], "
        f"|correlation| at most {r['correlation'][1]:.6g}")


def _view(target: Target, family: Family, theta: np.ndarray,
          result: ElboResult | None = None, checked: bool = True) -> Json:
    if isinstance(family, FlowFamily):
        return _flow_view(target, family, theta, result, checked)
    if result is None:
        result = elbo(target, family, theta, with_grad=False)
    weights, means, covs = family.components(theta)
    return _view_json(target, family, theta, result, result.error,
                      {"weights": weights.tolist(), "means": means.tolist(), "covs": covs.tolist()},
                      with_grid=family.n_components > 1)


def _view_json(target: Target, family: Family, theta: np.ndarray, result: ElboResult,
               error: float, components: Json, with_grid: bool, **extra: Any) -> Json:
    """A view as the module docstring describes it (``extra`` joins its readouts)."""
    q_grid = None
    if with_grid:
        gx, gy = _grid(target.extent, *Q_GRID)
        q_grid = {"nx": Q_GRID[0], "ny": Q_GRID[1], "unit": GRID_UNIT,
                  "log_density": _grid_values(family.log_density(theta, gx, gy))}
    return {
        "target": target.id,
        "family": family.id,
        "k": family.n_components,
        "theta": theta.tolist(),
        "natural": family.to_natural(theta),
        "components": components,
        "readouts": {
            "elbo": json_number(result.elbo),
            "expected_log_density": json_number(result.expected_log_density),
            "entropy": json_number(result.entropy),
            "log_z": json_number(target.log_z),
            "kl": json_number(target.log_z - result.elbo),
            "elbo_error": json_number(error),
            "log_z_error": json_number(target.log_z_error),
            **extra,
        },
        "q_grid": q_grid,
    }


def _flow_view(target: Target, family: FlowFamily, theta: np.ndarray,
               result: ElboResult | None, checked: bool) -> Json:
    """A flow's view: its density on the grid (by the inverse map) for contours, one "component"
    for the handles: centred at T(0), the image of the base's centre (moving it moves m, which
    translates q), with the base's covariance L Lᵀ (its shape handles), and the cubature ELBO,
    checked on PAGE_MC_DRAWS fresh draws unless ``checked`` is False (a run's intermediate frames):
    the error then covers |cubature - Monte Carlo| (``vi_core.flows.check_flow``), and a q
    whose two estimates disagree says so in ``readouts.check``."""
    check = None
    if checked:
        check = check_flow(target, family, theta, n=PAGE_MC_DRAWS,
                           min_order=result.order if result is not None else None)
        result = check.cubature
    elif result is None:
        result = flow_elbo(target, family, theta, with_grad=False)
    _, chol, _ = family.unpack(theta)
    centre = family.forward(theta, np.zeros((1, 2))).x[0]  # T(0): where q is, wherever m went
    return _view_json(
        target, family, theta, result, check.error if check is not None else result.error,
        {"weights": [1.0], "means": [centre.tolist()], "covs": [(chol @ chol.T).tolist()]},
        with_grid=True,
        check=None if check is None else {
            "exact": check.exact, "mc_elbo": json_number(check.mc.elbo),
            "mc_error": json_number(check.mc.error), "n": PAGE_MC_DRAWS,
            "reading": _check_reading(check, PAGE_MC_DRAWS)})


def _check_reading(check: FlowCheck, n: int) -> str:
    """What a flow's check says, in a sentence for the page (numbers as the readouts round)."""
    def num(value: float, spec: str) -> str:
        return format(value, spec).replace("-", "−")  # the readouts' minus sign

    mc = (f"the Monte Carlo ELBO on {n} fresh draws from q is {num(check.mc.elbo, '.4g')} "
          f"± {num(check.mc.error, '.1g')}")
    if check.exact:
        return f"Checked: {mc}, in agreement with the cubature."
    if check.agree:
        return (f"Checked: {mc}; the cubature is resolved only to "
                f"± {num(check.cubature.error, '.1g')} here, and the ELBO's ± covers both.")
    return (f"Not exact: {mc}, and the cubature ({num(check.cubature.elbo, '.4g')}) disagrees: "
            "q bends between the cubature's nodes. The ELBO's ± covers the difference.")
