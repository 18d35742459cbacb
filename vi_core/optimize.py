"""Optimizers that maximise the ELBO over a family's unconstrained parameters theta.

``optimize`` is a generator in the style of blackjax/emcee: it yields one ``Step`` per
iteration (iteration 0 is the starting point) and stops after the converged step or
``max_iter``, so a caller (the page's worker) can run a few iterations per animation frame and
drop the generator at any time. ``fit`` consumes it.

Optimizers (all deterministic, all on the exact gradient of the deterministic ELBO):

* ``gradient-ascent``: theta += lr * grad ELBO with a fixed step, for comparison with the
  reference demo. Guards only: a step is at most ``max_step`` per coordinate, and a step to a
  NaN/inf ELBO is rejected and lr halved.
* ``adam``: Adam (Kingma & Ba) with bias correction and the same guards.
* ``lbfgs`` (default): limited-memory BFGS (two-loop recursion, 10 pairs) with a strong Wolfe
  line search (Nocedal & Wright, Alg. 3.5/3.6), projected onto the family's bounds.

Every iterate is kept inside ``family.bounds(target)`` (log scales within a wide band around
the target's size, |rho| <= 0.99999, bounded logits), so absurd values cannot blow up.

Convergence uses ``grad_norm`` = max |d ELBO / d theta_i| over the coordinates not held at a
bound: ``lbfgs`` stops when it is <= ``tol`` (default 1e-7), when an iteration changes the ELBO
by less than 1e-13 relative, or when the line search can make no progress at machine precision
(converged if grad_norm is then within 1000 tol). ``adam`` and ``gradient-ascent`` stop at
grad_norm <= ``tol`` (default 1e-4).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vi_core.elbo import DEFAULT_TOL, ElboResult, elbo
from vi_core.errors import OptimizerError
from vi_core.families import Family, get_family

__all__ = [
    "DEFAULT_OPTIMIZER",
    "OPTIMIZERS",
    "FitResult",
    "OptimizerSpec",
    "Step",
    "fit",
    "optimize",
    "optimizer_ids",
]


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer's id, display name, description and defaults."""

    id: str
    name: str
    description: str
    tol: float
    max_iter: int
    options: dict[str, float] = field(default_factory=dict)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "gradient-ascent": OptimizerSpec(
        "gradient-ascent", "Gradient ascent",
        "Plain fixed-step gradient ascent on the exact ELBO gradient (lr = 0.02): simple, "
        "slow on curved or badly scaled problems.", 1e-4, 5000, {"lr": 0.02, "max_step": 0.5}),
    "adam": OptimizerSpec(
        "adam", "Adam",
        "Adam (lr = 0.05, betas 0.9/0.999): per-parameter step sizes from running gradient "
        "moments, the workhorse of stochastic VI.", 1e-4, 3000,
        {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "max_step": 0.5}),
    "lbfgs": OptimizerSpec(
        "lbfgs", "L-BFGS",
        "Limited-memory BFGS with a strong Wolfe line search: quasi-Newton, converges in "
        "tens of iterations on the exact ELBO.", 1e-7, 1000, {"memory": 10}),
}
DEFAULT_OPTIMIZER = "lbfgs"


def optimizer_ids() -> list[str]:
    """Ids of the optimizers, default (``lbfgs``) last."""
    return list(OPTIMIZERS)


@dataclass(frozen=True)
class Step:
    """One iteration: the iterate ``theta``, its ``result`` (ELBO, parts, error, gradient),
    ``grad_norm`` (max-abs projected gradient of the ELBO), whether the run has ``converged``,
    a short ``message`` and the cumulative number of ELBO evaluations ``n_evals``."""

    iteration: int
    theta: np.ndarray
    result: ElboResult
    grad_norm: float
    converged: bool
    message: str = ""
    n_evals: int = 0


@dataclass(frozen=True)
class FitResult:
    """Outcome of ``fit``; ``kl = log_z - elbo`` and ``params`` is ``family.to_natural``."""

    target: str
    family: str
    optimizer: str
    elbo: float
    expected_log_density: float
    entropy: float
    log_z: float
    kl: float
    iterations: int
    seconds: float
    converged: bool
    params: dict[str, list]
    grad_norm: float
    elbo_error: float
    log_z_error: float
    n_evals: int
    message: str
    theta: list[float]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return asdict(self)


