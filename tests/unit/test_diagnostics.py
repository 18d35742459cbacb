"""Diagnostics of q: PSIS k̂ (against ArviZ and scipy), ESS, and the IW-ELBO's bounds."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import genpareto

import vi_core as vi
from tests.reference import reset_theta
from vi_core.diagnostics import MAX_DRAWS, gpd_fit, khat_reading, psis_khat
from vi_core.target import Target

ROOT = Path(__file__).resolve().parents[2]


def _gpd(k: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of the generalized Pareto distribution GPD(k, σ = 1) by its inverse CDF."""
    u = rng.random(size)
    return np.expm1(-k * np.log(u)) / k if k != 0 else -np.log(u)


def _cases() -> dict[str, np.ndarray]:
    """Synthetic log weights (numpy only, so the scratch venv that ran ArviZ made the same)."""
    rng = np.random.default_rng(20261130)
    out = {}
    for k in (-0.2, 0.2, 0.5, 0.8, 1.1):
        u = rng.random(4000)
        out[f"gpd{k}"] = np.log1p(np.expm1(-k * np.log(u)) / k)  # log(1 + GPD(k, 1))
    for sd in (0.5, 1.5, 3.0):
        out[f"normal{sd}"] = rng.normal(0.0, sd, size=1000)
    out["t3"] = rng.standard_t(3, size=2000)
    out["small30"] = rng.normal(0.0, 1.0, size=30)
    return out


# ArviZ is not a dependency (nor in the dev extras), so its answers were computed once in a
# scratch venv (arviz 0.23.4, numpy 2.5.5) on exactly ``_cases()``:
#     lw_out, k = arviz.psislw(lw, reff=1.0); ess = 1 / sum(exp(lw_out)**2)
# and are recorded here as (k̂, ESS, max smoothed normalised log weight).
ARVIZ_0_23_4 = {
    "gpd-0.2": (-0.21674863965616417, 3475.1975489407596, -7.260832334320333),
    "gpd0.2": (0.3440744131856281, 2632.0464207811347, -5.979307700157077),
    "gpd0.5": (0.3175850440020481, 1493.7963346382671, -5.015395670114965),
    "gpd0.8": (0.8800695352353614, 72.41268869005461, -2.3022676011895227),
    "gpd1.1": (1.3120204232862318, 4.739593540340391, -0.8197891496833334),
    "normal0.5": (0.21333688854683536, 766.2157517364114, -5.382160899175181),
    "normal1.5": (0.5746586503881119, 150.8541925188455, -3.3446459002357964),
    "normal3.0": (1.6153440041160585, 6.3889699919048, -1.2702442159599574),
    "t3": (1.5968053893171068, 2.4937134644940766, -0.47662076920444035),
    "small30": (0.6672372505473264, 8.999041850298301, -1.3038940422206042),
}


@pytest.mark.parametrize("name", sorted(ARVIZ_0_23_4))
def test_psis_matches_arviz(name: str) -> None:
    lw = _cases()[name]
    r = psis_khat(lw)
    k, ess, top = ARVIZ_0_23_4[name]
    assert r.khat == pytest.approx(k, abs=1e-10)
    assert r.ess == pytest.approx(ess, rel=1e-10)
    assert float(np.max(r.log_weights)) == pytest.approx(top, abs=1e-10)
    assert float(np.log(np.sum(np.exp(r.log_weights)))) == pytest.approx(0.0, abs=1e-12)
    m = math.ceil(min(0.2 * lw.size, 3 * math.sqrt(lw.size)))
    assert r.tail_length == m
    # Smoothing replaces the tail only: the body keeps its order and its raw values.
    body = np.argsort(lw)[: lw.size - m]
    np.testing.assert_allclose(r.log_weights[body] - r.log_weights[body][0],
                               lw[body] - lw[body][0], atol=1e-12)


@pytest.mark.parametrize("k", [-0.3, 0.0, 0.3, 0.7, 1.0])
def test_gpd_fit_matches_scipy_mle_and_the_truth(k: float) -> None:
    """Zhang–Stephens against scipy.stats.genpareto.fit (maximum likelihood, loc = 0) and the
    k that made the data; both estimators converge to the truth as n grows."""
    x = _gpd(k, 200_000, np.random.default_rng(7))
    k_zs, s_zs = gpd_fit(x, prior=False)
    k_ml, loc, s_ml = genpareto.fit(x, floc=0)
    assert loc == 0
    assert k_zs == pytest.approx(k_ml, abs=5e-3)
    assert s_zs == pytest.approx(s_ml, rel=5e-3)
    assert k_zs == pytest.approx(k, abs=0.02)
    assert s_zs == pytest.approx(1.0, rel=0.02)
    # The weakly informative prior: (n k + 10 * 0.5) / (n + 10).
    k_wip, s_wip = gpd_fit(x)
    assert k_wip == pytest.approx((x.size * k_zs + 5.0) / (x.size + 10.0), abs=1e-12)
    assert s_wip == s_zs


