"""Tests of vi_core.targets, vi_core.custom_target and vi_core.log_z.

Stored log Z constants are recomputed here by methods independent of the library's
(specialised reductions, Gauss-Legendre in other coordinates, scipy's QUADPACK), and the
reference targets are checked against their pixel-unit formulas written out directly.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
from numpy.polynomial.legendre import leggauss
from scipy import integrate

from vi_core.custom_target import target_from_source
from vi_core.errors import TargetError
from vi_core.log_z import compute_log_z
from vi_core.target import Target
from vi_core.targets import get_target, target_ids

REFERENCE_IDS = ["banana", "bimodal", "nessie", "mickie", "ring", "funnel"]
LITERATURE_IDS = ["correlated-gaussian", "student-t", "gaussian-ring", "energy-u1",
                  "neal-funnel", "normal-posterior", "logistic-regression"]
ALL_IDS = target_ids()
LOG_100 = math.log(100.0)


def _points_in_extent(target: Target, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xmin, xmax, ymin, ymax = target.extent
    return rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n)


def _fd_grad(f, x, y, hx, hy):
    """Fourth-order central differences: error O(h⁴), so rounding dominates at ~1e-10."""
    gx = (8 * (f(x + hx, y) - f(x - hx, y)) - (f(x + 2 * hx, y) - f(x - 2 * hx, y))) / (12 * hx)
    gy = (8 * (f(x, y + hy) - f(x, y - hy)) - (f(x, y + 2 * hy) - f(x, y - 2 * hy))) / (12 * hy)
    return gx, gy


def _log_trapz2(logf, x, wx, y, wy) -> float:
    values = logf(x[:, None], y[None, :])
    top = np.max(values)
    return float(top + math.log(np.sum(np.exp(values - top) * wx[:, None] * wy[None, :])))


def _gauss_legendre(a: float, b: float, panels: int, order: int = 40):
    t, w = leggauss(order)
    edges = np.linspace(a, b, panels + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    return (0.5 * (lo + hi) + 0.5 * (hi - lo) * t).ravel(), (0.5 * (hi - lo) * w).ravel()


# ---------------------------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------------------------


def test_ids_in_display_order():
    assert ALL_IDS[:6] == REFERENCE_IDS
    assert set(LITERATURE_IDS) <= set(ALL_IDS)
    assert len(set(ALL_IDS)) == len(ALL_IDS)


def test_unknown_target_names_the_choices():
    with pytest.raises(TargetError, match=r"^Unknown target 'nope'; choose one of: banana, "):
        get_target("nope")


@pytest.mark.parametrize("tid", ALL_IDS)
def test_metadata(tid):
    t = get_target(tid)
    assert t.id == tid and t.name and len(t.description) > 80 and "\n" not in t.description
    xmin, xmax, ymin, ymax = t.extent
    assert all(isinstance(v, float) for v in t.extent) and xmin < xmax and ymin < ymax
    assert t.log_z_method in ("exact", "quadrature")
    assert math.isfinite(t.log_z)
    assert (t.log_z_error == 0.0) == (t.log_z_method == "exact")
    assert 0.0 <= t.log_z_error < 1e-6
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.log_z = 0.0  # type: ignore[misc]
    if tid in REFERENCE_IDS:
        assert t.extent == (-2.0, 2.0, -1.5, 1.5)


# ---------------------------------------------------------------------------------------------
# Evaluation: broadcasting, finiteness, gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tid", ALL_IDS)
def test_broadcasting(tid):
    t = get_target(tid)
    xs, ys = _points_in_extent(t, 12, 1)
    scalar = t.log_density(float(xs[0]), float(ys[0]))
    assert isinstance(scalar, np.ndarray) and scalar.shape == ()
    flat = t.log_density(xs, ys)
    assert flat.shape == (12,)
    np.testing.assert_allclose(flat, [t.log_density(a, b) for a, b in zip(xs, ys, strict=True)],
                               rtol=1e-13, atol=1e-13)
    grid = t.log_density(xs[None, :4], ys[:3, None])
    assert grid.shape == (3, 4)
    np.testing.assert_allclose(grid[1, 2], t.log_density(xs[2], ys[1]), rtol=1e-13)
    assert t.log_density([xs[0]], ys[0]).shape == (1,)
    for shape_in, (x, y) in {(): (xs[0], ys[0]), (3, 4): (xs[None, :4], ys[:3, None])}.items():
        value, gx, gy = t.value_and_grad(x, y)
        assert value.shape == gx.shape == gy.shape == shape_in
        gx2, gy2 = t.grad_log_density(x, y)
        assert gx2.shape == gy2.shape == shape_in


@pytest.mark.parametrize("tid", ALL_IDS)
def test_finite_on_extent(tid):
    t = get_target(tid)
    xmin, xmax, ymin, ymax = t.extent
    x, y = np.meshgrid(np.linspace(xmin, xmax, 81), np.linspace(ymin, ymax, 61))
    value, gx, gy = t.value_and_grad(x, y)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(gx)) and np.all(np.isfinite(gy))
    # The plot must show something: the density varies by more than a little over the extent.
    assert np.ptp(value) > 2.0


@pytest.mark.parametrize("tid", ALL_IDS)
def test_gradient_matches_finite_differences(tid):
    t = get_target(tid)
    x, y = _points_in_extent(t, 200, 2)
    hx = 1e-4 * (t.extent[1] - t.extent[0])
    hy = 1e-4 * (t.extent[3] - t.extent[2])
    fx, fy = _fd_grad(t.log_density, x, y, hx, hy)
    gx, gy = t.grad_log_density(x, y)
    for g, f in ((gx, fx), (gy, fy)):
        scale = np.max(np.abs(f))
        np.testing.assert_allclose(g, f, rtol=1e-6, atol=1e-7 * scale)


@pytest.mark.parametrize("tid", ALL_IDS)
def test_value_and_grad_consistent(tid):
    t = get_target(tid)
    x, y = _points_in_extent(t, 50, 3)
    value, gx, gy = t.value_and_grad(x, y)
    np.testing.assert_allclose(value, t.log_density(x, y), rtol=1e-14, atol=1e-14)
    gx2, gy2 = t.grad_log_density(x, y)
    np.testing.assert_array_equal(gx, gx2)
    np.testing.assert_array_equal(gy, gy2)


@pytest.mark.parametrize("tid", ALL_IDS)
def test_far_away_is_not_nan(tid):
    t = get_target(tid)
    far = np.array([-1e6, -1e3, -60.0, -20.0, 0.0, 20.0, 60.0, 1e3, 1e6])
    x, y = np.meshgrid(far, far)
    value, gx, gy = t.value_and_grad(x, y)
    assert not np.any(np.isnan(value)) and not np.any(value == np.inf)
    finite = np.isfinite(value)
    assert np.all(np.isfinite(gx[finite])) and np.all(np.isfinite(gy[finite]))
    assert np.all(gx[~finite] == 0.0) and np.all(gy[~finite] == 0.0)


def test_inputs_are_not_modified():
    x = np.array([0.1, 0.2])
    y = np.array([0.3, -0.4])
    for tid in ALL_IDS:
        get_target(tid).value_and_grad(x, y)
    np.testing.assert_array_equal(x, [0.1, 0.2])
    np.testing.assert_array_equal(y, [0.3, -0.4])


# ---------------------------------------------------------------------------------------------
# The reference targets are the pixel-unit formulas under the tidy map
# ---------------------------------------------------------------------------------------------


def _n2(x, y, mx, my, vx, vy, rho):
    dx, dy = (x - mx) / np.sqrt(vx), (y - my) / np.sqrt(vy)
    q = (dx**2 - 2 * rho * dx * dy + dy**2) / (1 - rho**2)
    return -0.5 * q - np.log(2 * np.pi * np.sqrt(vx * vy * (1 - rho**2)))


def _pixel_banana(x, y):
    c = 150 + 0.5 * ((x - 200) / 100) ** 2 * 100
    dx, dy, v = x - 200, y - c, 2500.0
    return -(dx**2 + 4 * dy**2) / (2 * v) - np.log(2 * np.pi * v)


def _pixel_bimodal(x, y):
    return np.logaddexp(np.log(0.75) + _n2(x, y, 120, 150, 2000, 2000, 0),
                        np.log(0.25) + _n2(x, y, 280, 220, 900, 900, 0))


def _pixel_mickie(x, y):
    parts = [_n2(x, y, mx, my, 1500, 1500, 0) for mx, my in ((150, 150), (250, 150), (200, 220))]
    return np.log(sum(np.exp(p) for p in parts) / 3)


def _pixel_nessie(x, y):
    dx = x - 200
    c = 100 + 100 * np.where(dx < 0, 0.8 * (dx / 100) ** 2, 0.3 * (dx / 100) ** 2)
    dy = y - c
    v = 2500 * (1 + np.tanh(-dx / 100)) * (1 + 0.5 * np.sin(dy / 50))
    s = 0.3 * np.exp(-((dx / 100) ** 2)) * dy**2 / v
    return -(dx**2 + 4 * dy**2 + s) / (2 * v) - np.log(2 * np.pi * np.sqrt(v))


def _pixel_ring(x, y):
    d = np.hypot(x - 220, y - 180)
    return -((d - 80) ** 2) / (2 * 100) - 0.5 * np.log(2 * np.pi * 100)


def _pixel_funnel(x, y):
    return _n2(x, y, 200, 150, 2500, 2000 * np.exp(0.025 * (x - 200)), 0)


PIXEL = {"banana": _pixel_banana, "bimodal": _pixel_bimodal, "nessie": _pixel_nessie,
         "mickie": _pixel_mickie, "ring": _pixel_ring, "funnel": _pixel_funnel}


@pytest.mark.parametrize("tid", REFERENCE_IDS)
def test_reference_targets_match_pixel_formulas(tid):
    rng = np.random.default_rng(4)
    px, py = rng.uniform(0, 400, 300), rng.uniform(0, 300, 300)
    expected = PIXEL[tid](px, py) + 2 * LOG_100
    got = get_target(tid).log_density((px - 200) / 100, (py - 150) / 100)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-11)


# ---------------------------------------------------------------------------------------------
# log Z
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tid", ALL_IDS)
def test_log_z_matches_adaptive_quadrature(tid):
    """Closed forms and stored constants against compute_log_z over the whole plane."""
    t = get_target(tid)
    log_z, error = compute_log_z(t.log_density, t.extent)
    assert error < 1e-5
    assert abs(log_z - t.log_z) < 1e-4
    # Neal's funnel has mass in a neck narrower than the cubature's cells (y < -12); all
    # others agree far better than the 1e-4 required.
    assert abs(log_z - t.log_z) < (1e-5 if tid == "neal-funnel" else 1e-8)


def _nessie_log_z_reference() -> float:
    """Pixel formula, integrated over (X, Y - c(X)) (a shear, Jacobian 1), where the density is
    smooth and compact: Gauss-Legendre on a box well beyond the mass."""
    def sheared(x, d):
        dx = x - 200
        c = 100 + 100 * np.where(dx < 0, 0.8 * (dx / 100) ** 2, 0.3 * (dx / 100) ** 2)
        with np.errstate(all="ignore"):
            return _pixel_nessie(x, c + d)

    x, wx = _gauss_legendre(-800.0, 800.0, 40)
    d, wd = _gauss_legendre(-600.0, 600.0, 40)
    return _log_trapz2(sheared, x, wx, d, wd)


def _energy_u1_log_z_reference() -> float:
    """Polar coordinates: Gauss-Legendre in r, the trapezoid rule (spectral for periodic
    integrands) in θ."""
    r, wr = _gauss_legendre(0.0, 9.0, 20)
    n = 512
    theta = np.arange(n) * 2 * np.pi / n
    z1 = r[:, None] * np.cos(theta)[None, :]
    logf = -0.5 * ((r[:, None] - 2) / 0.4) ** 2 + np.logaddexp(
        -0.5 * ((z1 - 2) / 0.6) ** 2, -0.5 * ((z1 + 2) / 0.6) ** 2)
    top = np.max(logf)
    return float(top + math.log(np.sum(np.exp(logf - top) * (r * wr)[:, None]) * 2 * np.pi / n))


def _normal_posterior_log_z_reference() -> float:
    """Integrate μ out analytically (Gaussian in μ), then QUADPACK over s = log σ."""
    data = np.array([0.3, 1.9, 0.8, 2.4, 1.1, -0.2, 1.4])
    n, mean = len(data), float(np.mean(data))
    ss = float(np.sum((data - mean) ** 2))
    tau, omega = 5.0, 2.0

    def log_marginal(s: float) -> float:
        var = math.exp(2 * s)
        # ∫ Π N(y_i; μ, σ²) N(μ; 0, τ²) dμ = (2πσ²)^{-n/2} e^{-SS/2σ²} √(2πσ²/n) N(ȳ; 0, τ²+σ²/n)
        return (-0.5 * n * math.log(2 * math.pi * var) - ss / (2 * var)
                + 0.5 * math.log(2 * math.pi * var / n)
                - 0.5 * math.log(2 * math.pi * (tau**2 + var / n))
                - mean**2 / (2 * (tau**2 + var / n))
                - 0.5 * math.log(2 * math.pi * omega**2) - s**2 / (2 * omega**2))

    shift = max(log_marginal(s) for s in np.linspace(-3, 3, 61))
    value, _ = integrate.quad(lambda s: math.exp(log_marginal(s) - shift), -30, 30,
                              points=[-1.0, 0.0, 1.0], epsabs=0, epsrel=1e-13, limit=200)
    return shift + math.log(value)


def _logistic_log_z_reference() -> float:
    """Gauss-Legendre on a box ~8 posterior sds and ~5 prior sds beyond the mass."""
    u = 0.25 * np.arange(20)
    sign = 2.0 * np.array([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1]) - 1

    def logf(w0, w1):
        w0, w1 = np.broadcast_arrays(w0, w1)
        z = (w0[..., None] + w1[..., None] * u) * sign
        return (-np.logaddexp(0, -z).sum(-1) - 0.5 * (w0**2 + w1**2) / 4
                - math.log(2 * math.pi * 4))

    w0, ww0 = _gauss_legendre(-14.0, 10.0, 12)
    w1, ww1 = _gauss_legendre(-8.0, 10.0, 12)
    return _log_trapz2(logf, w0, ww0, w1, ww1)


@pytest.mark.parametrize("tid, reference", [
    ("nessie", _nessie_log_z_reference),
    ("energy-u1", _energy_u1_log_z_reference),
    ("normal-posterior", _normal_posterior_log_z_reference),
    ("logistic-regression", _logistic_log_z_reference),
])
def test_stored_quadrature_constants(tid, reference):
    t = get_target(tid)
    assert t.log_z_method == "quadrature"
    assert abs(reference() - t.log_z) <= t.log_z_error


def test_closed_forms_by_scipy_quadrature():
    # Ring: radial integral of the pixel formula (Z in pixel units = Z in tidy units).
    radial, _ = integrate.quad(
        lambda d: 2 * np.pi * d * np.exp(_pixel_ring(220 + d, 180)), 0, np.inf,
        epsabs=0, epsrel=1e-12, limit=200)
    assert abs(math.log(radial) - get_target("ring").log_z) < 1e-10
    # Student-t: radial integral out to infinity of the polynomial tail.
    radial, _ = integrate.quad(lambda r: 2 * np.pi * r * (1 + r * r / 3) ** -2.5, 0, np.inf,
                               epsabs=0, epsrel=1e-12, limit=200)
    assert abs(math.log(radial) - get_target("student-t").log_z) < 1e-10
    # Banana, pixel units: Gaussian in (X, Y - c(X)).
    banana, _ = integrate.dblquad(lambda d, x: math.exp(_pixel_banana(x, d + 150 + 50 * ((x - 200)
                                  / 100) ** 2)), -np.inf, np.inf, -np.inf, np.inf,
                                  epsabs=0, epsrel=1e-9)
    assert abs(math.log(banana) - get_target("banana").log_z) < 1e-8
    # Neal's funnel: QUADPACK over x within 12 conditional sds, Gauss-Legendre over y.
    neal = get_target("neal-funnel")

    def inner(y: float) -> float:
        half = 12 * math.exp(y / 2)
        return integrate.quad(lambda x: math.exp(float(neal.log_density(x, y))), -half, half,
                              epsabs=0, epsrel=1e-11)[0]

    y, wy = _gauss_legendre(-30.0, 30.0, 6, order=20)
    assert abs(math.log(sum(inner(v) * w for v, w in zip(y, wy, strict=True))) - neal.log_z) < 1e-8


def test_correlated_gaussian_closed_form():
    t = get_target("correlated-gaussian")
    # log p~ = -½ (z-m)ᵀ Σ⁻¹ (z-m): Z = 2π √det Σ.
    cov = np.array([[1.0, 0.9 * 0.6], [0.9 * 0.6, 0.36]])
    assert t.log_density(0.5, 0.25) == pytest.approx(0.0, abs=1e-14)
    assert t.log_z == pytest.approx(math.log(2 * math.pi * math.sqrt(np.linalg.det(cov))), 1e-14)
    z = np.array([1.1, -0.4]) - [0.5, 0.25]
    assert t.log_density(1.1, -0.4) == pytest.approx(-0.5 * z @ np.linalg.solve(cov, z), 1e-12)


def test_compute_log_z_scale_and_shift_invariance():
    def gauss(x, y):
        return -0.5 * ((x - 1) ** 2 / 0.04 + (y + 2) ** 2 / 9)

    exact = math.log(2 * math.pi * 0.2 * 3)
    for const in (-800.0, 0.0, 800.0):
        log_z, error = compute_log_z(lambda x, y, c=const: gauss(x, y) + c, (-3, 3, -3, 3))
        assert abs(log_z - exact - const) < 1e-9
        assert error < 1e-6


def test_compute_log_z_rejects_bad_input():
    with pytest.raises(TargetError, match="did not converge"):
        compute_log_z(lambda x, y: -np.log1p(x**2 + y**2), (-3, 3, -3, 3))
    with pytest.raises(TargetError, match="xmin < xmax"):
        compute_log_z(lambda x, y: -(x**2) - y**2, (1, 0, 0, 1))
    with pytest.raises(TargetError, match=r"NaN at \(x, y\)"):
        compute_log_z(lambda x, y: -(x**2) - y**2 + np.log(x + 5), (-3, 3, -3, 3))
    with pytest.raises(TargetError, match="-inf everywhere"):
        compute_log_z(lambda x, y: np.full_like(x, -np.inf), (-3, 3, -3, 3))


# ---------------------------------------------------------------------------------------------
# Custom targets
# ---------------------------------------------------------------------------------------------

GAUSSIAN_SOURCE = """
extent = (-4, 6, -3, 3)

