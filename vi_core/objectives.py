"""Other objectives than the ELBO: forward KL(p‖q) and the Rényi α-divergence D_α(p‖q).

Variational inference proper maximises the ELBO, i.e. minimises the *reverse* KL(q‖p): that
is the only objective here whose optimum comes with the bound ELBO ≤ log Z, and it is
mode-seeking (q settles on one mode rather than spread over empty space). The *forward* KL

    KL(p‖q) = E_p[log p] - E_p[log q],     p = p~ / Z,

is mass-covering: q is punished wherever p has mass that q lacks. Its gradient is

    ∇θ KL(p‖q) = -E_p[∇θ log q_θ],

and for a single Gaussian q its minimum is **moment matching**: the mean of q is E_p[x] and its
covariance Cov_p[x] (gaussian-full), the marginal variances (gaussian-diagonal), or
s² = tr Cov_p[x] / 2 (gaussian-isotropic) — because -E_p[log N(x; m, S)] = const + ½ log|S|
+ ½ tr(S⁻¹ (C + (μ - m)(μ - m)ᵀ)) is minimised there (``moment_match``).

The **Rényi α-divergence** of p from q,

    D_α(p‖q) = 1/(α - 1) · log ∫ p^α q^(1-α) = 1/(α - 1) · log E_p[(q/p)^(1-α)],   α > 0, α ≠ 1,

tends to KL(p‖q) as α → 1 and to α·KL(q‖p) as α → 0 (D_α(p‖q) = α/(1-α) D_(1-α)(q‖p)), so
α in (0, 1) slides from mode-seeking to mass-covering and α > 1 covers mass even harder. Its
gradient is a reweighted forward-KL gradient, -Σ_i ω_i ∇θ log q(x_i), ω_i ∝ p_i (q_i/p_i)^(1-α).

**Expectations under p** have no draws to come from (p is only known up to Z): they are the
plane-wide adaptive Gauss–Kronrod cubature of ``vi_core.log_z`` (``plane_nodes``: the very
nodes and weights that compute log Z), so E_p[f] = Σ_i p_i f(x_i) with p_i = p~ w_i / Z, as
accurate as log Z for f like log q of a Gaussian. Nodes with p_i below ``_PRUNE`` (1e-20) are
dropped (about half of them); what they held is ``TargetQuadrature.dropped`` (< 1e-14).
The same nodes serve every θ, so the objective is a smooth function of θ and the optimizers of
``vi_core.optimize`` (L-BFGS by default) minimise it exactly as they maximise the ELBO. For
D_α with α < 1 the nodes follow p, not q: a q with mass far from p's is seen only coarsely.

Flow families are not supported here (their log q has no cheap gradient in θ at fixed x).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from vi_core._numeric import logsumexp, logsumexp_softmax
from vi_core.elbo import DEFAULT_TOL, ElboResult, elbo
from vi_core.errors import FamilyError, VIError
from vi_core.families import Family, get_family
from vi_core.fit import FitResult
from vi_core.flow_family import FlowFamily
from vi_core.log_z import plane_nodes
from vi_core.optimize import DEFAULT_OPTIMIZER, Objective, get_optimizer
from vi_core.starts import initial_params
from vi_core.target import Density
from vi_core.targets import get_target

__all__ = ["ALPHA_RANGE", "BOUND_NOTE", "OBJECTIVES", "DivergenceResult", "ForwardObjective",
           "ObjectiveFitResult", "TargetQuadrature", "check_objective", "divergence",
           "fit_objective", "log_q_and_grad", "moment_match", "target_moments", "target_quadrature"]

#: The objectives' ids: reverse KL (the ELBO, the default), forward KL, Rényi α.
OBJECTIVES = ("reverse-kl", "forward-kl", "alpha")
#: What a fit by another objective than reverse KL says about its ELBO.
BOUND_NOTE = ("Only reverse KL (maximising the ELBO) gives the bound ELBO ≤ log Z as its "
              "optimum; this q minimises {what}, and its ELBO is reported for comparison.")
#: Nodes whose share of p is below this are dropped (their total is reported).
_PRUNE = 1e-20
#: The α the CLI and the page accept (beyond it exp((1-α)(log q - log p)) overflows easily).
ALPHA_RANGE = (0.05, 20.0)


@dataclass(frozen=True)
class TargetQuadrature:
    """Nodes ``x``, ``y`` (n,) with ``p`` (n,): their shares of p = p~/Z (summing to 1), and
    ``log_p`` = log p~ - log Z there; ``log_z`` and its error; ``dropped``, the share of p on
    the nodes pruned away. E_p[f] ≈ Σ p_i f(x_i, y_i) (``expect``)."""

    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    log_p: np.ndarray
    log_z: float
    log_z_error: float
    dropped: float

    def expect(self, values: Any) -> float:
        """E_p[f] from f's values at the nodes."""
        return float(self.p @ np.asarray(values, dtype=float))


