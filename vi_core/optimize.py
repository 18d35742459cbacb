"""Optimizers that maximise the ELBO over a family's unconstrained parameters theta.

Each optimizer is two pure functions in the style of blackjax, over small NamedTuples:

    state = optimizer.init(objective, theta0)        # iteration 0: the start, evaluated
    state = optimizer.step(objective, state)          # one iteration; a done state is kept

``OptState`` holds everything the next step needs (the iterate, its ELBO result, the
optimizer's memory: Adam's moments, L-BFGS's curvature pairs), so a run is a *value*: it can
be inspected, paused, sent as JSON (``state_to_json`` / ``state_from_json``) and resumed
exactly. ``optimize`` is the same as a generator (emcee style) that yields one ``Step`` per
iteration (iteration 0 is the start) and stops after the last; ``vi_core.fit`` consumes it.

Optimizers (all deterministic, all on the exact gradient of the deterministic ELBO):

* ``gradient-ascent``: theta += lr * grad ELBO with a fixed step, for comparison with the
  reference demo. Guards only: a step is at most ``max_step`` per coordinate, and a step to a
  NaN/inf ELBO is rejected and lr halved.
* ``adam``: Adam (Kingma & Ba) with bias correction and the same guards.
* ``lbfgs`` (default): limited-memory BFGS (two-loop recursion, 10 pairs) with a strong Wolfe
  line search (Nocedal & Wright, Alg. 3.5/3.6), projected onto the family's bounds. It is
  written here rather than taken from scipy because the page needs a run that advances one
  iteration at a time, pauses and resumes with its memory; a test checks that it reaches
  scipy's L-BFGS-B optimum.

Every iterate is kept inside ``family.bounds(target.extent)`` (log scales within a wide band
around the target's size, |rho| <= tanh 6, bounded logits), so absurd values cannot blow up.

Convergence uses ``grad_norm`` = max |d ELBO / d theta_i| over the coordinates not held at a
bound: ``lbfgs`` stops when it is <= ``tol`` (default 1e-7), when an iteration changes the ELBO
by less than 1e-13 relative, or when the line search can make no progress at machine precision
(converged if grad_norm is then within 1000 tol). ``adam`` and ``gradient-ascent`` stop at
grad_norm <= ``tol`` (default 1e-4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from vi_core._numeric import json_number
from vi_core.elbo import DEFAULT_TOL, ElboResult, elbo
from vi_core.errors import OptimizerError
from vi_core.families import Family
from vi_core.target import Density

__all__ = [
    "DEFAULT_OPTIMIZER",
    "OPTIMIZERS",
    "AdamMemory",
    "GradientMemory",
    "LbfgsMemory",
    "Objective",
    "OptState",
    "Optimizer",
    "OptimizerSpec",
    "Step",
    "get_optimizer",
    "optimize",
    "optimizer_ids",
    "state_from_json",
    "state_to_json",
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


# -- states ---------------------------------------------------------------------------------

class GradientMemory(NamedTuple):
    """Gradient ascent's memory: the step size (halved after a rejected step)."""

    lr: float


class AdamMemory(NamedTuple):
    """Adam's memory: step size, first and second moment estimates (n_params,), steps taken."""

    lr: float
    m: np.ndarray
    v: np.ndarray
    t: int


class LbfgsMemory(NamedTuple):
    """L-BFGS's memory: the last (at most ``memory``) steps s and gradient changes y of
    f = -ELBO, oldest first."""

    s: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]


Memory = GradientMemory | AdamMemory | LbfgsMemory


class OptState(NamedTuple):
    """Where a run stands after ``iteration`` iterations (0 = the start).

    ``result`` is the ELBO at ``theta`` with its gradient; ``grad_norm`` the max-abs projected
    gradient; ``done`` says no further step will change anything, ``converged`` whether it
    ended at an optimum, ``message`` why it ended (empty while running); ``n_evals`` counts
    ELBO evaluations so far; ``memory`` is the optimizer's own (see the *Memory types).
    """

    iteration: int
    theta: np.ndarray
    result: ElboResult
    grad_norm: float
    done: bool
    converged: bool
    message: str
    n_evals: int
    memory: Memory


# -- the objective --------------------------------------------------------------------------

