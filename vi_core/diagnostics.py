"""Diagnostics that say when to distrust q: Pareto k̂ of the importance weights, their effective
sample size, and the importance-weighted bound (IW-ELBO).

With draws z_1..z_S ~ q and log weights log w_s = log p~(z_s) - log q(z_s):

* **PSIS k̂** (Vehtari, Simpson, Gelman, Yao & Gabry, "Pareto smoothed importance sampling",
  arXiv:1507.02646, 2015; the revised version published in JMLR, 2024): fit a generalized Pareto
  distribution to the largest weights; its shape k̂ estimates how heavy the weights' right tail is.
  The weights have finite variance when k < 1/2 and a finite mean when k < 1; in practice k̂ < 0.5
  is good, 0.5..0.7 usable, and k̂ > 0.7 means q misses tail mass of p and importance sampling (and
  anything estimated from these weights) is unreliable. The 2024 paper refines the 0.7 to the
  sample-size dependent ``min(1 - 1/log10(S), 0.7)`` (``khat_threshold``).
* **ESS** = 1 / Σ w̄_s² of the normalised smoothed weights w̄ (Kong's estimate): near S when q
  is close to p, near 1 when one draw carries all the weight.
* **IW-ELBO** (Burda, Grosse & Salakhutdinov 2016): with K draws per group,

      L_K = E[ log (1/K) Σ_{i=1..K} p~(z_i) / q(z_i) ],

  so L_1 = ELBO <= L_K <= L_{K+1} <= log Z, and L_K -> log Z as K -> ∞ (q > 0 wherever
  p~ > 0, which holds for Gaussian q). Estimated by the mean over independent groups, with its
  standard error.

**The honest limit.** All three only see where q puts its draws. A q that sits exactly on one of
two far-apart modes of p has (almost) constant weights on its own draws: k̂ ≈ 0 (or below) and
ESS ≈ S, yet it misses half of the mass. Nothing computed from q's draws can notice that; the gap
log Z - IW-ELBO does (here it stays ≈ log 2 whatever K), which is why the IW-ELBO is reported with
log Z next to it.

Two more limits, measured on the built-in targets: k̂ from S draws is itself noisy (standard
deviation about 0.15 at S = 1000, 0.1 at S = 4000) and tends to grow with S when p has heavier
tails than q (it finds them); and k̂ is the *shape* of the tail, blind to its size, so a mixture
fitted almost exactly to a mixture (log weights within 1e-4 of each other) can show k̂ > 0.7 with
ESS ≈ S. ``khat_reading`` says so when every weight is within 1 % of the others.

Numpy only (no scipy): this runs in the browser before scipy is loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from vi_core._numeric import logsumexp
from vi_core.errors import VIError
from vi_core.families import Family
from vi_core.target import Density

__all__ = ["DEFAULT_DRAWS", "DEFAULT_IW_K", "DEFAULT_IW_N", "KHAT_CAVEAT", "MAX_DRAWS",
           "Diagnostics", "IwElboResult", "PsisResult", "check_seed", "diagnose", "gpd_fit",
           "iw_elbo", "khat_reading", "khat_threshold", "log_weights", "psis_khat"]

#: Draws from q for k̂ and ESS, and the IW-ELBO's K and number of groups, unless told otherwise
#: (the CLI's ``fit`` and the protocol use these; 9000 evaluations of p~ and q in all). k̂ from
#: S draws is noisy: its standard deviation is about 0.1 at S = 4000 (M = 190 tail draws) and
#: 0.15 at S = 1000 on the built-in targets.
DEFAULT_DRAWS = 4000
DEFAULT_IW_K = 100
DEFAULT_IW_N = 50
#: The most draws one call takes (k̂'s draws, or the IW-ELBO's K x groups): a guard against
#: absurd requests, not a statistical limit.
MAX_DRAWS = 1_000_000
#: What k̂ cannot see, said wherever k̂ is shown.
KHAT_CAVEAT = ("k̂ and ESS only see where q's draws land: a q sitting on one of two far-apart "
               "modes can have k̂ ≈ 0 and ESS ≈ n yet miss half the mass (then log Z - IW-ELBO "
               "stays ≈ log 2)")

# Zhang & Stephens' grid: 30 + floor(sqrt(M)) points, prior scale 3 on the first quartile.
_ZS_MIN_GRID = 30
_ZS_PRIOR = 3.0
# Weakly informative prior on k: M k̂ plus _WIP_A pseudo-observations at _WIP_K.
_WIP_A = 10.0
_WIP_K = 0.5
# Log weights spread less than this (weights within 1 % of each other) are "flat" for the
# reading: importance sampling is nearly exact on these draws whatever shape their tail has.
_FLAT = math.log1p(0.01)
# Fewer tail points than this and the fit is not attempted (k̂ = inf), as in loo and ArviZ.
_MIN_TAIL = 5


class PsisResult(NamedTuple):
    """``psis_khat``'s answer: the Pareto shape k̂ and scale σ of the weights' tail, the ESS of
    the smoothed weights, the smoothed log weights (normalised: logsumexp = 0), and M, the
    number of tail draws fitted."""

    khat: float
    ess: float
    log_weights: np.ndarray
    sigma: float
    tail_length: int


def gpd_fit(x: Any, *, prior: bool = True) -> tuple[float, float]:
    """(k, σ) of a generalized Pareto distribution fitted to exceedances x >= 0 by the
    empirical-Bayes estimator of Zhang & Stephens (2009, Technometrics 51(3)).

    The GPD here is F(x) = 1 - (1 + k x / σ)^(-1/k). Write θ = -k/σ; the profile
    log-likelihood is ℓ(θ) = n (log(-θ/k(θ)) - k(θ) - 1) with k(θ) = mean log(1 - θ x_i).
    The estimate of θ is its posterior mean over the grid

        θ_j = 1/x_(n) + (1 - sqrt(m / (j - 1/2))) / (3 x*),   j = 1..m,  m = 30 + floor(sqrt n),

    (x* the first quartile, x_(n) the maximum) weighted by exp(ℓ(θ_j)); then k̂ = k(θ̂) and
    σ̂ = -k̂/θ̂. With ``prior`` (the default) k̂ is shrunk towards 1/2 by the weakly informative
    prior of PSIS: k̂ <- (n k̂ + 10 · 0.5) / (n + 10) (σ̂ is left as fitted), which is what the
    loo R package (``gpdfit(wip = TRUE)``) and ArviZ (``_gpdfit``) do. Needs n >= 2 positive
    spread; returns (inf, nan) when the fit is impossible.
    """
    xs = np.sort(np.asarray(x, dtype=float).ravel())
    n = xs.size
    if n < 2 or not np.all(np.isfinite(xs)) or xs[0] < 0:
        raise VIError("gpd_fit needs at least 2 finite exceedances >= 0")
    x_star = xs[int(n / 4 + 0.5) - 1]
    if not (xs[-1] > 0 and x_star > 0):
        return math.inf, math.nan
    m = _ZS_MIN_GRID + int(math.sqrt(n))
    j = np.arange(1, m + 1, dtype=float)
    theta = 1.0 / xs[-1] + (1.0 - np.sqrt(m / (j - 0.5))) / (_ZS_PRIOR * x_star)
    with np.errstate(divide="ignore", invalid="ignore"):
        k_j = np.mean(np.log1p(-theta[:, None] * xs[None, :]), axis=1)
        prof = n * (np.log(-theta / k_j) - k_j - 1.0)
    prof = np.where(np.isfinite(prof), prof, -np.inf)
    if not np.any(np.isfinite(prof)):
        return math.inf, math.nan
    w = np.exp(prof - logsumexp(prof))
    theta_hat = float(np.sum(theta * w))
    k = float(np.mean(np.log1p(-theta_hat * xs)))
    sigma = -k / theta_hat if theta_hat != 0 else math.nan
    if prior:
        k = (n * k + _WIP_A * _WIP_K) / (n + _WIP_A)
    if not math.isfinite(k):
        return math.inf, math.nan
    return k, sigma


def _gpd_quantile(p: np.ndarray, k: float, sigma: float) -> np.ndarray:
    """The GPD's inverse CDF: σ ((1 - p)^(-k) - 1) / k (→ -σ log(1 - p) as k → 0)."""
    if abs(k) < 1e-12:
        return -sigma * np.log1p(-p)
    return sigma * np.expm1(-k * np.log1p(-p)) / k


