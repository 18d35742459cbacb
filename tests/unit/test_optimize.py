"""Optimizers and fit: generator contract, closed-form optima, global quality, ELBO <= log Z,
accuracy at the fitted q, budgets, robustness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.reference import library_fit, reset_theta
from vi_core.elbo import elbo
from vi_core.errors import FamilyError, OptimizerError
from vi_core.families import family_ids, get_family, is_flow_id
from vi_core.fit import FitResult, fit
from vi_core.optimize import OPTIMIZERS, Step, optimize, optimizer_ids
from vi_core.starts import initial_params, random_params
from vi_core.targets import get_target, target_ids

from .test_elbo import ACCURACY, reference_elbo

# Flows (seconds per fit, their own ELBO and fit) are tested in tests/unit/test_flows.py.
PAIRS = [(t, f) for t in target_ids() for f in family_ids() if not is_flow_id(f)]
GAUSSIANS = ["gaussian-isotropic", "gaussian-diagonal", "gaussian-full"]


def cached_fit(tid: str, fid: str) -> FitResult:
    """vi_core's fit of a built-in pair, made once per test process (tests.reference)."""
    return library_fit(tid, fid)


def final(target, family, theta0, optimizer="lbfgs", **kw) -> Step:
    last = None
    for step in optimize(target, family, theta0, optimizer, **kw):
        last = step
    assert last is not None
    return last


def test_optimizer_ids() -> None:
    assert optimizer_ids() == ["gradient-ascent", "adam", "lbfgs"]
    for spec in OPTIMIZERS.values():
        assert spec.name and spec.description


def test_bad_arguments_raise_before_iterating() -> None:
    t, f = get_target("banana"), get_family("gaussian-full")
    theta = reset_theta(t, f)
    with pytest.raises(OptimizerError, match="unknown optimizer"):
        optimize(t, f, theta, "newton")
    with pytest.raises(OptimizerError):
        optimize(t, f, theta, tol=-1.0)
    with pytest.raises(OptimizerError):
        optimize(t, f, theta, max_iter=-3)
    with pytest.raises(OptimizerError, match="no option"):
        optimize(t, f, theta, "adam", momentum=0.5)
    with pytest.raises(FamilyError):
        optimize(t, f, theta[:2])
    with pytest.raises(OptimizerError):
        fit(t, f, "sgd")


@pytest.mark.parametrize("opt", ["gradient-ascent", "adam", "lbfgs"])
def test_generator_contract(opt: str) -> None:
    t, f = get_target("banana"), get_family("gaussian-diagonal")
    theta0 = reset_theta(t, f)
    gen = optimize(t, f, theta0, opt)
    first = next(gen)
    assert isinstance(first, Step) and first.iteration == 0
    np.testing.assert_array_equal(first.theta, theta0)
    steps = [first, *(next(gen) for _ in range(4))]
    assert [s.iteration for s in steps] == list(range(5))
    gen.close()  # the page may abandon a run at any time
    steps = list(optimize(t, f, theta0, opt, max_iter=7))
    assert steps[-1].iteration <= 7 and sum(s.converged for s in steps) <= 1
    assert steps[-1].converged or steps[-1].iteration == 7
    # Steps carry a finite ELBO and its gradient.
    assert all(np.isfinite(s.result.elbo) and s.result.grad is not None for s in steps)


def test_lbfgs_ascends_and_stops_after_converged() -> None:
    t, f = get_target("banana"), get_family("mixture-3")
    steps = list(optimize(t, f, reset_theta(t, f)))
    assert steps[-1].converged and not any(s.converged for s in steps[:-1])
    vals = [s.result.elbo for s in steps]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(vals))


@pytest.mark.parametrize("opt", ["gradient-ascent", "adam"])
def test_first_order_optimizers_approach_the_optimum(opt: str) -> None:
    t, f = get_target("correlated-gaussian"), get_family("gaussian-full")
    theta0 = reset_theta(t, f)
    start = elbo(t, f, theta0).elbo
    last = final(t, f, theta0, opt, max_iter=3000)
    assert last.result.elbo > start
    assert t.log_z - last.result.elbo < 1e-3


# -- closed forms on the correlated Gaussian -------------------------------------------------

MU = np.array([0.5, 0.25])
SX, SY, RHO = 1.0, 0.6, 0.9
SIGMA = np.array([[SX**2, RHO * SX * SY], [RHO * SX * SY, SY**2]])
PRECISION = np.linalg.inv(SIGMA)


