"""Compare vi_core with an emulation of the reference JavaScript demo's ELBO and optimizer.

    .venv/bin/python bench/compare_reference.py [--targets a,b] [--families x,y] [--jobs N]

What is emulated (the reference's method, re-implemented here on *our* targets)
------------------------------------------------------------------------------
* Targets: banana, bimodal, nessie, mickie, ring, funnel, in our tidy units
  u = (X - 200) / 100, v = (Y - 150) / 100 with log Z preserved (the map is a shift plus one
  common scale, so every Gaussian / mixture q maps onto the same family and KL is unchanged).
  log Z is our stored value (exact or checked by quadrature), not the demo's hard-coded one.
* Families: gaussian-isotropic, gaussian-diagonal, gaussian-full, mixture-3, mixture-10,
  i.e. vi_core's families of the same names (correlation through tanh, equal fixed weights for
  the mixtures, one scale per component for mixture-3, one shared scale for mixture-10).
* Grid ELBO: for every component k, a 50 x 50 *midpoint* grid over the box [-3, 3]^2 in the
  component's whitened coordinates z (x = m_k + L_k z, i.e. +-3 sigma along q's own axes), cell
  side dz = 6/50, weights w_n = phi(z_n1) phi(z_n2) dz^2. This is the same as summing
  q_k(x) (...) dA over the q-aligned grid in x space. The weights are *not* renormalised, so
  the mass outside the box (about 0.54%) is simply dropped, as a plain grid sum does.
      single Gaussian: ELBO_grid = sum_n w_n log p~(x_n) + H[q]      (closed-form entropy)
      mixture:         ELBO_grid = sum_k pi_k sum_n w_n [log p~(x_kn) - log q(x_kn)]
  i.e. for mixtures the entropy is the same grid quadrature of -log q (there is no closed
  form); for single Gaussians we use the exact closed form, so the only grid error left there
  is in E_q[log p~]. The forward differences are computed exactly as n + 1 grid ELBOs would give
  them, but only the parts that change are recomputed (see ``grid_elbo_fd``).
  Units caveat: with a closed-form entropy the dropped mass makes the grid ELBO depend on the
  units. In the demo's pixel units log p~ is lower by 2 log 100 everywhere while the entropy
  is higher by the same, so a single-Gaussian grid ELBO there is higher than ours by the
  constant 2 log 100 (1 - sum_n w_n) (about +0.05 nats; it does not depend on theta, so the
  optimisation path is the same). Mixtures are unaffected (f - log q is unit-free). The summary
  reports (c) in both units.
* Optimize: 100 steps of theta <- clip(theta + lr * g, lo, hi), with g the *forward*
  finite-difference gradient of ELBO_grid, h = 1e-4, in vi_core's unconstrained parameters
  theta (means, log scales, atanh(rho)), and (lo, hi) = family.bounds(target.extent).
  The step size is fixed per run; to be generous, every lr in {0.003, 0.01, 0.03, 0.1, 0.3} is
  run and the one with the best *final true* ELBO (vi_core's accurate cubature at the 100th
  iterate) is kept. A run whose grid ELBO or FD gradient becomes non-finite is frozen at its
  last finite iterate (counted as "diverged"); the demo would propagate NaN instead.

What is measured, per target x family x start
---------------------------------------------
* Starts: "init" = initial_params(target, family) (vi_core's target-aware Reset state) and
  "poor" = every component near the extent's lower-left quarter point (xmin + w/4, ymin + h/4)
  with all scales 0.15 w and rho = 0. Exactly coincident mixture components get identical
  gradients (from either method) and can never separate, so the K components of a mixture are
  put on a circle of radius 0.05 w around that point (deterministic; still one heavily
  overlapping blob far from the mass). Both methods start from the same theta.
* (a) grid error ELBO_grid - ELBO (signed in the table, |.| in the summary) at the start, at
  the reference's final q and at our optimum, with ELBO = vi_core.elbo (adaptive
  Gauss-Hermite, ~1e-6 accurate).
* (b) true KL = log Z - ELBO after the reference's 100 FD steps (best lr) vs after
  vi_core.optimize.fit (L-BFGS, exact gradients) from the same theta; our iterations and
  seconds (optimisation only: theta0 is passed, so no initial_params screening is timed).
* (c) max over the reference run's 101 iterates of ELBO_grid - log Z (best-lr run): a positive
  value means the grid "ELBO" exceeds log Z, i.e. it is no longer a lower bound (the optimizer
  is then partly climbing quadrature error). The summary also counts runs at any lr that did so.

Not a test; timings depend on the machine. Assumptions beyond the facts above: the demo's
exact grid rule (midpoint vs trapezoid), its bounds and its FD step in its own parameters are
not known; the choices above are stated so the numbers can be reproduced.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from vi_core.elbo import elbo
from vi_core.families import Family, get_family
from vi_core.fit import fit
from vi_core.starts import initial_params
from vi_core.targets import get_target

REFERENCE_TARGETS = ("banana", "bimodal", "nessie", "mickie", "ring", "funnel")
REFERENCE_FAMILIES = ("gaussian-isotropic", "gaussian-diagonal", "gaussian-full", "mixture-3",
                      "mixture-10")
GRID_SIDE = 50
GRID_HALF_WIDTH = 3.0  # in standard deviations of each component
FD_STEP = 1e-4
N_STEPS = 100
STEP_SIZES = (0.003, 0.01, 0.03, 0.1, 0.3)
POOR_SCALE = 0.15  # times the extent's width
POOR_SPREAD = 0.05  # mixture components on a circle of this radius (times the width)
_LOG_2PI = float(np.log(2.0 * np.pi))
_CHUNK = 2_000_000  # max entries of the (thetas, J, K, N) log q array per batch


def _midpoint_rule() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes (z1, z2) and weights of the 50 x 50 midpoint rule for N(0, I) on [-3, 3]^2."""
    dz = 2.0 * GRID_HALF_WIDTH / GRID_SIDE
    z = -GRID_HALF_WIDTH + (np.arange(GRID_SIDE) + 0.5) * dz
    z1, z2 = (a.ravel() for a in np.meshgrid(z, z, indexing="ij"))
    w = np.exp(-0.5 * (z1 * z1 + z2 * z2) - _LOG_2PI) * dz * dz
    return z1, z2, w