def target_quadrature(target: Density) -> TargetQuadrature:
    """The cubature of log Z (``vi_core.log_z.plane_nodes``) as a quadrature for E_p."""
    x, y, log_pt, log_w, log_z, err = plane_nodes(target.log_density, target.extent)
    share = log_pt + log_w - log_z
    with np.errstate(under="ignore"):
        p = np.exp(share)
    keep = p >= _PRUNE
    total = float(np.sum(p))
    return TargetQuadrature(x[keep], y[keep], p[keep] / total, log_pt[keep] - log_z, log_z, err,
                            float(np.sum(p[~keep]) / total))


def target_moments(target: Density | TargetQuadrature) -> tuple[np.ndarray, np.ndarray]:
    """(mean (2,), covariance (2, 2)) of p = p~/Z by the plane-wide cubature."""
    quad = target if isinstance(target, TargetQuadrature) else target_quadrature(target)
    mean = np.array([quad.expect(quad.x), quad.expect(quad.y)])
    dx, dy = quad.x - mean[0], quad.y - mean[1]
    cxy = quad.expect(dx * dy)
    cov = np.array([[quad.expect(dx * dx), cxy], [cxy, quad.expect(dy * dy)]])
    return mean, cov


def moment_match(target: Density | TargetQuadrature, family: Family) -> np.ndarray:
    """θ of the single Gaussian of ``family`` that minimises KL(p‖q): q's mean is p's mean and
    its covariance p's (full), p's marginal variances (diagonal) or tr Cov / 2 · I (isotropic).
    FamilyError for a mixture (no closed form: use ``fit_objective``)."""
    if family.n_components != 1 or isinstance(family, FlowFamily):
        raise FamilyError(f"{family.id}: moment matching is the forward-KL optimum of a single "
                          "Gaussian only; fit a mixture with fit_objective")
    mean, cov = target_moments(target)
    if family.kind == "isotropic":
        s = math.sqrt(0.5 * (cov[0, 0] + cov[1, 1]))
        scales, rho = [s, s], 0.0
    else:
        sx, sy = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
        scales = [sx, sy]
        rho = float(cov[0, 1] / (sx * sy)) if family.kind == "full" else 0.0
    return family.from_natural({"means": [mean.tolist()], "scales": [scales],
                                "correlations": [rho]})


