"""Forward KL(p‖q) and the Rényi α-divergence (``vi_core.objectives``): E_p by log Z's
cubature, exact gradients, and the forward-KL optimum of a Gaussian = moment matching."""

from __future__ import annotations

import math

import numpy as np
import pytest

import vi_core as vi
from tests.reference import reset_theta
from vi_core.objectives import (
    BOUND_NOTE,
    check_objective,
    divergence,
    fit_objective,
    log_q_and_grad,
    moment_match,
    target_moments,
    target_quadrature,
)

GAUSSIANS = ("gaussian-isotropic", "gaussian-diagonal", "gaussian-full")
TARGETS = ("banana", "bimodal", "correlated-gaussian", "normal-posterior")


@pytest.mark.parametrize("fid", [*GAUSSIANS, "mixture-3", "mixture-10", "mixture-full-3"])
def test_log_q_gradient_matches_finite_differences(fid: str) -> None:
    fam = vi.get_family(fid)
    rng = np.random.default_rng(3)
    theta = 0.5 * rng.normal(size=fam.n_params)
    x, y = rng.normal(size=11), rng.normal(size=11)
    log_q, grad = log_q_and_grad(fam, theta, x, y)
    np.testing.assert_allclose(log_q, fam.log_density(theta, x, y), rtol=1e-12, atol=1e-12)
    h = 1e-6
    numeric = np.array([(fam.log_density(theta + h * e, x, y)
                         - fam.log_density(theta - h * e, x, y)) / (2 * h)
                        for e in np.eye(fam.n_params)]).T
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


@pytest.mark.parametrize("alpha", [None, 0.5, 2.0])
def test_divergence_gradient_matches_finite_differences(alpha: float | None) -> None:
    target, fam = vi.get_target("bimodal"), vi.get_family("mixture-full-2")
    quad = target_quadrature(target)
    theta = reset_theta(target, fam) + 0.05
    d = divergence(quad, fam, theta, alpha=alpha)
    assert d.grad is not None
    h = 1e-6
    numeric = np.array([(divergence(quad, fam, theta + h * e, alpha=alpha).value
                         - divergence(quad, fam, theta - h * e, alpha=alpha).value) / (2 * h)
                        for e in np.eye(fam.n_params)])
    np.testing.assert_allclose(d.grad, numeric, atol=1e-6)


def test_moments_by_quadrature_are_exact_where_known() -> None:
    mean, cov = target_moments(vi.get_target("correlated-gaussian"))
    np.testing.assert_allclose(mean, [0.5, 0.25], atol=1e-9)
    np.testing.assert_allclose(cov, [[1.0, 0.54], [0.54, 0.36]], atol=1e-9)
    # 3/4 N((-.8, 0), .2) + 1/4 N((.8,.7), .09)
    mean, cov = target_moments(vi.get_target("bimodal"))
    np.testing.assert_allclose(mean, [-0.4, 0.175], atol=1e-9)
    np.testing.assert_allclose(cov[0, 0], 0.75 * 0.2 + 0.25 * 0.09 + 0.75 * 0.25 * 1.6**2,
                               atol=1e-9)
    quad = target_quadrature(vi.get_target("student-t"))     # ν = 3: Cov = ν/(ν-2) I = 3 I
    assert quad.dropped < 1e-14 and quad.p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(target_moments(quad)[1], 3 * np.eye(2), atol=2e-3)


@pytest.mark.parametrize("tid", TARGETS)
@pytest.mark.parametrize("fid", GAUSSIANS)
def test_forward_kl_of_a_gaussian_is_moment_matching(tid: str, fid: str) -> None:
    """Minimised by L-BFGS from the family's usual start, the forward KL lands on the moment
    match: q's mean = p's mean, q's covariance = p's (full), its marginal variances (diagonal),
    tr Cov / 2 (isotropic)."""
    target, fam = vi.get_target(tid), vi.get_family(fid)
    quad = target_quadrature(target)
    r = fit_objective(target, fam, "forward-kl", quadrature=quad)
    assert r.fit.converged, r.fit.message
    mean, cov = target_moments(quad)
    _, means, covs = fam.components(np.array(r.fit.theta))
    np.testing.assert_allclose(means[0], mean, atol=1e-3)
    if fid == "gaussian-full":
        np.testing.assert_allclose(covs[0], cov, atol=1e-3)
    elif fid == "gaussian-diagonal":
        np.testing.assert_allclose(np.diag(covs[0]), np.diag(cov), atol=1e-3)
    else:
        np.testing.assert_allclose(np.diag(covs[0]), [np.trace(cov) / 2] * 2, atol=1e-3)
    np.testing.assert_allclose(r.fit.theta, moment_match(quad, fam), atol=1e-3)
    # No Gaussian does better: nudging the moment match only raises KL(p‖q).
    best = divergence(quad, fam, moment_match(quad, fam)).value
    assert r.forward_kl == pytest.approx(best, abs=1e-9)
    for e in np.eye(fam.n_params):
        assert divergence(quad, fam, moment_match(quad, fam) + 1e-2 * e).value > best