class Objective:
    """The ELBO of one target and family as the optimizers see it: evaluations with a counter,
    and the box ``(lo, hi)`` on theta they keep to (``family.bounds(target.extent)``)."""

    def __init__(self, target: Density, family: Family, elbo_tol: float = DEFAULT_TOL) -> None:
        self.target, self.family, self.tol = target, family, elbo_tol
        self.lo, self.hi = family.bounds(target.extent)
        self.n_evals = 0

    def __call__(self, theta: np.ndarray, min_order: int | None = None) -> ElboResult:
        self.n_evals += 1
        try:
            return elbo(self.target, self.family, theta, min_order=min_order, tol=self.tol)
        except FloatingPointError:
            return ElboResult(np.nan, np.nan, np.nan, np.inf, None, 0, 0)

    def rule_for(self, iteration: int) -> bool:
        """Set the cubature rule of ``iteration``; True if it differs from the one in use
        (then the optimizers evaluate the iterate again before stepping from it). One rule
        serves every iteration here; a flow's turns (``vi_core.flows.FlowObjective``)."""
        return False


def _ok(r: ElboResult) -> bool:
    return bool(np.isfinite(r.elbo) and r.grad is not None and np.all(np.isfinite(r.grad)))


def _projected(grad_f: np.ndarray, theta: np.ndarray, lo: np.ndarray, hi: np.ndarray
               ) -> np.ndarray:
    """Gradient of f with the coordinates zeroed that sit at a bound and point out of it."""
    pg = grad_f.copy()
    pg[(theta <= lo) & (grad_f > 0)] = 0.0
    pg[(theta >= hi) & (grad_f < 0)] = 0.0
    return pg


def _grad_norm(res: ElboResult, theta: np.ndarray, obj: Objective) -> float:
    assert res.grad is not None
    return float(np.max(np.abs(_projected(-res.grad, theta, obj.lo, obj.hi)), initial=0.0))


# -- the optimizers -------------------------------------------------------------------------

@dataclass(frozen=True)
class Optimizer:
    """A configured optimizer: its spec, stopping rule (``tol``, ``max_iter``) and options.

    Build one with ``get_optimizer``; then ``init`` and ``step`` are pure functions of their
    arguments (the objective only counts evaluations).
    """

    spec: OptimizerSpec
    tol: float
    max_iter: int
    options: dict[str, float]

    @property
    def id(self) -> str:
        return self.spec.id

    def init(self, objective: Objective, theta: Any) -> OptState:
        """The run's start: theta (checked, clipped into the box) evaluated; iteration 0."""
        theta = np.clip(objective.family.check_theta(theta), objective.lo, objective.hi)
        before = objective.n_evals
        objective.rule_for(0)
        res = objective(theta)
        if self.id == "lbfgs":
            memory: Memory = LbfgsMemory((), ())
        elif self.id == "adam":
            memory = AdamMemory(self.options["lr"], np.zeros_like(theta), np.zeros_like(theta), 0)
        else:
            memory = GradientMemory(self.options["lr"])
        if not _ok(res):
            return OptState(0, theta, res, math.inf, True, False,
                            "ELBO is not finite at the start", objective.n_evals - before, memory)
        return self._at(0, theta, res, objective, objective.n_evals - before, memory)

    def step(self, objective: Objective, state: OptState) -> OptState:
        """One iteration from ``state``; a state that is ``done`` comes back unchanged."""
        if state.done:
            return state
        before = objective.n_evals
        if objective.rule_for(state.iteration + 1):
            # The objective's rule changed (a flow's turned rule): the iterate on the new rule,
            # so that the step compares values and gradients of one rule.
            res = objective(state.theta, min_order=state.result.order or None)
            if not _ok(res):
                return state._replace(iteration=state.iteration + 1, done=True, converged=False,
                                      message="ELBO is not finite on the next rule",
                                      n_evals=state.n_evals + objective.n_evals - before)
            state = state._replace(result=res, grad_norm=_grad_norm(res, state.theta, objective))
        if self.id == "lbfgs":
            new = _lbfgs_step(self, objective, state)
        else:
            new = _first_order_step(self, objective, state)
        return new._replace(n_evals=state.n_evals + objective.n_evals - before)

    def _at(self, iteration: int, theta: np.ndarray, res: ElboResult, objective: Objective,
            n_evals: int, memory: Memory) -> OptState:
        """The state at a new iterate, with the stopping checks every iterate gets."""
        gnorm = _grad_norm(res, theta, objective)
        if gnorm <= self.tol:
            return OptState(iteration, theta, res, gnorm, True, True, "gradient norm below tol",
                            n_evals, memory)
        if iteration >= self.max_iter:
            return OptState(iteration, theta, res, gnorm, True, False, "max_iter reached",
                            n_evals, memory)
        return OptState(iteration, theta, res, gnorm, False, False, "", n_evals, memory)


