"""Approximating families q for variational inference on the plane.

Every family is a mixture of K bivariate Gaussians,

    q(x) = sum_k pi_k N(x; m_k, Sigma_k),    Sigma_k = L_k L_k^T,

with L_k the lower Cholesky factor written through unconstrained numbers

    L_k = [[exp(a_k),                 0                ],
           [tanh(u_k) exp(b_k),  sech(u_k) exp(b_k)   ]],

so that sx = exp(a), sy = exp(b) and the correlation rho = tanh(u). The weights are a softmax
of logits. A family is a *linear* map J from its own unconstrained vector theta to the full
per-component vector

    full = [logits (K), then for each component (mx, my, a, b, u)]     (6K numbers)

e.g. ``gaussian-isotropic`` has theta = (mx, my, log s) and sets a = b = log s, u = 0. Because the
map is linear, a gradient with respect to ``full`` pulls back to theta as J^T g, and every family
shares one ELBO implementation (``vi_core.elbo``).

The natural (JSON) form is ``{"weights", "means", "scales", "correlations"}`` with one entry per
component; ``from_natural(to_natural(theta)) == theta`` to rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

from vi_core._numeric import log_cosh, logsumexp
from vi_core.errors import FamilyError

__all__ = ["DEFAULT_MIXTURE_FULL_K", "MAX_COMPONENTS", "MAX_FLOW_LAYERS", "Family", "Kind",
           "family_ids", "gaussian_entropy", "get_family", "is_flow_id", "register_flow_builder"]

#: The largest K a family may have (``mixture-full-K``, K = 1..MAX_COMPONENTS).
MAX_COMPONENTS = 10
#: K of ``mixture-full`` when none is given.
DEFAULT_MIXTURE_FULL_K = 3
#: How a component's covariance is parameterised.
Kind = Literal["isotropic", "diagonal", "full"]
Extent = tuple[float, float, float, float]
_LOG_2PI = float(np.log(2.0 * np.pi))
# Per-component block of ``full``: mean x, mean y, log sx, log sy, atanh(rho).
_MX, _MY, _A, _B, _U = range(5)
# Bounds on the unconstrained numbers (used by the optimizers as a guard, never hit by a sane
# fit): |u| <= 6 keeps |rho| <= 0.99999 so the Cholesky factor stays well conditioned, and
# logits within +-30 keep every weight above ~1e-26 so log weights stay finite.
_U_BOUND = 6.0
_LOGIT_BOUND = 30.0


def _as_theta(theta: Any, n_params: int, family_id: str) -> np.ndarray:
    try:
        t = np.asarray(theta, dtype=float)
    except (TypeError, ValueError) as exc:
        raise FamilyError(f"{family_id}: parameters must be numbers ({exc})") from None
    if t.ndim != 1 or t.size != n_params:
        raise FamilyError(
            f"{family_id}: expected {n_params} unconstrained parameters, got shape {t.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise FamilyError(f"{family_id}: parameters must be finite (got NaN or inf)")
    return t


class Family:
    """A family of mixtures of K Gaussians, parameterised by an unconstrained vector theta.

    Attributes: ``id``, ``name``, ``description``, ``n_components`` (K), ``n_params``
    (length of theta), ``learns_weights``, ``kind`` (``"isotropic"``, ``"diagonal"`` or
    ``"full"`` covariance) and ``shared_scale`` (one scale for every component, mixture-10).

    A Family only maps parameters: theta <-> components, log q, sampling, the closed-form
    entropy of one Gaussian, and the box of allowed values for a target's extent. Mixture
    entropies are computed by ``vi_core.elbo.entropy``; starting points by ``vi_core.starts``.
    """

    def __init__(
        self,
        family_id: str,
        name: str,
        description: str,
        n_components: int,
        kind: Kind,
        *,
        learns_weights: bool = False,
        shared_scale: bool = False,
    ) -> None:
        self.id = family_id
        self.name = name
        self.description = description
        self.n_components = int(n_components)
        self.kind = kind
        self.learns_weights = learns_weights
        self.shared_scale = shared_scale
        self._jac = self._build_jacobian()
        self.n_params = int(self._jac.shape[1])

    def __repr__(self) -> str:
        return f"Family({self.id!r}, n_components={self.n_components}, n_params={self.n_params})"

    # -- the linear map theta -> full ------------------------------------------------------
    def _build_jacobian(self) -> np.ndarray:
        k = self.n_components
        cols: list[list[tuple[int, float]]] = []  # each column: list of (row, coefficient)
        if self.learns_weights:
            # K-1 free logits with the last fixed at 0: softmax is shift invariant, so one
            # logit must be pinned for theta <-> natural to be a bijection.
            cols += [[(j, 1.0)] for j in range(k - 1)]

        def row(comp: int, field: int) -> int:
            return k + 5 * comp + field

        for c in range(k):
            cols.append([(row(c, _MX), 1.0)])
            cols.append([(row(c, _MY), 1.0)])
            if self.kind == "isotropic" and not self.shared_scale:
                cols.append([(row(c, _A), 1.0), (row(c, _B), 1.0)])
            elif self.kind in ("diagonal", "full"):
                cols.append([(row(c, _A), 1.0)])
                cols.append([(row(c, _B), 1.0)])
            if self.kind == "full":
                cols.append([(row(c, _U), 1.0)])
        if self.shared_scale:
            cols.append([(row(c, f), 1.0) for c in range(k) for f in (_A, _B)])
        jac = np.zeros((6 * k, len(cols)))
        for j, col in enumerate(cols):
            for r, v in col:
                jac[r, j] = v
        return jac

    def check_theta(self, theta: Any) -> np.ndarray:
        """Return theta as a float vector, or raise FamilyError on a wrong size or non-finite."""
        return _as_theta(theta, self.n_params, self.id)

    def expand(self, theta: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return (logits (K,), block (K, 5)) with block columns mx, my, log sx, log sy, u."""
        t = self.check_theta(theta)
        full = self._jac @ t
        k = self.n_components
        return full[:k], full[k:].reshape(k, 5)

    def pullback(self, g_logits: np.ndarray, g_block: np.ndarray) -> np.ndarray:
        """Chain rule: gradient w.r.t. (logits, block) -> gradient w.r.t. theta (J^T g)."""
        grad: np.ndarray = self._jac.T @ np.concatenate([np.ravel(g_logits), np.ravel(g_block)])
        return grad

    # -- derived quantities ---------------------------------------------------------------
    def factors(self, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (log weights (K,), means (K, 2), Cholesky factors L (K, 2, 2))."""
        logits, blk = self.expand(theta)
        logw = logits - logsumexp(logits)
        ea, eb, u = np.exp(blk[:, _A]), np.exp(blk[:, _B]), blk[:, _U]
        chol = np.zeros((self.n_components, 2, 2))
        chol[:, 0, 0] = ea
        chol[:, 1, 0] = np.tanh(u) * eb
        chol[:, 1, 1] = eb / np.cosh(u)
        return logw, blk[:, :2].copy(), chol

    def components(self, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (weights (K,), means (K, 2), covariances (K, 2, 2))."""
        logw, means, chol = self.factors(theta)
        return np.exp(logw), means, chol @ np.swapaxes(chol, 1, 2)

    def log_density(self, theta: Any, x: Any, y: Any) -> np.ndarray:
        """log q(x, y) = logsumexp_k [log pi_k + log N((x, y); m_k, Sigma_k)]; broadcasts."""
        logw, means, chol = self.factors(theta)
        x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        # Whitened coordinates v = L^-1 (x - m), by forward substitution, for every component.
        dx = x[..., None] - means[:, 0]
        dy = y[..., None] - means[:, 1]
        v1 = dx / chol[:, 0, 0]
        v2 = (dy - chol[:, 1, 0] * v1) / chol[:, 1, 1]
        logdet = np.log(chol[:, 0, 0]) + np.log(chol[:, 1, 1])
        terms = logw - _LOG_2PI - logdet - 0.5 * (v1 * v1 + v2 * v2)
        return logsumexp(terms, axis=-1)

    def sample(self, theta: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n points, shape (n, 2): a component by its weight, then m_k + L_k z."""
        n = int(n)
        if n < 0:
            raise FamilyError(f"{self.id}: number of samples must be >= 0, got {n}")
        logw, means, chol = self.factors(theta)
        w = np.exp(logw)
        idx = rng.choice(self.n_components, size=n, p=w / w.sum())
        z = rng.standard_normal((n, 2))
        points: np.ndarray = means[idx] + np.einsum("nij,nj->ni", chol[idx], z)
        return points

    def entropy(self, theta: Any) -> float:
        """H[q] = -E_q[log q] of a single Gaussian, in closed form:
        H = 1 + log(2 pi) + log sx + log sy + 1/2 log(1 - rho^2).

        A mixture has no closed form: use ``vi_core.entropy(family, theta)`` (the ELBO's
        adaptive cubature, with an error estimate); asking a mixture here raises FamilyError.
        """
        if self.n_components != 1:
            raise FamilyError(f"{self.id}: a mixture's entropy has no closed form; use "
                              "vi_core.entropy(family, theta)")
        _, blk = self.expand(theta)
        return float(gaussian_entropy(blk[0, _A], blk[0, _B], blk[0, _U]))

    # -- natural parameters ---------------------------------------------------------------
    def to_natural(self, theta: Any) -> dict[str, list[float] | list[list[float]]]:
        """theta -> {"weights": [K], "means": [[x, y]]*K, "scales": [[sx, sy]]*K,
        "correlations": [K]} as plain Python floats (JSON-able)."""
        logits, blk = self.expand(theta)
        w = np.exp(logits - logsumexp(logits))
        return {
            "weights": [float(v) for v in w],
            "means": [[float(blk[c, _MX]), float(blk[c, _MY])] for c in range(self.n_components)],
            "scales": [[float(np.exp(blk[c, _A])), float(np.exp(blk[c, _B]))]
                       for c in range(self.n_components)],
            "correlations": [float(np.tanh(v)) for v in blk[:, _U]],
        }

    def from_natural(self, natural: Mapping[str, Any]) -> np.ndarray:
        """Inverse of ``to_natural``. ``weights`` (default equal) and ``correlations`` (default 0)
        may be omitted; raise FamilyError with a one-line message on anything that does not fit.
        """
        fid, k = self.id, self.n_components
        if not isinstance(natural, Mapping):
            raise FamilyError(f"{fid}: natural parameters must be a mapping, got "
                              f"{type(natural).__name__}")
        for key in ("means", "scales"):
            if key not in natural:
                raise FamilyError(f"{fid}: natural parameters need '{key}'")

        def arr(key: str, default: Any, shape: tuple[int, ...]) -> np.ndarray:
            raw = natural.get(key, default)
            try:
                a = np.asarray(raw, dtype=float)
            except (TypeError, ValueError):
                raise FamilyError(f"{fid}: '{key}' must be numbers") from None
            if a.shape != shape:
                raise FamilyError(f"{fid}: '{key}' must have shape {list(shape)} "
                                  f"({k} component{'s' * (k > 1)}), got {list(a.shape)}")
            if not np.all(np.isfinite(a)):
                raise FamilyError(f"{fid}: '{key}' must be finite (got NaN or inf)")
            return a

        weights = arr("weights", np.full(k, 1.0 / k), (k,))
        means = arr("means", None, (k, 2))
        scales = arr("scales", None, (k, 2))
        rho = arr("correlations", np.zeros(k), (k,))
        if np.any(weights <= 0):
            raise FamilyError(f"{fid}: weights must be > 0")
        if abs(weights.sum() - 1.0) > 1e-6:
            raise FamilyError(f"{fid}: weights must sum to 1, got {weights.sum():.9g}")
        if np.any(scales <= 0):
            raise FamilyError(f"{fid}: scales must be > 0")
        if np.any(np.abs(rho) >= 1):
            raise FamilyError(f"{fid}: correlations must be in (-1, 1)")
        if not self.learns_weights and np.any(np.abs(weights - 1.0 / k) > 1e-6):
            raise FamilyError(f"{fid}: weights are fixed at 1/{k} in this family")
        if self.kind != "full" and np.any(rho != 0):
            raise FamilyError(f"{fid}: correlations must be 0 in this family")
        if self.kind == "isotropic" and not np.allclose(scales[:, 0], scales[:, 1],
                                                        rtol=1e-9, atol=0):
            raise FamilyError(f"{fid}: isotropic components need sx == sy")
        if self.shared_scale and not np.allclose(scales, scales[0, 0], rtol=1e-9, atol=0):
            raise FamilyError(f"{fid}: all components share one scale (sx == sy, same for all)")
        logw = np.log(weights / weights.sum())
        full = np.concatenate([
            logw - logw[-1],
            np.column_stack([means, np.log(scales), np.arctanh(rho)]).ravel(),
        ])
        # J has orthogonal columns, so the least-squares inverse is J^T full / diag(J^T J);
        # tied entries (sx == sy, shared scales) come out as their mean.
        theta = (self._jac.T @ full) / np.sum(self._jac**2, axis=0)
        return self.check_theta(theta)

    # -- the allowed box ------------------------------------------------------------------
    @staticmethod
    def natural_ranges(extent: Extent) -> dict[str, tuple[float, float]]:
        """The ranges of q's natural parameters that ``bounds`` allows for a target's extent
        (the one source of these numbers: the page receives them through the protocol).

        Means stay within the target's extent widened by 3 widths on each side; scales within
        [size e^-10, size e^3] where size is the larger side of the extent; |correlation| at
        most tanh(6).
        """
        xmin, xmax, ymin, ymax = (float(v) for v in extent)
        w, h = xmax - xmin, ymax - ymin
        size = max(w, h)
        return {
            "mean_x": (xmin - 3 * w, xmax + 3 * w),
            "mean_y": (ymin - 3 * h, ymax + 3 * h),
            "scale": (float(size * np.exp(-10)), float(size * np.exp(3))),
            "correlation": (float(-np.tanh(_U_BOUND)), float(np.tanh(_U_BOUND))),
        }

    def bounds(self, extent: Extent) -> tuple[np.ndarray, np.ndarray]:
        """Box (lo, hi) on theta that optimizers project onto: a guard against absurd values.

        It is ``natural_ranges`` in the unconstrained coordinates (log scales, atanh rho).
        """
        r = self.natural_ranges(extent)
        k = self.n_components
        lo_full = np.concatenate([np.full(k, -_LOGIT_BOUND), np.tile(
            [r["mean_x"][0], r["mean_y"][0], np.log(r["scale"][0]), np.log(r["scale"][0]),
             -_U_BOUND], k)])
        hi_full = np.concatenate([np.full(k, _LOGIT_BOUND), np.tile(
            [r["mean_x"][1], r["mean_y"][1], np.log(r["scale"][1]), np.log(r["scale"][1]),
             _U_BOUND], k)])
        # Every theta entry maps to rows with the same bounds, so take its first row.
        first = np.argmax(self._jac != 0, axis=0)
        return lo_full[first], hi_full[first]

    def from_blocks(self, logits: np.ndarray, block: np.ndarray) -> np.ndarray:
        """theta from K logits and a (K, 5) block (mx, my, log sx, log sy, u), by least squares
        through the linear map (exact when the block fits the family; tied entries averaged)."""
        full = np.concatenate([logits - logits[-1], np.ravel(block)])
        theta: np.ndarray = (self._jac.T @ full) / np.sum(self._jac**2, axis=0)
        return theta


def gaussian_entropy(a: Any, b: Any, u: Any) -> np.ndarray:
    """Entropy of N(m, L L^T): 1 + log(2 pi) + log|L| with log|L| = a + b - log cosh(u)."""
    h: np.ndarray = 1.0 + _LOG_2PI + a + b - log_cosh(u)
    return h


# -- registry -------------------------------------------------------------------------------

_BASE = ("gaussian-isotropic", "gaussian-diagonal", "gaussian-full", "mixture-3", "mixture-10",
         "mixture-full")
#: Flow families (``vi_core.flow_family.FlowFamily``, a later layer): ``flow`` (8 planar
#: layers) and ``flow-N``, N = 1..MAX_FLOW_LAYERS. Their ELBO and fit are in ``vi_core.flows``.
_FLOWS = ("flow",)
MAX_FLOW_LAYERS = 32
#: Builds a flow family from its id. ``vi_core.flow_family`` registers it when imported, which
#: ``import vi_core`` (run before any ``vi_core.*`` module) always does; the registry keeps the
#: layers one-way (a flow family is a Family subclass, so it lives after this module).
_flow_builder: Callable[[str], Family] | None = None


def register_flow_builder(builder: Callable[[str], Family]) -> None:
    """Set the builder of ``flow`` / ``flow-N`` families (called by vi_core.flow_family)."""
    global _flow_builder
    _flow_builder = builder


def is_flow_id(family_id: str) -> bool:
    """Whether an id names a flow family: ``flow`` or ``flow-N``."""
    fid = str(family_id).strip()
    return fid == "flow" or fid.startswith("flow-")


def family_ids() -> list[str]:
    """The six base family ids, then ``flow`` (``mixture-full`` also accepts
    ``mixture-full-K``, K = 1..10; ``flow`` accepts ``flow-N``, N = 1..32 layers)."""
    return list(_BASE + _FLOWS)


def get_family(family_id: str, n_components: int | None = None) -> Family:
    """Build a family by id. ``n_components`` is only meaningful for ``mixture-full``
    (default 3); ``mixture-full-K`` is the same as ``("mixture-full", K)``. ``flow`` and
    ``flow-N`` give a ``FlowFamily`` (fitted by ``vi_core.flows.fit_flow``)."""
    fid = str(family_id).strip()
    if is_flow_id(fid):
        if n_components is not None and int(n_components) != 1:
            raise FamilyError(f"{fid} has one base Gaussian; n_components={n_components} only "
                              "applies to mixture-full (choose layers as flow-N)")
        if _flow_builder is None:  # only while vi_core itself is half imported
            raise FamilyError("flow families need vi_core.flow_family (import vi_core first)")
        return _flow_builder(fid)
    fixed = {"gaussian-isotropic": 1, "gaussian-diagonal": 1, "gaussian-full": 1,
             "mixture-3": 3, "mixture-10": 10}
    if fid in fixed:
        if n_components is not None and int(n_components) != fixed[fid]:
            raise FamilyError(f"{fid} has {fixed[fid]} component(s); n_components="
                              f"{n_components} only applies to mixture-full")
        if fid == "gaussian-isotropic":
            return Family(fid, "Isotropic Gaussian",
                          "One Gaussian with a single scale: N(m, s^2 I).", 1, "isotropic")
        if fid == "gaussian-diagonal":
            return Family(fid, "Diagonal Gaussian (mean field)",
                          "One Gaussian with independent axes: N(m, diag(sx^2, sy^2)).",
                          1, "diagonal")
        if fid == "gaussian-full":
            return Family(fid, "Full-covariance Gaussian",
                          "One Gaussian with scales sx, sy and correlation rho = tanh(u).",
                          1, "full")
        if fid == "mixture-3":
            return Family(fid, "Mixture of 3 isotropic Gaussians",
                          "3 equal-weight isotropic Gaussians, one scale each.", 3, "isotropic")
        return Family(fid, "Mixture of 10 isotropic Gaussians",
                      "10 equal-weight isotropic Gaussians sharing one scale.", 10, "isotropic",
                      shared_scale=True)
    k: int | None = None
    if fid == "mixture-full":
        k = DEFAULT_MIXTURE_FULL_K if n_components is None else n_components
    elif fid.startswith("mixture-full-"):
        suffix = fid[len("mixture-full-"):]
        if not suffix.isdigit():
            raise FamilyError(f"unknown family {fid!r}; valid: {', '.join(_BASE + _FLOWS)} "
                              f"(or mixture-full-K, K = 1..{MAX_COMPONENTS}; flow-N, "
                              f"N = 1..{MAX_FLOW_LAYERS})")
        k = int(suffix)
        if n_components is not None and int(n_components) != k:
            raise FamilyError(f"{fid} conflicts with n_components={n_components}")
    if k is None:
        raise FamilyError(f"unknown family {fid!r}; valid: {', '.join(_BASE + _FLOWS)} "
                          f"(or mixture-full-K, K = 1..{MAX_COMPONENTS}; flow-N, "
                          f"N = 1..{MAX_FLOW_LAYERS})")
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise FamilyError(f"mixture-full: n_components must be an integer, got {k!r}") from None
    if not 1 <= k <= MAX_COMPONENTS:
        raise FamilyError(f"mixture-full: n_components must be 1..{MAX_COMPONENTS}, got {k}")
    fam_id = "mixture-full" if k == DEFAULT_MIXTURE_FULL_K and fid == "mixture-full" \
        else f"mixture-full-{k}"
    return Family(fam_id, f"Mixture of {k} full Gaussians",
                  f"{k} full-covariance Gaussians with learned weights (softmax).", k, "full",
                  learns_weights=True)