@pytest.mark.parametrize("k", [0.0, 0.4, 0.9])
def test_psis_khat_recovers_a_known_tail(k: float) -> None:
    """Weights that are GPD(k) beyond any threshold: k̂ over n = 400 000 draws (M = 1898 tail
    points, standard error about (1 + k)/sqrt(M) < 0.05) is within 0.12 of k."""
    w = _gpd(k, 400_000, np.random.default_rng(11)) if k else -np.log(
        np.random.default_rng(11).random(400_000))
    with np.errstate(divide="ignore"):
        r = psis_khat(np.log(w) + 123.0)  # the additive constant must not matter
    assert r.tail_length == 1898
    assert r.khat == pytest.approx(k, abs=0.12)


def test_heavier_tails_give_larger_khat_and_smaller_ess() -> None:
    rng = np.random.default_rng(3)
    z = rng.standard_normal(4000)
    results = [psis_khat(sd * z) for sd in (0.25, 1.0, 2.0, 4.0)]
    khats = [r.khat for r in results]
    esses = [r.ess for r in results]
    assert khats == sorted(khats) and khats[0] < 0.5 and khats[-1] > 0.7
    assert esses == sorted(esses, reverse=True) and esses[0] > 0.9 * 4000


def test_psis_edge_cases() -> None:
    assert psis_khat(np.zeros(1000)).khat == -math.inf  # constant weights: nothing to fit
    assert psis_khat(np.zeros(1000)).ess == pytest.approx(1000)
    few = psis_khat(np.random.default_rng(0).normal(size=20))  # M = 4 < 5: no fit
    assert few.khat == math.inf
    assert 1.0 <= few.ess <= 20.0
    lw = np.random.default_rng(1).normal(size=500)
    lw[:100] = -np.inf  # p~ = 0 at some draws: zero weights, still a fit
    r = psis_khat(lw)
    assert math.isfinite(r.khat) and np.all(np.exp(r.log_weights[:100]) == 0)
    for bad in ([1.0], [0.0, np.nan, 1.0] * 10, [0.0, np.inf] * 20, [-np.inf] * 30):
        with pytest.raises(vi.VIError):
            psis_khat(bad)


def test_khat_reading() -> None:
    assert "good" in khat_reading(0.2)
    assert "ok" in khat_reading(0.6)
    assert khat_reading(0.9).endswith("q misses tail mass; importance sampling unreliable")
    assert "> 0.7" in khat_reading(0.9)
    assert "far-apart modes" in vi.KHAT_CAVEAT and "≈ 0" in vi.KHAT_CAVEAT
    assert vi.khat_threshold(1000) == pytest.approx(2 / 3)
    assert vi.khat_threshold(10**9) == 0.7


CASES = [("banana", "gaussian-full"), ("bimodal", "gaussian-diagonal"),
         ("funnel", "gaussian-full"), ("student-t", "gaussian-isotropic"),
         ("ring", "mixture-3"), ("logistic-regression", "gaussian-full")]


@pytest.mark.parametrize("tid, fid", CASES)
def test_iw_elbo_lies_between_the_elbo_and_log_z(tid: str, fid: str) -> None:
    target, family = vi.get_target(tid), vi.get_family(fid)
    theta = vi.fit(target, family).theta
    e = vi.elbo(target, family, theta, with_grad=False)
    rng = np.random.default_rng(5)
    iw1 = vi.iw_elbo(target, family, theta, 1, 20_000, rng)
    iw = vi.iw_elbo(target, family, theta, 100, 200, rng)
    # K = 1 is the Monte Carlo ELBO: its mean is the cubature ELBO.
    assert iw1.value == pytest.approx(e.elbo, abs=4 * iw1.se + e.error)
    assert e.elbo - e.error - 3 * iw.se <= iw.value
    assert iw.value <= target.log_z + target.log_z_error + 3 * iw.se
    assert (iw.k, iw.n) == (100, 200) and iw.se > 0


