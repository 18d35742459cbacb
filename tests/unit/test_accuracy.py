"""log Z and the ELBO against closed forms on sharp peaks, kinks and oscillations (issue 11):
every reported value must be within its reported error of the exact one, or the library must
say that it cannot resolve the density (TargetError).

Oracles: closed forms (Gaussian integrals, Laplace and cone integrals, E|N(mu, s^2)|, the
Gaussian characteristic function, the Jacobi-Anger series with scipy.special.iv), and for
nessie an independent panel Gauss-Legendre cubature split at its kink line x = 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.polynomial.legendre import leggauss
from scipy.special import iv
from scipy.stats import norm

import vi_core as vi
from tests.reference import reset_theta
from vi_core.elbo import elbo
from vi_core.log_z import compute_log_z
from vi_core.protocol import Session
from vi_core.target import Target

EXTENT = (-3.0, 3.0, -3.0, 3.0)


def grid_x(s: float) -> float:
    """x of the quadrature's map at s (cell edges sit at s = k / 8 and their halvings)."""
    return 3.0 * math.tan(0.5 * math.pi * s)


def check(value: float, error: float, exact: float, *, max_error: float) -> None:
    assert abs(value - exact) <= error, (value, exact, value - exact, error)
    assert error < max_error, (error, value - exact)


# --------------------------------------------------------------------------------------------
# log Z: Gaussian peaks at and off the cells' corners and edges
# --------------------------------------------------------------------------------------------

PRECISIONS = [1e-1, 1.0, 1e3, 1e6, 3e6, 1e8, 1e10]
POSITIONS = {
    "origin, a corner of four cells": (0.0, 0.0),
    "on a cell edge": (0.123, 0.0),
    "corner at s = 1/4": (grid_x(0.25), grid_x(-0.375)),
    "corner of refined cells": (grid_x(0.1875), grid_x(0.5 + 1 / 64)),
    "off the grid": (0.1234, 0.567),
}


@pytest.mark.parametrize("where", list(POSITIONS))
@pytest.mark.parametrize("a", PRECISIONS)
def test_log_z_of_a_gaussian_peak_anywhere(a: float, where: str) -> None:
    """exp(-a |x - m|^2) integrates to pi / a. A peak on a corner was counted as a quarter
    (log Z low by ln 4 with an error of ~2e-9) and on an edge as a half."""
    mx, my = POSITIONS[where]
    value, error = compute_log_z(lambda x, y: -a * ((x - mx) ** 2 + (y - my) ** 2), EXTENT)
    check(value, error, math.log(math.pi / a), max_error=1e-6)


@pytest.mark.parametrize("precision, rho", [([1e6, 1.0], 0.0), ([1.0, 1e4], 0.0),
                                            ([1e4, 1e2], 0.0), ([1e4, 1.0], 0.9),
                                            ([1e2, 1e4], -0.99)])
def test_log_z_of_thin_ridges_on_grid_lines(precision, rho: float) -> None:
    """Ridges along a line of cell edges (x = 0, y = grid_x(1/4)), straight or tilted."""
    cy = grid_x(0.25)
    sd = 1.0 / np.sqrt(precision)
    cov = np.array([[sd[0] ** 2, rho * sd[0] * sd[1]], [rho * sd[0] * sd[1], sd[1] ** 2]])
    p = np.linalg.inv(cov)

    def log_density(x, y):
        dy = y - cy
        return -0.5 * (p[0, 0] * x * x + 2 * p[0, 1] * x * dy + p[1, 1] * dy * dy)

    value, error = compute_log_z(log_density, EXTENT)
    exact = math.log(2 * math.pi * math.sqrt(np.linalg.det(cov)))
    check(value, error, exact, max_error=2e-5)


def test_the_issue_peak_as_a_custom_target_and_its_fit() -> None:
    """The issue's density -3e6 (x^2 + y^2): log Z = log(pi / 3e6), and after a fit the ELBO
    is not above log Z beyond the two errors (the page showed KL = -0.6931)."""
    t = vi.target_from_source("def log_density(x, y):\n    return -3e6 * (x**2 + y**2)\n")
    check(t.log_z, t.log_z_error, math.log(math.pi / 3e6), max_error=1e-6)
    r = vi.fit(t, "gaussian-full")
    assert r.elbo <= r.log_z + r.elbo_error + r.log_z_error
    assert abs(r.kl) <= 1e-4


def test_the_page_never_shows_an_elbo_above_log_z_beyond_the_errors() -> None:
    session = Session()
    reply = session.handle({"method": "set_custom_target", "params": {
        "source": "def log_density(x, y):\n    return -3e6 * (x**2 + y**2)\n"}})
    assert reply["ok"], reply
    fit = session.handle({"method": "fit", "params": {"target": "custom",
                                                      "family": "gaussian-full"}})
    assert fit["ok"], fit
    r = fit["result"]
    assert r["elbo"] <= r["log_z"] + r["elbo_error"] + r["log_z_error"]
    view = session.handle({"method": "evaluate", "params": {
        "target": "custom", "family": "gaussian-full", "theta": r["theta"]}})
    out = view["result"]["readouts"]
    assert out["kl"] >= -(out["elbo_error"] + out["log_z_error"])