# -- shared helpers -------------------------------------------------------------------------

class _Objective:
    """ELBO evaluations with a counter; f = -ELBO is what the minimisers see."""

    def __init__(self, target: Any, family: Family, elbo_tol: float = DEFAULT_TOL) -> None:
        self.target, self.family, self.tol = target, family, elbo_tol
        self.n_evals = 0

    def __call__(self, theta: np.ndarray, min_order: int | None = None) -> ElboResult:
        self.n_evals += 1
        try:
            return elbo(self.target, self.family, theta, min_order=min_order, tol=self.tol)
        except FloatingPointError:
            return ElboResult(np.nan, np.nan, np.nan, np.inf, None, 0, 0)


def _ok(r: ElboResult) -> bool:
    return bool(np.isfinite(r.elbo) and r.grad is not None and np.all(np.isfinite(r.grad)))


def _projected(grad_f: np.ndarray, theta: np.ndarray, lo: np.ndarray, hi: np.ndarray
               ) -> np.ndarray:
    """Gradient of f with the coordinates zeroed that sit at a bound and point out of it."""
    pg = grad_f.copy()
    pg[(theta <= lo) & (grad_f > 0)] = 0.0
    pg[(theta >= hi) & (grad_f < 0)] = 0.0
    return pg


def _resolve(optimizer: str, tol: float | None, max_iter: int | None
             ) -> tuple[OptimizerSpec, float, int]:
    spec = OPTIMIZERS.get(optimizer) if isinstance(optimizer, str) else None
    if spec is None:
        raise OptimizerError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    tol = spec.tol if tol is None else float(tol)
    if not (np.isfinite(tol) and tol > 0):
        raise OptimizerError(f"tol must be a positive number, got {tol}")
    max_iter = spec.max_iter if max_iter is None else max_iter
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 0:
        raise OptimizerError(f"max_iter must be a non-negative integer, got {max_iter!r}")
    return spec, tol, int(max_iter)


def optimize(target: Any, family: Family, theta0: Any, optimizer: str = DEFAULT_OPTIMIZER, *,
             tol: float | None = None, max_iter: int | None = None, seed: int = 0,
             elbo_tol: float = DEFAULT_TOL, **options: float) -> Iterator[Step]:
    """Maximise the ELBO from ``theta0``, yielding a ``Step`` per iteration (0 = start).

    ``tol`` and ``max_iter`` default per optimizer (``OPTIMIZERS``); ``options`` override an
    optimizer's settings (``lr``, ``max_step``, ``beta1``, ``beta2``, ``eps``, ``memory``).
    ``elbo_tol`` is the cubature tolerance of every ELBO evaluation (``vi_core.elbo``).
    ``seed`` is accepted for a uniform API with stochastic optimizers; the built-in ones are
    deterministic, so equal inputs give equal runs. Raises OptimizerError/FamilyError on bad
    arguments before the first step (the generator is created eagerly checked).
    """
    spec, tol, max_iter = _resolve(optimizer, tol, max_iter)
    unknown = set(options) - set(spec.options)
    if unknown:
        raise OptimizerError(f"{spec.id} has no option(s) {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(spec.options) or 'none'}")
    opts = {**spec.options, **{k: float(v) for k, v in options.items()}}
    theta = family.check_theta(theta0)
    lo, hi = family.bounds(target)
    theta = np.clip(theta, lo, hi)
    del seed  # deterministic optimizers; kept for the API
    if spec.id == "lbfgs":
        return _lbfgs(_Objective(target, family, elbo_tol), theta, lo, hi, tol, max_iter,
                      int(opts["memory"]))
    return _first_order(spec.id, _Objective(target, family, elbo_tol), theta, lo, hi, tol,
                        max_iter, opts)


# -- gradient ascent and Adam -------------------------------------------------------------

