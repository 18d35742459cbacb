"""Target densities p~(x, y): unnormalised 2D log densities with analytic gradients and log Z.

A target is what variational inference approximates. Each ``Target`` carries the log of an
unnormalised density ``log p~(x, y)``, its gradient, the plot extent, and
``log Z = log of the integral of p~ over the whole plane``, so that ``KL(q || p) = log Z - ELBO(q)``
can be shown exactly.

Reference targets and the tidy-unit map
---------------------------------------
The first six targets (banana, bimodal, nessie, mickie, ring, funnel) come from a JavaScript
demo that defines them in pixel coordinates x in [0, 400], y in [0, 300]. Here they live in tidy
units ``u = (x - 200) / 100``, ``v = (y - 150) / 100`` (so the plot extent is
(-2, 2, -1.5, 1.5)), and their log densities carry the Jacobian term ``2 log 100``:

    log p~_tidy(u, v) = log p~_pixel(200 + 100 u, 150 + 100 v) + 2 log 100.

Then ``Z_tidy = Z_pixel`` exactly, and since the map is a shift plus one common scale it maps
every Gaussian (and mixture) family onto itself, so the best KL of every family is unchanged.

Every built-in log Z is a stored constant (exact or precomputed by quadrature, with its error)
so that looking a target up is instant, also in the browser.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vi_core.errors import TargetError

Array = np.ndarray
ValueAndGrad = Callable[[Array, Array], tuple[Array, Array, Array]]
LogDensity = Callable[[Array, Array], Array]

LOG_2PI = math.log(2.0 * math.pi)
REFERENCE_EXTENT = (-2.0, 2.0, -1.5, 1.5)


def _as_xy(x, y) -> tuple[Array, Array]:
    """Float arrays of the common broadcast shape (copies, so callers may not alias inputs)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.array(x), np.array(y)


@dataclass(frozen=True)
class Target:
    """An unnormalised 2D density p~(x, y) = exp(log_density(x, y)).

    ``log_z = log ∫∫ p~(x, y) dx dy`` over the whole plane (not just ``extent``, which is only
    where the plot looks); ``log_z_error`` bounds (or, for quadrature, estimates) its absolute
    error; ``log_z_method`` is ``"exact"`` (closed form) or ``"quadrature"``.

    The behaviour lives in ``value_and_grad_fn(x, y) -> (log p~, d/dx, d/dy)`` over float arrays
    of one shape, and ``log_density_fn`` (value only, cheaper); the methods broadcast their inputs
    and return float arrays of the broadcast shape (0-d arrays for scalars).
    """

    id: str
    name: str
    description: str
    extent: tuple[float, float, float, float]
    log_z: float
    log_z_error: float
    log_z_method: str
    log_density_fn: LogDensity = field(repr=False, compare=False, kw_only=True)
    value_and_grad_fn: ValueAndGrad = field(repr=False, compare=False, kw_only=True)

    def log_density(self, x, y) -> Array:
        """log p~(x, y), broadcasting x and y; same shape out."""
        x, y = _as_xy(x, y)
        return np.asarray(self.log_density_fn(x, y), dtype=float)

    def grad_log_density(self, x, y) -> tuple[Array, Array]:
        """(∂/∂x, ∂/∂y) of log p~ at (x, y), broadcasting."""
        _, gx, gy = self.value_and_grad(x, y)
        return gx, gy

    def value_and_grad(self, x, y) -> tuple[Array, Array, Array]:
        """(log p~, ∂ log p~/∂x, ∂ log p~/∂y) at (x, y) in one pass, broadcasting."""
        x, y = _as_xy(x, y)
        value, gx, gy = self.value_and_grad_fn(x, y)
        return (np.asarray(value, dtype=float), np.asarray(gx, dtype=float),
                np.asarray(gy, dtype=float))


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def _gaussian_vg(mx: float, my: float, sx: float, sy: float, rho: float, const: float = 0.0):
    """Value-and-grad of log N2((x, y); (mx, my), [[sx², ρ sx sy], [ρ sx sy, sy²]]) + const."""
    norm = const - LOG_2PI - math.log(sx * sy * math.sqrt(1.0 - rho * rho))
    k = 1.0 / (1.0 - rho * rho)

    def vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
        a = (x - mx) / sx
        b = (y - my) / sy
        value = norm - 0.5 * k * (a * a - 2.0 * rho * a * b + b * b)
        gx = -k * (a - rho * b) / sx
        gy = -k * (b - rho * a) / sy
        return value, gx, gy

    return vg


