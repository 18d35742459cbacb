"""Targets from user source: the contract of the page's editor and of the CLI's --source.

The source is Python that defines ``log_density(x, y)`` over numpy arrays (broadcasting, one
value per point, finite or -inf) and optionally ``extent = (xmin, xmax, ymin, ymax)`` (default
(-3, 3, -3, 3)). ``np``/``numpy`` and ``math`` are available without importing. The source is
run with ``exec``: it is the user's own code in the user's own session, not sandboxed.

Gradients come from the library, not the user: complex-step differentiation,
∂f/∂x = Im f(x + ih, y) / h with h = 1e-20 (exact to rounding, no cancellation), when
``log_density`` accepts complex input and agrees with central differences at probe points;
otherwise fourth-order central differences
(8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / (12 h) with h = 1e-4 × the extent's width.
"""

from __future__ import annotations

import math
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from vi_core.errors import TargetError
from vi_core.log_z import check_extent, compute_log_z
from vi_core.target import Target, ValueAndGrad

__all__ = ["DEFAULT_EXTENT", "target_from_source"]

DEFAULT_EXTENT = (-3.0, 3.0, -3.0, 3.0)
# How far (in nats) log p~ must fall from its peak to the extent's edge: less means the edge
# cuts through the bulk of the mass (or the density does not decay at all).
EDGE_MARGIN = 1.0
_FILENAME = "<custom target>"
_PROBE_GRID = 81
_N_GRAD_PROBES = 12
_COMPLEX_STEP = 1e-20
_CD_STEP = 1e-4  # central-difference step, as a fraction of the extent's width
# The plot keeps x and y at one scale, so an extent much wider than high (or higher than wide)
# would be drawn as a sliver: a custom extent's sides may differ by at most this factor.
MAX_EXTENT_ASPECT = 5.0

Array = np.ndarray