def log_density(x, y):
    # N((1, 0), diag(2², 0.8²)), unnormalised, plus 3
    return -0.5 * ((x - 1) ** 2 / 4 + y ** 2 / 0.64) + 3
"""


def test_custom_gaussian_recovers_log_z_and_gradient():
    start = time.perf_counter()
    t = target_from_source(GAUSSIAN_SOURCE, target_id="mine", name="Mine")
    assert time.perf_counter() - start < 2.0
    assert (t.id, t.name, t.extent, t.log_z_method) == ("mine", "Mine", (-4.0, 6.0, -3.0, 3.0),
                                                        "quadrature")
    assert abs(t.log_z - (3 + math.log(2 * math.pi * 2 * 0.8))) < 1e-8
    assert 0 < t.log_z_error < 1e-6
    assert "complex-step" in t.description
    x, y = _points_in_extent(t, 40, 5)
    value, gx, gy = t.value_and_grad(x, y)
    np.testing.assert_allclose(value, -0.5 * ((x - 1) ** 2 / 4 + y**2 / 0.64) + 3, rtol=1e-14)
    np.testing.assert_allclose(gx, -(x - 1) / 4, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gy, -y / 0.64, rtol=1e-12, atol=1e-14)
    assert t.log_density(1.0, 0.0).shape == ()
    assert t.log_density(x[None, :5], y[:3, None]).shape == (3, 5)


def test_custom_without_complex_support_uses_central_differences():
    # logaddexp has no complex loop; abs is not complex-analytic (its complex step is wrong).
    source = """