def log_q_and_grad(family: Family, theta: Any, x: np.ndarray, y: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(log q at the points (n,), ∂ log q / ∂θ there (n, n_params)), at fixed points.

    Per component, with v = L⁻¹(x - m) (v1 = dx e^-a, v2 = dy cosh(u) e^-b - sinh(u) v1) and
    log N = -log 2π - a - b + log cosh u - |v|²/2:
    ∂/∂mx = e^-a (v1 - sinh(u) v2), ∂/∂my = cosh(u) e^-b v2, ∂/∂a = -1 + v1² - sinh(u) v1 v2,
    ∂/∂b = -1 + v2² + sinh(u) v1 v2, ∂/∂u = tanh(u)(1 - v2²) + v1 v2 / cosh u; the mixture's are
    these times the responsibilities r_k, and ∂/∂logit_k = r_k - π_k. The family's linear map pulls
    them back to θ.
    """
    theta = family.check_theta(theta)
    logits, blk = family.expand(theta)
    logw = logits - logsumexp(logits)
    mx, my, a, b, u = (blk[:, i] for i in range(5))
    dx, dy = x[:, None] - mx, y[:, None] - my                       # (n, K)
    ea, eb = np.exp(-a), np.exp(-b)
    ch, sh = np.cosh(u), np.sinh(u)
    v1 = dx * ea
    v2 = dy * ch * eb - sh * v1
    log_n = -math.log(2.0 * math.pi) - a - b + np.log(ch) - 0.5 * (v1 * v1 + v2 * v2)
    log_q, r = logsumexp_softmax(logw + log_n, axis=1)              # (n,), (n, K)
    g_block = np.stack([ea * (v1 - sh * v2), ch * eb * v2, -1.0 + v1 * v1 - sh * v1 * v2,
                        -1.0 + v2 * v2 + sh * v1 * v2, np.tanh(u) * (1.0 - v2 * v2) + v1 * v2 / ch],
                       axis=2) * r[:, :, None]                       # (n, K, 5)
    g_logits = r - np.exp(logw)                                      # (n, K)
    k = family.n_components
    full = np.concatenate([g_logits, g_block.reshape(len(x), 5 * k)], axis=1)
    return log_q, full @ family._jac                                 # (n,), (n, n_params)


@dataclass(frozen=True)
class DivergenceResult:
    """D(p‖q) at θ (``value``: KL(p‖q) for α = None, else D_α), E_p[log q]
    (``cross``), and the gradient w.r.t. θ (or None)."""

    value: float
    cross: float
    grad: np.ndarray | None


def _check_alpha(alpha: float | None) -> float | None:
    if alpha is None:
        return None
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise VIError(f"alpha must be a number, got {alpha!r}") from None
    lo, hi = ALPHA_RANGE
    if not (math.isfinite(a) and lo <= a <= hi) or a == 1.0:
        raise VIError(f"alpha must be a number in [{lo:g}, {hi:g}] other than 1 (alpha = 1 is "
                      f"forward KL: use --objective forward-kl), got {alpha!r}")
    return a


def divergence(target: Density | TargetQuadrature, family: Family, theta: Any, *,
               alpha: float | None = None, with_grad: bool = True) -> DivergenceResult:
    """KL(p‖q_θ) (``alpha`` None) or the Rényi D_α(p‖q_θ), with its exact gradient, by the
    plane-wide cubature (module docstring). ``target`` may be a precomputed
    ``TargetQuadrature`` (``target_quadrature``), which a fit reuses for every θ."""
    if isinstance(family, FlowFamily):
        raise FamilyError(f"{family.id}: forward KL and α-divergences are not available for "
                          "flows; choose a Gaussian or mixture family")
    a = _check_alpha(alpha)
    quad = target if isinstance(target, TargetQuadrature) else target_quadrature(target)
    with np.errstate(all="ignore"):
        log_q, dlq = log_q_and_grad(family, theta, quad.x, quad.y)
        cross = quad.expect(log_q)
        if a is None:
            value = quad.expect(quad.log_p) - cross
            weights = quad.p
        else:
            log_terms = np.log(quad.p) + (1.0 - a) * (log_q - quad.log_p)
            log_s, weights = logsumexp_softmax(log_terms)
            value = float(log_s) / (a - 1.0)
    grad = -(weights @ dlq) if with_grad else None
    return DivergenceResult(float(value), float(cross), grad)


class ForwardObjective(Objective):
    """-D(p‖q) (forward KL, or D_α) as the optimizers see an objective: they maximise
    ``result.elbo``, which here holds -D (and ``grad`` its gradient); the other fields of the
    ``ElboResult`` are NaN. One cubature of p serves every evaluation."""

    def __init__(self, target: Density, family: Family, alpha: float | None = None,
                 quadrature: TargetQuadrature | None = None) -> None:
        super().__init__(target, family)
        self.alpha = _check_alpha(alpha)
        self.quadrature = quadrature if quadrature is not None else target_quadrature(target)

    def __call__(self, theta: np.ndarray, min_order: int | None = None) -> ElboResult:
        self.n_evals += 1
        d = divergence(self.quadrature, self.family, theta, alpha=self.alpha)
        nan = math.nan
        return ElboResult(-d.value, nan, nan, 0.0, -d.grad if d.grad is not None else None,
                          len(self.quadrature.x), 0)


@dataclass(frozen=True)
class ObjectiveFitResult:
    """A fit by ``objective`` ("forward-kl" or "alpha" with ``alpha``): ``fit`` holds the
    fitted q with its ELBO, KL(q‖p) = log Z - ELBO and the run (as ``vi_core.fit`` reports
    them), ``divergence`` the minimised D(p‖q) at the result (``forward_kl`` = KL(p‖q) always)
    and ``note`` says that this ELBO is not the optimum of anything shown."""

    objective: str
    alpha: float | None
    divergence: float
    forward_kl: float
    note: str
    fit: FitResult

    def to_dict(self) -> dict[str, Any]:
        """Every field of ``FitResult.to_dict()`` and {objective, alpha, divergence,
        forward_kl, note}."""
        return {**self.fit.to_dict(), "objective": self.objective, "alpha": self.alpha,
                "divergence": self.divergence, "forward_kl": self.forward_kl,
                "note": self.note}


def check_objective(objective: str, alpha: float | None) -> float | None:
    """Validate an objective id with its α: α is required for "alpha" and refused otherwise;
    returns α (checked) or None. VIError with a one-line message."""
    if objective not in OBJECTIVES:
        raise VIError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    if objective == "alpha":
        if alpha is None:
            lo, hi = ALPHA_RANGE
            raise VIError(f"the alpha objective needs --alpha A (A in [{lo:g}, {hi:g}], not 1; "
                          "e.g. 0.5)")
        return _check_alpha(alpha)
    if alpha is not None:
        raise VIError(f"--alpha applies only to --objective alpha, not {objective}")
    return None


def fit_objective(target: Density | str, family: Family | str, objective: str = "forward-kl",
                  optimizer: str = DEFAULT_OPTIMIZER, *, alpha: float | None = None,
                  theta0: Any = None, quadrature: TargetQuadrature | None = None,
                  tol: float | None = None, max_iter: int | None = None
                  ) -> ObjectiveFitResult:
    """Minimise KL(p‖q) ("forward-kl") or D_α(p‖q) ("alpha", with ``alpha``) over ``family``
    from ``theta0`` (default: the family's starting q, as ``vi_core.fit``), with the ELBO
    optimizers (L-BFGS by default), then evaluate the ELBO of the result.

    ``quadrature`` (``target_quadrature(target)``) may be passed to reuse p's cubature. For a
    single Gaussian the result is the moment match (``moment_match``) to the optimizer's
    tolerance. Raises VIError (FamilyError for flows) on bad input.
    """
    tgt = get_target(target) if isinstance(target, str) else target
    fam = get_family(family) if isinstance(family, str) else family
    if objective == "reverse-kl":
        raise VIError("reverse KL is the ELBO: use vi_core.fit")
    a = check_objective(objective, alpha)
    if isinstance(fam, FlowFamily):
        raise FamilyError(f"{fam.id}: flows are fitted by reverse KL only (the ELBO); forward "
                          "KL and α need a Gaussian or mixture family")
    get_optimizer(optimizer, tol=tol, max_iter=max_iter)
    t0 = time.perf_counter()
    quad = quadrature if quadrature is not None else target_quadrature(tgt)
    theta = initial_params(tgt, fam) if theta0 is None else fam.check_theta(theta0)
    obj = ForwardObjective(tgt, fam, a, quad)
    opt = get_optimizer(optimizer, tol=tol, max_iter=max_iter)
    state = opt.init(obj, theta)
    while not state.done:
        state = opt.step(obj, state)
    seconds = time.perf_counter() - t0
    r = elbo(tgt, fam, state.theta, with_grad=False, tol=DEFAULT_TOL)
    log_z = float(getattr(tgt, "log_z", quad.log_z))
    fwd = -state.result.elbo if a is None else divergence(quad, fam, state.theta,
                                                          with_grad=False).value
    what = "KL(p‖q)" if a is None else f"the Rényi divergence D_{a:g}(p‖q)"
    fit = FitResult(
        target=str(getattr(tgt, "id", "custom")), family=fam.id, optimizer=optimizer,
        elbo=float(r.elbo), expected_log_density=float(r.expected_log_density),
        entropy=float(r.entropy), log_z=log_z, kl=float(log_z - r.elbo),
        iterations=state.iteration, seconds=seconds, converged=bool(state.converged),
        params=fam.to_natural(state.theta), grad_norm=float(state.grad_norm),
        elbo_error=float(r.error), log_z_error=float(getattr(tgt, "log_z_error",
                                                             quad.log_z_error)),
        n_evals=state.n_evals, message=state.message,
        theta=[float(v) for v in state.theta])
    return ObjectiveFitResult(objective, a, float(-state.result.elbo), float(fwd),
                              BOUND_NOTE.format(what=what), fit)