def test_forward_kl_is_zero_on_a_gaussian_target_and_positive_otherwise() -> None:
    r = fit_objective("correlated-gaussian", "gaussian-full")
    assert r.forward_kl == pytest.approx(0.0, abs=1e-9) and r.fit.kl == pytest.approx(0, abs=1e-6)
    r = fit_objective("bimodal", "mixture-full-2")    # a two-component mixture fits it exactly
    assert r.forward_kl == pytest.approx(0.0, abs=1e-7)


def test_forward_covers_mass_reverse_seeks_a_mode_on_bimodal() -> None:
    target, fam = vi.get_target("bimodal"), vi.get_family("gaussian-full")
    rev = vi.fit(target, fam)
    fwd = fit_objective(target, fam, "forward-kl")
    sd_rev, sd_fwd = rev.params["scales"][0][0], fwd.fit.params["scales"][0][0]
    assert sd_fwd > 1.5 * sd_rev
    assert fwd.fit.elbo < rev.elbo - 0.05          # reverse KL is the ELBO's optimum
    assert fwd.fit.kl == pytest.approx(fwd.fit.log_z - fwd.fit.elbo)
    # ... and the reverse fit pays in forward KL.
    assert divergence(target, fam, rev.theta).value > fwd.forward_kl + 0.1
    assert "Only reverse KL" in fwd.note and "KL(p‖q)" in fwd.note
    assert fwd.to_dict()["objective"] == "forward-kl" and fwd.to_dict()["alpha"] is None


def test_alpha_interpolates_between_reverse_and_forward() -> None:
    """D_α(p‖q) → KL(p‖q) as α → 1; the fitted q's spread grows with α (mass covering)."""
    target, fam = vi.get_target("bimodal"), vi.get_family("gaussian-full")
    quad = target_quadrature(target)
    theta = reset_theta(target, fam)
    kl = divergence(quad, fam, theta).value
    assert divergence(quad, fam, theta, alpha=1 + 1e-6).value == pytest.approx(kl, rel=1e-4)
    sds = [fit_objective(target, fam, "alpha", alpha=a, quadrature=quad).fit.params["scales"][0][0]
           for a in (0.2, 0.5, 2.0)]
    assert sds[0] < sds[1] < sds[2]
    r = fit_objective(target, fam, "alpha", alpha=0.5, quadrature=quad)
    assert r.alpha == 0.5 and "D_0.5(p‖q)" in r.note
    assert r.divergence == pytest.approx(divergence(quad, fam, r.fit.theta, alpha=0.5).value)


def test_objective_checks_and_flows() -> None:
    assert check_objective("reverse-kl", None) is None
    assert check_objective("alpha", 0.5) == 0.5
    for objective, alpha in (("alpha", None), ("alpha", 1.0), ("alpha", -1.0),
                             ("alpha", math.nan), ("forward-kl", 0.5), ("nope", None)):
        with pytest.raises(vi.VIError):
            check_objective(objective, alpha)
    with pytest.raises(vi.FamilyError, match="flow"):
        fit_objective("banana", "flow-2", "forward-kl")
    with pytest.raises(vi.FamilyError, match="single Gaussian"):
        moment_match(vi.get_target("banana"), vi.get_family("mixture-3"))
    assert "{what}" in BOUND_NOTE


@pytest.mark.parametrize("tid", ["banana", "ring", "neal-funnel", "student-t"])
def test_plane_nodes_are_the_cubature_of_log_z(tid: str) -> None:
    """plane_nodes returns compute_log_z's own nodes and weights: the same log Z, positive
    weights, and Σ p~ w = Z."""
    from vi_core.log_z import compute_log_z, plane_nodes

    t = vi.get_target(tid)
    x, y, log_p, log_w, log_z, err = plane_nodes(t.log_density, t.extent)
    assert (log_z, err) == compute_log_z(t.log_density, t.extent)
    assert np.all(np.isfinite(log_w)) and x.shape == y.shape == log_p.shape == log_w.shape
    a = log_p + log_w
    m = float(np.max(a))
    assert m + math.log(float(np.sum(np.exp(a - m)))) == pytest.approx(log_z, abs=1e-12)
    assert log_z == pytest.approx(t.log_z, abs=max(10 * err, 1e-9))