import numpy as np
def log_density(x, y):
    a = -0.5 * ((x - 1) ** 2 + y ** 2) / 0.3
    b = -0.5 * ((x + 1) ** 2 + y ** 2) / 0.3
    return np.logaddexp(a, b) - 0.1 * np.abs(y - 5)
"""
    t = target_from_source(source)
    assert t.extent == (-3.0, 3.0, -3.0, 3.0)
    assert "central differences" in t.description
    x, y = _points_in_extent(t, 60, 6)
    a = -0.5 * ((x - 1) ** 2 + y**2) / 0.3
    b = -0.5 * ((x + 1) ** 2 + y**2) / 0.3
    ra = 1 / (1 + np.exp(b - a))
    gx = ra * (-(x - 1) / 0.3) + (1 - ra) * (-(x + 1) / 0.3)
    gy = -y / 0.3 + 0.1
    got_x, got_y = t.grad_log_density(x, y)
    np.testing.assert_allclose(got_x, gx, rtol=1e-6, atol=1e-7 * np.max(np.abs(gx)))
    np.testing.assert_allclose(got_y, gy, rtol=1e-6, atol=1e-7 * np.max(np.abs(gy)))
    exact = math.log(2 * 2 * math.pi * 0.3) - 0.5  # mass near y=0, where -0.1|y-5| ≈ -0.5 + 0.1y
    assert abs(t.log_z - (exact + 0.5 * 0.01 * 0.3)) < 1e-6  # E[e^{0.1 y}] = e^{0.01·0.3/2}


def test_custom_abs_is_not_complex_stepped():
    t = target_from_source("def log_density(x, y):\n    return -np.abs(x) - np.abs(y)\n")
    assert "central differences" in t.description
    gx, gy = t.grad_log_density([1.3, -0.7], [-2.1, 0.4])
    np.testing.assert_allclose(gx, [-1, 1], rtol=1e-9)
    np.testing.assert_allclose(gy, [1, -1], rtol=1e-9)
    assert abs(t.log_z - math.log(4.0)) < 1e-8


def test_custom_zero_density_regions_allowed():
    source = "extent = [-2, 2, -2, 2]\ndef log_density(x, y):\n" \
             "    return np.where(x**2 + y**2 < 1, -0.5 * (x**2 + y**2), -np.inf)\n"
    t = target_from_source(source)
    exact = math.log(2 * math.pi * (1 - math.exp(-0.5)))  # ∫_0^1 2π r e^{-r²/2} dr
    assert abs(t.log_z - exact) < 1e-4
    value, gx, gy = t.value_and_grad([0.5, 1.5], [0.0, 0.0])
    assert value[1] == -np.inf and gx[1] == 0.0 and gy[1] == 0.0
    assert gx[0] == pytest.approx(-0.5, rel=1e-9)


def test_custom_student_t_heavy_tails():
    source = "extent = (-5, 5, -4, 4)\ndef log_density(x, y):\n" \
             "    return -2.5 * np.log1p((x * x + y * y) / 3)\n"
    assert abs(target_from_source(source).log_z - math.log(2 * math.pi)) < 1e-6


BAD_SOURCES = [
    ("def log_density(x, y)\n    return x\n", r"^Syntax error on line 1: "),
    ("def log_density(x, y):\nreturn -x*x\n", r"^Syntax error on line 2: expected an indented"),
    ("x = 1\n", r"^The source must define a function log_density\(x, y\)$"),
    ("log_density = 3\n", r"^log_density must be a function log_density\(x, y\), got int$"),
    ("a = 1 / 0\n", r"^Running the source raised ZeroDivisionError: division by zero \(line 1\)$"),
    ("def log_density(x, y):\n    return -x*x - y*y + undefined\n",
     r"^log_density\(x, y\) raised NameError: name 'undefined' is not defined \(line 2\)$"),
    ("def log_density(x, y):\n    return -math.exp(x)\n",
     r"raised TypeError: .*use np\.\* functions \(not math\.\*\)"),
    ("def log_density(x, y):\n    return 0.0\n",
     r"^log_density returned shape \(\) for x and y of shape \(81, 81\); it must return one"),
    ("def log_density(x, y):\n    return (-x*x - y*y)[:, :3]\n", r"returned shape \(81, 3\)"),
    ("def log_density(x, y):\n    return 1j * x\n", r"must return real numbers"),
    ("def log_density(x, y):\n    return np.log(x) - x*x - y*y\n",
     r"^log_density returned NaN at \(x, y\) = \(-3, -3\); check for log or sqrt of negative"),
    ("def log_density(x, y):\n    return np.where(x > 1, np.inf, -x*x - y*y)\n",
     r"^log_density returned \+inf at \(x, y\) = \(1\.05, -3\)"),
    ("def log_density(x, y):\n    return np.full_like(x, -np.inf)\n",
     r"^log_density is -inf everywhere on the extent"),
    ("extent = (1, 0, 0, 1)\ndef log_density(x, y):\n    return -x*x\n",
     r"^extent must have xmin < xmax and ymin < ymax"),
    ("extent = (0, float('nan'), 0, 1)\ndef log_density(x, y):\n    return -x*x\n",
     r"^extent must be finite numbers"),
    ("extent = (0, 1, 2)\ndef log_density(x, y):\n    return -x*x\n",
     r"^extent must be four numbers \(xmin, xmax, ymin, ymax\), got 3$"),
    ("extent = 'wide'\ndef log_density(x, y):\n    return -x*x\n", r"^extent must be four numbers"),
    ("def log_density(x, y):\n    return -0.5 * x * x\n",
     r"^The density does not fall off inside the extent: .* widen the extent"),
    ("def log_density(x, y):\n    return -0.5 * ((x - 3) ** 2 + y * y)\n",
     r"does not fall off inside the extent"),
    ("def log_density(x, y):\n    return -np.log1p(x * x + y * y)\n",
     r"^log Z did not converge .*: the density must be normalisable"),
    ("def log_density(x, y):\n    return np.where(x*x + y*y < 99, -x*x - y*y, np.log(x))\n",
     r"returned NaN at \(x, y\) = .* while integrating over the plane"),
]


@pytest.mark.parametrize("source, message", BAD_SOURCES)
def test_custom_bad_sources(source, message):
    with pytest.raises(TargetError, match=message) as info:
        target_from_source(source)
    assert "\n" not in str(info.value)


def test_custom_source_must_be_text():
    with pytest.raises(TargetError, match="must be text"):
        target_from_source(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("extent", ["(-3, 3, -3000, 3000)", "(-3000, 3000, -3, 3)",
                                    "(-1.7e308, 1.7e308, -1, 1)"])
def test_custom_extent_the_plot_cannot_draw_is_refused(extent):
    """x and y share one scale on the plot: a sliver of an extent is refused, with a reason."""
    source = f"extent = {extent}\ndef log_density(x, y):\n    return -0.5 * (x**2 + y**2)\n"
    with pytest.raises(TargetError, match="extent"):
        target_from_source(source)


def test_custom_extent_within_the_aspect_limit_is_kept():
    source = "extent = (-10, 10, -2, 2)\ndef log_density(x, y):\n    return -0.5 * (x**2 + y**2)\n"
    assert target_from_source(source).extent == (-10.0, 10.0, -2.0, 2.0)