def psis_khat(log_weights: Any) -> PsisResult:
    """Pareto smoothed importance sampling of log weights log w_s (any additive constant).

    Follows the JMLR (2024) version of Vehtari et al., "Pareto smoothed importance sampling"
    (arXiv:1507.02646), step for step as the loo R package (``psis``, ``gpdfit(wip = TRUE)``)
    and ArviZ (``psislw``) implement it, with r_eff = 1 (independent draws from q); checked
    against ArviZ 0.23.4 to 1e-10 (tests/unit/test_diagnostics.py):

    1. the tail is the M = ceil(min(S/5, 3 sqrt(S / r_eff))) largest weights, the cutoff u the
       (M+1)-th largest;
    2. a GPD is fitted to the exceedances w - u of the tail (``gpd_fit``, Zhang & Stephens with
       the weakly informative prior k̂ <- (M k̂ + 5) / (M + 10));
    3. the tail weights are replaced, in their order, by u + F⁻¹((j - 1/2)/M), j = 1..M, capped
       at the largest raw weight; the smoothed weights are normalised;
    4. ESS = 1 / Σ w̄², w̄ the normalised smoothed weights.

    With M < 5 (S < 21) there is no fit: k̂ = inf and the weights stay raw. When all tail
    weights equal the cutoff (q ∝ p~ on these draws, to rounding) there is no tail to fit:
    k̂ = -inf. Log weights of -inf (p~ = 0 at a draw) are zero weights; NaN or +inf raise VIError.
    """
    lw = np.array(log_weights, dtype=float).ravel()
    s = lw.size
    if s < 2:
        raise VIError(f"psis_khat needs at least 2 log weights, got {s}")
    if np.any(np.isnan(lw)) or np.any(lw == np.inf):
        raise VIError("log weights must not be NaN or +inf")
    top = float(np.max(lw))
    if top == -np.inf:
        raise VIError("every importance weight is zero: p~ vanishes wherever q draws")
    lw = lw - top
    m = math.ceil(min(0.2 * s, 3.0 * math.sqrt(s)))
    khat, sigma = math.inf, math.nan
    if m >= _MIN_TAIL and m < s:
        order = np.argsort(lw, kind="stable")
        tail_idx = order[s - m:]
        cutoff = float(lw[order[s - m - 1]])
        exp_cut = math.exp(cutoff) if cutoff > -np.inf else 0.0
        exceed = np.exp(lw[tail_idx]) - exp_cut
        if float(np.max(exceed)) <= 1e-12 * max(exp_cut, 1e-300):
            khat = -math.inf  # constant weights at the top: nothing heavy-tailed to fit
        else:
            khat, sigma = gpd_fit(np.maximum(exceed, 0.0))
            if math.isfinite(khat):
                p = (np.arange(1, m + 1) - 0.5) / m
                with np.errstate(divide="ignore"):
                    smoothed = np.log(_gpd_quantile(p, khat, sigma) + exp_cut)
                lw[tail_idx] = np.minimum(smoothed, 0.0)
    lw = lw - logsumexp(lw)
    ess = float(1.0 / np.sum(np.exp(2.0 * lw)))
    return PsisResult(float(khat), ess, lw, float(sigma), m)