@pytest.mark.parametrize("source", [
    "def log_density(x, y):\n    return -1e20 * (x**2 + y**2)\n",  # sd 7e-11: below the cells
    "def log_density(x, y):\n    return -0.5e10 * x**2 - 0.5 * y**2\n",  # a ridge on x = 0
    "def log_density(x, y):\n    return -0.5 * (x**2 + y**2) + 3 * np.cos(300 * x)\n",
])
def test_too_peaked_or_too_rough_says_so(source: str) -> None:
    with pytest.raises(vi.TargetError, match="too peaked or too rough"):
        vi.target_from_source(source)


# --------------------------------------------------------------------------------------------
# log Z: kinks and oscillations
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("b", [1.0, 0.1, 1e-4])
@pytest.mark.parametrize("centre", [(0.0, 0.0), (0.3, -0.7)])
def test_log_z_of_laplace_kinks(b: float, centre) -> None:
    """exp(-|x - c1|/b - |y - c2|/b) integrates to 4 b^2 (kink lines on and off cell edges)."""
    c1, c2 = centre
    value, error = compute_log_z(lambda x, y: -(np.abs(x - c1) + np.abs(y - c2)) / b, EXTENT)
    check(value, error, math.log(4 * b * b), max_error=1e-5)


@pytest.mark.parametrize("s", [1.0, 10.0, 1e3, 1e5])
@pytest.mark.parametrize("centre", [(0.0, 0.0), (0.3, 0.1), (-1.2, 0.77)])
def test_log_z_of_cones(s: float, centre) -> None:
    """exp(-s |x - c|) integrates to 2 pi / s^2 (a cone point inside a cell, where the two
    directions' errors of the Gauss rule cancelled: 1.8e-7 off, 9e-8 claimed)."""
    c1, c2 = centre
    value, error = compute_log_z(lambda x, y: -s * np.hypot(x - c1, y - c2), EXTENT)
    check(value, error, math.log(2 * math.pi / s**2), max_error=1e-6)


@pytest.mark.parametrize("s, c", [(3.0, 0.37), (30.0, -0.81)])
def test_log_z_of_a_kink_line_across_a_gaussian(s: float, c: float) -> None:
    """exp(-s |x - c| - y^2 / 2) integrates to (2 / s) sqrt(2 pi)."""
    value, error = compute_log_z(lambda x, y: -s * np.abs(x - c) - 0.5 * y * y, EXTENT)
    check(value, error, math.log(2 / s * math.sqrt(2 * math.pi)), max_error=1e-4)


def _log_z_oscillating(amplitude: float, k: float, m: float) -> float:
    """log of the integral of exp(-(x - m)^2 / 2 + A cos(k x)) dx, by Jacobi-Anger:
    e^{A cos t} = I0(A) + 2 sum_n In(A) cos(n t) and E cos(n k x) = cos(n k m) e^{-(nk)^2/2}."""
    n = np.arange(1, 200)
    series = iv(0, amplitude) + 2 * np.sum(iv(n, amplitude) * np.cos(n * k * m)
                                           * np.exp(-0.5 * (n * k) ** 2))
    return 0.5 * math.log(2 * math.pi) + math.log(series)


@pytest.mark.parametrize("amplitude", [1.0, 3.0])
@pytest.mark.parametrize("k", [1.0, 3.0, 10.0, 30.0])
def test_log_z_of_oscillations(amplitude: float, k: float) -> None:
    mx, my = 0.3, -0.2

    def log_density(x, y):
        return (-0.5 * ((x - mx) ** 2 + (y - my) ** 2)
                + amplitude * (np.cos(k * x) + np.cos(k * y)))

    value, error = compute_log_z(log_density, EXTENT)
    exact = _log_z_oscillating(amplitude, k, mx) + _log_z_oscillating(amplitude, k, my)
    check(value, error, exact, max_error=1e-4)


# --------------------------------------------------------------------------------------------
# ELBO: closed forms for a Gaussian q on kinks, oscillations and peaks
# --------------------------------------------------------------------------------------------

def _expected_abs(mu: float, s: float) -> float:
    """E|y| for y ~ N(mu, s^2)."""
    return s * math.sqrt(2 / math.pi) * math.exp(-mu * mu / (2 * s * s)) \
        + mu * (1 - 2 * norm.cdf(-mu / s))