def _drawable(extent: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The extent, if the page can draw it: width/height within 1/MAX_EXTENT_ASPECT ..
    MAX_EXTENT_ASPECT (x and y share one scale on the plot), both sides finite. Else TargetError."""
    width, height = extent[1] - extent[0], extent[3] - extent[2]
    if not (math.isfinite(width) and math.isfinite(height)):
        raise TargetError(f"extent is too large to draw: width {width:.4g}, height {height:.4g}")
    if max(width / height, height / width) > MAX_EXTENT_ASPECT:
        raise TargetError(
            f"extent is {width:.4g} wide and {height:.4g} high; the plot keeps x and y at one "
            f"scale, so the sides may differ by at most {MAX_EXTENT_ASPECT:g}x: widen the "
            "shorter side"
        )
    return extent


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _describe(exc: BaseException) -> str:
    """'TypeError: message (line 3)', the line being the user's innermost one."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == _FILENAME:
            line = frame.lineno
    text = f"{type(exc).__name__}: {_one_line(exc)}" if str(exc) else type(exc).__name__
    if "converted to Python scalars" in str(exc):
        text += "; use np.* functions (not math.*) on the arrays x and y"
    return text + (f" (line {line})" if line is not None else "")


def _fmt(v: float) -> str:
    return f"{v:.4g}"


class _UserDensity:
    """Calls the user's ``log_density`` safely and checks what comes back."""

    def __init__(self, fn: Callable[[Array, Array], object]) -> None:
        self.fn = fn

    def call(self, x: Array, y: Array, complex_ok: bool = False) -> Array:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = self.fn(x, y)
        except TargetError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code is reported as such
            raise TargetError(f"log_density(x, y) raised {_describe(exc)}") from None
        try:
            out = np.asarray(out)
        except Exception:  # noqa: BLE001
            raise TargetError(
                f"log_density must return an array of numbers, got {type(out).__name__}"
            ) from None
        if out.shape != x.shape:
            raise TargetError(
                f"log_density returned shape {out.shape} for x and y of shape {x.shape}; it must "
                "return one value per point (build it from x and y with numpy operations)"
            )
        kinds = "biufc" if complex_ok else "biuf"
        if out.dtype.kind not in kinds:
            raise TargetError(
                f"log_density must return real numbers, got values of type {out.dtype}"
            )
        return out if complex_ok else out.astype(float, copy=False)

    def __call__(self, x: Array, y: Array) -> Array:
        return self.call(x, y)


def _check_values(values: Array, x: Array, y: Array) -> None:
    for bad, what, fix in (
        (np.isnan(values), "NaN", "check for log or sqrt of negative numbers and 0/0"),
        (values == np.inf, "+inf", "the density must be finite"),
    ):
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise TargetError(
                f"log_density returned {what} at (x, y) = ({_fmt(x.flat[i])}, {_fmt(y.flat[i])});"
                f" {fix} (-inf, zero density, is allowed)"
            )
    if not np.isfinite(values).any():
        raise TargetError(
            "log_density is -inf everywhere on the extent; the density must be positive "
            "somewhere in it"
        )


def _check_edge(values: Array, x: Array, y: Array) -> None:
    """The density must have fallen well below its peak at the extent's boundary; otherwise
    the mass piles up at (or beyond) the edge, the plot misses it, or it is not normalisable."""
    peak = float(np.max(values))
    edge = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
    ex = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    ey = np.concatenate([y[0], y[-1], y[:, 0], y[:, -1]])
    i = int(np.argmax(edge))
    if edge[i] > peak - EDGE_MARGIN:
        raise TargetError(
            f"The density does not fall off inside the extent: log_density is {_fmt(edge[i])} "
            f"at the edge point (x, y) = ({_fmt(ex[i])}, {_fmt(ey[i])}), less than "
            f"{EDGE_MARGIN:g} below its maximum {_fmt(peak)}; widen the extent "
            "(extent = (xmin, xmax, ymin, ymax)) or make the density decay in every direction"
        )


def _central_difference(user: _UserDensity, extent: tuple[float, float, float, float]
                        ) -> ValueAndGrad:
    hx = _CD_STEP * (extent[1] - extent[0])
    hy = _CD_STEP * (extent[3] - extent[2])

    def vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
        value = user(x, y)
        offsets = (1.0, -1.0, 2.0, -2.0)
        xs = np.stack([x + o * hx for o in offsets] + [x] * 4)
        ys = np.stack([y] * 4 + [y + o * hy for o in offsets])
        f = user(xs, ys)
        with np.errstate(all="ignore"):
            gx = (8.0 * (f[0] - f[1]) - (f[2] - f[3])) / (12.0 * hx)
            gy = (8.0 * (f[4] - f[5]) - (f[6] - f[7])) / (12.0 * hy)
        return value, gx, gy

    return vg


def _complex_step(user: _UserDensity) -> ValueAndGrad:
    h = _COMPLEX_STEP

    def vg(x: Array, y: Array) -> tuple[Array, Array, Array]:
        value = user(x, y)  # a real call, so the value equals log_density's exactly
        xs = np.stack([x + 1j * h, x.astype(complex)])
        ys = np.stack([y.astype(complex), y + 1j * h])
        f = user.call(xs, ys, complex_ok=True)
        imag = np.imag(f)
        return value, imag[0] / h, imag[1] / h

    return vg


def _choose_gradient(user: _UserDensity, extent: tuple[float, float, float, float], x: Array,
                     y: Array, values: Array) -> tuple[ValueAndGrad, str]:
    """Complex step if it works on this function (agrees with central differences at probe
    points where the density is positive), else central differences. Returns (vg, method)."""
    cd = _central_difference(user, extent)
    finite = np.flatnonzero(np.isfinite(values))
    rng = np.random.default_rng(0)  # fixed probes: the same source always gets the same method
    pick = rng.choice(finite, size=min(_N_GRAD_PROBES, len(finite)), replace=False)
    # Jitter off the grid so probes do not sit on symmetry lines where a wrong derivative
    # could vanish by accident.
    px = x.flat[pick] + 0.37 * (extent[1] - extent[0]) / _PROBE_GRID
    py = y.flat[pick] + 0.29 * (extent[3] - extent[2]) / _PROBE_GRID
    _, cx, cy = cd(px, py)
    ok = np.isfinite(cx) & np.isfinite(cy)
    cs = _complex_step(user)
    try:
        _, sx, sy = cs(px, py)
    except TargetError:
        return cd, "central differences"
    scale = 1e-3 * max(float(np.max(np.abs(cx[ok]), initial=0.0)),
                       float(np.max(np.abs(cy[ok]), initial=0.0)), 1e-6)
    agree = (np.abs(sx - cx) <= 1e-5 * (np.abs(cx) + scale)) & (
        np.abs(sy - cy) <= 1e-5 * (np.abs(cy) + scale))
    if ok.any() and np.all(agree[ok]):
        return cs, "complex-step differentiation"
    return cd, "central differences"


def target_from_source(source: str, target_id: str = "custom", name: str = "Custom") -> Target:
    """A Target from Python source defining ``log_density(x, y)`` and optionally ``extent``.

    log p~ = the user's ``log_density``; gradients by complex step or central differences (see
    the module docstring); log Z = log ∫∫_{R²} exp(log_density) by ``compute_log_z`` over the
    whole plane, computed here once (typically 10-300 ms on CPython for smooth densities, a
    few times that in Pyodide; at most a few million evaluations).

    Raises TargetError with a one-line message for: a syntax error (with its line), an
    exception while running the source, no callable ``log_density``, a bad ``extent``
    (not four finite numbers, xmin >= xmax or ymin >= ymax), ``log_density`` raising or
    returning the wrong shape / non-real values / NaN / +inf / -inf everywhere, a density that
    is not well below its peak at the extent's edge, or a log Z that does not converge.
    """
    if not isinstance(source, str):
        raise TargetError(f"the source must be text, got {type(source).__name__}")
    try:
        code = compile(source, _FILENAME, "exec")
    except SyntaxError as exc:
        where = f" on line {exc.lineno}" if exc.lineno else ""
        raise TargetError(f"Syntax error{where}: {_one_line(exc.msg)}") from None
    except ValueError as exc:  # e.g. NUL bytes
        raise TargetError(f"Syntax error: {_one_line(exc)}") from None
    # The user's globals hold values of any type (checked where read below); Any, as for exec.
    namespace: dict[str, Any] = {"np": np, "numpy": np, "math": math, "__name__": "custom_target"}
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(code, namespace)  # noqa: S102 - the user's own code, by design
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        raise TargetError(f"Running the source raised {_describe(exc)}") from None
    fn = namespace.get("log_density")
    if fn is None:
        raise TargetError("The source must define a function log_density(x, y)")
    if not callable(fn):
        raise TargetError(
            f"log_density must be a function log_density(x, y), got {type(fn).__name__}"
        )
    extent = _drawable(check_extent(namespace.get("extent", DEFAULT_EXTENT)))
    user = _UserDensity(fn)
    gx = np.linspace(extent[0], extent[1], _PROBE_GRID)
    gy = np.linspace(extent[2], extent[3], _PROBE_GRID)
    x, y = np.meshgrid(gx, gy)
    values = user(x, y)
    _check_values(values, x, y)
    _check_edge(values, x, y)
    vg, grad_method = _choose_gradient(user, extent, x, y, values)
    log_z, log_z_error = compute_log_z(user, extent)
    return Target(
        id=target_id, name=name,
        description=(
            "A custom target: your log_density(x, y). Gradients by "
            f"{grad_method}; log Z by adaptive quadrature over the whole plane."
        ),
        extent=extent, log_z=log_z, log_z_error=log_z_error, log_z_method="quadrature",
        log_density_fn=user, value_and_grad_fn=vg,
    )
