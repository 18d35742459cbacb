"""The ELBO's two terms as q is shrunk and grown: the trade-off the article describes.

    ELBO(q) = E_q[log p~] + H[q]

The first term (the article's "cross-entropy" term, up to its sign) rewards q for putting its
mass where p~ is high, so it pulls q in onto the modes; the entropy H[q] rewards spread. For a
family of q obtained from one q by scaling every component about its own mean,

    q_c:  means kept, covariances Sigma_k -> c^2 Sigma_k   (c > 0),

a single Gaussian's entropy grows exactly as H[q_c] = H[q] + 2 log c (in 2D), while
E_{q_c}[log p~] falls once q_c spills past the target's mass. ``scale_sweep`` evaluates both
terms (with the ELBO's cubature and its error estimate, see ``vi_core.elbo``) along such a
sweep, so the optimum of the sum can be seen between the two pulls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vi_core.elbo import ElboResult, elbo
from vi_core.errors import FamilyError
from vi_core.families import Family
from vi_core.flow_family import FlowFamily
from vi_core.flows import flow_elbo
from vi_core.target import Density

__all__ = ["DEFAULT_FACTORS", "ScaleSweep", "scale_sweep", "scaled"]

# From a fifth to five times q's scale, 13 steps evenly spaced on a log scale (c = 1 among them).
DEFAULT_FACTORS: tuple[float, ...] = tuple(float(v) for v in np.geomspace(0.2, 5.0, 13))
# A chart's tolerance for a flow's cubature (nats): the sweep is drawn, not read to 1e-5, and a
# flow's ELBO costs tens of ms per rung.
_FLOW_TOL = 1e-3

# A component block's log scales (see families: mx, my, log sx, log sy, atanh rho).
_SCALE_FIELDS = (2, 3)


@dataclass(frozen=True)
class ScaleSweep:
    """The ELBO's terms along q_c for each factor c. Entries are None where q_c leaves the box
    of allowed parameters (``Family.bounds``) or its ELBO is not finite."""

    factors: list[float]
    expected_log_density: list[float | None]
    entropy: list[float | None]
    elbo: list[float | None]
    error: list[float | None]


def scaled(family: Family, theta: np.ndarray, factor: float) -> np.ndarray:
    """theta of q_c: every component's scales multiplied by ``factor``, its mean, correlation
    and weight kept (covariance -> factor^2 covariance). For a flow x = m + L g(z), the affine
    base's L is scaled (L -> factor L): q_c(x) spreads about m as the base does, its planar
    layers kept."""
    if not (np.isfinite(factor) and factor > 0):
        raise FamilyError(f"a scale factor must be a positive number, got {factor!r}")
    if isinstance(family, FlowFamily):
        out = family.check_theta(theta).copy()
        out[list(_SCALE_FIELDS)] += np.log(factor)  # the base's log scales, as in a block
        return out
    logits, block = family.expand(theta)
    block = block.copy()
    block[:, list(_SCALE_FIELDS)] += np.log(factor)
    return family.from_blocks(logits, block)


def _elbo(target: Density, family: Family, theta: np.ndarray) -> ElboResult:
    if isinstance(family, FlowFamily):
        return flow_elbo(target, family, theta, with_grad=False, tol=_FLOW_TOL)
    return elbo(target, family, theta, with_grad=False)


def scale_sweep(target: Density, family: Family, theta: np.ndarray, extent: Sequence[float],
                factors: Sequence[float] = DEFAULT_FACTORS) -> ScaleSweep:
    """E_{q_c}[log p~], H[q_c] and their sum, the ELBO, for q_c = ``scaled(family, theta, c)``.

    ``extent`` is the target's, which sets the allowed box; points outside it are None.
    """
    lo, hi = family.bounds(tuple(float(v) for v in extent))  # type: ignore[arg-type]
    out: dict[str, list[float | None]] = {"e": [], "h": [], "elbo": [], "err": []}
    for c in factors:
        th = scaled(family, theta, float(c))
        result = None
        if np.all((th >= lo - 1e-9) & (th <= hi + 1e-9)):
            result = _elbo(target, family, th)
        ok = result is not None and bool(np.isfinite(result.elbo))
        out["e"].append(float(result.expected_log_density) if ok and result else None)
        out["h"].append(float(result.entropy) if ok and result else None)
        out["elbo"].append(float(result.elbo) if ok and result else None)
        out["err"].append(float(result.error)
                          if ok and result and np.isfinite(result.error) else None)
    return ScaleSweep(factors=[float(c) for c in factors], expected_log_density=out["e"],
                      entropy=out["h"], elbo=out["elbo"], error=out["err"])