class ClosedFormTarget:
    """log p~ = -c |x|^2 - sum_i s_i |a_i . x - b_i| + sum_j A_j sin(k_j . x + phi_j): kinks
    along lines and plane waves, whose Gaussian expectations are closed forms."""

    def __init__(self, quad: float, kinks=(), waves=()) -> None:
        self.quad = quad
        self.kinks = [(np.asarray(a, float), float(b), float(s)) for a, b, s in kinks]
        self.waves = [(float(amp), np.asarray(k, float), float(ph)) for amp, k, ph in waves]

    def value_and_grad(self, x, y):
        v, gx, gy = -self.quad * (x * x + y * y), -2 * self.quad * x, -2 * self.quad * y
        for a, b, s in self.kinks:
            u = a[0] * x + a[1] * y - b
            v, gx, gy = v - s * np.abs(u), gx - s * np.sign(u) * a[0], gy - s * np.sign(u) * a[1]
        for amp, k, ph in self.waves:
            t = k[0] * x + k[1] * y + ph
            v = v + amp * np.sin(t)
            gx, gy = gx + amp * np.cos(t) * k[0], gy + amp * np.cos(t) * k[1]
        return v, gx, gy

    def target(self) -> Target:
        return Target(id="closed-form", name="closed form", description="", extent=(-4, 4, -4, 4),
                      log_z=0.0, log_z_error=0.0, log_z_method="exact",
                      log_density_fn=lambda x, y: self.value_and_grad(x, y)[0],
                      value_and_grad_fn=self.value_and_grad)

    def elbo(self, family: vi.Family, theta: np.ndarray) -> float:
        _, m, cov = family.components(theta)
        m, cov = m[0], cov[0]
        value = -self.quad * (np.trace(cov) + m @ m)
        for a, b, s in self.kinks:
            value -= s * _expected_abs(a @ m - b, math.sqrt(a @ cov @ a))
        for amp, k, ph in self.waves:
            value += amp * math.sin(k @ m + ph) * math.exp(-0.5 * k @ cov @ k)
        return float(value + family.entropy(theta))


def _random_case(rng: np.random.Generator, family: vi.Family):
    """A random q and a target with 1-2 kink lines (within 3 sd of q's mean, axis-aligned or
    oblique) and/or a plane wave, as in the calibration of vi_core.elbo._ladder_error."""
    theta = family.from_natural({
        "means": [list(rng.uniform(-1, 1, 2))],
        "scales": [list(10 ** rng.uniform(-1, 0.3, 2))],
        "correlations": [rng.uniform(-0.9, 0.9)]})
    _, m, cov = family.components(theta)
    kinks, waves = [], []
    kind = rng.integers(3)
    if kind in (0, 2):
        for _ in range(rng.integers(1, 3)):
            angle = rng.uniform(0, np.pi) if rng.random() < 0.5 else rng.choice([0, np.pi / 2])
            a = np.array([math.cos(angle), math.sin(angle)])
            offset = rng.uniform(-3, 3) * math.sqrt(a @ cov[0] @ a)
            kinks.append((a, a @ m[0] + offset, 10 ** rng.uniform(-1.5, 0.5)))
    if kind in (1, 2):
        angle = rng.uniform(0, np.pi)
        k = 10 ** rng.uniform(0, 1.2) * np.array([math.cos(angle), math.sin(angle)])
        waves.append((10 ** rng.uniform(-1.5, 0), k, rng.uniform(0, 2 * np.pi)))
    return ClosedFormTarget(0.05, kinks, waves), theta


def test_elbo_error_bounds_the_error_on_kinks_and_oscillations() -> None:
    """Gauss-Hermite converges only algebraically on kinks and its error fluctuates from rung
    to rung; the difference of the last two rungs (the old estimate) was below the true error
    in a quarter of these cases, by up to 500 times. The error model (_ladder_error, a
    heuristic calibrated on other random cases) must bound it in all of 160 fresh ones."""
    family = vi.get_family("gaussian-full")
    rng = np.random.default_rng(100)
    ratios = []
    for _ in range(160):
        cf, theta = _random_case(rng, family)
        r = elbo(cf.target(), family, theta, with_grad=False)
        ratios.append(abs(r.elbo - cf.elbo(family, theta)) / r.error)
    assert max(ratios) <= 1.0, np.sort(ratios)[-5:]


@pytest.mark.parametrize("natural", [
    {"means": [[0.0, 0.0]], "scales": [[1.0, 1.0]]},
    {"means": [[0.1, -0.3]], "scales": [[0.7, 1.2]]},
    {"means": [[0.0, 0.0]], "scales": [[0.9, 0.9]], "correlations": [0.5]},
])
def test_elbo_on_the_laplace_target(natural) -> None:
    """log p~ = -|x| - |y|, q centred on the kinks: the issue's fit reported an ELBO 2.3e-3
    below the true one with an error of 9.4e-4."""
    cf = ClosedFormTarget(0.0, [((1, 0), 0.0, 1.0), ((0, 1), 0.0, 1.0)])
    family = vi.get_family("gaussian-full")
    theta = family.from_natural(natural)
    r = elbo(cf.target(), family, theta)
    exact = cf.elbo(family, theta)
    check(r.elbo, r.error, exact, max_error=0.05)


