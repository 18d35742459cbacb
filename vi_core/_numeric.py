"""Small numeric helpers shared by the modules above (numpy only, so the core runs without scipy).

``logsumexp`` is scipy.special.logsumexp's contract for real input (tested against it); it is
written here, once, because vi_core depends on numpy alone (scipy is optional, so that a page
can start Python without it).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["json_number", "log_cosh", "logsumexp", "logsumexp_softmax"]


def logsumexp_softmax(a: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(log sum exp(a), exp(a - that)) along ``axis``: the log normaliser and the softmax
    weights (a mixture's responsibilities) from one pass of exp, without overflow. Where every
    entry is -inf the value is -inf and the weights NaN."""
    a = np.asarray(a, dtype=float)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(under="ignore"):
        e = np.exp(a - m)
    s = np.sum(e, axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log(s) + m
        weights = e / s
    return np.squeeze(value, axis=axis), weights


def logsumexp(a: np.ndarray, axis: int | None = None) -> np.ndarray:
    """log sum exp(a) along ``axis`` (all entries if None), without overflow; -inf where every
    entry is -inf."""
    a = np.asarray(a, dtype=float)
    if axis is None:
        return logsumexp_softmax(a.ravel())[0]
    return logsumexp_softmax(a, axis=axis)[0]


def log_cosh(u: np.ndarray) -> np.ndarray:
    """log cosh(u) = |u| + log1p(e^{-2|u|}) - log 2, without overflow."""
    u = np.abs(u)
    out: np.ndarray = u + np.log1p(np.exp(-2.0 * u)) - np.log(2.0)
    return out


def json_number(value: float) -> float | None:
    """A float for JSON, which has no NaN or inf: those become null (the reader says so)."""
    value = float(value)
    return value if math.isfinite(value) else None
