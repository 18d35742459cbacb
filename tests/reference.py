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

from sitegen.cache import Memo, build_session
from vi_core.fit import FitResult, fit
from vi_core.protocol import Session

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


@cache
def library_fit(target: str, family: str, optimizer: str = "lbfgs") -> FitResult:
    """``vi_core.fit`` from the family's Reset q: what ``python -m vi_core fit`` prints."""
    return fit(target, family, optimizer)