def test_fit_on_the_laplace_target_reports_an_honest_error() -> None:
    cf = ClosedFormTarget(0.0, [((1, 0), 0.0, 1.0), ((0, 1), 0.0, 1.0)])
    family = vi.get_family("gaussian-full")
    r = vi.fit(cf.target(), family)
    exact = cf.elbo(family, np.asarray(r.theta))
    assert abs(r.elbo - exact) <= r.elbo_error, (r.elbo - exact, r.elbo_error)


@pytest.mark.parametrize("k", [1.0, 5.0, 20.0, 60.0])
@pytest.mark.parametrize("scale", [0.1, 0.5, 1.5])
def test_elbo_on_oscillations(k: float, scale: float) -> None:
    """log p~ = -|x|^2 / 2 + sin(k x + 0.3) + 0.5 sin(k y): E_q[sin(k . x + phi)] is
    sin(k . m + phi) exp(-k' Sigma k / 2). Too fast for the rules: a large, honest error."""
    cf = ClosedFormTarget(0.5, waves=[(1.0, (k, 0.0), 0.3), (0.5, (0.0, k), 0.0)])
    family = vi.get_family("gaussian-full")
    theta = family.from_natural({"means": [[0.2, -0.1]], "scales": [[scale, scale]]})
    r = elbo(cf.target(), family, theta, with_grad=False)
    assert abs(r.elbo - cf.elbo(family, theta)) <= r.error, (r.elbo - cf.elbo(family, theta),
                                                              r.error, r.order)


@pytest.mark.parametrize("a", PRECISIONS)
def test_elbo_on_gaussian_peaks(a: float) -> None:
    """log p~ = -a |x - m|^2: a quadratic, so every rule is exact, q narrow or wide."""
    cf = ClosedFormTarget(a)
    family = vi.get_family("gaussian-full")
    for scale in (1e-5, 1e-2, 1.0):
        theta = family.from_natural({"means": [[1e-3, -2e-3]], "scales": [[scale, 2 * scale]],
                                     "correlations": [0.3]})
        r = elbo(cf.target(), family, theta, with_grad=False)
        exact = cf.elbo(family, theta)
        assert abs(r.elbo - exact) <= r.error + 1e-15 * abs(exact), (r.elbo - exact, r.error)


def _nessie_reference(family: vi.Family, theta: np.ndarray) -> float:
    """E_q[log p~] + H[q] for nessie by Gauss-Legendre panels in (x, y) over mean +- 9 sd,
    split at x = 0 where nessie's ridge bends (its log density has a kink in the second
    derivative there): 80 panels of 20 nodes on each side, 160 in y."""
    _, m, cov = family.components(theta)
    m, cov = m[0], cov[0]
    sx, sy = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
    t, w = leggauss(20)

    def panels(lo: float, hi: float, n: int):
        edges = np.linspace(lo, hi, n + 1)
        mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
        return (mid[:, None] + half[:, None] * t).ravel(), (half[:, None] * w).ravel()

    xl, wl = panels(min(m[0] - 9 * sx, 0.0), 0.0, 80)
    xr, wr = panels(0.0, max(m[0] + 9 * sx, 0.0), 80)
    xs, wx = np.concatenate([xl, xr]), np.concatenate([wl, wr])
    ys, wy = panels(m[1] - 9 * sy, m[1] + 9 * sy, 160)
    xx, yy = np.meshgrid(xs, ys, indexing="ij")
    d = np.stack([xx - m[0], yy - m[1]], axis=-1)
    q = np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d)) \
        / (2 * math.pi * math.sqrt(np.linalg.det(cov)))
    logp = vi.get_target("nessie").log_density(xx, yy)
    logp = np.where(q > 0, logp, 0.0)
    return float(np.einsum("i,j,ij->", wx, wy, q * logp) + family.entropy(theta))


def test_nessie_gaussian_full_error_bounds_a_reference() -> None:
    """nessie x gaussian-full at the optimum: the reported error (6.6e-7) was ~7 times below
    the true error (4.8e-6) of the accepted rule."""
    t, family = vi.get_target("nessie"), vi.get_family("gaussian-full")
    for theta in (np.asarray(vi.fit(t, family).theta), reset_theta(t, family)):
        r = elbo(t, family, theta, with_grad=False)
        ref = _nessie_reference(family, theta)
        assert abs(r.elbo - ref) <= r.error, (r.elbo - ref, r.error, r.order)
        assert r.error < 1e-4