def get_optimizer(optimizer: str = DEFAULT_OPTIMIZER, *, tol: float | None = None,
                  max_iter: int | None = None, **options: float) -> Optimizer:
    """A configured optimizer; ``tol``, ``max_iter`` and ``options`` (``lr``, ``max_step``,
    ``beta1``, ``beta2``, ``eps``, ``memory``) default per optimizer (``OPTIMIZERS``).
    Raises OptimizerError naming the problem."""
    spec = OPTIMIZERS.get(optimizer) if isinstance(optimizer, str) else None
    if spec is None:
        raise OptimizerError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    tol = spec.tol if tol is None else float(tol)
    if not (np.isfinite(tol) and tol > 0):
        raise OptimizerError(f"tol must be a positive number, got {tol}")
    max_iter = spec.max_iter if max_iter is None else max_iter
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 0:
        raise OptimizerError(f"max_iter must be a non-negative integer, got {max_iter!r}")
    unknown = set(options) - set(spec.options)
    if unknown:
        raise OptimizerError(f"{spec.id} has no option(s) {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(spec.options) or 'none'}")
    opts = {**spec.options, **{k: float(v) for k, v in options.items()}}
    return Optimizer(spec, tol, int(max_iter), opts)


def optimize(target: Density, family: Family, theta0: Any, optimizer: str = DEFAULT_OPTIMIZER, *,
             tol: float | None = None, max_iter: int | None = None,
             elbo_tol: float = DEFAULT_TOL, **options: float) -> Generator[Step, None, None]:
    """Maximise the ELBO from ``theta0``, yielding a ``Step`` per iteration (0 = start).

    ``tol``, ``max_iter`` and ``options`` as in ``get_optimizer``; ``elbo_tol`` is the
    cubature tolerance of every ELBO evaluation (``vi_core.elbo``). Deterministic: equal inputs
    give equal runs. Raises OptimizerError/FamilyError on bad arguments before the first step
    (the arguments are checked eagerly; the generator only runs ``init`` and ``step``).
    """
    opt = get_optimizer(optimizer, tol=tol, max_iter=max_iter, **options)
    theta = family.check_theta(theta0)
    return _run(opt, Objective(target, family, elbo_tol), theta)


def _run(opt: Optimizer, objective: Objective, theta: np.ndarray
         ) -> Generator[Step, None, None]:
    state = opt.init(objective, theta)
    yield as_step(state)
    while not state.done:
        state = opt.step(objective, state)
        yield as_step(state)


def as_step(state: OptState) -> Step:
    """The public view of a state: what ``optimize`` yields."""
    return Step(state.iteration, state.theta.copy(), state.result, state.grad_norm,
                state.converged, state.message, state.n_evals)


# -- gradient ascent and Adam -------------------------------------------------------------

def _first_order_step(opt: Optimizer, obj: Objective, state: OptState) -> OptState:
    opts, theta, res, mem = opt.options, state.theta, state.result, state.memory
    assert isinstance(mem, AdamMemory | GradientMemory)
    lr = mem.lr
    g = res.grad
    assert g is not None
    for _ in range(60):  # rejected steps halve lr; 60 halvings reach any float scale
        if isinstance(mem, AdamMemory):
            m1 = opts["beta1"] * mem.m + (1 - opts["beta1"]) * g
            v1 = opts["beta2"] * mem.v + (1 - opts["beta2"]) * g * g
            mhat = m1 / (1 - opts["beta1"] ** (mem.t + 1))
            vhat = v1 / (1 - opts["beta2"] ** (mem.t + 1))
            step = lr * mhat / (np.sqrt(vhat) + opts["eps"])
        else:
            step = lr * g
        step = np.clip(step, -opts["max_step"], opts["max_step"])
        new = np.clip(theta + step, obj.lo, obj.hi)
        new_res = obj(new)
        if _ok(new_res):
            break
        lr *= 0.5
    else:
        return state._replace(iteration=state.iteration + 1, done=True, converged=False,
                              message="no finite step", memory=mem._replace(lr=lr))
    if isinstance(mem, AdamMemory):
        memory: Memory = AdamMemory(lr, m1, v1, mem.t + 1)
    else:
        memory = GradientMemory(lr)
    return opt._at(state.iteration + 1, new, new_res, obj, state.n_evals, memory)


# -- L-BFGS ---------------------------------------------------------------------------------