def khat_threshold(n: int) -> float:
    """The 2024 paper's sample-size dependent bound: k̂ above min(1 - 1/log10(n), 0.7) means
    n draws are too few for reliable importance sampling (0.667 at n = 1000)."""
    return min(1.0 - 1.0 / math.log10(n), 0.7) if n > 10 else -math.inf


def khat_reading(khat: float, spread: float | None = None) -> str:
    """One line on what k̂ says about q (for the CLI and the page; see ``KHAT_CAVEAT`` too).

    k̂ is the shape of the weights' tail and does not see its size: when q matches p~/Z almost
    exactly (a mixture fitted to a mixture), the log weights differ by 1e-4 between draws and
    their tiny tail may still fit a large k̂. ``spread`` (max - min of the finite log weights)
    lets the reading say so: below ``_FLAT`` (every weight within ~1 % of the others), a
    k̂ > 0.5 is reported together with the spread instead of the plain warning.
    """
    if spread is not None and spread < _FLAT and math.isfinite(khat) and khat > 0.5:
        return (f"k̂ = {khat:.2f}, but every weight is within "
                f"{100 * math.expm1(spread):.2g} % of the others: q ≈ p~/Z where it draws; the "
                "tail k̂ sees is too small to matter")
    if math.isnan(khat):
        return "k̂ unavailable"
    if khat == -math.inf:
        return "k̂: weights constant on these draws (q ∝ p~ where q draws): good"
    if khat == math.inf:
        return "k̂: too few draws for a Pareto fit"
    if khat < 0.5:
        return f"k̂ = {khat:.2f} < 0.5: good: importance weights have finite variance"
    if khat <= 0.7:
        return (f"k̂ = {khat:.2f} in 0.5–0.7: ok: weights have infinite variance; "
                "importance sampling converges slowly")
    return f"k̂ = {khat:.2f} > 0.7: q misses tail mass; importance sampling unreliable"