def _first_order(kind: str, obj: _Objective, theta: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray, tol: float, max_iter: int, opts: dict[str, float]
                 ) -> Iterator[Step]:
    res = obj(theta)
    if not _ok(res):
        yield Step(0, theta.copy(), res, np.inf, False, "ELBO is not finite at the start",
                   obj.n_evals)
        return
    lr, max_step = opts["lr"], opts["max_step"]
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    t = 0
    for it in range(max_iter + 1):
        assert res.grad is not None
        gnorm = float(np.max(np.abs(_projected(-res.grad, theta, lo, hi)), initial=0.0))
        done = gnorm <= tol
        msg = "gradient norm below tol" if done else ""
        if it == max_iter and not done:
            msg = "max_iter reached"
        yield Step(it, theta.copy(), res, gnorm, done, msg, obj.n_evals)
        if done or it == max_iter:
            return
        for _ in range(60):  # rejected steps halve lr; 60 halvings reach any float scale
            g = res.grad
            if kind == "adam":
                m1 = opts["beta1"] * m + (1 - opts["beta1"]) * g
                v1 = opts["beta2"] * v + (1 - opts["beta2"]) * g * g
                mhat = m1 / (1 - opts["beta1"] ** (t + 1))
                vhat = v1 / (1 - opts["beta2"] ** (t + 1))
                step = lr * mhat / (np.sqrt(vhat) + opts["eps"])
            else:
                step = lr * g
            step = np.clip(step, -max_step, max_step)
            new = np.clip(theta + step, lo, hi)
            new_res = obj(new)
            if _ok(new_res):
                break
            lr *= 0.5
        else:
            yield Step(it + 1, theta.copy(), res, gnorm, False, "no finite step", obj.n_evals)
            return
        if kind == "adam":
            m, v, t = m1, v1, t + 1
        theta, res = new, new_res


# -- L-BFGS ---------------------------------------------------------------------------------

class _OrderChanged(Exception):
    """A trial point needed a finer cubature rule than the base point of the line search."""

    def __init__(self, order: int) -> None:
        self.order = order


class _Point:
    """theta with its ELBO result, seen as the minimisation of f = -ELBO."""

    def __init__(self, theta: np.ndarray, res: ElboResult) -> None:
        self.theta, self.res = theta, res
        self.f = -res.elbo
        self.g = -res.grad if res.grad is not None else np.full_like(theta, np.nan)


def _lbfgs(obj: _Objective, theta: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           tol: float, max_iter: int, memory: int) -> Iterator[Step]:
    cur = _Point(theta, obj(theta))
    if not _ok(cur.res):
        yield Step(0, theta.copy(), cur.res, np.inf, False, "ELBO is not finite at the start",
                   obj.n_evals)
        return
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    for it in range(max_iter + 1):
        pg = _projected(cur.g, cur.theta, lo, hi)
        gnorm = float(np.max(np.abs(pg), initial=0.0))
        if gnorm <= tol:
            yield Step(it, cur.theta.copy(), cur.res, gnorm, True, "gradient norm below tol",
                       obj.n_evals)
            return
        if it == max_iter:
            yield Step(it, cur.theta.copy(), cur.res, gnorm, False, "max_iter reached",
                       obj.n_evals)
            return
        yield Step(it, cur.theta.copy(), cur.res, gnorm, False, "", obj.n_evals)
        new, base_f = None, cur.f
        for attempt in range(2):
            if attempt == 1 or not s_hist:
                s_hist.clear()
                y_hist.clear()
            d = _direction(pg, cur, lo, hi, s_hist, y_hist)
            found = _line_search(obj, cur, d, lo, hi, first=not s_hist)
            if found is not None:
                new, base_f = found
                break
        if new is None:
            ok = gnorm <= 1e3 * tol
            yield Step(it + 1, cur.theta.copy(), cur.res, gnorm, ok,
                       "line search cannot improve at machine precision", obj.n_evals)
            return
        s, y = new.theta - cur.theta, new.g - cur.g
        if s @ y > 1e-12 * np.sqrt((s @ s) * (y @ y)):  # keep H positive definite
            s_hist.append(s)
            y_hist.append(y)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        small_change = abs(base_f - new.f) <= 1e-13 * max(1.0, abs(new.f))
        cur = new
        if small_change:
            pg = _projected(cur.g, cur.theta, lo, hi)
            gnorm = float(np.max(np.abs(pg), initial=0.0))
            yield Step(it + 1, cur.theta.copy(), cur.res, gnorm, True,
                       "ELBO change below 1e-13 relative", obj.n_evals)
            return


