"""Small numeric helpers shared by the modules above (numpy only, so the core runs without scipy).

``logsumexp`` is scipy.special.logsumexp's contract for real input (tested against it); it is
written here, once, because vi_core depends on numpy alone (scipy is optional, so that a page
can start Python without it).
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_cosh", "logsumexp"]


def logsumexp(a: np.ndarray, axis: int | None = None) -> np.ndarray:
    """log sum exp(a) along ``axis`` (all entries if None), without overflow; -inf where every
    entry is -inf."""
    a = np.asarray(a, dtype=float)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def log_cosh(u: np.ndarray) -> np.ndarray:
    """log cosh(u) = |u| + log1p(e^{-2|u|}) - log 2, without overflow."""
    u = np.abs(u)
    return u + np.log1p(np.exp(-2.0 * u)) - np.log(2.0)