def log_weights(target: Density, family: Family, theta: Any, n: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (n, 2), log p~ - log q at them, log q at them) for n draws from q."""
    n = _check_draws(n, "draws")
    theta = family.check_theta(theta)
    pts = family.sample(theta, n, rng)
    log_q = family.log_density(theta, pts[:, 0], pts[:, 1])
    log_p = np.asarray(target.log_density(pts[:, 0], pts[:, 1]), dtype=float)
    with np.errstate(invalid="ignore"):
        lw = log_p - log_q
    return pts, lw, log_q


def check_seed(seed: Any) -> int:
    """A seed for ``numpy.random.default_rng``: a whole number >= 0, else VIError."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer | float | str):
        raise VIError(f"the seed must be a whole number >= 0, got {seed!r}")
    try:
        value = int(seed)
    except (TypeError, ValueError):
        raise VIError(f"the seed must be a whole number >= 0, got {seed!r}") from None
    if value < 0 or (isinstance(seed, float) and value != seed):
        raise VIError(f"the seed must be a whole number >= 0, got {seed!r}")
    return value


def _check_draws(n: Any, what: str, low: int = 1) -> int:
    try:
        n_int = int(n)
    except (TypeError, ValueError):
        raise VIError(f"the number of {what} must be a whole number, got {n!r}") from None
    if n_int != n or not low <= n_int <= MAX_DRAWS:
        raise VIError(f"the number of {what} must be between {low} and {MAX_DRAWS}, got {n!r}")
    return n_int


@dataclass(frozen=True)
class IwElboResult:
    """The importance-weighted bound L_K: ``value`` (mean over ``n`` groups of K = ``k``
    draws) and ``se``, its standard error (NaN for one group)."""

    value: float
    se: float
    k: int
    n: int

    def to_dict(self) -> dict[str, Any]:
        """{value, se, k, n} as plain numbers."""
        return {"value": self.value, "se": self.se, "k": self.k, "n": self.n}


def iw_elbo(target: Density, family: Family, theta: Any, k: int, n_outer: int,
            rng: np.random.Generator) -> IwElboResult:
    """The importance-weighted ELBO with K = ``k`` draws per group over ``n_outer`` groups:

        L̂_K = (1/N) Σ_{g=1..N} log (1/K) Σ_{i=1..K} p~(z_gi) / q(z_gi),   z_gi ~ q,

    an unbiased estimate of L_K, with ELBO = L_1 <= L_K <= log Z; ``se`` = the groups' standard
    deviation / sqrt(N). A NaN log p~ (a broken custom target) raises VIError.
    """
    k = _check_draws(k, "draws per group (K)")
    n_outer = _check_draws(n_outer, "groups")
    if k * n_outer > MAX_DRAWS:
        raise VIError(f"K x groups must be at most {MAX_DRAWS}, got {k} x {n_outer}")
    _, lw, _ = log_weights(target, family, theta, k * n_outer, rng)
    if np.any(np.isnan(lw)):
        raise VIError("the target's log density is NaN at a draw from q")
    groups = logsumexp(lw.reshape(n_outer, k), axis=1) - math.log(k)
    value = float(np.mean(groups))
    se = float(np.std(groups, ddof=1) / math.sqrt(n_outer)) if n_outer > 1 else math.nan
    if not math.isfinite(value):
        se = math.nan
    return IwElboResult(value, se, k, n_outer)


@dataclass(frozen=True)
class Diagnostics:
    """k̂ and ESS over ``n`` draws from q, the IW-ELBO, and the one-line ``reading`` of k̂."""

    khat: float
    ess: float
    n: int
    iw: IwElboResult
    reading: str
    seed: int
    caveat: str = KHAT_CAVEAT

    def to_dict(self) -> dict[str, Any]:
        """What ``fit --json`` adds: {khat, ess, khat_draws, iw_elbo: {value, se, k, n},
        khat_reading, seed} (floats may be inf or NaN: JSON writers turn them into null)."""
        return {"khat": self.khat, "ess": self.ess, "khat_draws": self.n,
                "iw_elbo": self.iw.to_dict(), "khat_reading": self.reading, "seed": self.seed}


def diagnose(target: Density, family: Family, theta: Any, *, seed: int = 0,
             n: int = DEFAULT_DRAWS, iw_k: int = DEFAULT_IW_K, iw_n: int = DEFAULT_IW_N
             ) -> Diagnostics:
    """k̂ and ESS of n draws from q, then the IW-ELBO over iw_n groups of iw_k further draws,
    all from ``numpy.random.default_rng(seed)``: the same seed gives the same numbers."""
    theta = family.check_theta(theta)
    n = _check_draws(n, "draws", low=2)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    _, lw, _ = log_weights(target, family, theta, n, rng)
    if np.any(np.isnan(lw)):
        raise VIError("the target's log density is NaN at a draw from q")
    psis = psis_khat(lw)
    iw = iw_elbo(target, family, theta, iw_k, iw_n, rng)
    finite = lw[np.isfinite(lw)]
    spread = float(np.ptp(finite)) if finite.size == lw.size else None
    return Diagnostics(psis.khat, psis.ess, n, iw, khat_reading(psis.khat, spread), seed)
