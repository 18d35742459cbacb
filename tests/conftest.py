"""What every test folder shares: the slow marker, and the builds that several modules check.

``make test`` runs everything but the tests marked ``slow`` (exhaustive sweeps, the 20-restart
fits); ``make test-slow`` runs those (``VI_CORE_SLOW=1``). The builds are made once per test
process and shared: a fresh build (nothing reused but the verified Pyodide files) to compare
byte for byte with a kept one, and a ``--runtime cdn`` build.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_CACHE = ROOT / ".cache" / "pyodide"
SLOW = os.environ.get("VI_CORE_SLOW") == "1"


def pytest_collection_modifyitems(config, items) -> None:
    if SLOW:
        return
    skip = pytest.mark.skip(reason="slow: `make test-slow` runs it (VI_CORE_SLOW=1)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _build(out: Path, **options) -> Path:
    import build

    build.build(out, ROOT / "site.toml", BUILD_CACHE, None, offline=True, **options)
    return out


@pytest.fixture(scope="session")
def kept_build(tmp_path_factory) -> Path:
    """The site built with everything the build cache keeps (as ``make build`` does)."""
    return _build(tmp_path_factory.mktemp("kept") / "dist")


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory) -> Path:
    """The site built from scratch: every view, claim, wheel and encoding computed anew."""
    return _build(tmp_path_factory.mktemp("fresh") / "dist", fresh=True)


@pytest.fixture(scope="session")
def cdn_build(tmp_path_factory) -> Path:
    """The ``--runtime cdn`` build (Pyodide and its packages from the official CDN)."""
    return _build(tmp_path_factory.mktemp("cdn") / "dist", runtime_mode="cdn")