def _mixture_vg(log_weights: list[float], components: list[ValueAndGrad]) -> ValueAndGrad:
    """log Σ_k w_k exp(c_k(x, y)) and its gradient Σ_k r_k ∇c_k (r = responsibilities)."""

    def vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
        parts = [c(x, y) for c in components]
        logs = np.stack([lw + p[0] for lw, p in zip(log_weights, parts, strict=True)])
        top = np.max(logs, axis=0)
        top = np.where(np.isfinite(top), top, 0.0)
        e = np.exp(logs - top)
        total = np.sum(e, axis=0)
        value = top + np.log(total)
        r = e / total
        gx = sum(r[i] * p[1] for i, p in enumerate(parts))
        gy = sum(r[i] * p[2] for i, p in enumerate(parts))
        return value, gx, gy

    return vg


def _value_only(vg: ValueAndGrad) -> LogDensity:
    return lambda x, y: vg(x, y)[0]


# --------------------------------------------------------------------------------------------
# Reference targets (tidy units, see the module docstring)
# --------------------------------------------------------------------------------------------

LOG_100 = math.log(100.0)


def _banana_vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Pixel: -(dx² + 4 dy²)/(2·2500) - log(2π 2500), dy = y - 150 - 50 ((x-200)/100)².

    Tidy: -2 x² - 8 (y - x²/2)² - log(π/2); Z = 1/2 (a Gaussian in (x, y - x²/2)).
    """
    w = y - 0.5 * x * x
    value = -2.0 * x * x - 8.0 * w * w - math.log(math.pi / 2.0)
    gy = -16.0 * w
    gx = -4.0 * x - gy * x
    return value, gx, gy


_CORR = {"mx": 0.5, "my": 0.25, "sx": 1.0, "sy": 0.6, "rho": 0.9, "const": 2.0}
_corr_vg = _gaussian_vg(**_CORR)


def _builtin(
    id: str, name: str, description: str, extent, log_z: float, log_z_error: float,
    log_z_method: str, vg: ValueAndGrad, log_density: LogDensity | None = None,
) -> Target:
    return Target(
        id=id, name=name, description=description, extent=tuple(float(e) for e in extent),
        log_z=float(log_z), log_z_error=float(log_z_error), log_z_method=log_z_method,
        log_density_fn=log_density or _value_only(vg), value_and_grad_fn=vg,
    )


def _make_builtins() -> dict[str, Target]:
    targets = [
        _builtin(
            "banana", "Banana",
            "A curved, banana-shaped ridge: a Gaussian in (x, y - x²/2). A Gaussian q can only "
            "cover it with a straight ellipse, so it either hugs the middle of the bend or "
            "spreads over empty space; reverse-KL VI picks the former and underestimates the "
            "spread along the curve.",
            REFERENCE_EXTENT, math.log(0.5), 0.0, "exact", _banana_vg,
        ),
        _builtin(
            "correlated-gaussian", "Correlated Gaussian",
            "A Gaussian with correlation 0.9 and unequal scales, deliberately unnormalised "
            "(log Z = 2 + log(2π σx σy √(1-ρ²))). A full-covariance Gaussian q fits it exactly "
            "(KL = 0); a mean-field (diagonal) q matches the conditional, not marginal, "
            "variances and so is far too narrow along the ridge.",
            (-2.5, 3.5, -2.0, 2.5),
            _CORR["const"] + LOG_2PI
            + math.log(_CORR["sx"] * _CORR["sy"] * math.sqrt(1 - _CORR["rho"] ** 2)),
            0.0, "exact", _corr_vg,
        ),
    ]
    return {t.id: t for t in targets}


_BUILTINS = _make_builtins()


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


def target_from_source(source: str, target_id: str = "custom", name: str = "Custom") -> Target:
    """A target from Python source defining ``log_density(x, y)`` (and optionally ``extent``)."""
    raise TargetError("custom targets are not implemented yet")


def compute_log_z(log_density: LogDensity, extent) -> tuple[float, float]:
    """(log ∫∫ exp(log_density) dx dy over the plane, absolute error estimate)."""
    raise NotImplementedError
