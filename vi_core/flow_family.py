"""Normalizing-flow families q = T#N(0, I) on the plane: planar layers inside an affine map.

    x = T(z) = m + L g(z),    g = f_N o ... o f_1,    z ~ N(0, I),

with L the lower Cholesky factor of the ``gaussian-full`` family (``vi_core.families``:
L00 = e^a, L10 = tanh(v) e^b, L11 = sech(v) e^b) and each f_k a *planar* layer
(Rezende & Mohamed, "Variational inference with normalizing flows", ICML 2015, eq. 10 and
appendix A.1):

    f(z) = z + u h(w . z + b),    h = tanh,    det df/dz = 1 + h'(w . z + b) (w . u).

**Why planar.** A planar layer is the best-documented 2D flow (the paper's Figure 3 fits its
U1..U4 energies in 2D; our offline anchors were computed with it), has 5 numbers per layer and
a smooth (analytic) map, so the Gauss-Hermite cubature of the ELBO converges spectrally on
smooth targets, and its inverse is one monotone scalar equation per layer (below), so log q at
any point, e.g. on a grid for contours, is cheap and exact to rounding. Affine coupling layers
in 2D would transform one coordinate at a time through a learned 1D conditioner (many more
parameters for the same bend).

**Parameterisation (invertibility by construction).** f is invertible iff w . u >= -1 (paper,
A.1). Each layer has five unconstrained numbers (sigma, tau, rho, phi, beta):

    w = e^rho (cos phi, sin phi),     w_hat = w / |w|,   w_perp = (-sin phi, cos phi),
    c = softplus(sigma) - 1  (> -1),  u = (c / |w|) w_hat + tau w_perp,   b = beta,

so w . u = c > -1 always: the same set of maps as the paper's u_hat = u + (m(w.u) - w.u)
w/|w|^2 with m = softplus - 1, but without its division by |w|^2 at w -> 0 (|w| = e^rho is
kept away from 0 by the box). sigma = log(e - 1), tau = 0 is the identity layer. The affine
part is outermost so that the mean m translates q rigidly and L stretches it (the page's
handles); the layers act in whitened units, so their box does not depend on the target.

theta = (mx, my, a, b, v, then per layer sigma, tau, rho, phi, beta): 5 + 5 N numbers.

**log q at a point** (``log_density``): z_N = L^-1 (x - m), then each layer is undone from the
last: with beta' = w . y + b, the layer's alpha = w . z + b solves alpha + c tanh(alpha) =
beta', strictly increasing in alpha (derivative 1 + c sech^2 >= min(1, 1 + c) > 0) and
bracketed by [beta' - |c|, beta' + |c|], solved by safeguarded Newton (bisection when a Newton
step leaves the bracket) to rounding; then z = y - u tanh(alpha). Finally

    log q(x) = log N(z_0; 0, I) - log|det dT/dz|(z_0),
    log|det dT/dz| = log|L| + sum_k log(1 + c_k (1 - tanh^2 alpha_k)).

**Gradients** are hand-derived reverse mode through the layers (``Pass.pullback``), tested
against finite differences (tests/unit/test_flows.py). The ELBO, its error estimate and the
Monte Carlo guard are in ``vi_core.flows``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from vi_core._numeric import log_cosh
from vi_core.errors import FamilyError
from vi_core.families import MAX_FLOW_LAYERS, Family, is_flow_id, register_flow_builder

__all__ = ["DEFAULT_FLOW_LAYERS", "FLOW_DESCRIPTION", "FLOW_NAME", "MAX_FLOW_LAYERS", "FlowFamily",
           "Pass", "flow_family", "identity_layer", "is_flow_id"]

#: Layers of ``flow`` when none are given (``flow-N``: N = 1..MAX_FLOW_LAYERS).
DEFAULT_FLOW_LAYERS = 8
#: ``flow-N``'s name and description, ``{n}`` the layers (the page formats them the same way
#: for a depth it was not sent: protocol ``family_entry``'s ``layers_range``).
FLOW_NAME = "Planar flow, {n} layers"
FLOW_DESCRIPTION = ("A full-covariance Gaussian bent by {n} planar layers "
                    "(Rezende & Mohamed 2015): x = m + L g(z), z ~ N(0, I).")
_LOG_2PI = float(np.log(2.0 * np.pi))
#: sigma of the identity layer: softplus(sigma) = 1, so c = 0.
IDENTITY_SIGMA = float(np.log(np.e - 1.0))
# The box on each layer's numbers (whitened units): sigma (c in (-0.9997, 7)), tau (shear),
# rho (|w| in [0.05, 6]), phi (free: periodic), beta (offset).
_LAYER_LO = np.array([-8.0, -6.0, np.log(0.05), -50.0, -6.0])
_LAYER_HI = np.array([8.0, 6.0, np.log(6.0), 50.0, 6.0])
_U_BOUND = 6.0
#: One planar layer as ``FlowFamily.unpack`` gives it: (w (2,), u (2,), b, c).
_Layer = tuple[np.ndarray, np.ndarray, float, float]


def _softplus(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.logaddexp(0.0, x)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class Pass:
    """One forward pass of T over base points z (N, 2): ``x`` (N, 2) and ``logdet`` (N,) =
    log|det dT/dz|, keeping what the reverse pass needs."""

    def __init__(self, fam: FlowFamily, theta: np.ndarray, z: np.ndarray) -> None:
        self.fam, self.theta = fam, theta
        m, chol, layers = fam.unpack(theta)
        self.m, self.chol, self.layers = m, chol, layers
        self.v = theta[4]
        zs = [np.asarray(z, dtype=float)]
        ts, psis, dens = [], [], []
        logdet = np.full(zs[0].shape[0], np.log(chol[0, 0]) + np.log(chol[1, 1]))
        cur = zs[0]
        for w, u, b, c in layers:
            t = np.tanh(cur @ w + b)
            psi = 1.0 - t * t
            den = 1.0 + c * psi
            cur = cur + t[:, None] * u
            logdet = logdet + np.log(den)
            zs.append(cur)
            ts.append(t)
            psis.append(psi)
            dens.append(den)
        self.zs, self.ts, self.psis, self.dens = zs, ts, psis, dens
        self.x: np.ndarray = m + cur @ chol.T
        self.logdet = logdet

    def pullback(self, gx: np.ndarray, cw: np.ndarray) -> np.ndarray:
        """Gradient w.r.t. theta of sum_n [gx_n . x_n + cw_n logdet_n] (gx (N, 2) and cw (N,)
        held fixed): with gx = cw grad log p~(x) this is the gradient of the cubature sum
        sum_n cw_n [log p~(x_n) + logdet_n]."""
        fam, chol, theta = self.fam, self.chol, self.theta
        grad = np.zeros(fam.n_params)
        zn = self.zs[-1]
        g00 = float(gx[:, 0] @ zn[:, 0])
        g10 = float(gx[:, 1] @ zn[:, 0])
        g11 = float(gx[:, 1] @ zn[:, 1])
        total = float(np.sum(cw))
        sech = 1.0 / np.cosh(self.v)
        grad[0:2] = gx.sum(axis=0)
        grad[2] = g00 * chol[0, 0] + total
        grad[3] = g10 * chol[1, 0] + g11 * chol[1, 1] + total
        grad[4] = (g10 * chol[1, 1] - g11 * chol[1, 0]) * sech - total * np.tanh(self.v)
        delta = gx @ chol  # adjoint of z_N: L^T gx per point
        for k in range(len(self.layers) - 1, -1, -1):
            w, u, _, c = self.layers[k]
            t, psi, den, zin = self.ts[k], self.psis[k], self.dens[k], self.zs[k]
            a = delta @ u
            d_alpha = psi * (a - 2.0 * t * c * cw / den)
            g_u = t @ delta
            g_c = float(cw @ (psi / den))
            g_w = d_alpha @ zin
            g_b = float(d_alpha.sum())
            delta = delta + d_alpha[:, None] * w
            sigma, tau, rho, phi, _ = theta[5 + 5 * k: 10 + 5 * k]
            r = np.exp(rho)
            what = np.array([np.cos(phi), np.sin(phi)])
            wperp = np.array([-np.sin(phi), np.cos(phi)])
            gu_par, gu_perp = float(g_u @ what), float(g_u @ wperp)
            base = 5 + 5 * k
            grad[base] = (g_c + gu_par / r) * float(_sigmoid(sigma))
            grad[base + 1] = gu_perp
            grad[base + 2] = r * float(g_w @ what) - c / r * gu_par
            grad[base + 3] = r * float(g_w @ wperp) + c / r * gu_perp - tau * gu_par
            grad[base + 4] = g_b
        return grad


class FlowFamily(Family):
    """``flow-N``: N planar layers inside a full-covariance affine map (module docstring).

    A ``Family`` for everything that only maps parameters and draws (``id``, ``name``,
    ``description``, ``n_params``, ``n_components`` = 1 base Gaussian, ``kind`` = ``"flow"``,
    ``check_theta``, ``log_density``, ``sample``, ``to_natural``, ``from_natural``, ``bounds``:
    the CLI's ``sample``, the diagnostics), but q is no Gaussian mixture: the methods that
    describe one (``expand``, ``factors``, ``components``, ``entropy``, ``pullback``,
    ``from_blocks``) raise FamilyError, so the Gaussian ELBO (``vi_core.elbo``), starts and
    ``vi_core.fit`` refuse a flow with a message instead of computing something else. Its ELBO
    is ``vi_core.flows.flow_elbo``, its fit ``vi_core.flows.fit_flow``.
    """

    kind = "flow"  # type: ignore[assignment]

    def __init__(self, n_layers: int) -> None:
        self.learns_weights = False
        self.shared_scale = False
        self.n_components = 1
        self.n_layers = int(n_layers)
        self.id = "flow" if self.n_layers == DEFAULT_FLOW_LAYERS else f"flow-{self.n_layers}"
        self.name = FLOW_NAME.format(n=self.n_layers)
        self.description = FLOW_DESCRIPTION.format(n=self.n_layers)
        self.n_params = 5 + 5 * self.n_layers

    def __repr__(self) -> str:
        return f"FlowFamily({self.id!r}, n_layers={self.n_layers}, n_params={self.n_params})"

    def _not_a_mixture(self, what: str) -> FamilyError:
        return FamilyError(f"{self.id} is a flow, not a Gaussian mixture: it has no {what}; "
                           "use vi_core.flows (flow_elbo, fit_flow) for its ELBO and fit")

    def expand(self, theta: Any) -> tuple[np.ndarray, np.ndarray]:
        raise self._not_a_mixture("mixture blocks")

    def pullback(self, g_logits: np.ndarray, g_block: np.ndarray) -> np.ndarray:
        raise self._not_a_mixture("mixture blocks")

    def factors(self, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise self._not_a_mixture("Gaussian components")

    def components(self, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise self._not_a_mixture("Gaussian components")

    def entropy(self, theta: Any) -> float:
        raise self._not_a_mixture("closed-form entropy (flow_elbo's entropy term estimates it)")

    def from_blocks(self, logits: np.ndarray, block: np.ndarray) -> np.ndarray:
        raise self._not_a_mixture("mixture blocks (start it with flows.initial_flow_params)")

    def check_theta(self, theta: Any) -> np.ndarray:
        """theta as a float vector, or FamilyError on a wrong size or non-finite entries."""
        try:
            t = np.asarray(theta, dtype=float)
        except (TypeError, ValueError) as exc:
            raise FamilyError(f"{self.id}: parameters must be numbers ({exc})") from None
        if t.ndim != 1 or t.size != self.n_params:
            raise FamilyError(f"{self.id}: expected {self.n_params} unconstrained parameters, "
                              f"got shape {t.shape}")
        if not np.all(np.isfinite(t)):
            raise FamilyError(f"{self.id}: parameters must be finite (got NaN or inf)")
        return t

    def unpack(self, theta: Any) -> tuple[np.ndarray, np.ndarray, list[_Layer]]:
        """(mean m (2,), Cholesky factor L (2, 2), [(w (2,), u (2,), b, c) per layer])."""
        t = self.check_theta(theta)
        mx, my, a, b, v = t[:5]
        chol = np.array([[np.exp(a), 0.0], [np.tanh(v) * np.exp(b), np.exp(b) / np.cosh(v)]])
        layers = []
        for k in range(self.n_layers):
            sigma, tau, rho, phi, beta = t[5 + 5 * k: 10 + 5 * k]
            r = np.exp(rho)
            what = np.array([np.cos(phi), np.sin(phi)])
            wperp = np.array([-np.sin(phi), np.cos(phi)])
            c = float(_softplus(sigma) - 1.0)
            layers.append((r * what, (c / r) * what + tau * wperp, float(beta), c))
        return np.array([mx, my]), chol, layers

    def forward(self, theta: Any, z: Any) -> Pass:
        """T applied to base points z (N, 2): a ``Pass`` with ``x`` and ``logdet``."""
        return Pass(self, self.check_theta(theta), np.atleast_2d(np.asarray(z, dtype=float)))

    def inverse(self, theta: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """(z_0 = T^-1(x) (N, 2), log|det dT/dz| at z_0 (N,)) for points x (N, 2)."""
        m, chol, layers = self.unpack(theta)
        x = np.atleast_2d(np.asarray(x, dtype=float))
        y1 = (x[:, 0] - m[0]) / chol[0, 0]
        y2 = (x[:, 1] - m[1] - chol[1, 0] * y1) / chol[1, 1]
        y = np.column_stack([y1, y2])
        logdet = np.full(len(y), np.log(chol[0, 0]) + np.log(chol[1, 1]))
        for w, u, b, c in reversed(layers):
            beta = y @ w + b
            alpha = _solve_planar(beta, c)
            t = np.tanh(alpha)
            y = y - t[:, None] * u
            logdet = logdet + np.log1p(c * (1.0 - t * t))
        return y, logdet

    def log_density(self, theta: Any, x: Any, y: Any) -> np.ndarray:
        """log q(x, y) (broadcasting x and y) by the inverse map (module docstring)."""
        x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        shape = x.shape
        with np.errstate(all="ignore"):
            z, logdet = self.inverse(theta, np.column_stack([x.ravel(), y.ravel()]))
            out: np.ndarray = -_LOG_2PI - 0.5 * np.sum(z * z, axis=1) - logdet
        return out.reshape(shape)

    def sample(self, theta: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws, shape (n, 2): z ~ N(0, I) pushed through T."""
        n = int(n)
        if n < 0:
            raise FamilyError(f"{self.id}: number of samples must be >= 0, got {n}")
        z = rng.standard_normal((n, 2))
        return self.forward(theta, z).x

    # -- natural parameters ---------------------------------------------------------------
    def to_natural(self, theta: Any) -> dict[str, Any]:
        """The base Gaussian as ``gaussian-full`` writes it (weights, means, scales,
        correlations: one entry) and ``layers``: [{"u": [..], "w": [..], "b": ..}] per layer,
        the paper's u (with w . u > -1), w and b. Plain floats (JSON-able)."""
        m, _, layers = self.unpack(theta)
        t = self.check_theta(theta)
        return {
            "weights": [1.0],
            "means": [[float(m[0]), float(m[1])]],
            "scales": [[float(np.exp(t[2])), float(np.exp(t[3]))]],
            "correlations": [float(np.tanh(t[4]))],
            "layers": [{"u": [float(u[0]), float(u[1])], "w": [float(w[0]), float(w[1])],
                        "b": float(b)} for w, u, b, _ in layers],
        }

    def from_natural(self, natural: Mapping[str, Any]) -> np.ndarray:
        """Inverse of ``to_natural``: ``layers`` default to identity layers; raise FamilyError
        on anything that does not fit (wrong count, w = 0, w . u <= -1)."""
        fid = self.id
        if not isinstance(natural, Mapping):
            raise FamilyError(f"{fid}: natural parameters must be a mapping")
        try:
            mean = np.asarray(natural["means"], dtype=float).reshape(2)
            scale = np.asarray(natural["scales"], dtype=float).reshape(2)
            rho = float(np.asarray(natural.get("correlations", [0.0]), dtype=float).reshape(()))
        except (KeyError, TypeError, ValueError) as exc:
            raise FamilyError(f"{fid}: natural parameters need one mean, scale and correlation "
                              f"({exc})") from None
        if np.any(scale <= 0) or not abs(rho) < 1 or not np.all(np.isfinite([*mean, *scale])):
            raise FamilyError(f"{fid}: scales must be > 0 and |correlation| < 1")
        theta = [mean[0], mean[1], np.log(scale[0]), np.log(scale[1]), np.arctanh(rho)]
        layers = natural.get("layers")
        if layers is None:
            layers = [None] * self.n_layers
        if len(layers) != self.n_layers:
            raise FamilyError(f"{fid}: expected {self.n_layers} layers, got {len(layers)}")
        for k, layer in enumerate(layers):
            if layer is None:
                theta += identity_layer(k)
                continue
            try:
                u = np.asarray(layer["u"], dtype=float).reshape(2)
                w = np.asarray(layer["w"], dtype=float).reshape(2)
                b = float(layer["b"])
            except (KeyError, TypeError, ValueError) as exc:
                raise FamilyError(f"{fid}: layer {k} needs u, w (pairs) and b ({exc})") from None
            r = float(np.hypot(*w))
            c = float(w @ u)
            if not r > 0 or not c > -1 or not np.all(np.isfinite([*u, *w, b])):
                raise FamilyError(f"{fid}: layer {k} needs w != 0 and w . u > -1 (invertible)")
            phi = float(np.arctan2(w[1], w[0]))
            wperp = np.array([-np.sin(phi), np.cos(phi)])
            theta += [float(np.log(np.expm1(c + 1.0))), float(u @ wperp), float(np.log(r)),
                      phi, b]
        return self.check_theta(theta)

    # -- the allowed box ------------------------------------------------------------------
    def bounds(self, extent: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Box (lo, hi) on theta: the affine part as ``gaussian-full`` for this extent
        (``Family.natural_ranges``), each layer within a fixed box in whitened units (|w| in
        [0.05, 6], c in (-0.9997, 7), |tau| <= 6, |b| <= 6, phi free)."""
        xmin, xmax, ymin, ymax = (float(v) for v in extent)
        w, h = xmax - xmin, ymax - ymin
        size = max(w, h)
        lo_s, hi_s = np.log(size) - 10.0, np.log(size) + 3.0
        lo = np.concatenate([[xmin - 3 * w, ymin - 3 * h, lo_s, lo_s, -_U_BOUND],
                             np.tile(_LAYER_LO, self.n_layers)])
        hi = np.concatenate([[xmax + 3 * w, ymax + 3 * h, hi_s, hi_s, _U_BOUND],
                             np.tile(_LAYER_HI, self.n_layers)])
        return lo, hi

    def base_entropy(self, theta: Any) -> float:
        """Entropy of the affine base N(m, L L^T) alone: 1 + log 2 pi + log|L|."""
        t = self.check_theta(theta)
        return float(1.0 + _LOG_2PI + t[2] + t[3] - log_cosh(t[4]))


def identity_layer(k: int) -> list[float]:
    """Numbers of an identity layer (c = 0, tau = 0, |w| = 1) whose direction turns by the
    golden angle from layer to layer and whose offset cycles through -1..1, so that the layers
    of a fresh flow start with different gradients."""
    phi = float((k * np.pi * (3.0 - np.sqrt(5.0))) % (2 * np.pi) - np.pi)
    beta = float((-1.0, 0.0, 1.0)[k % 3])
    return [IDENTITY_SIGMA, 0.0, 0.0, phi, beta]


def _solve_planar(beta: np.ndarray, c: float) -> np.ndarray:
    """alpha with alpha + c tanh(alpha) = beta (c > -1: strictly increasing), by Newton steps
    kept inside the bracket [beta - |c|, beta + |c|] (bisection otherwise)."""
    lo, hi = beta - abs(c), beta + abs(c)
    alpha = beta - c * np.tanh(beta) if c > -0.5 else 0.5 * (lo + hi)
    alpha = np.clip(alpha, lo, hi)
    for _ in range(100):
        t = np.tanh(alpha)
        g = alpha + c * t - beta
        lo = np.where(g < 0, alpha, lo)
        hi = np.where(g > 0, alpha, hi)
        step = g / (1.0 + c * (1.0 - t * t))
        new = alpha - step
        out = (new < lo) | (new > hi) | ~np.isfinite(new)
        new = np.where(out, 0.5 * (lo + hi), new)
        done = np.abs(new - alpha) <= 1e-15 * (1.0 + np.abs(alpha))
        alpha = new
        if np.all(done | (hi - lo <= 1e-15 * (1.0 + np.abs(alpha)))):
            break
    return alpha


def flow_family(family_id: str) -> FlowFamily:
    """``flow`` (DEFAULT_FLOW_LAYERS layers) or ``flow-N`` (N = 1..MAX_FLOW_LAYERS)."""
    fid = str(family_id).strip()
    if fid == "flow":
        return FlowFamily(DEFAULT_FLOW_LAYERS)
    suffix = fid[len("flow-"):]
    if not fid.startswith("flow-") or not suffix.isdigit() or not \
            1 <= int(suffix) <= MAX_FLOW_LAYERS:
        raise FamilyError(f"unknown family {fid!r}: a flow is flow or flow-N, "
                          f"N = 1..{MAX_FLOW_LAYERS}")
    return FlowFamily(int(suffix))


register_flow_builder(flow_family)
