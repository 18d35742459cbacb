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

from collections.abc import Mapping
from typing import Any

import numpy as np

from vi_core.errors import FamilyError

__all__ = ["MAX_COMPONENTS", "Family", "family_ids", "get_family"]

MAX_COMPONENTS = 10
_LOG_2PI = float(np.log(2.0 * np.pi))
# Per-component block of ``full``: mean x, mean y, log sx, log sy, atanh(rho).
_MX, _MY, _A, _B, _U = range(5)
# Bounds on the unconstrained numbers (used by the optimizers as a guard, never hit by a sane
# fit): |u| <= 6 keeps |rho| <= 0.99999 so the Cholesky factor stays well conditioned, and
# logits within +-30 keep every weight above ~1e-26 so log weights stay finite.
_U_BOUND = 6.0
_LOGIT_BOUND = 30.0
_GRID = 64  # side of the target grid used to build target-aware starting points
# Candidate screening (``_screen``): checkpoint spacing, absolute margin (nats) and how many
# checkpoint-gains of further climb a trailing run is credited with.
_SCREEN_EVERY = 4
_SCREEN_MARGIN = 0.01
_SCREEN_REACH = 3.0
_INIT_CACHE: dict[tuple[int, str], tuple[Any, np.ndarray]] = {}


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
    (length of theta), ``learns_weights`` and ``kind`` (``"isotropic"``, ``"diagonal"`` or
    ``"full"`` covariance; ``shared_scale`` for mixture-10).
    """

    def __init__(
        self,
        family_id: str,
        name: str,
        description: str,
        n_components: int,
        kind: str,
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
        return self._jac.T @ np.concatenate([np.ravel(g_logits), np.ravel(g_block)])

    # -- derived quantities ---------------------------------------------------------------
    def factors(self, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (log weights (K,), means (K, 2), Cholesky factors L (K, 2, 2))."""
        logits, blk = self.expand(theta)
        logw = logits - _logsumexp(logits)
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
        return _logsumexp(terms, axis=-1)

    def sample(self, theta: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n points, shape (n, 2): a component by its weight, then m_k + L_k z."""
        n = int(n)
        if n < 0:
            raise FamilyError(f"{self.id}: number of samples must be >= 0, got {n}")
        logw, means, chol = self.factors(theta)
        if self.n_components == 1:
            idx = np.zeros(n, dtype=int)
        else:
            cum = np.cumsum(np.exp(logw))
            idx = np.minimum(np.searchsorted(cum / cum[-1], rng.random(n), side="right"),
                             self.n_components - 1)
        z = rng.standard_normal((n, 2))
        return means[idx] + np.einsum("nij,nj->ni", chol[idx], z)

    def entropy(self, theta: Any) -> float:
        """H[q] = -E_q[log q].

        A single Gaussian has the closed form H = 1 + log(2 pi) + log sx + log sy
        + 1/2 log(1 - rho^2). A mixture has none; it uses the same adaptive Gauss-Hermite
        cubature as the ELBO (``vi_core.elbo.entropy``).
        """
        if self.n_components == 1:
            _, blk = self.expand(theta)
            return float(gaussian_entropy(blk[0, _A], blk[0, _B], blk[0, _U]))
        from vi_core.elbo import entropy as _entropy  # elbo imports this module

        return _entropy(self, theta).value

    # -- natural parameters ---------------------------------------------------------------
    def to_natural(self, theta: Any) -> dict[str, list]:
        """theta -> {"weights": [K], "means": [[x, y]]*K, "scales": [[sx, sy]]*K,
        "correlations": [K]} as plain Python floats (JSON-able)."""
        logits, blk = self.expand(theta)
        w = np.exp(logits - _logsumexp(logits))
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

    # -- starting points ------------------------------------------------------------------
    @staticmethod
    def natural_ranges(target: Any) -> dict[str, tuple[float, float]]:
        """The ranges of q's natural parameters that ``bounds`` allows, for messages.

        Means stay within the target's extent widened by 3 widths on each side; scales within
        [size e^-10, size e^3] where size is the larger side of the extent; |correlation| at
        most tanh(6).
        """
        xmin, xmax, ymin, ymax = (float(v) for v in target.extent)
        w, h = xmax - xmin, ymax - ymin
        size = max(w, h)
        return {
            "mean_x": (xmin - 3 * w, xmax + 3 * w),
            "mean_y": (ymin - 3 * h, ymax + 3 * h),
            "scale": (size * np.exp(-10), size * np.exp(3)),
            "correlation": (-np.tanh(_U_BOUND), np.tanh(_U_BOUND)),
        }

    def bounds(self, target: Any) -> tuple[np.ndarray, np.ndarray]:
        """Box (lo, hi) on theta that optimizers project onto: a guard against absurd values.

        It is ``natural_ranges`` in the unconstrained coordinates (log scales, atanh rho).
        """
        r = self.natural_ranges(target)
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

    def initial_params(self, target: Any) -> np.ndarray:
        """Deterministic, target-aware starting q (the page's "Reset" state).

        The target is evaluated on a 64 x 64 grid over its extent, and candidate starts are
        built from it: for one Gaussian, the grid moments of p, a Gaussian on each grid mode
        (with its basin's covariance) and on each cluster of weighted k-means with 2..4
        clusters; for a mixture, weighted k-means with K clusters (farthest-point seeding),
        k-means within the grid's mode basins with K split by basin mass, and with learned
        weights also K equal-mass slices across each principal axis of the grid mass (so
        components of different size can stack along a direction in which the target's width
        changes, as in a funnel). Reverse KL has
        several local optima (which modes to cover, how many components per mode, how to
        tile one curved or funnel-shaped mode), so each candidate is screened by a short
        L-BFGS run (up to 40 iterations for one Gaussian, 25 for a mixture, on a 1e-4 cubature
        tolerance; the runs go in lockstep and one that has fallen well behind and flattened
        out is dropped early, see ``_screen``) and the *unoptimised* candidate whose run ends
        highest is returned. Optimizing from it therefore follows that same path. The result
        is cached per (target object, family).
        """
        key = (id(target), self.id)
        hit = _INIT_CACHE.get(key)
        if hit is not None and hit[0] is target:
            return hit[1].copy()
        pts, prob = _target_grid(target)
        if self.n_components == 1:
            cands = _gaussian_candidates(pts, prob)
        else:
            cands = _mixture_candidates(pts, prob, self.n_components,
                                        slices=self.learns_weights)
        thetas: list[np.ndarray] = []
        for comps in cands:
            th = self._fit_components(*comps, target)
            if not any(np.allclose(th, o, rtol=0, atol=1e-9) for o in thetas):
                thetas.append(th)
        best = thetas[0]
        if len(thetas) > 1:
            best = thetas[_screen(target, self, thetas)]
        if len(_INIT_CACHE) >= 64:
            _INIT_CACHE.pop(next(iter(_INIT_CACHE)))
        _INIT_CACHE[key] = (target, best)
        return best.copy()

    def random_params(self, target: Any, rng: np.random.Generator) -> np.ndarray:
        """A random q for restarts: means uniform over the extent, scales log-uniform between
        5% and 30% of the extent's size, correlations uniform in (-0.8, 0.8), weight logits
        N(0, 1)."""
        xmin, xmax, ymin, ymax = (float(v) for v in target.extent)
        size = max(xmax - xmin, ymax - ymin)
        k = self.n_components
        logits = rng.standard_normal(k) if self.learns_weights else np.zeros(k)
        mx = rng.uniform(xmin, xmax, k)
        my = rng.uniform(ymin, ymax, k)
        if self.shared_scale:
            la = np.full(k, np.log(size * np.exp(rng.uniform(np.log(0.05), np.log(0.3)))))
            lb = la
        else:
            la = np.log(size) + rng.uniform(np.log(0.05), np.log(0.3), k)
            lb = la if self.kind == "isotropic" else \
                np.log(size) + rng.uniform(np.log(0.05), np.log(0.3), k)
        u = np.arctanh(rng.uniform(-0.8, 0.8, k)) if self.kind == "full" else np.zeros(k)
        return self._from_full(logits, np.column_stack([mx, my, la, lb, u]))

    def _from_full(self, logits: np.ndarray, block: np.ndarray) -> np.ndarray:
        full = np.concatenate([logits - logits[-1], np.ravel(block)])
        return (self._jac.T @ full) / np.sum(self._jac**2, axis=0)

    def _fit_components(self, weights: np.ndarray, means: np.ndarray, covs: np.ndarray,
                        target: Any) -> np.ndarray:
        """Project K (weight, mean, covariance) triples onto this family, within bounds."""
        k = self.n_components
        var = np.stack([covs[:, 0, 0], covs[:, 1, 1]], axis=1)
        if self.kind == "isotropic":
            var = np.repeat(var.mean(axis=1, keepdims=True), 2, axis=1)
        if self.shared_scale:
            var = np.full_like(var, np.sum(weights[:, None] * var) / 2.0)
        sd = np.sqrt(var)
        if self.kind == "full":
            rho = np.clip(covs[:, 0, 1] / (sd[:, 0] * sd[:, 1]), -0.95, 0.95)
        else:
            rho = np.zeros(k)
        w = weights / weights.sum() if self.learns_weights else np.full(k, 1.0 / k)
        theta = self._from_full(np.log(np.maximum(w, 1e-6)),
                                np.column_stack([means, np.log(sd), np.arctanh(rho)]))
        lo, hi = self.bounds(target)
        return np.clip(theta, lo, hi)


def _screen(target: Any, family: Family, thetas: list[np.ndarray]) -> int:
    """Index of the candidate whose short L-BFGS run ends highest (first one on ties).

    The runs advance in lockstep, one iteration each per round, and every ``_SCREEN_EVERY``
    iterations a run is dropped when it trails the best ELBO seen by more than
    ``_SCREEN_MARGIN`` plus ``_SCREEN_REACH`` times its own gain over the last
    ``_SCREEN_EVERY`` iterations (a run still climbing fast is kept; one that has flattened
    out below the leader cannot win). Dropping only skips work: a dropped run could not have
    ended highest unless its climb sped up again.
    """
    from vi_core.optimize import optimize

    max_iter = 40 if family.n_components == 1 else 25
    runs = [optimize(target, family, th, "lbfgs", tol=1e-4, max_iter=max_iter, elbo_tol=1e-4)
            for th in thetas]
    hist: list[list[float]] = [[] for _ in thetas]
    alive = [True] * len(thetas)
    running = [True] * len(thetas)
    for it in range(max_iter + 1):
        for i, run in enumerate(runs):
            if not (alive[i] and running[i]):
                continue
            step = next(run, None)
            if step is None:
                running[i] = False
                continue
            val = step.result.elbo
            hist[i].append(val if np.isfinite(val) else -np.inf)
        if not any(a and r for a, r in zip(alive, running, strict=True)):
            break
        if it == 0 or it % _SCREEN_EVERY:
            continue
        top = max((h[-1] for h in hist if h), default=-np.inf)
        for i, h in enumerate(hist):
            if alive[i] and running[i] and len(h) > _SCREEN_EVERY:
                gain = h[-1] - h[-1 - _SCREEN_EVERY]
                if top - h[-1] > _SCREEN_MARGIN + _SCREEN_REACH * max(gain, 0.0):
                    alive[i] = False
                    runs[i].close()
    best, best_val = 0, -np.inf
    for i, h in enumerate(hist):
        if alive[i] and h and np.isfinite(h[-1]) and h[-1] > best_val + 1e-9:
            best, best_val = i, h[-1]
    return best


def gaussian_entropy(a: Any, b: Any, u: Any) -> np.ndarray:
    """Entropy of N(m, L L^T): 1 + log(2 pi) + log|L| with log|L| = a + b - log cosh(u)."""
    return 1.0 + _LOG_2PI + a + b - _log_cosh(u)


def _log_cosh(u: Any) -> np.ndarray:
    u = np.abs(u)
    return u + np.log1p(np.exp(-2.0 * u)) - np.log(2.0)


def _logsumexp(a: np.ndarray, axis: int | None = None) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


# -- target-aware starting points -----------------------------------------------------------

def _target_grid(target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (N, 2) of a grid over the extent and the normalised target mass there."""
    xmin, xmax, ymin, ymax = (float(v) for v in target.extent)
    gx = xmin + (np.arange(_GRID) + 0.5) * (xmax - xmin) / _GRID
    gy = ymin + (np.arange(_GRID) + 0.5) * (ymax - ymin) / _GRID
    xx, yy = np.meshgrid(gx, gy)
    with np.errstate(all="ignore"):
        lp = np.asarray(target.log_density(xx, yy), dtype=float)
    lp = np.where(np.isfinite(lp), lp, -np.inf)
    if not np.any(np.isfinite(lp)):
        prob = np.full(lp.shape, 1.0 / lp.size)
    else:
        prob = np.exp(lp - lp.max())
        prob /= prob.sum()
    return np.column_stack([xx.ravel(), yy.ravel()]), prob.ravel()


def _weighted_cov(pts: np.ndarray, prob: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    w = prob / prob.sum()
    mean = w @ pts
    d = pts - mean
    cov = (d * w[:, None]).T @ d + floor**2 * np.eye(2)
    return mean, cov


def _cell(pts: np.ndarray) -> float:
    """Grid spacing (smallest gap between distinct coordinates; 1 if there is none)."""
    gaps = [np.min(np.diff(u)) for u in (np.unique(pts[:, 0]), np.unique(pts[:, 1]))
            if len(u) > 1]
    return float(min(gaps)) if gaps else 1.0


def _modes(pts: np.ndarray, prob: np.ndarray, limit: int) -> np.ndarray:
    """Indices of up to ``limit`` grid cells that beat their 8 neighbours, heaviest first."""
    side = _GRID
    p2 = prob.reshape(side, side)
    padded = np.pad(p2, 1, constant_values=-1.0)
    is_max = np.ones_like(p2, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                is_max &= p2 >= padded[1 + di:1 + di + side, 1 + dj:1 + dj + side]
    idx = np.flatnonzero(is_max.ravel() & (prob > 1e-3 * prob.max()))
    return idx[np.argsort(-prob[idx], kind="stable")][:limit]


def _gaussian_candidates(pts: np.ndarray, prob: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """Moment match; a Gaussian per grid mode (basin = cells nearest it); k-means clusters."""
    h = _cell(pts)
    mean, cov = _weighted_cov(pts, prob, h)
    cands = [(np.ones(1), mean[None], cov[None])]
    idx = _modes(pts, prob, 4)
    if len(idx) > 1:
        modes = pts[idx]
        owner = np.argmin(((pts[:, None, :] - modes[None]) ** 2).sum(-1), axis=1)
        for j in range(len(idx)):
            sel = owner == j
            if prob[sel].sum() <= 0:
                continue
            _, c = _weighted_cov(pts[sel], prob[sel], h)
            cands.append((np.ones(1), modes[j][None], c[None]))
    for k in range(2, 5):
        w, c, covs = _kmeans(pts, prob, k)
        for j in np.argsort(-w, kind="stable"):
            cands.append((np.ones(1), c[j][None], covs[j][None]))
    return cands


def _mixture_candidates(pts: np.ndarray, prob: np.ndarray, k: int, slices: bool = True
                        ) -> list[tuple[np.ndarray, ...]]:
    """k-means with K clusters, (if ``slices``) K slices across each principal axis, and
    k-means per mode basin with K split by basin mass."""
    cands = [_kmeans(pts, prob, k)]
    if slices:
        cands += _slices(pts, prob, k)
    idx = _modes(pts, prob, k)
    if len(idx) < 2:
        return cands
    owner = np.argmin(((pts[:, None, :] - pts[idx][None]) ** 2).sum(-1), axis=1)
    mass = np.bincount(owner, weights=prob, minlength=len(idx))
    share = k * mass / mass.sum()
    seen = set()
    for rounding in (np.floor, np.round, np.ceil):
        alloc = np.maximum(rounding(share), 0).astype(int)
        # Fix the total by the largest remainders (or smallest, when over).
        while alloc.sum() < k:
            alloc[int(np.argmax(share - alloc))] += 1
        while alloc.sum() > k:
            j = int(np.argmin(np.where(alloc > 0, share - alloc, np.inf)))
            alloc[j] -= 1
        if tuple(alloc) in seen:
            continue
        seen.add(tuple(alloc))
        ws, cs, covs = [], [], []
        for j, n in enumerate(alloc):
            if n == 0:
                continue
            sel = owner == j
            w, c, cv = _kmeans(pts[sel], prob[sel], int(n))
            ws.append(w * mass[j])
            cs.append(c)
            covs.append(cv)
        cands.append((np.concatenate(ws), np.concatenate(cs), np.concatenate(covs)))
    return cands


def _slices(pts: np.ndarray, prob: np.ndarray, k: int) -> list[tuple[np.ndarray, ...]]:
    """For each principal axis of the grid mass: K slices of equal mass across it."""
    h = _cell(pts)
    _, cov = _weighted_cov(pts, prob, h)
    _, vecs = np.linalg.eigh(cov)
    out = []
    for v in vecs.T[::-1]:
        proj = pts @ v
        order = np.argsort(proj, kind="stable")
        cum = np.cumsum(prob[order])
        cum /= cum[-1]
        part = np.empty(len(pts), dtype=int)
        part[order] = np.minimum((cum * k - 1e-12).astype(int), k - 1)
        ws, cs, cvs = [], [], []
        for j in range(k):
            sel = part == j
            if prob[sel].sum() <= 0:
                break
            m, c = _weighted_cov(pts[sel], prob[sel], h)
            ws.append(prob[sel].sum())
            cs.append(m)
            cvs.append(c)
        if len(ws) == k:
            out.append((np.array(ws), np.array(cs), np.array(cvs)))
    return out


def _kmeans(pts: np.ndarray, prob: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Deterministic weighted k-means (Lloyd) on grid cells, seeded by mass-weighted
    farthest-point sampling from the heaviest cell. Returns (masses, centres, covariances)."""
    h = _cell(pts)
    keep = prob > 1e-8 * prob.max()
    p, w = pts[keep], prob[keep] / prob[keep].sum()
    centres = [p[np.argmax(w)]]
    d2 = ((p - centres[0]) ** 2).sum(-1)
    for _ in range(1, k):
        j = int(np.argmax(d2 * w))
        centres.append(p[j])
        d2 = np.minimum(d2, ((p - p[j]) ** 2).sum(-1))
    c = np.array(centres)
    for _ in range(50):
        owner = np.argmin(((p[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
        mass = np.bincount(owner, weights=w, minlength=k)
        new = np.array([(w[owner == j] @ p[owner == j]) / mass[j] if mass[j] > 0 else c[j]
                        for j in range(k)])
        if np.allclose(new, c, atol=1e-12, rtol=0):
            break
        c = new
    owner = np.argmin(((p[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
    mass = np.bincount(owner, weights=w, minlength=k)
    covs = np.empty((k, 2, 2))
    for j in range(k):
        sel = owner == j
        if mass[j] > 0 and sel.sum() > 1:
            _, covs[j] = _weighted_cov(p[sel], w[sel], h)
        else:
            covs[j] = h**2 * np.eye(2)
    mass = np.maximum(mass, 1e-3 / k)
    return mass / mass.sum(), c, covs


# -- registry -------------------------------------------------------------------------------

_BASE = ("gaussian-isotropic", "gaussian-diagonal", "gaussian-full", "mixture-3", "mixture-10",
         "mixture-full")
DEFAULT_MIXTURE_FULL_K = 3


def family_ids() -> list[str]:
    """The six base family ids (``mixture-full`` also accepts ``mixture-full-K``, K = 1..10)."""
    return list(_BASE)


def get_family(family_id: str, n_components: int | None = None) -> Family:
    """Build a family by id. ``n_components`` is only meaningful for ``mixture-full``
    (default 3); ``mixture-full-K`` is the same as ``("mixture-full", K)``."""
    fid = str(family_id).strip()
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
            raise FamilyError(f"unknown family {fid!r}; valid: {', '.join(_BASE)} "
                              f"(or mixture-full-K, K = 1..{MAX_COMPONENTS})")
        k = int(suffix)
        if n_components is not None and int(n_components) != k:
            raise FamilyError(f"{fid} conflicts with n_components={n_components}")
    if k is None:
        raise FamilyError(f"unknown family {fid!r}; valid: {', '.join(_BASE)} "
                          f"(or mixture-full-K, K = 1..{MAX_COMPONENTS})")
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