def _lbfgs_step(opt: Optimizer, obj: Objective, state: OptState) -> OptState:
    lo, hi = obj.lo, obj.hi
    cur = _Point(state.theta, state.result)
    pg = _projected(cur.g, cur.theta, lo, hi)
    gnorm = state.grad_norm
    assert isinstance(state.memory, LbfgsMemory)
    s_hist, y_hist = list(state.memory.s), list(state.memory.y)
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
    it = state.iteration + 1
    if new is None:
        return state._replace(iteration=it, done=True, converged=gnorm <= 1e3 * opt.tol,
                              message="line search cannot improve at machine precision",
                              memory=LbfgsMemory(tuple(s_hist), tuple(y_hist)))
    s, y = new.theta - cur.theta, new.g - cur.g
    if s @ y > 1e-12 * np.sqrt((s @ s) * (y @ y)):  # keep H positive definite
        s_hist.append(s)
        y_hist.append(y)
        memory = int(opt.options["memory"])
        if len(s_hist) > memory:
            s_hist.pop(0)
            y_hist.pop(0)
    mem = LbfgsMemory(tuple(s_hist), tuple(y_hist))
    if abs(base_f - new.f) <= 1e-13 * max(1.0, abs(new.f)):
        gnorm = _grad_norm(new.res, new.theta, obj)
        return OptState(it, new.theta, new.res, gnorm, True, True,
                        "ELBO change below 1e-13 relative", state.n_evals, mem)
    return opt._at(it, new.theta, new.res, obj, state.n_evals, mem)


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


def _line_search(obj: Objective, cur: _Point, d: np.ndarray, lo: np.ndarray, hi: np.ndarray,
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


def _wolfe(obj: Objective, base: _Point, d: np.ndarray, lo: np.ndarray, hi: np.ndarray,
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


def _zoom(phi: Callable[[float], tuple[_Point, float, float]], a_lo: float, a_hi: float,
          f_lo: float, f_hi: float, dg_lo: float, p_lo: _Point, f0: float, dg0: float, c1: float,
          c2: float, budget: Callable[[], bool]) -> _Point | None:
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


# -- states as JSON -------------------------------------------------------------------------

def _unnum(v: Any) -> float:
    return math.nan if v is None else float(v)


def state_to_json(optimizer: Optimizer, state: OptState) -> dict[str, Any]:
    """The state as plain JSON (floats round-trip exactly; non-finite numbers become null)."""
    r = state.result
    mem = state.memory
    if isinstance(mem, LbfgsMemory):
        memory: dict[str, Any] = {"s": [a.tolist() for a in mem.s],
                                  "y": [a.tolist() for a in mem.y]}
    elif isinstance(mem, AdamMemory):
        memory = {"lr": mem.lr, "m": mem.m.tolist(), "v": mem.v.tolist(), "t": mem.t}
    else:
        memory = {"lr": mem.lr}
    return {
        "optimizer": optimizer.id, "iteration": state.iteration, "theta": state.theta.tolist(),
        "result": {"elbo": json_number(r.elbo),
                   "expected_log_density": json_number(r.expected_log_density),
                   "entropy": json_number(r.entropy), "error": json_number(r.error),
                   "grad": None if r.grad is None else [json_number(g) for g in r.grad],
                   "n_nodes": r.n_nodes, "order": r.order},
        "grad_norm": json_number(state.grad_norm), "done": state.done, "converged": state.converged,
        "message": state.message, "n_evals": state.n_evals, "memory": memory,
    }


def state_from_json(optimizer: Optimizer, family: Family, data: Any) -> OptState:
    """Inverse of ``state_to_json`` for this optimizer and family; OptimizerError if the data
    do not describe such a state."""
    try:
        if data["optimizer"] != optimizer.id:
            raise OptimizerError(f"the saved run is for {data['optimizer']!r}, "
                                 f"not {optimizer.id!r}")
        n = family.n_params

        def vec(v: Any) -> np.ndarray:
            a = np.asarray([_unnum(x) for x in v], dtype=float)
            if a.shape != (n,):
                raise OptimizerError(f"a saved vector has {a.size} entries; {family.id} has {n}")
            return a

        r = data["result"]
        result = ElboResult(_unnum(r["elbo"]), _unnum(r["expected_log_density"]),
                            _unnum(r["entropy"]), _unnum(r["error"]),
                            None if r["grad"] is None else vec(r["grad"]),
                            int(r["n_nodes"]), int(r["order"]))
        mem = data["memory"]
        if optimizer.id == "lbfgs":
            s, y = tuple(vec(a) for a in mem["s"]), tuple(vec(a) for a in mem["y"])
            if len(s) != len(y):
                raise OptimizerError("the saved L-BFGS memory is inconsistent")
            memory: Memory = LbfgsMemory(s, y)
        elif optimizer.id == "adam":
            memory = AdamMemory(float(mem["lr"]), vec(mem["m"]), vec(mem["v"]), int(mem["t"]))
        else:
            memory = GradientMemory(float(mem["lr"]))
        return OptState(int(data["iteration"]), family.check_theta(data["theta"]), result,
                        _unnum(data["grad_norm"]), bool(data["done"]), bool(data["converged"]),
                        str(data["message"]), int(data["n_evals"]), memory)
    except OptimizerError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise OptimizerError(f"not a saved {optimizer.id} run ({exc!r})") from None
