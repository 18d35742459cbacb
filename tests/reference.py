"""CPython's side of the comparisons, shared by every test module of a test process.

One protocol session answers for CPython as the page's worker does for Pyodide. Replies to the
protocol's pure requests (``catalog``, ``evaluate``, ``target_grid``, ...) are kept the way the
build keeps them (``sitegen.cache``): by the digest of vi_core's source and the request, in the
build's cache, so the Reset views that the build computed are not computed again (the byte
identity of a fresh build and a kept one is tested in tests/sitegen). vi_core's own fits are
made once per process (``library_fit``).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from sitegen.cache import Memo, build_session
from vi_core.families import Family, get_family
from vi_core.fit import FitResult, fit
from vi_core.protocol import Session
from vi_core.starts import initial_params
from vi_core.target import Target
from vi_core.targets import get_target, target_ids

ROOT = Path(__file__).resolve().parents[1]
BUILD_CACHE = ROOT / ".cache" / "pyodide"

_KEPT = build_session(Memo(BUILD_CACHE))
_SESSION = Session()  # for requests that change a session: runs, custom targets, data


def call(method: str, **params: Any) -> dict:
    """One protocol request answered by CPython; asserts that it succeeded."""
    handler = _KEPT if method in _KEPT.PURE else _SESSION
    reply = handler.handle({"method": method, "params": params})
    assert reply["ok"], reply
    return copy.deepcopy(reply["result"])


@cache
def _catalog() -> dict:
    return call("catalog")


def catalog() -> dict:
    """The protocol's catalog (targets, families, optimizers, comparisons)."""
    return copy.deepcopy(_catalog())


def reset_theta(target: Target | str, family: Family | str) -> np.ndarray:
    """The family's Reset q for a built-in target: ``vi_core.starts.initial_params``, as the
    protocol's ``evaluate`` without theta computes it (kept like the build's replies: the
    screening of candidate starts takes most of a second). Any other target: computed."""
    tgt = get_target(target) if isinstance(target, str) else target
    fam = get_family(family) if isinstance(family, str) else family
    if tgt.id not in target_ids() or get_target(tgt.id) is not tgt:
        return initial_params(tgt, fam)
    return np.asarray(call("evaluate", target=tgt.id, family=fam.id)["theta"], dtype=float)


@cache
def library_fit(target: str, family: str, optimizer: str = "lbfgs") -> FitResult:
    """``vi_core.fit`` from the family's Reset q: what ``python -m vi_core fit`` prints (its
    ``seconds`` aside: the Reset q is ``reset_theta``'s)."""
    return fit(target, family, optimizer, theta0=reset_theta(target, family))