def _direction(pg: np.ndarray, cur: _Point, lo: np.ndarray, hi: np.ndarray,
               s_hist: list[np.ndarray], y_hist: list[np.ndarray]) -> np.ndarray:
    """Two-loop recursion on the free coordinates; a descent direction that stays in bounds."""
    free = pg != 0
    q = np.where(free, cur.g, 0.0)
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
        rho = 1.0 / (y @ s)
        a = rho * (s @ q)
        q = q - a * y
        alphas.append((a, rho))
    if s_hist:
        s, y = s_hist[-1], y_hist[-1]
        q = q * (s @ y) / (y @ y)
    for (a, rho), s, y in zip(reversed(alphas), s_hist, y_hist, strict=True):
        b = rho * (y @ q)
        q = q + s * (a - b)
    d = -np.where(free, q, 0.0)
    # Do not push a coordinate that sits on a bound further out.
    d[(cur.theta <= lo) & (d < 0)] = 0.0
    d[(cur.theta >= hi) & (d > 0)] = 0.0
    if not np.all(np.isfinite(d)) or d @ cur.g >= 0:
        s_hist.clear()
        y_hist.clear()
        d = -pg
    return d


def _max_step(theta: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(d > 0, (hi - theta) / d, np.inf)
        down = np.where(d < 0, (lo - theta) / d, np.inf)
    return float(max(0.0, min(np.min(up, initial=np.inf), np.min(down, initial=np.inf))))


def _line_search(obj: _Objective, cur: _Point, d: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 first: bool) -> tuple[_Point, float] | None:
    """Strong Wolfe search along d; returns (new point, f of the base on the same rule).

    Both points of every comparison use one cubature rule: a trial on a coarser rule than the
    base is re-evaluated on the base's; a trial that needs a finer one restarts the search
    with the base re-evaluated on that rule.
    """
    base = cur
    for _ in range(12):
        try:
            found = _wolfe(obj, base, d, lo, hi, first)
        except _OrderChanged as change:
            res = obj(base.theta, min_order=change.order)
            if not _ok(res):
                return None
            base = _Point(base.theta, res)
            continue
        if found is None:
            return None
        return found, base.f
    return None


def _wolfe(obj: _Objective, base: _Point, d: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           first: bool, c1: float = 1e-4, c2: float = 0.9, max_evals: int = 30
           ) -> _Point | None:
    f0, dg0 = base.f, float(base.g @ d)
    a_max = _max_step(base.theta, d, lo, hi)
    if a_max <= 0 or dg0 >= 0:
        return None
    a1 = min(1.0, 1.0 / float(np.max(np.abs(d)))) if first else 1.0
    a1 = min(a1, a_max)
    order = base.res.order
    evals = 0

    def phi(a: float) -> tuple[_Point, float, float]:
        nonlocal evals
        evals += 1
        th = np.clip(base.theta + a * d, lo, hi)
        res = obj(th)
        if _ok(res) and res.order < order:
            res = obj(th, min_order=order)
        if _ok(res) and res.order > order:
            raise _OrderChanged(res.order)
        p = _Point(th, res)
        if not _ok(res):
            return p, np.inf, np.nan
        return p, p.f, float(p.g @ d)

    a_prev, f_prev, dg_prev = 0.0, f0, dg0
    p_prev = base
    a = a1
    i = 0
    while evals < max_evals:
        p, fa, dga = phi(a)
        if not np.isfinite(fa):
            # Treat an invalid point as "too far": search below it.
            return _zoom(phi, a_prev, a, f_prev, np.inf, dg_prev, p_prev, f0, dg0, c1, c2,
                         lambda: evals < max_evals)
        if fa > f0 + c1 * a * dg0 or (i > 0 and fa >= f_prev):
            return _zoom(phi, a_prev, a, f_prev, fa, dg_prev, p_prev, f0, dg0, c1, c2,
                         lambda: evals < max_evals)
        if abs(dga) <= -c2 * dg0:
            return p
        if dga >= 0:
            return _zoom(phi, a, a_prev, fa, f_prev, dga, p, f0, dg0, c1, c2,
                         lambda: evals < max_evals)
        if a >= a_max:
            return p  # sufficient decrease up to the bound; the bound becomes active
        a_prev, f_prev, dg_prev, p_prev = a, fa, dga, p
        a = min(4.0 * a, a_max)
        i += 1
    return p_prev if p_prev is not base else None


def _zoom(phi, a_lo, a_hi, f_lo, f_hi, dg_lo, p_lo, f0, dg0, c1, c2, budget) -> _Point | None:
    """Nocedal & Wright Alg. 3.6 with safeguarded cubic/quadratic interpolation."""
    while budget():
        a = _interpolate(a_lo, a_hi, f_lo, f_hi, dg_lo)
        p, fa, dga = phi(a)
        if not np.isfinite(fa) or fa > f0 + c1 * a * dg0 or fa >= f_lo:
            a_hi, f_hi = a, fa
        else:
            if abs(dga) <= -c2 * dg0:
                return p
            if dga * (a_hi - a_lo) >= 0:
                a_hi, f_hi = a_lo, f_lo
            a_lo, f_lo, dg_lo, p_lo = a, fa, dga, p
        if abs(a_hi - a_lo) <= 1e-14 * max(1.0, abs(a_lo)):
            break
    # Out of budget: a point with sufficient decrease is still progress.
    return p_lo if a_lo > 0 else None


def _interpolate(a_lo: float, a_hi: float, f_lo: float, f_hi: float, dg_lo: float) -> float:
    """Minimiser of the quadratic through (a_lo, f_lo, dg_lo) and (a_hi, f_hi), kept within the
    middle 80% of the bracket (bisection when f_hi is not finite)."""
    lo_, hi_ = min(a_lo, a_hi), max(a_lo, a_hi)
    width = hi_ - lo_
    if np.isfinite(f_hi):
        dx = a_hi - a_lo
        denom = 2.0 * (f_hi - f_lo - dg_lo * dx)
        if denom > 0:
            a = a_lo - dg_lo * dx * dx / denom
            if lo_ + 0.1 * width <= a <= hi_ - 0.1 * width:
                return a
    if not np.isfinite(f_hi):
        return a_lo + 0.2 * (a_hi - a_lo)  # an invalid end: step back hard towards a_lo
    return 0.5 * (a_lo + a_hi)


# -- fit ------------------------------------------------------------------------------------

def fit(target: Any, family: Family | str, optimizer: str = DEFAULT_OPTIMIZER, *,
        seed: int = 0, theta0: Any = None, tol: float | None = None,
        max_iter: int | None = None) -> FitResult:
    """Run ``optimize`` from ``theta0`` (default ``family.initial_params(target)``) to the end.

    Exactly what the page's "Reset, then Optimize" does, so both reach the same q: no hidden
    restarts. ``target`` may be a Target or a built-in id, ``family`` a Family or an id.
    """
    if isinstance(target, str):
        from vi_core.targets import get_target

        target = get_target(target)
    fam = get_family(family) if isinstance(family, str) else family
    _resolve(optimizer, tol, max_iter)
    t0 = time.perf_counter()
    theta = fam.initial_params(target) if theta0 is None else fam.check_theta(theta0)
    last: Step | None = None
    for last in optimize(target, fam, theta, optimizer, tol=tol, max_iter=max_iter, seed=seed):
        pass
    seconds = time.perf_counter() - t0
    assert last is not None
    r = last.result
    return FitResult(
        target=str(target.id), family=fam.id, optimizer=optimizer, elbo=float(r.elbo),
        expected_log_density=float(r.expected_log_density), entropy=float(r.entropy),
        log_z=float(target.log_z), kl=float(target.log_z - r.elbo), iterations=last.iteration,
        seconds=seconds, converged=bool(last.converged), params=fam.to_natural(last.theta),
        grad_norm=float(last.grad_norm), elbo_error=float(r.error),
        log_z_error=float(target.log_z_error), n_evals=last.n_evals, message=last.message,
        theta=[float(v) for v in last.theta])
