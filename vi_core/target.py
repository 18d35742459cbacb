"""The ``Target`` type: an unnormalised 2D log density with its gradient, extent and log Z.

Built-in targets live in ``vi_core.targets``; targets from user source in
``vi_core.custom_target``. Both build this one type, which knows nothing of either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["Array", "Density", "LogDensity", "Target", "ValueAndGrad"]

Array = np.ndarray
ValueAndGrad = Callable[[Array, Array], tuple[Array, Array, Array]]
LogDensity = Callable[[Array, Array], Array]


class Density(Protocol):
    """What the ELBO, the optimizers and the starting points need of a target: a ``Target``,
    or any object with an extent, a log density and its gradient over float arrays.
    (``singular_points`` and ``log_z`` are read where present.)"""

    @property
    def extent(self) -> tuple[float, float, float, float]: ...

    def log_density(self, x: Array, y: Array) -> Array: ...

    def value_and_grad(self, x: Array, y: Array) -> tuple[Array, Array, Array]: ...


def _as_xy(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[Array, Array]:
    """Float arrays of the common broadcast shape (fresh copies: callers' arrays stay safe)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.array(x), np.array(y)


@dataclass(frozen=True)
class Target:
    """An unnormalised 2D density p~(x, y) = exp(log_density(x, y)).

    ``log_z = log ∫∫_{R²} p~(x, y) dx dy`` over the whole plane (``extent`` = (xmin, xmax, ymin,
    ymax) is only where the plot looks); ``log_z_error`` bounds (``"exact"``: 0) or estimates
    (``"quadrature"``) its absolute error; ``log_z_method`` says which.

    The behaviour lives in two callables over float arrays of one shape:
    ``log_density_fn(x, y) -> log p~`` and ``value_and_grad_fn(x, y) -> (log p~, ∂x, ∂y)``.
    The methods broadcast their inputs and return float arrays of the broadcast shape (0-d
    arrays for scalar inputs).
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
    #: Cone points (cx, cy, s): log p~(x) - s |x - c| is smooth around c, while log p~ itself
    #: has a kink there (e.g. ring: s = 0.8 / 0.1²). The ELBO integrates s |x - c| exactly and
    #: only the smooth rest by cubature (vi_core.elbo); default: none.
    singular_points: tuple[tuple[float, float, float], ...] = field(default=(), kw_only=True)
    #: The names of the two parameters, for axes and fields (a shape's are x and y).
    axes: tuple[str, str] = field(default=("x", "y"), kw_only=True)
    #: For a posterior from data (``vi_core.targets.with_data``): the data it conditions on,
    #: as JSON-able plain data (numbers, or [input, label] pairs); None for a shape.
    data: tuple[float | tuple[float, int], ...] | None = field(
        default=None, kw_only=True, compare=False)

    def log_density(self, x: npt.ArrayLike, y: npt.ArrayLike) -> Array:
        """log p~(x, y), broadcasting x and y; same shape out."""
        x, y = _as_xy(x, y)
        with np.errstate(all="ignore"):
            return np.asarray(self.log_density_fn(x, y), dtype=float)

    def grad_log_density(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[Array, Array]:
        """(∂ log p~/∂x, ∂ log p~/∂y) at (x, y), broadcasting; 0 where log p~ = -inf."""
        _, gx, gy = self.value_and_grad(x, y)
        return gx, gy

    def value_and_grad(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[Array, Array, Array]:
        """(log p~, ∂ log p~/∂x, ∂ log p~/∂y) at (x, y) in one pass, broadcasting."""
        x, y = _as_xy(x, y)
        with np.errstate(all="ignore"):
            value, gx, gy = self.value_and_grad_fn(x, y)
        value = np.asarray(value, dtype=float)
        gx = np.array(np.broadcast_to(gx, value.shape), dtype=float)
        gy = np.array(np.broadcast_to(gy, value.shape), dtype=float)
        dead = value == -np.inf
        if dead.any():
            gx[dead] = 0.0
            gy[dead] = 0.0
        return value, gx, gy
