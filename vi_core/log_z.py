"""log Z = log ∫∫ exp(log_density(x, y)) dx dy over the whole plane, by adaptive cubature.

The plane is mapped onto the open square (-1, 1)² by

    x = cx + hx tan(π s / 2),   y = cy + hy tan(π t / 2),

centred on the extent (cx, cy) with its half-widths (hx, hy), so the extent is the middle
[-1/2, 1/2]² of the square and everything beyond it (heavy tails included) is integrated too;
the Jacobian is hx (π/2) sec²(π s/2) · hy (π/2) sec²(π t/2). The square is cut into cells, each
integrated by the tensor Gauss–Kronrod 15-point rule, with the embedded tensor Gauss 7-point rule
giving the error estimate |K15 - G7| (pessimistic for smooth integrands), made robust where the
integrand is not smooth: it is at least the sum of the two directions' errors (which can cancel
at a cone point), and at least half of what splitting the parent changed (at a kink line K15
errs like G7, and |K15 - G7| can be several times too small). The cells with the largest errors
are quartered until the summed error is below the tolerance, and so are cells blind to a peak
on their edge or corner (``_blind_neighbours``). All sums are done relative to the largest
integrand value, so densities of any magnitude work.

Everything is vectorised over cells and nodes: each round is one call of ``log_density`` on a
batch of points, which keeps it fast in Pyodide too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from vi_core.errors import TargetError

# Gauss–Kronrod 7/15 (QUADPACK's qk15): Kronrod nodes in [0, 1], descending; the Gauss nodes
# are the odd-indexed ones plus 0.
_XGK = np.array([
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.0,
])
_WGK = np.array([
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
])
_WG = np.array([
    0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
    0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
])
NODES = np.concatenate([-_XGK[:7], [0.0], _XGK[6::-1]])  # ascending, 15 nodes in (-1, 1)
K_WEIGHTS = np.concatenate([_WGK[:7], [_WGK[7]], _WGK[6::-1]])
G_WEIGHTS = np.zeros(15)
G_WEIGHTS[1::2] = np.concatenate([_WG[:3], [_WG[3]], _WG[2::-1]])
_KK = np.outer(K_WEIGHTS, K_WEIGHTS)
_GG = np.outer(G_WEIGHTS, G_WEIGHTS)
_GK = np.outer(G_WEIGHTS, K_WEIGHTS)
_KG = np.outer(K_WEIGHTS, G_WEIGHTS)

LogDensity = Callable[[np.ndarray, np.ndarray], np.ndarray]


def check_extent(extent: Iterable[float]) -> tuple[float, float, float, float]:
    """``extent`` as four finite floats with xmin < xmax and ymin < ymax, else TargetError."""
    try:
        values = tuple(float(v) for v in extent)
    except (TypeError, ValueError):
        raise TargetError(
            "extent must be four numbers (xmin, xmax, ymin, ymax)"
        ) from None
    if len(values) != 4:
        raise TargetError(
            f"extent must be four numbers (xmin, xmax, ymin, ymax), got {len(values)}"
        )
    if not all(math.isfinite(v) for v in values):
        raise TargetError(f"extent must be finite numbers, got {values}")
    xmin, xmax, ymin, ymax = values
    if not (xmin < xmax and ymin < ymax):
        raise TargetError(
            f"extent must have xmin < xmax and ymin < ymax, got {values}"
        )
    return values


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _cells_log_integrand(log_density: LogDensity, extent: tuple[float, float, float, float],
                         s0: np.ndarray, s1: np.ndarray, t0: np.ndarray, t1: np.ndarray
                         ) -> np.ndarray:
    """log of the mapped integrand on each cell's 15×15 nodes, shape (cells, 15, 15)."""
    xmin, xmax, ymin, ymax = extent
    cx, hx = 0.5 * (xmin + xmax), 0.5 * (xmax - xmin)
    cy, hy = 0.5 * (ymin + ymax), 0.5 * (ymax - ymin)
    s = 0.5 * (s0 + s1)[:, None] + 0.5 * (s1 - s0)[:, None] * NODES
    t = 0.5 * (t0 + t1)[:, None] + 0.5 * (t1 - t0)[:, None] * NODES
    x = cx + hx * np.tan(0.5 * np.pi * s)
    y = cy + hy * np.tan(0.5 * np.pi * t)
    log_jx = math.log(0.5 * np.pi * hx) - 2.0 * np.log(np.cos(0.5 * np.pi * s))
    log_jy = math.log(0.5 * np.pi * hy) - 2.0 * np.log(np.cos(0.5 * np.pi * t))
    xx = np.broadcast_to(x[:, :, None], (len(s0), 15, 15))
    yy = np.broadcast_to(y[:, None, :], (len(s0), 15, 15))
    with np.errstate(all="ignore"):
        logp = np.asarray(log_density(np.array(xx), np.array(yy)), dtype=float)
    if logp.shape != xx.shape:
        raise TargetError(
            f"log_density returned shape {logp.shape} for inputs of shape {xx.shape}; "
            "it must return one value per point"
        )
    bad = np.isnan(logp) | (logp == np.inf)
    if bad.any():
        i = np.flatnonzero(bad)[0]
        what = "NaN" if np.isnan(logp.flat[i]) else "+inf"
        raise TargetError(
            f"log_density returned {what} at (x, y) = ({_fmt(xx.flat[i])}, {_fmt(yy.flat[i])}) "
            "while integrating over the plane; it must be finite or -inf everywhere"
        )
    log_integrand: np.ndarray = logp + log_jx[:, :, None] + log_jy[:, None, :]
    return log_integrand