@pytest.mark.parametrize("fid", GAUSSIANS + ["mixture-full-1"])
def test_closed_form_optimum_on_correlated_gaussian(fid: str) -> None:
    """Reverse-KL optima for p = N(mu, Sigma), Lambda = Sigma^-1, all with mean mu:
    full: q = p; diagonal (mean field): s_i^2 = 1 / Lambda_ii; isotropic: minimising
    1/2 [s^2 tr(Lambda) - 2 log s^2] gives s^2 = 2 / tr(Lambda)."""
    t = get_target("correlated-gaussian")
    r = fit(t, get_family(fid))
    assert r.converged
    (m,) = r.params["means"]
    (sx, sy) = r.params["scales"][0]
    (rho,) = r.params["correlations"]
    np.testing.assert_allclose(m, MU, atol=1e-6)
    if fid in ("gaussian-full", "mixture-full-1"):
        want = (SX, SY, RHO)
    elif fid == "gaussian-diagonal":
        want = (1 / np.sqrt(PRECISION[0, 0]), 1 / np.sqrt(PRECISION[1, 1]), 0.0)
    else:
        s = np.sqrt(2 / np.trace(PRECISION))
        want = (s, s, 0.0)
    np.testing.assert_allclose((sx, sy, rho), want, atol=1e-6)
    # And the KL at that optimum, in closed form.
    cov = np.array([[want[0] ** 2, want[2] * want[0] * want[1]],
                    [want[2] * want[0] * want[1], want[1] ** 2]])
    kl = 0.5 * (np.trace(PRECISION @ cov) - 2 + np.log(np.linalg.det(SIGMA) / np.linalg.det(cov)))
    assert r.kl == pytest.approx(kl, abs=1e-9)


# -- every target x family -------------------------------------------------------------------

@pytest.mark.parametrize("tid, fid", PAIRS)
def test_fit_is_sound(tid: str, fid: str) -> None:
    """Converged; ELBO <= log Z up to the stated accuracies; the ELBO at the fitted q agrees
    with the fine reference to 1e-4 nats."""
    t, f = get_target(tid), get_family(fid)
    r = cached_fit(tid, fid)
    assert r.converged, r.message
    assert r.elbo <= r.log_z + r.elbo_error + r.log_z_error + 1e-6
    assert r.kl == pytest.approx(r.log_z - r.elbo)
    theta = np.array(r.theta)
    assert abs(r.elbo - reference_elbo(t, f, theta)) <= ACCURACY


def _restarts(tid: str, fid: str, n: int) -> float:
    """Best KL of n random restarts. Only runs that converged on a trustworthy estimate
    (error <= 1e-5) count: from a random start a mixture can drift into a component far
    thinner than another it overlaps, where the cubature reaches its cap, reports a large
    error, and the run exploits it (KL < 0 has been seen); that is not a better optimum."""
    t, f = get_target(tid), get_family(fid)
    rng = np.random.default_rng(2024)
    best = np.inf
    for _ in range(n):
        last = final(t, f, random_params(t, f, rng), max_iter=300)
        if last.converged and last.result.error <= 1e-5:
            best = min(best, t.log_z - last.result.elbo)
    return best


RESTART_SAMPLE = [("bimodal", "mixture-10"), ("gaussian-ring", "gaussian-full"),
                  ("gaussian-ring", "gaussian-diagonal"), ("mickie", "mixture-3"),
                  ("banana", "mixture-full"), ("energy-u1", "gaussian-isotropic"),
                  ("nessie", "mixture-full"), ("ring", "mixture-3")]


@pytest.mark.parametrize("tid, fid", RESTART_SAMPLE)
def test_fit_reaches_best_of_restarts_quick(tid: str, fid: str) -> None:
    """Default run: the hardest pairs seen, 5 random restarts each."""
    assert cached_fit(tid, fid).kl <= _restarts(tid, fid, 5) + 1e-3


# Best KL of 20 random restarts (as in the slow test below) on single-peak targets where
# k-means starts lead a learned-weight mixture to a worse local optimum than components
# stacked along the direction in which the target's width changes.
BEST_KNOWN = {("funnel", "mixture-full"): 0.0506, ("normal-posterior", "mixture-full"): 0.0110}


@pytest.mark.parametrize("tid, fid", list(BEST_KNOWN))
def test_fit_reaches_best_known_optimum(tid: str, fid: str) -> None:
    assert cached_fit(tid, fid).kl <= BEST_KNOWN[(tid, fid)] + 1e-3


