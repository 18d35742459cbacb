"""The ELBO of a flow family (``vi_core.flow_family``), its Monte Carlo guard, and its fit.

For q = T#N(0, I) the ELBO is an expectation over the base alone (change of variables):

    ELBO = E_{z~N(0,I)}[log p~(T(z)) + log|det dT/dz|(z)] + H[N(0, I)],   H = 1 + log 2 pi,

so ``entropy`` = H[q] = 1 + log 2 pi + E_z[log|det dT/dz|] and ``expected_log_density`` =
E_z[log p~(T(z))].

**Cubature** (``flow_elbo``): E_z by the product Gauss-Hermite rules of ``vi_core.elbo`` with
the *same* adaptive ladder and error model (``elbo._ladder_error``: the last difference of
consecutive rungs when they converge spectrally, an algebraic-rate bound from the last four
differences otherwise, at least 2 tol unless the rules agree to rounding, forced algebraic at
the node cap), and the same deep-pruning guard for integrands that outgrow the Gaussian
weights. Declared cone points of a target are not removed (T is not affine, so E|T(z) - c|
has no closed form): there the rules converge algebraically and the error model says so.
The gradient is exact for the estimate on its rule (reverse mode through the layers).

**Why a Monte Carlo guard.** A flexible T can bend so that the fixed nodes of one rule land
where log p~ - log q is small while the mass between them does not (offline on the funnel:
KL 0.007 on the nodes, 9.9 on fresh draws). The ladder compares several rules and so makes this
hard, but a fit is also checked on fresh draws: ``check_flow`` compares the cubature ELBO with
an independent Monte Carlo estimate on ``MC_DRAWS`` fresh draws (seeded) and its standard error
se. The reported error is widened to cover |cubature - MC| + 2 se always; when the two
disagree beyond ``MC_Z`` se plus the cubature's error, or the cubature's own error is larger
than what the fresh draws resolve (max(MC_Z se, 1e-3): at the node cap a flexible map can bend
into the rule's gaps, seen on gaussian-ring and energy-u1), the cubature is refined (``fit_flow``:
the ladder forced ``_REFINE_RUNGS`` rungs finer, and the fit continued on that rule), and a fit that
still fails the check is reported as not converged, its message saying so, its error covering the
difference: never shown as exact. Since the Monte Carlo estimate is unbiased for the true ELBO
(<= log Z), ELBO <= log Z + error then holds up to the Monte Carlo's own chance (MC_Z se).
**Turned rules while fitting.** With one fixed rule a deep flow learned to bend into its gaps:
fits of flow-16 (300 L-BFGS iterations) drove the ladder to the node cap on bimodal, ring,
energy-u1 and gaussian-ring and ended with the cubature above log Z (bimodal: 0.11 above, fresh
draws 0.07 below), caught by the check and refused; bounding |w| to 2 or c to >= -0.9 did not
prevent it. A product Gauss-Hermite rule turned about 0 is as exact for N(0, I) (the base is
round) and has other nodes, so a fit turns its rules by the golden angle every ``TURN_EVERY``
iterations (``FlowObjective.rule_for``; the optimizers evaluate the iterate again on the new
rule before stepping, ``vi_core.optimize.Optimizer.step``). No node stays put long enough to
be bent around, and the run stays deterministic. Measured (CPython, default starts): bimodal
flow-16 KL 0.0006 on fresh draws (was 0.07), energy-u1 flow-16 0.048 (was 0.17; the issue's
offline anchor for a 16-layer planar flow on U1 is 0.04), for about 1.3x the time. Such fits can
still end with the cubature unresolved at the cap (error a few 1e-3): their error says so, and
they are not called exact. Values shown outside a fit (``flow_elbo`` with ``turn`` = 0) use
the unturned rules.

**Fit** (``fit_flow``): the start is the ``gaussian-full`` start of ``vi_core.starts`` with
identity layers (so a flow starts as that Gaussian), then the optimizers of
``vi_core.optimize`` (their ``init``/``step`` run unchanged on a ``FlowObjective``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from vi_core.elbo import (
    _DEEP_PRUNE,
    _FULL,
    _HISTORY,
    _N_DIFFS,
    _NOISE,
    _PRUNE,
    _TOL_FLOOR,
    LADDER,
    MAX_NODES,
    ElboResult,
    _ladder_error,
    _rule,
    _start_rung,
)
from vi_core.errors import VIError
from vi_core.families import get_family
from vi_core.fit import FitResult
from vi_core.flow_family import FlowFamily, identity_layer
from vi_core.optimize import DEFAULT_OPTIMIZER, Objective, Optimizer, OptState, get_optimizer
from vi_core.starts import StartCache, initial_params
from vi_core.target import Density

__all__ = ["FLOW_ELBO_TOL", "FLOW_LBFGS_TOL", "FLOW_MAX_ITER", "MC_DRAWS", "MC_Z", "TURN_EVERY",
           "FlowCheck", "FlowObjective", "check_flow", "fit_flow", "flow_elbo", "flow_elbo_mc",
           "initial_flow_params"]

_LOG_2PI = float(np.log(2.0 * np.pi))
_BASE_ENTROPY = 1.0 + _LOG_2PI
#: Cubature tolerance of the ELBO while a flow is fitted (nats).
FLOW_ELBO_TOL = 1e-5
#: L-BFGS's stopping rule for a flow unless told otherwise: a flow has many more, more weakly
#: determined numbers than a Gaussian, and tens of ms per ELBO, so the gradient tolerance is
#: looser and the iterations capped lower than ``vi_core.optimize``'s defaults (1e-7, 1000).
FLOW_LBFGS_TOL = 1e-5
FLOW_MAX_ITER = 300
#: Fresh draws of the Monte Carlo guard, and how many standard errors count as agreement.
MC_DRAWS = 20000
MC_Z = 4.0
#: A fit turns its cubature rules by the golden angle every TURN_EVERY iterations.
TURN_EVERY = 4
_GOLDEN_ANGLE = float(np.pi * (3.0 - np.sqrt(5.0)))
#: How many rungs finer a refinement forces the ladder, and how often it is tried.
_REFINE_RUNGS = 2
_MAX_REFINES = 2


def _top_rung() -> int:
    i = 0
    while i + 1 < len(LADDER) and len(_rule(LADDER[i + 1])[1]) <= MAX_NODES:
        i += 1
    return i


def _values(target: Density, fam: FlowFamily, theta: np.ndarray, z: np.ndarray
            ) -> tuple[Any, np.ndarray, np.ndarray]:
    """(the forward pass, log p~(T(z)), log|det|) at base points z."""
    p = fam.forward(theta, z)
    with np.errstate(all="ignore"):
        f = np.asarray(target.log_density(p.x[:, 0], p.x[:, 1]), dtype=float)
    return p, f, p.logdet


def _turned(n: int, prune: float, turn: float) -> tuple[np.ndarray, np.ndarray]:
    """The product Gauss-Hermite rule of order n (``elbo._rule``) turned by ``turn`` radians
    about 0: N(0, I) is round, so a turned rule is as exact as the rule, with other nodes."""
    z, w = _rule(n, prune)
    if turn:
        c, s = np.cos(turn), np.sin(turn)
        z = z @ np.array([[c, s], [-s, c]])
    return z, w


def _on_rule(target: Density, fam: FlowFamily, theta: np.ndarray, n: int, prune: float,
             with_grad: bool, turn: float = 0.0
             ) -> tuple[float, float, float, np.ndarray | None, float, int]:
    """(ELBO, E log p~, H[q], gradient or None, pruned-shell mass, nodes) on one rule."""
    z, w = _turned(n, prune, turn)
    p = fam.forward(theta, z)
    with np.errstate(all="ignore"):
        if with_grad:
            f, fx, fy = target.value_and_grad(p.x[:, 0], p.x[:, 1])
            f = np.asarray(f, dtype=float)
        else:
            f = np.asarray(target.log_density(p.x[:, 0], p.x[:, 1]), dtype=float)
        ef = float(w @ f)
        ent = _BASE_ENTROPY + float(w @ p.logdet)
        value = ef + ent
    grad = None
    if with_grad and np.isfinite(value):
        gx = np.column_stack([np.broadcast_to(fx, f.shape), np.broadcast_to(fy, f.shape)])
        grad = p.pullback(gx * w[:, None], w)
    shell = w < 1e4 * prune
    mass = 0.0
    if shell.any() and np.isfinite(value):
        g = f + p.logdet
        with np.errstate(all="ignore"):
            mass = float(np.abs(g[shell] - (g @ w)) @ w[shell])
        mass = mass if np.isfinite(mass) else np.inf
    return value, ef, ent, grad, mass, len(w)


def flow_elbo(target: Density, family: FlowFamily, theta: Any, *, with_grad: bool = True,
              tol: float = FLOW_ELBO_TOL, min_order: int | None = None, turn: float = 0.0
              ) -> ElboResult:
    """Deterministic ELBO of a flow by adaptive Gauss-Hermite cubature over the base, with
    ``vi_core.elbo``'s ladder and error model (module docstring): rungs from the first at least
    ``min_order`` (default: the second) until the error bound is at most ``tol`` or the node cap
    is reached; returns the finest estimate, its bound as ``error`` and its exact gradient."""
    theta = family.check_theta(theta)
    top = _top_rung()
    start = _start_rung(min_order or 0, top) + 1
    off = len(_HISTORY)
    result, shell = _ladder(target, family, theta, start + off, top + off, with_grad, tol,
                            _PRUNE, turn)
    if shell > 0.1 * tol and np.isfinite(result.elbo):
        result, shell = _ladder(target, family, theta, start + off, top + off, with_grad, tol,
                                _DEEP_PRUNE, turn)
    if shell > 0.0:
        result = dataclasses.replace(result, error=result.error + shell)
    return result


def _ladder(target: Density, fam: FlowFamily, theta: np.ndarray, j: int, top: int,
            with_grad: bool, tol: float, prune: float, turn: float = 0.0
            ) -> tuple[ElboResult, float]:
    """The ladder of ``flow_elbo`` from rung ``j`` of elbo's _FULL up to ``top`` (the coarser
    history rules and the first rung in one batch, values only; the gradient on the accepted
    rule alone): (result, the accepted rule's pruned-shell mass)."""
    first = max(0, j - _N_DIFFS)
    values = _batch(target, fam, theta, _FULL[first:j + 1], prune, turn)
    if not np.isfinite(values[-2]):
        v, ef, ent, _, _, nn = _on_rule(target, fam, theta, _FULL[j - 1], prune, False, turn)
        return ElboResult(v, ef, ent, np.inf, None, nn, _FULL[j - 1]), 0.0
    while True:
        if len(values) < j + 1 - first:
            values.append(_batch(target, fam, theta, (_FULL[j],), prune, turn)[0])
        v = values[-1]
        if not np.isfinite(v):
            v, ef, ent, _, _, nn = _on_rule(target, fam, theta, _FULL[j], prune, False, turn)
            return ElboResult(v, ef, ent, np.inf, None, nn, _FULL[j]), 0.0
        lo = max(first, j - _N_DIFFS)
        err = _ladder_error(_FULL[lo:j + 1], values[lo - first:])
        if j >= top and err > tol:
            err = max(err, _ladder_error(_FULL[lo:j + 1], values[lo - first:], algebraic=True))
        if err <= tol or j >= top:
            if np.isfinite(tol) and abs(values[-1] - values[-2]) > _NOISE * (1 + abs(v)):
                err = max(err, _TOL_FLOOR * tol)
            v, ef, ent, grad, mass, nn = _on_rule(target, fam, theta, _FULL[j], prune, with_grad,
                                                  turn)
            return ElboResult(v, ef, ent, float(err), grad, nn, _FULL[j]), mass
        j += 1


def _batch(target: Density, fam: FlowFamily, theta: np.ndarray, orders: tuple[int, ...],
           prune: float, turn: float = 0.0) -> list[float]:
    """The ELBO on each of several rules from one pass over all their nodes (no gradient)."""
    rules = [_turned(n, prune, turn) for n in orders]
    z = np.concatenate([r[0] for r in rules])
    _, f, logdet = _values(target, fam, theta, z)
    g = f + logdet
    out, start = [], 0
    with np.errstate(all="ignore"):
        for _, w in rules:
            out.append(float(g[start:start + len(w)] @ w) + _BASE_ENTROPY)
            start += len(w)
    return out


def flow_elbo_mc(target: Density, family: FlowFamily, theta: Any, *, n_samples: int,
                 rng: np.random.Generator) -> ElboResult:
    """Monte Carlo ELBO on ``n_samples`` fresh draws z ~ N(0, I): the mean of the log weights
    log p~(T(z)) - log q(T(z)) = log p~(T(z)) + log|det dT/dz| - log N(z; 0, I), ``error`` its
    standard error (no gradient). (Averaging log p~ + log|det| and adding H[N(0, I)] in closed
    form would be unbiased too, but carries the variance of log N(z), 1 nat^2, even when q = p;
    the log weights' variance vanishes there.)"""
    theta = family.check_theta(theta)
    n = int(n_samples)
    if n < 2:
        raise VIError(f"n_samples must be >= 2, got {n_samples}")
    z = rng.standard_normal((n, 2))
    _, f, logdet = _values(target, family, theta, z)
    g = f + logdet + _LOG_2PI + 0.5 * np.sum(z * z, axis=1)
    with np.errstate(all="ignore"):
        se = float(np.std(g, ddof=1) / np.sqrt(n))
        return ElboResult(float(np.mean(g)), float(np.mean(f)),
                          _BASE_ENTROPY + float(np.mean(logdet)), se, None, n, 0)


@dataclasses.dataclass(frozen=True)
class FlowCheck:
    """The cubature ELBO of a flow checked on fresh draws: ``cubature`` and ``mc`` (results),
    their ``difference`` (cubature - MC), whether they ``agree`` (|difference| <= cubature
    error + MC_Z se), whether the cubature is ``resolved`` (its error at most
    max(MC_Z se, _RESOLVED)): a rule that cannot pin the ELBO down better than fresh draws can
    be exploited by a flexible map) and ``error``, the error to report: the cubature's, widened
    to cover |difference| plus 2 se (so that another independent estimate is covered too; on
    disagreement MC_Z se). ``exact`` = agree and
    resolved: only then is a fit shown as converged."""

    cubature: ElboResult
    mc: ElboResult
    difference: float
    agree: bool
    resolved: bool
    error: float  # max(cubature error, |difference| + _COVER_Z se), or beyond on disagreement

    @property
    def exact(self) -> bool:
        return self.agree and self.resolved


#: A cubature error below this (nats) always counts as resolved (see FlowCheck).
_RESOLVED = 1e-3
#: Standard errors of the Monte Carlo estimate added to |difference| in the reported error.
_COVER_Z = 2.0


def check_flow(target: Density, family: FlowFamily, theta: Any, *, seed: int = 0,
               n: int = MC_DRAWS, tol: float = FLOW_ELBO_TOL, min_order: int | None = None
               ) -> FlowCheck:
    """Cubature ELBO vs a Monte Carlo estimate on ``n`` fresh draws (seeded): see FlowCheck."""
    cub = flow_elbo(target, family, theta, with_grad=False, tol=tol, min_order=min_order)
    mc = flow_elbo_mc(target, family, theta, n_samples=n, rng=np.random.default_rng(seed))
    diff = cub.elbo - mc.elbo
    agree = bool(np.isfinite(diff) and abs(diff) <= cub.error + MC_Z * mc.error)
    resolved = bool(cub.error <= max(MC_Z * mc.error, _RESOLVED))
    # Cover this difference plus _COVER_Z se, so that another independent estimate is covered
    # too (two estimates differ by sqrt(2) se on average).
    error = max(cub.error, abs(diff) + _COVER_Z * mc.error) if agree \
        else abs(diff) + MC_Z * mc.error
    return FlowCheck(cub, mc, float(diff), agree, resolved,
                     float(error) if np.isfinite(error) else np.inf)


class FlowObjective(Objective):
    """``vi_core.optimize.Objective`` for a flow: the same counter and box, the ELBO by
    ``flow_elbo`` on rules at least ``min_order_floor`` (raised by a refinement)."""

    def __init__(self, target: Density, family: FlowFamily, elbo_tol: float = FLOW_ELBO_TOL,
                 min_order_floor: int = 0) -> None:
        self.target, self.family, self.tol = target, family, elbo_tol
        self.flow = family
        self.lo, self.hi = family.bounds(target.extent)
        self.n_evals = 0
        self.floor = int(min_order_floor)
        self.turn = 0.0  # the rules' turn (radians) in use: rule_for

    def __call__(self, theta: np.ndarray, min_order: int | None = None) -> ElboResult:
        self.n_evals += 1
        try:
            return flow_elbo(self.target, self.flow, theta, tol=self.tol,
                             min_order=max(min_order or 0, self.floor) or None,
                             turn=self.turn)
        except FloatingPointError:
            return ElboResult(np.nan, np.nan, np.nan, np.inf, None, 0, 0)

    def rule_for(self, iteration: int) -> bool:
        """Turn the rules by the golden angle every ``TURN_EVERY`` iterations (module
        docstring): the run stays deterministic, and no node stays put for a flow to bend
        around. True when the turn changed."""
        turn = float((iteration // TURN_EVERY) * _GOLDEN_ANGLE % (2.0 * np.pi))
        changed = turn != self.turn
        self.turn = turn
        return changed


def initial_flow_params(target: Density, family: FlowFamily, *,
                        cache: StartCache | None = None) -> np.ndarray:
    """The flow's starting q: the ``gaussian-full`` start (``vi_core.starts.initial_params``)
    as the affine part, every layer the identity (``flow_family.identity_layer``)."""
    base = initial_params(target, get_family("gaussian-full"), cache=cache)
    layers = [v for k in range(family.n_layers) for v in identity_layer(k)]
    lo, hi = family.bounds(target.extent)
    theta: np.ndarray = np.clip(np.concatenate([base, layers]), lo, hi)
    return theta


def _top_order() -> int:
    return LADDER[_top_rung()]


def _finer(order: int) -> int:
    i = LADDER.index(order) if order in LADDER else 0
    return LADDER[min(i + _REFINE_RUNGS, _top_rung())]


def fit_flow(target: Density, family: FlowFamily, optimizer: str = DEFAULT_OPTIMIZER, *,
             theta0: Any = None, tol: float | None = None, max_iter: int | None = None,
             elbo_tol: float = FLOW_ELBO_TOL, seed: int = 0) -> FitResult:
    """Fit a flow as ``vi_core.fit`` fits the other families (same ``FitResult`` fields), then
    check the final ELBO on fresh draws (``check_flow``, seeded by ``seed``) and refine when
    cubature and Monte Carlo disagree (module docstring). ``elbo_error`` covers
    |cubature - MC|; ``message`` reports the check."""
    tid = str(getattr(target, "id", "custom"))
    if optimizer == "lbfgs":
        tol = FLOW_LBFGS_TOL if tol is None else tol
        max_iter = FLOW_MAX_ITER if max_iter is None else max_iter
    opt = get_optimizer(optimizer, tol=tol, max_iter=max_iter)
    t0 = time.perf_counter()
    theta = initial_flow_params(target, family) if theta0 is None \
        else family.check_theta(theta0)
    objective = FlowObjective(target, family, elbo_tol)
    state = _run(opt, objective, theta)
    n_evals = state.n_evals
    iterations = state.iteration
    check = check_flow(target, family, state.theta, seed=seed, tol=elbo_tol,
                       min_order=state.result.order or None)
    refines = 0
    while not check.exact and refines < _MAX_REFINES and check.cubature.order < _top_order():
        refines += 1
        floor = _finer(check.cubature.order)
        objective = FlowObjective(target, family, elbo_tol, min_order_floor=floor)
        more = get_optimizer(optimizer, tol=tol, max_iter=max(50, opt.max_iter // 4))
        state = _run(more, objective, state.theta)
        n_evals += state.n_evals
        iterations += state.iteration
        check = check_flow(target, family, state.theta, seed=seed + refines, tol=elbo_tol,
                           min_order=max(floor, state.result.order))
    seconds = time.perf_counter() - t0
    cub = check.cubature
    note = (f"Monte Carlo check on {check.mc.n_nodes} fresh draws: cubature - MC = "
            f"{check.difference:.2g} (MC s.e. {check.mc.error:.2g})")
    if check.exact:
        message = f"{state.message}; {note}" if state.message else note
        converged = bool(state.converged)
    else:
        why = ("cubature and Monte Carlo disagree beyond their errors" if not check.agree else
               f"the cubature is unresolved (error {cub.error:.2g} at order {cub.order})")
        message = (f"refused as exact: {why} after {refines} refinement(s); {note}; "
                   f"the error covers the difference")
        converged = False
    log_z = float(getattr(target, "log_z", np.nan))
    log_z_error = float(getattr(target, "log_z_error", np.nan))
    grad_norm = float(state.grad_norm)
    return FitResult(
        target=tid, family=family.id, optimizer=opt.id, elbo=float(cub.elbo),
        expected_log_density=float(cub.expected_log_density), entropy=float(cub.entropy),
        log_z=log_z, kl=float(log_z - cub.elbo), iterations=iterations, seconds=seconds,
        converged=converged, params=family.to_natural(state.theta), grad_norm=grad_norm,
        elbo_error=float(check.error), log_z_error=log_z_error, n_evals=n_evals,
        message=message, theta=[float(v) for v in state.theta])


def _run(opt: Optimizer, objective: FlowObjective, theta: np.ndarray) -> OptState:
    state = opt.init(objective, theta)
    while not state.done:
        state = opt.step(objective, state)
    return state