def _integrate_cells(log_density: LogDensity, extent: tuple[float, float, float, float],
                     s0: np.ndarray, s1: np.ndarray, t0: np.ndarray, t1: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: (log of its largest integrand value, the K15 integral and its error estimate
    relative to it, and the largest relative integrand value on each of its four outermost node
    rows (s-low, s-high, t-low, t-high), shape (cells, 4))."""
    logf = _cells_log_integrand(log_density, extent, s0, s1, t0, t1)
    top = np.max(logf, axis=(1, 2))
    safe_top = np.where(np.isfinite(top), top, 0.0)
    f = np.exp(logf - safe_top[:, None, None])
    area = 0.25 * (s1 - s0) * (t1 - t0)
    k = area * np.einsum("cij,ij->c", f, _KK)
    # The error estimate: |K15⊗K15 - G7⊗G7|, but not less than the sum of the two directions'
    # |K⊗K - G⊗K| + |K⊗K - K⊗G|: at a kink the two directions' errors can cancel in G7⊗G7
    # (a cone point inside a cell: log Z 1.8e-7 off with an estimate of 9e-8).
    err = np.maximum(np.abs(k - area * np.einsum("cij,ij->c", f, _GG)),
                     np.abs(k - area * np.einsum("cij,ij->c", f, _GK))
                     + np.abs(k - area * np.einsum("cij,ij->c", f, _KG)))
    rims = np.stack([f[:, 0, :].max(axis=1), f[:, -1, :].max(axis=1),
                     f[:, :, 0].max(axis=1), f[:, :, -1].max(axis=1)], axis=1)
    return top, k, err, rims


#: Cells are the squares of a quadtree over (-1, 1)²: level 0 is the initial 16×16 grid, a
#: cell of level L is 2^-L times as wide, and (L, i, j) names it (i, j its column and row).
_BASE = 16
#: Deepest level (cells 0.125·2^-24 ≈ 7e-9 wide in s, ~3e-8 of the half-width in x): a
#: Gaussian peak with standard deviation down to ~1e-7 times the extent is resolved; a
#: narrower one stops the refinement, and the error it leaves is reported (TargetError).
_MAX_LEVEL = 24
#: A cell is split when the integrand on a finer neighbour's rim next to it is more than this
#: many times the largest value any of its own nodes sees (it is blind to what is at its edge).
_RIM_RATIO = 4.0


def _cell_keys(level: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return (level.astype(np.int64) << 56) | (i.astype(np.int64) << 28) | j.astype(np.int64)


def _blind_neighbours(level: np.ndarray, ci: np.ndarray, cj: np.ndarray,
                      rim_values: np.ndarray, own_max: np.ndarray, min_mass: float
                      ) -> np.ndarray:
    """Indices of cells that are blind to mass at their edge.

    Gauss–Kronrod nodes stay off a cell's boundary, so a peak narrower than the node spacing
    that sits on the edge or corner shared by several cells is seen only by the cells refined
    towards it; the others see nothing and report no error (a peak on a corner of the grid
    was counted as a quarter). Continuity catches this: for every cell C and each of its sides,
    look up the coarser cell N across that side (levels differ by >= 1). If C's outermost
    nodes there see a value ``rim`` > ``_RIM_RATIO`` × the largest value N's nodes see, and
    ``rim`` × N's area could hold more than ``min_mass``, N is split.
    """
    n = len(level)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    keys = _cell_keys(level, ci, cj)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    out: list[np.ndarray] = []
    width = 2.0 / _BASE * np.exp2(-level.astype(float))
    for side, (di, dj) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1))):
        rim = rim_values[:, side]
        # N is at least twice as wide as C, so its area is >= 4 C's.
        cand = np.flatnonzero((level > 0) & (rim * 4.0 * width * width > min_mass))
        if cand.size == 0:
            continue
        lev, ni0, nj0 = level[cand], ci[cand] + di, cj[cand] + dj
        size = _BASE << lev
        inside = (ni0 >= 0) & (ni0 < size) & (nj0 >= 0) & (nj0 < size)
        cand, lev, ni0, nj0 = cand[inside], lev[inside], ni0[inside], nj0[inside]
        for coarse in range(int(lev.max(initial=0))):
            sel = lev > coarse
            if not sel.any():
                continue
            shift = lev[sel] - coarse
            key = _cell_keys(np.full(int(sel.sum()), coarse), ni0[sel] >> shift, nj0[sel] >> shift)
            pos = np.minimum(np.searchsorted(sorted_keys, key), n - 1)
            hit = sorted_keys[pos] == key
            if not hit.any():
                continue
            nb = order[pos[hit]]
            c = cand[sel][hit]
            blind = (rim[c] > _RIM_RATIO * own_max[nb]) & (rim[c] * width[nb] ** 2 > min_mass)
            out.append(nb[blind])
    if not out:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(out))


def _bounds(level: np.ndarray, ci: np.ndarray, cj: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(s0, s1, t0, t1) of the quadtree cells (level, ci, cj) on the square."""
    w = 2.0 / _BASE * np.exp2(-level.astype(float))
    s0, t0 = -1.0 + ci * w, -1.0 + cj * w
    return s0, s0 + w, t0, t0 + w


def _refine(log_density: LogDensity, extent: tuple[float, float, float, float], rel_tol: float,
            max_evals: int, accept_rel_error: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]:
    """The adaptive refinement of ``compute_log_z``: the final cells (level, ci, cj), the
    largest log integrand value ``peak``, Z / e^peak and Z's estimated relative error."""
    idx = np.arange(_BASE, dtype=np.int64)
    ci, cj = (a.ravel() for a in np.meshgrid(idx, idx, indexing="ij"))
    level = np.zeros(len(ci), dtype=np.int64)

    top, k, kerr, rims = _integrate_cells(log_density, extent, *_bounds(level, ci, cj))
    evals = 225 * len(ci)
    while True:
        peak = np.max(top)
        if not np.isfinite(peak):
            raise TargetError("log_density is -inf everywhere: the density must be positive "
                              "somewhere")
        scale = np.exp(np.where(np.isfinite(top), top - peak, -np.inf))
        values = k * scale
        errors = kerr * scale
        total = float(np.sum(values))
        total_err = float(np.sum(errors))
        rel = total_err / total
        if evals >= max_evals:
            break
        splittable = level < _MAX_LEVEL
        blind = _blind_neighbours(level, ci, cj, rims * scale[:, None], scale,
                                  0.1 * rel_tol * total)
        blind = blind[splittable[blind]]
        if rel <= rel_tol and blind.size == 0:
            break
        chosen = blind
        if rel > rel_tol:
            order = np.argsort(-np.where(splittable, errors, -1.0))
            cumulative = np.cumsum(errors[order])
            n_split = int(np.searchsorted(cumulative, 0.5 * total_err)) + 1
            n_split = min(n_split, 256, int(np.sum(splittable)))
            chosen = np.union1d(order[:n_split], blind)
        if chosen.size == 0:
            break
        keep = np.ones(len(ci), dtype=bool)
        keep[chosen] = False
        cl, ii, jj = level[chosen] + 1, 2 * ci[chosen], 2 * cj[chosen]
        nl = np.concatenate([cl, cl, cl, cl])
        ni = np.concatenate([ii, ii + 1, ii, ii + 1])
        nj = np.concatenate([jj, jj, jj + 1, jj + 1])
        ntop, nk, nerr, nrims = _integrate_cells(log_density, extent, *_bounds(nl, ni, nj))
        evals += 225 * len(nl)
        # Parent against children: |K15(parent) - sum K15(children)| is (nearly) the parent's
        # own error. At a kink line, where |K15 - G7| can be several times below K15's error
        # (both rules err alike), it is what shows the error, and each child inherits half
        # of it as a floor for its own.
        m = len(chosen)
        ctop = ntop.reshape(4, m)
        ref = np.maximum(top[chosen], np.max(ctop, axis=0))
        ref = np.where(np.isfinite(ref), ref, 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            parent = k[chosen] * np.exp(top[chosen] - ref)
            children = np.sum(nk.reshape(4, m) * np.exp(ctop - ref), axis=0)
            gap = np.abs(parent - children)
            inherited = 0.5 * gap * np.exp(np.minimum(ref - ctop, 700.0))
        inherited = np.where(np.isfinite(ctop) & np.isfinite(inherited), inherited, 0.0)
        nerr = np.maximum(nerr, inherited.ravel())
        level, ci, cj = (np.concatenate([a[keep], b]) for a, b in ((level, nl), (ci, ni),
                                                                   (cj, nj)))
        top = np.concatenate([top[keep], ntop])
        k, kerr = np.concatenate([k[keep], nk]), np.concatenate([kerr[keep], nerr])
        rims = np.concatenate([rims[keep], nrims])
    if not (np.isfinite(total) and total > 0.0) or rel > accept_rel_error:
        raise TargetError(
            f"log Z did not converge (estimated error {rel:.1e} after {evals} evaluations): "
            "the density must be normalisable (make it decay in every direction), and not too "
            "peaked or too rough for the quadrature (spikes, kinks or oscillations far finer "
            "than the extent: widen or smooth them, or shrink the extent around them)"
        )
    return level, ci, cj, float(peak), total, rel


def compute_log_z(
    log_density: LogDensity,
    extent: Iterable[float],
    *,
    rel_tol: float = 1e-7,
    max_evals: int = 3_000_000,
    accept_rel_error: float = 1e-3,
) -> tuple[float, float]:
    """(log Z, estimated absolute error of log Z), Z = ∫∫_{R²} exp(log_density(x, y)) dx dy.

    ``log_density`` must take two float arrays of one shape and return an array of that shape
    (values finite or -inf). ``extent`` = (xmin, xmax, ymin, ymax) only centres and scales the
    map of the plane onto the square (see the module docstring); mass outside it counts in
    full. Cells are refined until the estimated relative error of Z (= absolute error of log Z)
    is below ``rel_tol`` or ``max_evals`` points have been evaluated; if the estimate is then
    still above ``accept_rel_error`` the integral is taken to diverge (or to have features too
    fine to resolve: "too peaked or too rough") and TargetError is raised, as it is for NaN or
    +inf values; between ``rel_tol`` and ``accept_rel_error`` the value is returned with its
    (honest, larger) error, e.g. for a hard cut-off (a jump) or a steep kink line off the
    cells' edges, which converge only algebraically.

    Peaks of any width down to ~1e-7 of the extent are found wherever they are, because every
    comparison is made in log space relative to each cell's own largest value (the cell nearest
    a peak has the largest log value and is refined first, even where exp underflows
    everywhere). A peak on an edge or corner shared by several cells is completed by the
    neighbour rule (``_blind_neighbours``): a cell whose nodes see far less than its finer
    neighbour sees at their common edge is split too. Smooth densities need 0.05-0.5 M
    evaluations (a few to a few tens of ms on CPython); a divergent one stops at ``max_evals``
    (~0.3 s).

    Known blind spot of any quadrature: mass in features that no node sees at all, e.g. a
    spike far narrower than the node spacing under a broad density, away from its mode (or the
    deep neck of Neal's funnel, ~1e-7 of Z), is missed without showing in the error estimate.
    """
    extent = check_extent(extent)
    _, _, _, peak, total, rel = _refine(log_density, extent, rel_tol, max_evals,
                                        accept_rel_error)
    return _log_z_and_error(peak, total, rel)


def _log_z_and_error(peak: float, total: float, rel: float) -> tuple[float, float]:
    log_z = float(peak + math.log(total))
    # Rounding: log p~ itself carries ~1 ulp of |peak|.
    return log_z, float(max(rel, 1e-15) + 4e-16 * (abs(peak) + abs(log_z)))


def plane_nodes(
    log_density: LogDensity,
    extent: Iterable[float],
    *,
    rel_tol: float = 1e-7,
    max_evals: int = 3_000_000,
    accept_rel_error: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
    """The cubature of ``compute_log_z`` as nodes and weights, for expectations under p = p~/Z:

        E_p[f] = ∫∫ f p~ / Z  ≈  Σ_i f(x_i, y_i) exp(log_p_i + log_w_i - log Z).

    Returns (x, y, log_p, log_w, log Z, its error): flat arrays over the 15×15 Gauss–Kronrod
    nodes of every final cell of the same adaptive refinement (same arguments as
    ``compute_log_z``, same log Z to rounding), ``log_p`` = log p~ there and ``log_w`` the log
    of the cubature weight (cell area/4 × K15 weights × the Jacobian of the map of the plane).
    All weights are positive. The cells were refined for Z, so E_p[f] is as accurate as Z for
    f that grows no faster than log p~ shrinks (moments, log q of a Gaussian).
    """
    extent = check_extent(extent)
    level, ci, cj, peak, total, rel = _refine(log_density, extent, rel_tol, max_evals,
                                              accept_rel_error)
    s0, s1, t0, t1 = _bounds(level, ci, cj)
    xmin, xmax, ymin, ymax = extent
    cx, hx = 0.5 * (xmin + xmax), 0.5 * (xmax - xmin)
    cy, hy = 0.5 * (ymin + ymax), 0.5 * (ymax - ymin)
    s = 0.5 * (s0 + s1)[:, None] + 0.5 * (s1 - s0)[:, None] * NODES
    t = 0.5 * (t0 + t1)[:, None] + 0.5 * (t1 - t0)[:, None] * NODES
    x = np.broadcast_to((cx + hx * np.tan(0.5 * np.pi * s))[:, :, None], (len(s0), 15, 15))
    y = np.broadcast_to((cy + hy * np.tan(0.5 * np.pi * t))[:, None, :], (len(s0), 15, 15))
    log_jx = math.log(0.5 * np.pi * hx) - 2.0 * np.log(np.cos(0.5 * np.pi * s))
    log_jy = math.log(0.5 * np.pi * hy) - 2.0 * np.log(np.cos(0.5 * np.pi * t))
    area = 0.25 * (s1 - s0) * (t1 - t0)
    log_w = (np.log(area)[:, None, None] + np.log(_KK)[None, :, :]
             + log_jx[:, :, None] + log_jy[:, None, :])
    x, y = np.array(x).ravel(), np.array(y).ravel()
    with np.errstate(all="ignore"):
        log_p = np.asarray(log_density(x, y), dtype=float)
    log_z, log_z_error = _log_z_and_error(peak, total, rel)
    return x, y, log_p, log_w.ravel(), log_z, log_z_error
