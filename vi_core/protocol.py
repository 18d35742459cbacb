"""The page's one door into vi_core: JSON requests in, JSON replies out.

The web page's worker (and build.py, for the first view embedded in the HTML) call
``handle_json('{"method": ..., "params": {...}}')`` and get back
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"name": ..., "message": ...}}``.
Nothing here draws or knows about the DOM; it only turns plain data into vi_core calls and back.

Methods (params -> result):

``versions`` {} -> {python, numpy, scipy, vi_core}
``catalog`` {} -> {targets: [...], families: [...], optimizers: [...]}, descriptions included
``target_grid`` {target, nx, ny} -> {target, extent, nx, ny, log_density: row-major, y from ymin,
    rounded to 4 decimals: the grids are for drawing, never for the numbers shown}
``evaluate`` {target, family, k?, theta? | natural?} -> a *view* of q (below); no theta/natural
    means the family's initial q for that target (the page's Reset)
``samples`` {target, family, k?, theta, n, seed} -> {points: [[x, y], ...],
    mc: {elbo, error, n}}: the Monte Carlo ELBO (reparameterised, standard error) of q
``fit`` {target, family, k?, optimizer?, seed?, theta? | natural?} -> the CLI's ``fit --json``
``set_custom_target`` {source} -> target entry; afterwards ``target: "custom"`` refers to it
``start_run`` {target, family, k?, optimizer, theta} -> {run_id}
``advance_run`` {run_id, steps, budget_ms?} -> {done, converged, iteration, trace: [[iteration, elbo]...], view}
``finish_run`` {run_id, reason} -> {reason, iteration, converged, view}

A view is {target, family, k, theta, natural, components: {weights, means, covs},
readouts: {elbo, expected_log_density, entropy, log_z, kl, elbo_error, log_z_error},
q_grid: {nx, ny, log_density}} where q_grid covers the target's extent like ``target_grid``.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import vi_core
from vi_core.errors import VIError

Json = dict[str, Any]
Q_GRID = (96, 72)  # q's contour grid: fine enough for smooth contours at 800 px, cheap to send

_custom_target = None
_runs: dict[int, tuple[Iterator[Any], Any, Any, dict]] = {}
_run_ids = itertools.count(1)


def _grid_values(values: np.ndarray) -> list[float | None]:
    """A log-density grid for drawing: 4 decimals (0.01 % in density) keep pages and messages
    small; -inf (zero density) and NaN become null."""
    rounded = np.round(np.asarray(values, dtype=float).ravel(), 4)
    return [v if math.isfinite(v) else None for v in rounded.tolist()]


def _finite(value: float) -> float | None:
    """JSON has no NaN/inf: send null and let the page say so."""
    value = float(value)
    return value if math.isfinite(value) else None


def _target(target_id: str):
    from vi_core.targets import get_target

    if target_id == "custom":
        if _custom_target is None:
            raise VIError("No custom target yet: submit a log_density first")
        return _custom_target
    return get_target(target_id)


def _family(family_id: str, k: int | None = None):
    from vi_core.families import get_family

    return get_family(family_id, n_components=k) if k else get_family(family_id)


def _theta(family, params: Json, target) -> np.ndarray:
    if params.get("theta") is not None:
        theta = np.asarray(params["theta"], dtype=float)
        if theta.shape != (family.n_params,) or not np.all(np.isfinite(theta)):
            raise VIError(
                f"theta for {family.id} must be {family.n_params} finite numbers"
            )
    elif params.get("natural") is not None:
        theta = family.from_natural(params["natural"])
    else:
        return family.initial_params(target)
    _check_in_range(family, theta, target)
    return theta


def _check_in_range(family, theta: np.ndarray, target) -> None:
    """q must lie in the box the optimizers keep to (``Family.bounds``); far outside it the
    ELBO is meaningless (e.g. overflows), so say what the range is instead of showing a broken
    number."""
    lo, hi = family.bounds(target)
    if np.all((theta >= lo - 1e-9) & (theta <= hi + 1e-9)):
        return
    r = family.natural_ranges(target)
    raise VIError(
        f"q is out of range for this target: means must lie within "
        f"[{r['mean_x'][0]:g}, {r['mean_x'][1]:g}] x [{r['mean_y'][0]:g}, {r['mean_y'][1]:g}], "
        f"scales within [{r['scale'][0]:.2g}, {r['scale'][1]:.3g}], "
        f"|correlation| at most {r['correlation'][1]:.6g}")


def _grid(extent, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    xmin, xmax, ymin, ymax = extent
    x = np.linspace(xmin, xmax, nx)
    y = np.linspace(ymin, ymax, ny)
    return np.meshgrid(x, y)  # (ny, nx): rows run along y from ymin


def _view(target, family, theta: np.ndarray, result=None) -> Json:
    from vi_core.elbo import elbo

    if result is None:
        result = elbo(target, family, theta, with_grad=False)
    weights, means, covs = family.components(theta)
    gx, gy = _grid(target.extent, *Q_GRID)
    q = family.log_density(theta, gx, gy)
    return {
        "target": target.id,
        "family": family.id,
        "k": family.n_components,
        "theta": theta.tolist(),
        "natural": family.to_natural(theta),
        "components": {
            "weights": weights.tolist(),
            "means": means.tolist(),
            "covs": covs.tolist(),
        },
        "readouts": {
            "elbo": _finite(result.elbo),
            "expected_log_density": _finite(result.expected_log_density),
            "entropy": _finite(result.entropy),
            "log_z": _finite(target.log_z),
            "kl": _finite(target.log_z - result.elbo),
            "elbo_error": _finite(result.error),
            "log_z_error": _finite(target.log_z_error),
        },
        "q_grid": {
            "nx": Q_GRID[0],
            "ny": Q_GRID[1],
            "log_density": _grid_values(q),
        },
    }


def versions(params: Json) -> Json:
    import scipy

    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "vi_core": vi_core.__version__,
    }


def _target_entry(target) -> Json:
    return {
        "id": target.id,
        "name": target.name,
        "description": target.description,
        "extent": list(target.extent),
        "log_z": target.log_z,
        "log_z_error": target.log_z_error,
        "log_z_method": target.log_z_method,
    }


def catalog(params: Json) -> Json:
    from vi_core.families import family_ids, get_family
    from vi_core.optimize import OPTIMIZERS
    from vi_core.targets import get_target, target_ids

    families = []
    for fid in family_ids():
        f = get_family(fid)
        entry = {"id": f.id, "name": f.name, "description": f.description,
                 "n_components": f.n_components, "n_params": f.n_params,
                 "covariance": f.kind, "shared_scale": bool(f.shared_scale)}
        if fid == "mixture-full":  # K is chosen separately (k=1..10); name it for any K
            entry["name"] = "Mixture of K full Gaussians"
            entry["description"] = ("K full-covariance Gaussians with learned weights "
                                    "(softmax); choose K from 1 to 10.")
        families.append(entry)
    return {
        "targets": [_target_entry(get_target(tid)) for tid in target_ids()],
        "families": families,
        "optimizers": [
            {"id": oid, "name": spec.name, "description": spec.description}
            for oid, spec in OPTIMIZERS.items()
        ],
    }


def target_grid(params: Json) -> Json:
    target = _target(params["target"])
    nx, ny = int(params.get("nx", 160)), int(params.get("ny", 120))
    if not (2 <= nx <= 1000 and 2 <= ny <= 1000):
        raise VIError("grid size must be between 2 and 1000 in each direction")
    gx, gy = _grid(target.extent, nx, ny)
    values = target.log_density(gx, gy)
    return {
        "target": target.id,
        "extent": list(target.extent),
        "nx": nx,
        "ny": ny,
        "log_density": _grid_values(values),
    }


def evaluate(params: Json) -> Json:
    target = _target(params["target"])
    family = _family(params["family"], params.get("k"))
    return _view(target, family, _theta(family, params, target))


def samples(params: Json) -> Json:
    from vi_core.elbo import elbo_mc

    target = _target(params["target"])
    family = _family(params["family"], params.get("k"))
    theta = _theta(family, params, target)
    n = int(params.get("n", 200))
    if not 1 <= n <= 20000:
        raise VIError("the number of samples must be between 1 and 20000")
    seed = int(params.get("seed", 0))
    points = family.sample(theta, n, np.random.default_rng(seed))
    # What the samples are for: an unbiased (noisy) ELBO, next to the deterministic one.
    mc = elbo_mc(target, family, theta, n_samples=max(n, 2), rng=np.random.default_rng(seed),
                 with_grad=False)
    return {"points": points.tolist(),
            "mc": {"elbo": _finite(mc.elbo), "error": _finite(mc.error), "n": n}}


def fit(params: Json) -> Json:
    """A whole fit in one call (what ``python -m vi_core fit --json`` prints)."""
    from vi_core.optimize import fit as run_fit

    target = _target(params["target"])
    family = _family(params["family"], params.get("k"))
    theta0 = _theta(family, params, target) if (
        params.get("theta") is not None or params.get("natural") is not None) else None
    result = run_fit(target, family, params.get("optimizer", "lbfgs"),
                     seed=int(params.get("seed", 0)), theta0=theta0).to_dict()
    return {key: (_finite(v) if isinstance(v, float) else v) for key, v in result.items()}


def set_custom_target(params: Json) -> Json:
    from vi_core.targets import target_from_source

    global _custom_target
    _custom_target = target_from_source(str(params["source"]), target_id="custom")
    return _target_entry(_custom_target)


def start_run(params: Json) -> Json:
    from vi_core.optimize import optimize

    target = _target(params["target"])
    family = _family(params["family"], params.get("k"))
    theta = _theta(family, params, target)
    steps = optimize(target, family, theta, optimizer=params.get("optimizer", "lbfgs"),
                     seed=int(params.get("seed", 0)))
    # The generator first yields the starting point (iteration 0): keep it as the state, so
    # that every step advance_run reports is a real iteration.
    first = next(steps, None)
    run_id = next(_run_ids)
    _runs[run_id] = (steps, target, family, {"last": first, "theta": theta})
    return {"run_id": run_id}


def advance_run(params: Json) -> Json:
    steps, target, family, state = _get_run(params)
    trace = []
    done = False
    # A frame's worth of work: up to `steps` iterations, fewer if `budget_ms` runs out first.
    budget = float(params.get("budget_ms", math.inf)) / 1000.0
    started = time.perf_counter()
    for i in range(max(1, int(params.get("steps", 1)))):
        if i > 0 and time.perf_counter() - started > budget:
            break
        if state["last"] is not None and state["last"].converged:
            done = True
            break
        step = next(steps, None)
        if step is None:
            done = True
            break
        state["last"] = step
        trace.append([step.iteration, _finite(step.result.elbo)])
        if step.converged:
            done = True
            break
    last = state["last"]
    return {
        "done": done,
        "converged": bool(last is not None and last.converged),
        "iteration": last.iteration if last is not None else 0,
        "trace": trace,
        "view": _run_view(target, family, state),
    }


def finish_run(params: Json) -> Json:
    _steps, target, family, state = _get_run(params)
    del _runs[int(params["run_id"])]
    last = state["last"]
    return {
        "reason": str(params.get("reason", "done")),
        "converged": bool(last is not None and last.converged),
        "iteration": last.iteration if last is not None else 0,
        "view": _run_view(target, family, state),
    }


def _get_run(params: Json):
    run = _runs.get(int(params["run_id"]))
    if run is None:
        raise VIError(f"no optimization run {params['run_id']}")
    return run


def _run_view(target, family, state) -> Json:
    last = state["last"]
    if last is None:
        return _view(target, family, state["theta"])
    return _view(target, family, np.asarray(last.theta), last.result)


METHODS: dict[str, Callable[[Json], Json]] = {
    "versions": versions,
    "catalog": catalog,
    "target_grid": target_grid,
    "evaluate": evaluate,
    "samples": samples,
    "fit": fit,
    "set_custom_target": set_custom_target,
    "start_run": start_run,
    "advance_run": advance_run,
    "finish_run": finish_run,
}


def handle(request: Json) -> Json:
    """Dispatch one request; every failure becomes an error reply, never an exception."""
    method = request.get("method")
    fn = METHODS.get(method) if isinstance(method, str) else None
    if fn is None:
        return {"ok": False, "error": {"name": "ProtocolError",
                                       "message": f"unknown method {method!r}"}}
    try:
        return {"ok": True, "result": fn(request.get("params") or {})}
    except VIError as exc:
        return {"ok": False, "error": {"name": type(exc).__name__, "message": str(exc)}}
    except (KeyError, TypeError, ValueError) as exc:
        return {"ok": False, "error": {"name": "BadRequest",
                                       "message": f"{method}: bad parameters ({exc})"}}
    except Exception as exc:  # noqa: BLE001 - the page must stay usable whatever Python does
        return {"ok": False, "error": {"name": type(exc).__name__,
                                       "message": f"{method} failed: {exc}"}}


def handle_json(request: str) -> str:
    """``handle`` over JSON text: what the worker calls (strings cross the JS/Python border
    cheaply and without proxies to free)."""
    try:
        parsed = json.loads(request)
    except json.JSONDecodeError as exc:
        return json.dumps({"ok": False, "error": {"name": "ProtocolError",
                                                  "message": f"request is not JSON: {exc}"}})
    return json.dumps(handle(parsed), allow_nan=False)
