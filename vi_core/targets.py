"""Target densities p~(x, y): unnormalised 2D log densities with analytic gradients and log Z.

A target is what variational inference approximates. Each ``Target`` carries the log of an
unnormalised density ``log p~(x, y)``, its gradient, a plot extent, and

    log Z = log ∫∫_{R²} p~(x, y) dx dy        (over the whole plane, not just the extent),

so that ``KL(q || p) = log Z - ELBO(q)`` can be shown exactly.

Reference targets and the tidy-unit map
---------------------------------------
The first six targets (banana, bimodal, nessie, mickie, ring, funnel) come from a JavaScript
demo that defines them in pixel coordinates X in [0, 400], Y in [0, 300]. Here they live in
tidy units ``x = (X - 200) / 100``, ``y = (Y - 150) / 100`` (so their extent is
(-2, 2, -1.5, 1.5)), and their log densities carry the Jacobian term ``2 log 100``:

    log p~_tidy(x, y) = log p~_pixel(200 + 100 x, 150 + 100 y) + 2 log 100.

Then ``Z_tidy = Z_pixel`` exactly, and since the map is a shift plus one common scale it maps
every Gaussian (and Gaussian-mixture) family onto itself, so the best KL of every family, and
the KL of every q and its image, is unchanged.

log Z
-----
Every built-in log Z is a stored constant, so looking a target up is instant (also in the
browser): closed forms where they exist (``log_z_method == "exact"``, ``log_z_error == 0``),
otherwise values precomputed by quadrature (``"quadrature"``) with an error bound from the
agreement of two independent methods (see tests/unit/test_targets.py, which recomputes them).
Custom targets (``vi_core.custom_target.target_from_source``) get log Z from ``compute_log_z``
(vi_core.log_z).

Gradients where ``log p~ = -inf`` (zero density, or underflow far out) are reported as 0: there
is no slope to follow there, and 0 keeps downstream arithmetic free of NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vi_core._numeric import logsumexp_softmax
from vi_core.errors import TargetError
from vi_core.log_z import compute_log_z
from vi_core.target import Array, LogDensity, Target, ValueAndGrad

__all__ = ["DATA_SPECS", "DataSpec", "get_target", "logistic_regression", "normal_posterior",
           "target_ids", "with_data"]

LOG_2PI = math.log(2.0 * math.pi)
LOG_100 = math.log(100.0)
REFERENCE_EXTENT = (-2.0, 2.0, -1.5, 1.5)


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def _gaussian_vg(
    mx: float, my: float, sx: float, sy: float, rho: float = 0.0, const: float = 0.0
) -> ValueAndGrad:
    """log N2((x, y); (mx, my), [[sx², ρ sx sy], [ρ sx sy, sy²]]) + const, with its gradient."""
    norm = const - LOG_2PI - math.log(sx * sy * math.sqrt(1.0 - rho * rho))
    k = 1.0 / (1.0 - rho * rho)

    def vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
        a = (x - mx) / sx
        b = (y - my) / sy
        value = norm - 0.5 * k * (a * a - 2.0 * rho * a * b + b * b)
        return value, -k * (a - rho * b) / sx, -k * (b - rho * a) / sy

    return vg


def _mixture_vg(log_weights: list[float], components: list[ValueAndGrad]) -> ValueAndGrad:
    """log Σ_k w_k exp(c_k(x, y)), gradient Σ_k r_k ∇c_k with responsibilities r_k."""

    def vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
        parts = [c(x, y) for c in components]
        logs = np.stack([lw + p[0] for lw, p in zip(log_weights, parts, strict=True)])
        value, r = logsumexp_softmax(logs, axis=0)
        gx = sum(r[i] * p[1] for i, p in enumerate(parts))
        gy = sum(r[i] * p[2] for i, p in enumerate(parts))
        return value, gx, gy

    return vg


def _value_only(vg: ValueAndGrad) -> LogDensity:
    return lambda x, y: vg(x, y)[0]


def _log_sigmoid(z: Array) -> Array:
    """log σ(z) = -log(1 + e^{-z}), without overflow."""
    out: Array = -np.logaddexp(0.0, -z)
    return out


def _sigmoid(z: Array) -> Array:
    """σ(z) = 1 / (1 + e^{-z}), without overflow."""
    return np.exp(_log_sigmoid(z))


# --------------------------------------------------------------------------------------------
# The six reference targets, in tidy units (module docstring). Pixel formulas are quoted so
# that tests can check the map.
# --------------------------------------------------------------------------------------------


def _banana_vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Pixel: -(dX² + 4 dY²)/(2·2500) - log(2π·2500), dX = X-200, dY = Y-150-50((X-200)/100)².

    Tidy: -2x² - 8(y - x²/2)² - log(π/2), a Gaussian in (x, y - x²/2): Z = 1/2.
    """
    w = y - 0.5 * x * x
    gy = -16.0 * w
    return -2.0 * x * x - 8.0 * w * w - math.log(0.5 * math.pi), -4.0 * x - gy * x, gy