def test_iw_elbo_grows_with_k() -> None:
    """L_1 < L_10 < L_100 <= log Z: same number of draws for each K, so the gaps
    beat three standard errors (banana under a Gaussian: ELBO 0.145 below log Z)."""
    target, family = vi.get_target("banana"), vi.get_family("gaussian-full")
    theta = vi.fit(target, family).theta
    rng = np.random.default_rng(9)
    res = [vi.iw_elbo(target, family, theta, k, 200_000 // k, rng) for k in (1, 10, 100)]
    for lo, hi in itertools.pairwise(res):
        assert hi.value - lo.value > 3 * math.hypot(lo.se, hi.se), (lo, hi)
    big = vi.iw_elbo(target, family, theta, 1000, 200, rng)
    assert big.value > res[0].value + 3 * math.hypot(big.se, res[0].se)
    assert big.value <= target.log_z + 3 * big.se
    assert target.log_z - big.value < 0.03  # the bound closes in on log Z (0.145 at K = 1)


def test_iw_elbo_catches_a_wrong_log_z() -> None:
    """The bound is a check that can fail: p~ scaled by e (log Z + 1) but log Z left as it was
    puts the IW-ELBO above 'log Z' by about 1."""
    banana = vi.get_target("banana")
    lifted = Target("lifted", "lifted", "", banana.extent, banana.log_z, 0.0, "exact",
                    log_density_fn=lambda x, y: banana.log_density(x, y) + 1.0,
                    value_and_grad_fn=banana.value_and_grad)
    family = vi.get_family("gaussian-full")
    theta = vi.fit(banana, family).theta
    iw = vi.iw_elbo(lifted, family, theta, 100, 100, np.random.default_rng(0))
    assert iw.value > lifted.log_z + 0.9


def _two_far_modes() -> Target:
    """½ N((-8, 0), I) + ½ N((8, 0), I): Z = 1, log Z = 0."""
    def log_density(x, y):
        a = -0.5 * ((x + 8) ** 2 + y**2)
        b = -0.5 * ((x - 8) ** 2 + y**2)
        return np.logaddexp(a, b) - math.log(4 * math.pi)

    return Target("two-modes", "two modes", "", (-12.0, 12.0, -4.0, 4.0), 0.0, 0.0, "exact",
                  log_density_fn=log_density,
                  value_and_grad_fn=lambda x, y: (log_density(x, y), 0 * x, 0 * y))


def test_the_honest_limit_a_q_on_one_of_two_far_modes() -> None:
    """q = exactly one of two far modes: weights are constant on q's draws, so k̂ says 'good'
    (-inf: nothing to fit) and ESS = n; only log Z - IW-ELBO = log 2 shows the missing half."""
    target, family = _two_far_modes(), vi.get_family("gaussian-full")
    d = vi.diagnose(target, family, [8.0, 0.0, 0.0, 0.0, 0.0], seed=1)
    assert d.khat < 0.1 and "good" in d.reading
    assert d.ess == pytest.approx(d.n, rel=1e-6)
    assert target.log_z - d.iw.value == pytest.approx(math.log(2), abs=1e-6)
    # A q too narrow and off the mode's centre misses tail mass, and k̂ says so.
    narrow = vi.diagnose(target, family, [6.5, 0.0, -math.log(2), -math.log(2), 0.0], seed=1)
    assert narrow.khat > 0.7 and "misses tail mass" in narrow.reading
    assert narrow.ess < 0.1 * narrow.n


def test_diagnose_is_seeded() -> None:
    target, family = vi.get_target("banana"), vi.get_family("mixture-full-2")
    theta = reset_theta(target, family)
    a = vi.diagnose(target, family, theta, seed=4)
    b = vi.diagnose(target, family, theta, seed=4)
    c = vi.diagnose(target, family, theta, seed=5)
    assert a == b and a.khat != c.khat
    assert (a.n, a.iw.k, a.iw.n) == (vi.DEFAULT_DRAWS, vi.DEFAULT_IW_K, vi.DEFAULT_IW_N)
    with pytest.raises(vi.VIError):
        vi.diagnose(target, family, theta, n=1)
    with pytest.raises(vi.VIError):
        vi.iw_elbo(target, family, theta, MAX_DRAWS, 2, np.random.default_rng(0))
    with pytest.raises(vi.VIError):
        vi.iw_elbo(target, family, theta, 0, 10, np.random.default_rng(0))


def test_diagnostics_need_no_scipy() -> None:
    """The page starts Python without scipy: importing and running the diagnostics must not
    touch it."""
    code = ("import sys; sys.modules['scipy'] = None\n"
            "import vi_core as vi\n"
            "t, f = vi.get_target('banana'), vi.get_family('gaussian-full')\n"
            "d = vi.diagnose(t, f, vi.initial_params(t, f), seed=0)\n"
            "assert 'scipy' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
            "print(d.khat)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert math.isfinite(float(p.stdout))


def test_a_near_exact_fit_is_not_called_unreliable() -> None:
    """k̂ is blind to the size of the tail: a 2-component mixture fitted to the bimodal mixture
    has log weights within 1e-4 of each other, yet their tail fits k̂ > 0.7. The reading must
    say the weights are flat rather than 'importance sampling unreliable'."""
    target, family = vi.get_target("bimodal"), vi.get_family("mixture-full-3")
    d = vi.diagnose(target, family, vi.fit(target, family).theta, seed=0)
    assert d.khat > 0.7 and d.ess > 0.999 * d.n
    assert "unreliable" not in d.reading and "within" in d.reading
    assert "unreliable" in khat_reading(d.khat)  # without the spread: the plain warning
    assert "within" not in khat_reading(0.9, spread=0.5)