_Z1, _Z2, _W = _midpoint_rule()
#: Extra grid ELBO of a single Gaussian (closed-form entropy) in the demo's pixel units.
PIXEL_SHIFT = 2.0 * float(np.log(100.0)) * (1.0 - float(_W.sum()))


def _factors(family: Family, thetas: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked family.factors over a batch: log weights (P, K), means (P, K, 2), L (P, K, 2, 2)."""
    parts = [family.factors(t) for t in thetas]
    return (np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts]),
            np.stack([p[2] for p in parts]))


def grid_elbo(target: Any, family: Family, thetas: np.ndarray) -> np.ndarray:
    """The reference-style 50 x 50 grid ELBO of every row of ``thetas`` (P, n) -> (P,)."""
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    k = family.n_components
    per = max(1, _CHUNK // (k * k * _W.size))
    if len(thetas) > per:
        return np.concatenate([grid_elbo(target, family, thetas[i:i + per])
                               for i in range(0, len(thetas), per)])
    logw, means, chol = _factors(family, thetas)
    l00, l10, l11 = (chol[:, :, i, j, None] for i, j in ((0, 0), (1, 0), (1, 1)))
    x1 = means[:, :, 0, None] + l00 * _Z1  # (P, K, N)
    x2 = means[:, :, 1, None] + l10 * _Z1 + l11 * _Z2
    with np.errstate(all="ignore"):
        f = target.log_density(x1, x2)
        logdet = np.log(chol[:, :, 0, 0]) + np.log(chol[:, :, 1, 1])  # (P, K)
        if k == 1:
            entropy = 1.0 + _LOG_2PI + logdet[:, 0]
            return f[:, 0] @ _W + entropy
        # log q at every node (P, K, N) of every component j: terms (P, J, K, N).
        d1 = x1[:, None] - means[:, :, 0, None, None]
        d2 = x2[:, None] - means[:, :, 1, None, None]
        v1 = d1 / chol[:, :, 0, 0, None, None]
        v2 = (d2 - chol[:, :, 1, 0, None, None] * v1) / chol[:, :, 1, 1, None, None]
        terms = (logw - _LOG_2PI - logdet)[:, :, None, None] - 0.5 * (v1 * v1 + v2 * v2)
        top = terms.max(axis=1)
        logq = np.log(np.exp(terms - top[:, None]).sum(axis=1)) + top
        return np.einsum("pk,pkn,n->p", np.exp(logw), f - logq, _W)


def _log_terms(logw: np.ndarray, means: np.ndarray, chol: np.ndarray, x1: np.ndarray,
               x2: np.ndarray) -> np.ndarray:
    """log(pi_j N(x; m_j, L_j L_j^T)) for components (S, J) at nodes (S, M) -> (S, J, M)."""
    v1 = (x1[:, None] - means[:, :, 0, None]) / chol[:, :, 0, 0, None]
    v2 = (x2[:, None] - means[:, :, 1, None] - chol[:, :, 1, 0, None] * v1) \
        / chol[:, :, 1, 1, None]
    logdet = np.log(chol[:, :, 0, 0]) + np.log(chol[:, :, 1, 1])
    return (logw - _LOG_2PI - logdet)[:, :, None] - 0.5 * (v1 * v1 + v2 * v2)


def _lse(a: np.ndarray, axis: int) -> np.ndarray:
    top = a.max(axis=axis, keepdims=True)
    return np.squeeze(np.log(np.exp(a - top).sum(axis=axis, keepdims=True)) + top, axis=axis)


def _changed_component(family: Family, theta: np.ndarray, i: int) -> int | None:
    """The one component whose mean / factor moves when theta_i moves (weights fixed), or None
    when theta_i moves the weights or several components (e.g. mixture-10's shared scale)."""
    base, pert = family.factors(theta), family.factors(theta + np.eye(theta.size)[i])
    if not np.array_equal(base[0], pert[0]):
        return None
    moved = np.flatnonzero(np.any(base[1] != pert[1], axis=1)
                           | np.any(base[2] != pert[2], axis=(1, 2)))
    return int(moved[0]) if moved.size == 1 else None


def grid_elbo_fd(target: Any, family: Family, thetas: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Grid ELBO of every row of ``thetas`` (S, n) and its forward-difference gradient
    (ELBO_grid(theta + h e_i) - ELBO_grid(theta)) / h, (S, n).

    The same numbers as calling ``grid_elbo`` n + 1 times (to ~1e-12 after dividing by h; the
    change is summed directly instead of as a difference of two totals), only faster for
    mixtures: moving one component's parameter moves that component's 2500 nodes and changes
    log q elsewhere by one term, so only those parts are recomputed.
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    s, n = thetas.shape
    k = family.n_components
    if k == 1:  # cheap: evaluate all n + 1 points
        shifts = np.vstack([np.zeros(n), FD_STEP * np.eye(n)])
        vals = grid_elbo(target, family, (thetas[:, None] + shifts[None]).reshape(-1, n))
        vals = vals.reshape(s, n + 1)
        return vals[:, 0], (vals[:, 1:] - vals[:, :1]) / FD_STEP
    logw, means, chol = _factors(family, thetas)
    pi = np.exp(logw)
    x1 = (means[:, :, 0, None] + chol[:, :, 0, 0, None] * _Z1).reshape(s, -1)  # (S, K N)
    x2 = (means[:, :, 1, None] + chol[:, :, 1, 0, None] * _Z1
          + chol[:, :, 1, 1, None] * _Z2).reshape(s, -1)
    with np.errstate(all="ignore"):
        f = target.log_density(x1, x2)
        terms = _log_terms(logw, means, chol, x1, x2)  # (S, J, K N)
        logq = _lse(terms, axis=1)
        contrib = (f - logq).reshape(s, k, -1) @ _W  # (S, K)
        value = np.sum(pi * contrib, axis=1)
        grad = np.empty((s, n))
        for i in range(n):
            pert = thetas + FD_STEP * np.eye(n)[i]
            j = _changed_component(family, thetas[0], i)
            if j is None:
                grad[:, i] = (grid_elbo(target, family, pert) - value) / FD_STEP
                continue
            lw2, m2, c2 = _factors(family, pert)
            y1 = m2[:, j, 0, None] + c2[:, j, 0, 0, None] * _Z1  # component j's moved nodes
            y2 = m2[:, j, 1, None] + c2[:, j, 1, 0, None] * _Z1 + c2[:, j, 1, 1, None] * _Z2
            logq_j = _lse(_log_terms(lw2, m2, c2, y1, y2), axis=1)
            new_contrib_j = (target.log_density(y1, y2) - logq_j) @ _W
            # Elsewhere log q' = log(q + pi_j (N'_j - N_j)) = log q + log1p(r).
            new_term = _log_terms(lw2[:, j:j + 1], m2[:, j:j + 1], c2[:, j:j + 1], x1, x2)[:, 0]
            old_term = terms[:, j]
            r = np.exp(old_term - logq) * np.expm1(new_term - old_term)
            d_other = -(np.log1p(r).reshape(s, k, -1) @ _W)  # (S, K)
            d_other[:, j] = new_contrib_j - contrib[:, j]
            grad[:, i] = np.sum(pi * d_other, axis=1) / FD_STEP
    return value, grad


@dataclass
class ReferenceRun:
    """The best-lr run of the emulated reference optimizer (and facts about all lrs)."""

    lr: float
    theta: np.ndarray
    true_elbo: float
    grid_trace: np.ndarray  # grid ELBO at iterates 0..100 of the kept run
    any_lr_violates: bool  # some lr's run had grid ELBO > log Z at some iterate
    n_diverged: int


def reference_optimize(target: Any, family: Family, theta0: np.ndarray) -> ReferenceRun:
    """100 forward-FD gradient-ascent steps on the grid ELBO, for every lr in STEP_SIZES
    (batched together), keeping the lr with the best final true ELBO."""
    lo, hi = family.bounds(target.extent)
    s = len(STEP_SIZES)
    lrs = np.asarray(STEP_SIZES)[:, None]
    theta = np.tile(np.clip(theta0, lo, hi), (s, 1))
    alive = np.ones(s, dtype=bool)
    trace = np.full((s, N_STEPS + 1), np.nan)
    for step in range(N_STEPS + 1):
        if step == N_STEPS:  # the final iterate: value only
            trace[:, step] = np.where(alive, grid_elbo(target, family, theta), np.nan)
            break
        value, grad = grid_elbo_fd(target, family, theta)
        trace[:, step] = np.where(alive, value, np.nan)
        alive &= np.isfinite(value) & np.all(np.isfinite(grad), axis=1)
        theta = np.where(alive[:, None], np.clip(theta + lrs * np.nan_to_num(grad), lo, hi),
                         theta)
    finals = np.array([_true_elbo(target, family, t) for t in theta])
    best = int(np.nanargmax(np.where(np.isfinite(finals), finals, -np.inf)))
    excess = np.nanmax(trace, axis=1) - target.log_z
    return ReferenceRun(lr=STEP_SIZES[best], theta=theta[best], true_elbo=float(finals[best]),
                        grid_trace=trace[best], any_lr_violates=bool(np.any(excess > 0)),
                        n_diverged=int(np.sum(~alive)))


def _true_elbo(target: Any, family: Family, theta: np.ndarray) -> float:
    return float(elbo(target, family, theta, with_grad=False).elbo)


def poor_start(target: Any, family: Family) -> np.ndarray:
    """Every component near the extent's lower-left quarter point, scales 0.15 x width."""
    xmin, xmax, ymin, ymax = (float(v) for v in target.extent)
    w = xmax - xmin
    k = family.n_components
    centre = np.array([xmin + w / 4, ymin + (ymax - ymin) / 4])
    if k == 1:
        means = centre[None]
    else:
        ang = 2.0 * np.pi * np.arange(k) / k
        means = centre + POOR_SPREAD * w * np.column_stack([np.cos(ang), np.sin(ang)])
    return family.from_natural({"means": means.tolist(),
                                "scales": [[POOR_SCALE * w] * 2] * k})


@dataclass
class Row:
    target: str
    family: str
    start: str
    err_start: float  # signed: grid ELBO - accurate ELBO
    err_ref_end: float
    err_our_opt: float
    ref_lr: float
    ref_kl: float
    our_kl: float
    our_iters: int
    our_seconds: float
    max_excess: float
    any_lr_violates: bool
    n_diverged: int


def compare(target_id: str, family_id: str) -> list[Row]:
    """Both starts for one target x family."""
    target, family = get_target(target_id), get_family(family_id)
    rows = []
    for start, theta0 in (("init", initial_params(target, family)),
                          ("poor", poor_start(target, family))):
        ref = reference_optimize(target, family, theta0)
        ours = fit(target, family, "lbfgs", theta0=theta0)
        our_theta = np.asarray(ours.theta)
        grid = grid_elbo(target, family, np.vstack([theta0, ref.theta, our_theta]))
        true = np.array([_true_elbo(target, family, theta0), ref.true_elbo, ours.elbo])
        err = grid - true
        rows.append(Row(target_id, family_id, start, float(err[0]), float(err[1]),
                        float(err[2]), ref.lr, target.log_z - ref.true_elbo, ours.kl,
                        ours.iterations, ours.seconds,
                        float(np.nanmax(ref.grid_trace) - target.log_z), ref.any_lr_violates,
                        ref.n_diverged))
    return rows


def _table(rows: list[Row]) -> str:
    header = ["target", "family", "start", "grid - ELBO at start", "grid - ELBO at ref end",
              "grid - ELBO at our opt", "ref lr", "ref KL", "our KL", "our iters", "our s",
              "max grid ELBO - log Z", "bound violated"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        viol = "yes" if r.max_excess > 0 else ("any lr" if r.any_lr_violates else "no")
        lr = f"{r.ref_lr:g}" + (f" ({r.n_diverged} div)" if r.n_diverged else "")
        out.append("| " + " | ".join([
            r.target, r.family, r.start, f"{r.err_start:+.1e}", f"{r.err_ref_end:+.1e}",
            f"{r.err_our_opt:+.1e}", lr, f"{r.ref_kl:.4f}", f"{r.our_kl:.4f}",
            str(r.our_iters), f"{r.our_seconds:.3f}", f"{r.max_excess:+.1e}", viol]) + " |")
    return "\n".join(out)


def _summary(rows: list[Row]) -> str:
    lines = []
    for start in ("init", "poor"):
        sel = [r for r in rows if r.start == start]
        if not sel:
            continue
        signed = np.array([[r.err_start, r.err_ref_end, r.err_our_opt] for r in sel])
        errs = np.abs(signed)
        n_high = int(np.sum(signed[:, 1] > 0))
        ref_kl = np.array([r.ref_kl for r in sel])
        our_kl = np.array([r.our_kl for r in sel])
        gap = ref_kl - our_kl
        secs = np.array([r.our_seconds for r in sel])
        iters = np.array([r.our_iters for r in sel])
        ours_lower = int(np.sum(gap > 1e-4))
        ours_higher = int(np.sum(gap < -1e-4))
        viol = sum(r.max_excess > 0 for r in sel)
        viol_px = sum(r.max_excess + (PIXEL_SHIFT if r.family.startswith("gaussian") else 0)
                      > 0 for r in sel)
        viol_any = sum(r.any_lr_violates for r in sel)
        w = int(np.argmax(gap))
        n_sel = len(sel)
        med, worst = np.median(errs, axis=0), errs.max(axis=0)
        lines.append(f"start = {start} ({n_sel} target x family pairs):")
        lines.append(f"  (a) |grid - accurate ELBO|, median / worst: at start {med[0]:.1e} / "
                     f"{worst[0]:.1e}; at ref end {med[1]:.1e} / {worst[1]:.1e}; at our "
                     f"optimum {med[2]:.1e} / {worst[2]:.1e} nats; grid > accurate at ref end "
                     f"in {n_high} / {n_sel}")
        lines.append(f"  (b) KL after 100 FD steps (best lr): median {np.median(ref_kl):.4f}; "
                     f"ours {np.median(our_kl):.4f}; ref KL - our KL median "
                     f"{np.median(gap):.4f}, worst {gap[w]:.4f} ({sel[w].target} / "
                     f"{sel[w].family}); ours lower by > 1e-4 in {ours_lower}, higher by > 1e-4 "
                     f"in {ours_higher}, tied in {n_sel - ours_lower - ours_higher}")
        lines.append(f"      ours: median {int(np.median(iters))} iterations (max "
                     f"{iters.max()}), median {np.median(secs):.2f} s (max {secs.max():.2f} s)")
        lines.append(f"  (c) grid ELBO > log Z along the kept run in {viol} / {n_sel} (at some "
                     f"lr in {viol_any}); largest excess "
                     f"{max(r.max_excess for r in sel):+.1e} nats; in pixel units (single "
                     f"Gaussians {PIXEL_SHIFT:+.4f}) in {viol_px} / {n_sel}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default=",".join(REFERENCE_TARGETS))
    ap.add_argument("--families", default=",".join(REFERENCE_FAMILIES))
    ap.add_argument("--jobs", type=int, default=1,
                    help="worker processes (timings are per process; >1 adds contention)")
    args = ap.parse_args()
    pairs = [(t, f) for t in args.targets.split(",") for f in args.families.split(",")]
    t0 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(compare, *zip(*pairs, strict=True)))
    else:
        results = []
        for t, f in pairs:
            results.append(compare(t, f))
            print(f"# {t} / {f} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
                  flush=True)
    rows = [r for rs in results for r in rs]
    rows.sort(key=lambda r: (r.start != "init",))  # init block first, then poor; stable
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}; "
          f"total {time.perf_counter() - t0:.0f} s with --jobs {args.jobs}\n")
    print(_table(rows))
    print()
    print(_summary(rows))


if __name__ == "__main__":
    main()
