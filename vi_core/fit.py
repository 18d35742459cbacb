"""``fit``: a whole VI run, from the family's starting q to the optimizer's end.

Exactly what the page's "Reset, then Optimize" does (``vi_core.starts.initial_params``, then
``vi_core.optimize.optimize`` to the end), so both reach the same q: no hidden restarts.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from vi_core.families import Family, get_family
from vi_core.optimize import DEFAULT_OPTIMIZER, Step, get_optimizer, optimize
from vi_core.starts import initial_params
from vi_core.target import Target
from vi_core.targets import get_target

__all__ = ["FitResult", "fit"]


@dataclass(frozen=True)
class FitResult:
    """Outcome of ``fit``: the ELBO and its two terms at the final q, log Z and
    ``kl = log_z - elbo`` = KL(q || p), the iterations and seconds taken, whether the optimizer
    converged (``message`` says how it ended), the gradient norm, the ELBO's and log Z's error
    estimates, the ELBO evaluations, and q as ``params`` (``family.to_natural``) and ``theta``.
    """

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
    #: ``family.to_natural``: lists of floats, of [x, y] pairs or (a flow's ``layers``) of dicts,
    #: so the lists' items are typed Any.
    params: dict[str, list[Any]]
    grad_norm: float
    elbo_error: float
    log_z_error: float
    n_evals: int
    message: str
    theta: list[float]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return asdict(self)


def fit(target: Target | str, family: Family | str, optimizer: str = DEFAULT_OPTIMIZER, *,
        theta0: Any = None, tol: float | None = None, max_iter: int | None = None
        ) -> FitResult:
    """Maximise the ELBO of ``family`` for ``target`` from ``theta0`` (default: the family's
    starting q for this target, ``initial_params``) until the optimizer stops.

    ``target`` may be a Target or a built-in id, ``family`` a Family or an id; ``tol`` and
    ``max_iter`` default per optimizer. Raises a VIError subclass on bad input.
    """
    tgt = get_target(target) if isinstance(target, str) else target
    fam = get_family(family) if isinstance(family, str) else family
    get_optimizer(optimizer, tol=tol, max_iter=max_iter)  # fail before the (slow) start
    t0 = time.perf_counter()
    theta = initial_params(tgt, fam) if theta0 is None else fam.check_theta(theta0)
    last: Step | None = None
    for step in optimize(tgt, fam, theta, optimizer, tol=tol, max_iter=max_iter):
        last = step
    seconds = time.perf_counter() - t0
    assert last is not None
    r = last.result
    return FitResult(
        target=str(tgt.id), family=fam.id, optimizer=optimizer, elbo=float(r.elbo),
        expected_log_density=float(r.expected_log_density), entropy=float(r.entropy),
        log_z=float(tgt.log_z), kl=float(tgt.log_z - r.elbo), iterations=last.iteration,
        seconds=seconds, converged=bool(last.converged), params=fam.to_natural(last.theta),
        grad_norm=float(last.grad_norm), elbo_error=float(r.error),
        log_z_error=float(tgt.log_z_error), n_evals=last.n_evals, message=last.message,
        theta=[float(v) for v in last.theta])
