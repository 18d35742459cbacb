"""Starting points for q: the page's Reset state and random restarts.

``initial_params`` builds target-aware candidates from a grid of the target (moments, modes,
weighted k-means, slices), projects them onto the family (``project``) and screens them by
short L-BFGS runs (``_screen``); ``random_params`` draws a random q. Nothing here is cached
behind the caller's back: ``initial_params`` takes an optional ``cache`` dict that its owner
(a protocol ``Session``, say) keeps and clears.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from vi_core.families import Family
from vi_core.optimize import Step, optimize
from vi_core.target import Density

__all__ = ["StartCache", "initial_params", "project", "random_params"]

#: What ``initial_params`` keeps per (id(target), family id): the target object (to check the
#: id still names it) and the chosen theta.
StartCache = dict[tuple[int, str], tuple[Any, np.ndarray]]
#: A candidate start: K component weights (K,), means (K, 2) and covariances (K, 2, 2).
Candidate = tuple[np.ndarray, np.ndarray, np.ndarray]
_CACHE_SIZE = 64
_GRID = 64  # side of the target grid used to build target-aware starting points
# Candidate screening (``_screen``): checkpoint spacing, absolute margin (nats) and how many
# checkpoint-gains of further climb a trailing run is credited with.
_SCREEN_EVERY = 4
_SCREEN_MARGIN = 0.01
_SCREEN_REACH = 3.0


def initial_params(target: Density, family: Family, *, cache: StartCache | None = None
                   ) -> np.ndarray:
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
    is kept in ``cache`` per (target object, family id) when one is given.
    """
    key = (id(target), family.id)
    hit = cache.get(key) if cache is not None else None
    if hit is not None and hit[0] is target:
        return hit[1].copy()
    pts, prob = _target_grid(target)
    if family.n_components == 1:
        cands = _gaussian_candidates(pts, prob)
    else:
        cands = _mixture_candidates(pts, prob, family.n_components,
                                    slices=family.learns_weights)
    thetas: list[np.ndarray] = []
    for comps in cands:
        th = project(family, *comps, target.extent)
        if not any(np.allclose(th, o, rtol=0, atol=1e-9) for o in thetas):
            thetas.append(th)
    best = thetas[0]
    if len(thetas) > 1:
        best = thetas[_screen(target, family, thetas)]
    if cache is not None:
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = (target, best)
    return best.copy()


def random_params(target: Density, family: Family, rng: np.random.Generator) -> np.ndarray:
    """A random q for restarts: means uniform over the extent, scales log-uniform between
    5% and 30% of the extent's size, correlations uniform in (-0.8, 0.8), weight logits
    N(0, 1)."""
    xmin, xmax, ymin, ymax = (float(v) for v in target.extent)
    size = max(xmax - xmin, ymax - ymin)
    k = family.n_components
    logits = rng.standard_normal(k) if family.learns_weights else np.zeros(k)
    mx = rng.uniform(xmin, xmax, k)
    my = rng.uniform(ymin, ymax, k)
    if family.shared_scale:
        la = np.full(k, np.log(size * np.exp(rng.uniform(np.log(0.05), np.log(0.3)))))
        lb = la
    else:
        la = np.log(size) + rng.uniform(np.log(0.05), np.log(0.3), k)
        lb = la if family.kind == "isotropic" else \
            np.log(size) + rng.uniform(np.log(0.05), np.log(0.3), k)
    u = np.arctanh(rng.uniform(-0.8, 0.8, k)) if family.kind == "full" else np.zeros(k)
    return family.from_blocks(logits, np.column_stack([mx, my, la, lb, u]))


def project(family: Family, weights: np.ndarray, means: np.ndarray, covs: np.ndarray,
            extent: tuple[float, float, float, float]) -> np.ndarray:
    """theta of ``family`` nearest K (weight, mean, covariance) triples, within the bounds of
    ``extent``: variances averaged where the family ties them, correlations clipped to 0.95."""
    k = family.n_components
    var = np.stack([covs[:, 0, 0], covs[:, 1, 1]], axis=1)
    if family.kind == "isotropic":
        var = np.repeat(var.mean(axis=1, keepdims=True), 2, axis=1)
    if family.shared_scale:
        var = np.full_like(var, np.sum(weights[:, None] * var) / 2.0)
    sd = np.sqrt(var)
    if family.kind == "full":
        rho = np.clip(covs[:, 0, 1] / (sd[:, 0] * sd[:, 1]), -0.95, 0.95)
    else:
        rho = np.zeros(k)
    w = weights / weights.sum() if family.learns_weights else np.full(k, 1.0 / k)
    theta = family.from_blocks(np.log(np.maximum(w, 1e-6)),
                            np.column_stack([means, np.log(sd), np.arctanh(rho)]))
    lo, hi = family.bounds(extent)
    clipped: np.ndarray = np.clip(theta, lo, hi)
    return clipped


def _screen(target: Density, family: Family, thetas: list[np.ndarray]) -> int:
    """Index of the candidate whose short L-BFGS run ends highest (first one on ties).

    The runs advance in lockstep, one iteration each per round, and every ``_SCREEN_EVERY``
    iterations a run is dropped when it trails the best ELBO seen by more than
    ``_SCREEN_MARGIN`` plus ``_SCREEN_REACH`` times its own gain over the last
    ``_SCREEN_EVERY`` iterations (a run still climbing fast is kept; one that has flattened
    out below the leader cannot win). Dropping only skips work: a dropped run could not have
    ended highest unless its climb sped up again.
    """
    max_iter = 40 if family.n_components == 1 else 25
    runs: list[Generator[Step, None, None]] = [
        optimize(target, family, th, "lbfgs", tol=1e-4, max_iter=max_iter, elbo_tol=1e-4)
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


# -- target-aware starting points -----------------------------------------------------------

def _target_grid(target: Density) -> tuple[np.ndarray, np.ndarray]:
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


def _gaussian_candidates(pts: np.ndarray, prob: np.ndarray) -> list[Candidate]:
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
                        ) -> list[Candidate]:
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


def _slices(pts: np.ndarray, prob: np.ndarray, k: int) -> list[Candidate]:
    """For each principal axis of the grid mass: K slices of equal mass across it."""
    h = _cell(pts)
    _, cov = _weighted_cov(pts, prob, h)
    _, vecs = np.linalg.eigh(cov)
    out: list[Candidate] = []
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


def _kmeans(pts: np.ndarray, prob: np.ndarray, k: int) -> Candidate:
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