# Pixel N2(X, Y; 120, 150, 2000, 2000, 0) and N2(X, Y; 280, 220, 900, 900, 0): tidy means
# shift by (200, 150) and scale by 1/100, variances by 1/100².
_bimodal_vg = _mixture_vg(
    [math.log(0.75), math.log(0.25)],
    [_gaussian_vg(-0.8, 0.0, math.sqrt(0.2), math.sqrt(0.2)),
     _gaussian_vg(0.8, 0.7, 0.3, 0.3)],
)

# Pixel: equal mixture of N2 with variance 1500 at (150, 150), (250, 150), (200, 220).
_mickie_vg = _mixture_vg(
    [-math.log(3.0)] * 3,
    [_gaussian_vg(mx, my, math.sqrt(0.15), math.sqrt(0.15))
     for mx, my in ((-0.5, 0.0), (0.5, 0.0), (0.0, 0.7))],
)


def _nessie_vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Pixel (dX = X-200, c = 100 + 100 k (dX/100)², k = 0.8 if dX < 0 else 0.3, dY = Y-c):
    V = 2500 (1 + tanh(-dX/100)) (1 + ½ sin(dY/50)), S = 0.3 e^{-(dX/100)²} dY²/V,
    log p~ = -(dX² + 4 dY² + S)/(2V) - log(2π √V).

    Tidy, with w = y + 1/2 - k x² (= dY/100) and v = V/100² = ¼ (1 - tanh x)(1 + ½ sin 2w):
    log p~ = -(x² + 4w²)/(2v) - 1.5e-5 e^{-x²} w²/v² - ½ log v - log 2π + log 100.
    v -> 0 like e^{-2x} as x -> +inf, so p~ vanishes super-exponentially there; 1 - tanh x is
    taken as 2/(1 + e^{2x}) in logs, so nothing overflows before log p~ itself is -inf
    (x > ~350). In (x, w) the density is smooth; the kink of k at x = 0 only bends the ridge.
    """
    k = np.where(x < 0.0, 0.8, 0.3)
    w = y + 0.5 - k * x * x
    b = 1.0 + 0.5 * np.sin(2.0 * w)
    log_v = math.log(0.5) - np.logaddexp(0.0, 2.0 * x) + np.log(b)  # ¼·(1-tanh x)·b
    inv_v = np.exp(-log_v)
    a_sq = x * x + 4.0 * w * w
    e2 = np.exp(-x * x - 2.0 * log_v)  # e^{-x²}/v², bounded: the exponent peaks near x = 2
    value = -0.5 * a_sq * inv_v - 1.5e-5 * w * w * e2 - 0.5 * log_v - LOG_2PI + LOG_100
    g = 1.0 + np.tanh(x)  # -∂ log v/∂x
    h = np.cos(2.0 * w) / b  # ∂ log v/∂w
    d_x = -x * inv_v - 0.5 * a_sq * g * inv_v - 3e-5 * w * w * e2 * (g - x) + 0.5 * g
    d_w = -4.0 * w * inv_v + 0.5 * a_sq * h * inv_v - 3e-5 * w * e2 * (1.0 - w * h) - 0.5 * h
    return value, d_x - 2.0 * k * x * d_w, d_w


_RING_CENTRE = (0.2, 0.3)  # pixel (220, 180)
_RING_RADIUS, _RING_SD = 0.8, 0.1  # pixel 80 and 10
_RING_CONST = -0.5 * LOG_2PI - math.log(10.0) + 2.0 * LOG_100  # pixel -½ log(2π·100), + 2 log 100


def _ring_vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Pixel: d = |(X, Y) - (220, 180)|, log p~ = -(d - 80)²/(2·100) - ½ log(2π·100).

    Tidy: r = |(x, y) - (0.2, 0.3)|, log p~ = -(r - 0.8)²/(2·0.1²) - ½ log 2π + 3 log 10.
    The centre is a cone point (not differentiable); its gradient is reported as 0.
    """
    dx, dy = x - _RING_CENTRE[0], y - _RING_CENTRE[1]
    r = np.hypot(dx, dy)
    z = (r - _RING_RADIUS) / _RING_SD
    slope = -z / _RING_SD / np.where(r > 0.0, r, 1.0)
    slope = np.where(r > 0.0, slope, 0.0)
    return _RING_CONST - 0.5 * z * z, slope * dx, slope * dy