@pytest.mark.slow  # about 10 min: `make test-slow`
@pytest.mark.parametrize("tid, fid", PAIRS)
def test_fit_reaches_best_of_20_restarts(tid: str, fid: str) -> None:
    """fit (one deterministic run, no restarts) within 1e-3 nats of the best of 20 random
    restarts, for every target x family."""
    assert cached_fit(tid, fid).kl <= _restarts(tid, fid, 20) + 1e-3


def test_reset_then_optimize_equals_fit() -> None:
    """The page's Reset (initial_params) then Optimize (consume optimize) is fit."""
    for tid, fid in [("banana", "mixture-full"), ("bimodal", "gaussian-full")]:
        t, f = get_target(tid), get_family(fid)
        last = final(t, f, initial_params(t, f))
        r = cached_fit(tid, fid)
        assert abs((t.log_z - last.result.elbo) - r.kl) < 1e-3
        np.testing.assert_array_equal(last.theta, r.theta)


def test_fit_is_deterministic() -> None:
    a = fit(get_target("funnel"), get_family("mixture-3"))
    b = fit(get_target("funnel"), get_family("mixture-3"))
    assert a.elbo == b.elbo and a.theta == b.theta and a.iterations == b.iterations


class _Counting:
    """A target that counts the points it is evaluated at."""

    def __init__(self, target) -> None:
        self.target, self.points = target, 0
        self.id, self.extent = target.id, target.extent
        self.log_z, self.log_z_error = target.log_z, target.log_z_error
        self.singular_points = target.singular_points

    def log_density(self, x, y):
        self.points += np.broadcast(x, y).size
        return self.target.log_density(x, y)

    def value_and_grad(self, x, y):
        self.points += np.broadcast(x, y).size
        return self.target.value_and_grad(x, y)


def test_fit_budgets() -> None:
    """Budgets of work for a whole fit (starting point and optimization) on the slowest pairs:
    target evaluations, about a microsecond each on CPython here, so about 4 s for a Gaussian
    and 6 s for a mixture at most (measured: 4.1M and 3.5M points since the ELBO's error became
    an honest bound, which takes more Gauss-Hermite rules on curved targets; 2.4M before).
    Counted, not timed: wall clocks on a shared machine make flaky tests (``make bench``
    reports the seconds)."""
    points = {}
    for fid in ["gaussian-full", "mixture-10"]:
        for tid in ["gaussian-ring", "nessie"]:
            counting = _Counting(get_target(tid))
            result = fit(counting, get_family(fid))
            assert result.converged, (tid, fid)
            points[(tid, fid)] = counting.points
    for (_, fid), n in points.items():
        assert n < (5_000_000 if fid.startswith("gaussian") else 6_000_000), points


def test_fit_result_fields() -> None:
    r = cached_fit("banana", "gaussian-full")
    d = r.to_dict()
    for key in ("target", "family", "optimizer", "elbo", "expected_log_density", "entropy",
                "log_z", "kl", "iterations", "seconds", "converged", "params"):
        assert key in d
    assert d["target"] == "banana" and d["family"] == "gaussian-full" and d["optimizer"] == "lbfgs"
    assert fit("banana", "gaussian-full").elbo == r.elbo  # ids work too


def test_nan_regions_do_not_crash_any_optimizer() -> None:
    """A target that is NaN on part of the plane: steps into it are rejected, never raised."""
    base = get_target("banana")

    class Holey:
        id = "holey"
        extent = base.extent
        log_z = base.log_z
        log_z_error = 0.0

        def log_density(self, x, y):
            return np.where(np.asarray(y) > 1.2, np.nan, base.log_density(x, y))

        def value_and_grad(self, x, y):
            v, gx, gy = base.value_and_grad(x, y)
            return np.where(np.asarray(y) > 1.2, np.nan, v), gx, gy

    f = get_family("gaussian-isotropic")
    theta0 = f.from_natural({"means": [[0.0, -0.5]], "scales": [[0.05, 0.05]]})
    for opt in optimizer_ids():
        last = final(Holey(), f, theta0, opt, max_iter=200)
        assert np.isfinite(last.result.elbo)


def test_parameters_stay_in_bounds() -> None:
    """An absurd start is clipped into the family's bounds and the run stays there."""
    t, f = get_target("funnel"), get_family("gaussian-diagonal")
    lo, hi = f.bounds(t.extent)
    theta0 = np.array([50.0, -50.0, 30.0, -30.0])
    for s in optimize(t, f, theta0, "lbfgs", max_iter=100):
        assert np.all((lo <= s.theta) & (s.theta <= hi))