def _ring_log_z() -> float:
    """Z = e^c ∫_0^∞ 2π r exp(-(r-μ)²/(2s²)) dr
    = e^c 2π [s² e^{-μ²/(2s²)} + μ s √(2π) Φ(μ/s)]  (c = the constant in log p~)."""
    mu, s = _RING_RADIUS, _RING_SD
    phi = 1.0 - 0.5 * math.erfc(mu / s / math.sqrt(2.0))
    radial = s * s * math.exp(-0.5 * (mu / s) ** 2) + mu * s * math.sqrt(2.0 * math.pi) * phi
    return _RING_CONST + math.log(2.0 * math.pi * radial)


def _funnel_vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Pixel: N2(X, Y; 200, 150, 2500, 2000 e^{0.025 (X-200)}, 0).

    Tidy: x ~ N(0, 0.5²), y | x ~ N(0, 0.2 e^{2.5x}); Z = 1. With t = y e^{-1.25x}:
    log p~ = -2x² - 1.25x - 2.5t² - log(2π·0.5·√0.2).
    """
    e = np.exp(-1.25 * x)
    zero = y == 0.0  # keeps 0·inf out when e overflows (x < -567)
    t = np.where(zero, 0.0, y * e)
    value = -2.0 * x * x - 1.25 * x - 2.5 * t * t - LOG_2PI - math.log(0.5 * math.sqrt(0.2))
    return value, -4.0 * x - 1.25 + 6.25 * t * t, np.where(zero, 0.0, -5.0 * t * e)


# --------------------------------------------------------------------------------------------
# Targets from the literature
# --------------------------------------------------------------------------------------------

_CORR_SX, _CORR_SY, _CORR_RHO = 1.0, 0.6, 0.9
# log p~ = -½ (z-m)ᵀ Σ⁻¹ (z-m) without the Gaussian's normaliser, so Z = 2π √det Σ: adding the
# normaliser back as a constant cancels the one inside _gaussian_vg.
_CORR_LOG_Z = LOG_2PI + math.log(_CORR_SX * _CORR_SY * math.sqrt(1.0 - _CORR_RHO**2))
_correlated_vg = _gaussian_vg(0.5, 0.25, _CORR_SX, _CORR_SY, _CORR_RHO, const=_CORR_LOG_Z)

_T_NU = 3.0


def _student_t_vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """log p~ = -(ν+2)/2 · log(1 + (x² + y²)/ν), ν = 3. In 2D, ∫ (1 + r²/ν)^{-(ν+2)/2} = 2π
    for every ν (the t normaliser Γ(ν/2+1)/(Γ(ν/2) ν π) = 1/(2π)), so log Z = log 2π."""
    q = x * x + y * y
    value = -0.5 * (_T_NU + 2.0) * np.log1p(q / _T_NU)
    slope = -(_T_NU + 2.0) / (_T_NU + q)
    return value, slope * x, slope * y


_GRING_K, _GRING_RADIUS, _GRING_SD = 8, 2.0, 0.3
_GRING_MEANS = [
    (_GRING_RADIUS * math.cos(2 * math.pi * i / _GRING_K),
     _GRING_RADIUS * math.sin(2 * math.pi * i / _GRING_K))
    for i in range(_GRING_K)
]
# Unnormalised bumps exp(-|z - m_k|²/(2σ²)): each integrates to 2πσ², so Z = 8·2πσ².
_gaussian_ring_vg = _mixture_vg(
    [LOG_2PI + 2.0 * math.log(_GRING_SD)] * _GRING_K,
    [_gaussian_vg(mx, my, _GRING_SD, _GRING_SD) for mx, my in _GRING_MEANS],
)
_GRING_LOG_Z = math.log(_GRING_K * 2.0 * math.pi * _GRING_SD**2)


def _energy_u1_vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Rezende & Mohamed (2015) U1: log p~ = -U, with
    U(z) = ½ ((|z| - 2)/0.4)² - log(exp(-½ ((z1-2)/0.6)²) + exp(-½ ((z1+2)/0.6)²)).
    The origin is a cone point; its radial gradient is reported as 0."""
    r = np.hypot(x, y)
    radial = -(r - 2.0) / 0.16 / np.where(r > 0.0, r, 1.0)
    radial = np.where(r > 0.0, radial, 0.0)
    a = -0.5 * ((x - 2.0) / 0.6) ** 2
    b = -0.5 * ((x + 2.0) / 0.6) ** 2
    value = -0.5 * ((r - 2.0) / 0.4) ** 2 + np.logaddexp(a, b)
    wa = _sigmoid(a - b)
    d_mix = -(wa * (x - 2.0) + (1.0 - wa) * (x + 2.0)) / 0.36
    return value, radial * x + d_mix, radial * y


def _neal_funnel_vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Neal (2003): y ~ N(0, 3²), x | y ~ N(0, e^y) (the 2D funnel, axes as plotted); Z = 1.
    log p~ = -y²/18 - ½ log(2π·9) - ½ x² e^{-y} - ½ log 2π - y/2."""
    e = np.exp(-y)
    zero = x == 0.0  # keeps 0·inf out when e overflows (y < -709)
    xe = np.where(zero, 0.0, x * e)
    xxe = np.where(zero, 0.0, x * xe)
    value = -y * y / 18.0 - 0.5 * xxe - 0.5 * y - LOG_2PI - math.log(3.0)
    return value, -xe, -y / 9.0 + 0.5 * xxe - 0.5


# Normal model y_i ~ N(μ, σ²); parameters (x, y) = (μ, log σ). The built-in data: 7 values.
_NP_DATA = (0.3, 1.9, 0.8, 2.4, 1.1, -0.2, 1.4)
_NP_PRIOR_MU_SD, _NP_PRIOR_LOGSD_SD = 5.0, 2.0


def _normal_posterior_vgf(values: Sequence[float]) -> ValueAndGrad:
    """log p~(μ, s) = Σ_i log N(y_i; μ, e^{2s}) + log N(μ; 0, 5²) + log N(s; 0, 2²)
    = -n/2 log 2π - n s - (SS + n (ȳ - μ)²)/(2 e^{2s}) + priors, so Z is the evidence p(data)."""
    data = np.asarray(values, dtype=float)
    n = len(data)
    mean = float(np.mean(data))
    ss = float(np.sum((data - mean) ** 2))

    def vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
        prec = np.exp(-2.0 * y)
        d = mean - x
        quad = ss + n * d * d
        value = (
            -0.5 * n * LOG_2PI - n * y - 0.5 * quad * prec
            - 0.5 * (x / _NP_PRIOR_MU_SD) ** 2 - 0.5 * (y / _NP_PRIOR_LOGSD_SD) ** 2
            - LOG_2PI - math.log(_NP_PRIOR_MU_SD * _NP_PRIOR_LOGSD_SD)
        )
        gx = n * d * prec - x / _NP_PRIOR_MU_SD**2
        gy = -n + quad * prec - y / _NP_PRIOR_LOGSD_SD**2
        return value, gx, gy

    return vg


_normal_posterior_vg = _normal_posterior_vgf(_NP_DATA)

# Logistic regression P(t_i = 1) = σ(w0 + w1 u_i), u_i = 0, 0.25, ..., 4.75; (x, y) = (w0, w1).
_LR_U = tuple(0.25 * i for i in range(20))
_LR_T = (0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1)
_LR_PRIOR_SD = 2.0


def _logistic_vgf(inputs: Sequence[float], labels: Sequence[float]) -> ValueAndGrad:
    """log p~(w0, w1) = Σ_i log σ(s_i (w0 + w1 u_i)) + log N((w0, w1); 0, 2² I), s_i = ±1 the
    labels; Z is the evidence p(labels | inputs)."""
    u = np.asarray(inputs, dtype=float)
    sign = 2.0 * np.asarray(labels, dtype=float) - 1.0

    def vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
        z = (x[..., None] + y[..., None] * u) * sign
        resid = _sigmoid(-z) * sign  # ∂/∂(w0 + w1 u_i) of log σ(s_i (…))
        s2 = _LR_PRIOR_SD**2
        value = (np.sum(_log_sigmoid(z), axis=-1) - 0.5 * (x * x + y * y) / s2
                 - LOG_2PI - math.log(s2))
        return value, np.sum(resid, axis=-1) - x / s2, resid @ u - y / s2

    return vg


_logistic_vg = _logistic_vgf(_LR_U, _LR_T)


# Precomputed by quadrature (see tests/unit/test_targets.py: an independent specialised method
# per target must agree with compute_log_z to the stated error).
_NESSIE_LOG_Z = (3.2318782747142, 1e-8)
_ENERGY_U1_LOG_Z = (1.8775016261097, 1e-8)
_NORMAL_POSTERIOR_LOG_Z = (-13.317969551321, 1e-8)
_LOGISTIC_LOG_Z = (-13.873479793030, 1e-8)


def _builtin(
    id: str, name: str, extent: tuple[float, float, float, float],
    log_z: tuple[float, float] | float, vg: ValueAndGrad, description: str,
    singular_points: tuple[tuple[float, float, float], ...] = (),
    axes: tuple[str, str] = ("x", "y"), data: tuple[float | tuple[float, int], ...] | None = None,
) -> Target:
    if isinstance(log_z, tuple):
        value, error, method = log_z[0], log_z[1], "quadrature"
    else:
        value, error, method = log_z, 0.0, "exact"
    xmin, xmax, ymin, ymax = (float(e) for e in extent)
    return Target(
        id=id, name=name, description=" ".join(description.split()),
        extent=(xmin, xmax, ymin, ymax), log_z=float(value), log_z_error=float(error),
        log_z_method=method, log_density_fn=_value_only(vg), value_and_grad_fn=vg,
        singular_points=tuple((float(cx), float(cy), float(s)) for cx, cy, s in singular_points),
        axes=axes, data=data,
    )


_BUILTINS: dict[str, Target] = {
    t.id: t
    for t in [
        _builtin("banana", "Banana", REFERENCE_EXTENT, math.log(0.5), _banana_vg, """
            A curved ridge: a Gaussian in (x, y - x²/2), so Z = 1/2 exactly. A Gaussian q can
            only lay a straight ellipse over the bend; minimising KL(q||p) makes it hug the
            middle of the banana and understate the spread along the curve, while a mixture
            can follow the bend piece by piece."""),
        _builtin("bimodal", "Bimodal", REFERENCE_EXTENT, 0.0, _bimodal_vg, """
            Two Gaussian blobs of weights 3/4 and 1/4 (a normalised mixture, Z = 1). KL(q||p)
            is mode-seeking: a single Gaussian settles on one mode and ignores the other,
            rather than spreading over the empty gap. Here it is always the heavier one: the
            lighter mode is too close and too light to hold a Gaussian, even one started on
            it. A two-component mixture can cover both."""),
        _builtin("nessie", "Nessie", REFERENCE_EXTENT, _NESSIE_LOG_Z, _nessie_vg, """
            A sea monster's neck and body: a curved ridge that rises steeply to the upper left
            and ends in a compact body on the right, where the density is cut off abruptly;
            its width changes along the ridge, with a sinusoidal wobble. No closed-form
            normaliser (log Z by quadrature). Shows a Gaussian q trading off parts of very
            different scale and orientation, and how many mixture components such a shape
            needs."""),
        _builtin("mickie", "Mickie", REFERENCE_EXTENT, 0.0, _mickie_vg, """
            Three equal round blobs like a cartoon mouse head (an equal-weight Gaussian
            mixture, Z = 1). A single Gaussian cannot cover three modes; with two or three
            mixture components VI has several local optima, and where each component ends up
            depends on the start."""),
        _builtin("ring", "Ring", REFERENCE_EXTENT, _ring_log_z(), _ring_vg, """
            A thin ring of radius 0.8 with a Gaussian radial profile (sd 0.1): the mass lies on
            a curve and there is no mode to lock onto. Because KL(q||p) punishes q for putting
            mass in the empty middle, a Gaussian q covers only an arc; many mixture components
            are needed to go round. log Z in closed form (a radial Gaussian integral).""",
                 ((*_RING_CENTRE, _RING_RADIUS / _RING_SD**2),)),
        _builtin("funnel", "Funnel", REFERENCE_EXTENT, 0.0, _funnel_vg, """
            x ~ N(0, 0.5²) and y | x ~ N(0, 0.2 e^{2.5x}): the spread in y grows exponentially
            with x, and the mouth opens beyond the plot (about 4% of the mass lies outside it;
            Z = 1 counts it). No
            Gaussian has a scale that depends on position, so q settles in the middle,
            narrower in x than p (sd about 0.37 against 0.5), and gives up both the thin neck
            and the wide mouth: reverse-KL VI underestimates variance."""),
        _builtin("correlated-gaussian", "Correlated Gaussian", (-2.5, 3.5, -2.0, 2.5),
                 _CORR_LOG_Z, _correlated_vg, """
            A Gaussian with mean (0.5, 0.25), standard deviations 1 and 0.6 and correlation
            0.9, deliberately unnormalised: log p~ = -½ (z-m)ᵀΣ⁻¹(z-m) without the Gaussian's
            normaliser, so log Z = log(2π √det Σ) ≈ 0.497. A full-covariance
            Gaussian q fits it exactly (KL = 0); a mean-field q matches the conditional
            variances, not the marginal ones, so it is far too narrow along the ridge
            (KL = -½ log(1 - ρ²) ≈ 0.83)."""),
        _builtin("student-t", "Student-t (ν = 3)", (-5.0, 5.0, -3.75, 3.75), LOG_2PI,
                 _student_t_vg, """
            A bivariate Student-t with 3 degrees of freedom: Gaussian-looking in the middle but
            with polynomial tails (log p~ = -5/2 log(1 + r²/3), Z = 2π exactly). A Gaussian q
            fitted by KL(q||p) matches the core and is too light in the tails, which is how VI
            typically underestimates uncertainty."""),
        _builtin("gaussian-ring", "Ring of 8 Gaussians", (-4.0, 4.0, -3.0, 3.0), _GRING_LOG_Z,
                 _gaussian_ring_vg, """
            Eight equal, well-separated Gaussian bumps (sd 0.3) on a circle of radius 2,
            unnormalised so Z = 8·2π·0.3². With fewer components than modes a mixture must
            choose which bumps to cover, and components that start between bumps collapse onto
            one: mode-seeking behaviour in its purest form."""),
        _builtin("energy-u1", "Energy U1", (-4.0, 4.0, -3.0, 3.0), _ENERGY_U1_LOG_Z,
                 _energy_u1_vg, """
            The first test energy of Rezende & Mohamed's normalizing-flows paper (2015):
            p~ = e^{-U}, U = ½((|z| - 2)/0.4)² - log(e^{-½((x-2)/0.6)²} + e^{-½((x+2)/0.6)²}),
            two crescents on a ring of radius 2. Multimodal and curved at once: a Gaussian picks
            one crescent; even mixtures fit the curvature only approximately. log Z by
            quadrature.""", ((0.0, 0.0, 2.0 / 0.4**2),)),
        _builtin("neal-funnel", "Neal's funnel", (-10.0, 10.0, -7.5, 7.5), 0.0,
                 _neal_funnel_vg, """
            Neal's funnel (2003) in 2D: y ~ N(0, 3²) and x | y ~ N(0, e^y), the shape of
            hierarchical models' scale parameters (Z = 1). The width in x changes by a factor
            e^{7.5} from neck to mouth. A Gaussian q cannot follow it and usually shrinks into
            part of the funnel; the density peaks in the thin neck while the mass is spread
            through the wide mouth."""),
        _builtin("normal-posterior", "Normal mean and scale", (-0.5, 2.7, -1.4, 1.0),
                 _NORMAL_POSTERIOR_LOG_Z, _normal_posterior_vg, """
            The posterior of the mean μ (x-axis) and log-standard-deviation log σ (y-axis) of
            a normal distribution given 7 observations, with weak priors μ ~ N(0, 5²),
            log σ ~ N(0, 2²); log Z is the model evidence. The spread of μ shrinks with σ, a
            mild funnel that is skewed in log σ: Gaussian q is close but not exact. The
            dependence lies in that skew, not in a correlation, so mean field does as well as
            a full covariance here.""", axes=("μ", "log σ"), data=_NP_DATA),
        _builtin("logistic-regression", "Logistic regression", (-5.0, 1.0, -1.25, 3.25),
                 _LOGISTIC_LOG_Z, _logistic_vg, """
            The posterior of intercept (x-axis) and slope (y-axis) of a logistic regression on
            20 labelled points at inputs 0, 0.25, …, 4.75, with prior N(0, 2² I); log Z is the
            evidence. Uncentred inputs make intercept and slope strongly anti-correlated, and
            the likelihood makes the posterior skewed: a full-covariance Gaussian is good but
            not exact, mean-field is badly overconfident.""", axes=("intercept", "slope"),
                 data=tuple((u, t) for u, t in zip(_LR_U, _LR_T, strict=True))),
    ]
}


def target_ids() -> list[str]:
    """Ids of the built-in targets in display order (the six reference targets first)."""
    return list(_BUILTINS)


def get_target(target_id: str) -> Target:
    """The built-in target with this id; TargetError naming the valid ids otherwise."""
    try:
        return _BUILTINS[target_id]
    except (KeyError, TypeError):
        raise TargetError(
            f"Unknown target {target_id!r}; choose one of: {', '.join(_BUILTINS)}"
        ) from None


# --------------------------------------------------------------------------------------------
# Posteriors from data: the two posteriors above as functions of their data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSpec:
    """The data a posterior target takes, and the limits vi_core accepts (the page gets these
    through the catalog and restates none of them).

    ``kind`` "values": a list of numbers (observations y_i); "labelled": a list of
    [input, label] pairs, label 0 or 1. ``range`` bounds the values (or the inputs);
    ``decimals``: the page rounds what the visitor places to this many decimals (links stay
    short); ``noun``: what one data point is called.
    """

    kind: str
    default: tuple[float | tuple[float, int], ...]
    min_points: int
    max_points: int
    range: tuple[float, float]
    decimals: int
    noun: str

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "default": [list(p) if isinstance(p, tuple) else p
                                               for p in self.default],
                "min_points": self.min_points, "max_points": self.max_points,
                "range": list(self.range), "decimals": self.decimals, "noun": self.noun}


DATA_SPECS: dict[str, DataSpec] = {
    "normal-posterior": DataSpec("values", _NP_DATA, 2, 200, (-5.0, 5.0), 2, "observation"),
    "logistic-regression": DataSpec(
        "labelled", tuple((u, t) for u, t in zip(_LR_U, _LR_T, strict=True)), 1, 100,
        (-1.0, 6.0), 2, "labelled point"),  # 100: a click stays well under a second in Pyodide
}

#: The plot of a posterior from data shows where log p~ is within this many nats of its peak
#: (as the built-in posteriors' plots do), padded, at the built-in posteriors' aspect 4:3.
_EXTENT_DROP = 5.0
_EXTENT_ASPECT = 4.0 / 3.0
_SEARCH_POINTS = 121


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TargetError(f"{what} must be a number, got {value!r:.40}")
    if not math.isfinite(value):
        raise TargetError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _count(data: object, spec: DataSpec, target_id: str) -> None:
    if not isinstance(data, list | tuple):
        raise TargetError(f"the data of {target_id} must be a list, got {type(data).__name__}")
    if not spec.min_points <= len(data) <= spec.max_points:
        raise TargetError(f"{target_id} takes {spec.min_points} to {spec.max_points} "
                          f"{spec.noun}s, got {len(data)}")


def _in_range(value: float, spec: DataSpec, what: str) -> float:
    lo, hi = spec.range
    if not lo <= value <= hi:
        raise TargetError(f"{what} = {value:g} is outside [{lo:g}, {hi:g}]")
    return value


def _check_values(data: Sequence[object]) -> tuple[float, ...]:
    spec = DATA_SPECS["normal-posterior"]
    _count(data, spec, "normal-posterior")
    values = tuple(_in_range(_number(v, f"observation {i + 1}"), spec, f"observation {i + 1}")
                   for i, v in enumerate(data))
    if max(values) - min(values) <= 0.0:
        raise TargetError("the observations must not all be equal: their scale σ would have "
                          "no lower limit; move one of them")
    return values


def _check_labelled(data: Sequence[object]) -> tuple[tuple[float, int], ...]:
    spec = DATA_SPECS["logistic-regression"]
    _count(data, spec, "logistic-regression")
    out = []
    for i, point in enumerate(data):
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise TargetError(f"labelled point {i + 1} must be [input, label], got {point!r:.40}")
        u = _in_range(_number(point[0], f"input {i + 1}"), spec, f"input {i + 1}")
        label = _number(point[1], f"label {i + 1}")
        if label not in (0.0, 1.0):
            raise TargetError(f"label {i + 1} must be 0 or 1, got {point[1]!r:.40}")
        out.append((u, int(label)))
    return tuple(out)


def _extent_around(log_density: LogDensity, box: tuple[float, float, float, float]
                   ) -> tuple[float, float, float, float]:
    """Where the density lives: the box in which log p~ is within _EXTENT_DROP nats of its peak,
    found on grids that zoom in from ``box`` (so a narrow posterior is resolved too), padded by
    a tenth on each side and widened to the aspect 4:3."""
    for _ in range(3):
        gx = np.linspace(box[0], box[1], _SEARCH_POINTS)
        gy = np.linspace(box[2], box[3], _SEARCH_POINTS)
        x, y = np.meshgrid(gx, gy)
        with np.errstate(all="ignore"):
            v = np.asarray(log_density(x, y), dtype=float)
        v = np.where(np.isfinite(v), v, -np.inf)
        keep = v >= np.max(v) - _EXTENT_DROP
        cell_x, cell_y = gx[1] - gx[0], gy[1] - gy[0]
        xmin, xmax = float(np.min(x[keep])) - cell_x, float(np.max(x[keep])) + cell_x
        ymin, ymax = float(np.min(y[keep])) - cell_y, float(np.max(y[keep])) + cell_y
        box = (xmin, xmax, ymin, ymax)
    xmin, xmax, ymin, ymax = box
    w, h = 1.2 * (xmax - xmin), 1.2 * (ymax - ymin)
    w, h = max(w, h * _EXTENT_ASPECT), max(h, w / _EXTENT_ASPECT)
    cx, cy = 0.5 * (xmin + xmax), 0.5 * (ymin + ymax)
    return (cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)


def _from_data(base: Target, vg: ValueAndGrad, box: tuple[float, float, float, float],
               description: str, data: tuple[float | tuple[float, int], ...]) -> Target:
    log_density = _value_only(vg)
    extent = _extent_around(log_density, box)
    log_z, log_z_error = compute_log_z(log_density, extent)
    return Target(
        id=base.id, name=base.name, description=" ".join(description.split()), extent=extent,
        log_z=log_z, log_z_error=log_z_error, log_z_method="quadrature",
        log_density_fn=log_density, value_and_grad_fn=vg, axes=base.axes, data=data,
    )


def normal_posterior(values: Sequence[object]) -> Target:
    """The posterior of (μ, log σ) of a normal distribution given ``values`` (2 to 200 numbers
    in [-5, 5], not all equal), priors μ ~ N(0, 5²), log σ ~ N(0, 2²); log Z is the evidence
    p(values), by adaptive cubature (``compute_log_z``). The built-in data give the built-in
    target itself. TargetError for data outside those limits."""
    data = _check_values(values)
    if data == _NP_DATA:
        return _BUILTINS["normal-posterior"]
    arr = np.asarray(data)
    mean, sd = float(np.mean(arr)), max(float(np.std(arr)), 1e-3)
    log_sd = math.log(sd)
    box = (mean - 10.0 * sd, mean + 10.0 * sd, log_sd - 6.0, log_sd + 4.0)
    return _from_data(_BUILTINS["normal-posterior"], _normal_posterior_vgf(data), box, f"""
        The posterior of the mean μ (x-axis) and log-standard-deviation log σ (y-axis) of a
        normal distribution given your {len(data)} observations, with weak priors
        μ ~ N(0, 5²), log σ ~ N(0, 2²); log Z is the model evidence p(D), by adaptive
        quadrature. Few or tightly clustered observations make a funnel that a Gaussian q
        cannot follow.""", data)


def logistic_regression(inputs: Sequence[object], labels: Sequence[object]) -> Target:
    """The posterior of (intercept, slope) of a logistic regression P(label = 1 | input) =
    σ(w0 + w1 input) given 1 to 100 points (inputs in [-1, 6], labels 0 or 1), prior
    N(0, 2² I); log Z is the evidence p(labels | inputs), by adaptive cubature. The built-in
    data give the built-in target itself. TargetError for data outside those limits."""
    if not isinstance(inputs, list | tuple) or not isinstance(labels, list | tuple) \
            or len(inputs) != len(labels):
        raise TargetError("inputs and labels must be two lists of the same length")
    data = _check_labelled([[u, t] for u, t in zip(inputs, labels, strict=True)])
    if data == DATA_SPECS["logistic-regression"].default:
        return _BUILTINS["logistic-regression"]
    u = [p[0] for p in data]
    t = [p[1] for p in data]
    box = (-4.0 * _LR_PRIOR_SD * 2, 4.0 * _LR_PRIOR_SD * 2, -4.0 * _LR_PRIOR_SD * 2,
           4.0 * _LR_PRIOR_SD * 2)
    return _from_data(_BUILTINS["logistic-regression"], _logistic_vgf(u, t), box, f"""
        The posterior of intercept (x-axis) and slope (y-axis) of a logistic regression on
        your {len(data)} labelled points, with prior N(0, 2² I); log Z is the evidence
        p(labels | inputs), by adaptive quadrature. Inputs far from 0 make intercept and
        slope correlated; labels that a line separates perfectly leave the slope to the
        prior.""", data)


def with_data(target_id: str, data: Sequence[object] | None) -> Target:
    """The posterior ``target_id`` (an id of ``DATA_SPECS``) given ``data``: a list of numbers
    for normal-posterior, of [input, label] pairs for logistic-regression; None means the
    built-in data. TargetError for another target or data outside the limits of its spec."""
    if target_id not in DATA_SPECS:
        get_target(target_id)  # an unknown id says so
        raise TargetError(f"{target_id} is not a posterior from data; those are: "
                          f"{', '.join(DATA_SPECS)}")
    if data is None:
        return _BUILTINS[target_id]
    if target_id == "normal-posterior":
        return normal_posterior(data)
    pairs = _check_labelled(data)
    return logistic_regression([p[0] for p in pairs], [p[1] for p in pairs])
