"""Build the vi_core wheel the browser loads: the same source tree, compiled to 3.12 bytecode.

``pip wheel`` makes the pure-Python wheel (SOURCE_DATE_EPOCH fixes zip timestamps) and
``pyodide py-compile`` turns it into a ``cp312-none-any`` wheel of .pyc files, which Pyodide
imports without compiling at start-up. The wheel is then described by a lock entry that depends
on numpy only (as vi_core does), so ``pyodide.loadPackage("vi-core")`` loads numpy and nothing
more; scipy is loaded on demand, when a custom target imports it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from sitegen.cache import Memo, source_digest
from sitegen.runtime import sha256_of

# A fixed date for every zip entry so that two builds of the same tree are byte-identical.
SOURCE_DATE_EPOCH = "1700000000"


def build_wheel(project_dir: Path, memo: Memo) -> Path:
    """The py-compiled vi_core wheel (built once per source: ``memo``); return its path."""
    key = source_digest([project_dir / "vi_core", Path(__file__)],
                        [(project_dir / "pyproject.toml").read_text(),
                         (project_dir / "README.md").read_text(), sys.version])
    folder = memo.folder("wheel", [key], lambda out: _build_wheel(project_dir, out))
    (wheel,) = folder.glob("vi_core-*.whl")
    return wheel


def _build_wheel(project_dir: Path, out_dir: Path) -> None:
    """Build and py-compile the vi_core wheel into ``out_dir``."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # Copy the package alone: building in place would leave build/ and *.egg-info behind.
        src = tmp_path / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(project_dir / name, src / name)
        shutil.copytree(project_dir / "vi_core", src / "vi_core",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--quiet", "--wheel-dir", str(tmp_path / "wheel"), str(src)],
            check=True, env=env,
        )
        (pure,) = (tmp_path / "wheel").glob("vi_core-*.whl")
        pyodide_cli = Path(sys.executable).with_name("pyodide")
        subprocess.run([str(pyodide_cli), "py-compile", "--silent", str(pure)],
                       check=True, env=env)
        (compiled,) = (tmp_path / "wheel").glob("vi_core-*-cp312-*.whl")
        _repack_reproducibly(compiled, out_dir / compiled.name)


def _repack_reproducibly(src: Path, dest: Path) -> None:
    """Copy a zip with sorted entries and one fixed timestamp (py-compile stamps "now")."""
    stamp = time.gmtime(int(SOURCE_DATE_EPOCH))[:6]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in sorted(zin.namelist()):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, zin.read(name))


def lock_entry(wheel: Path, version: str) -> dict:
    """A pyodide-lock.json package entry for the vi_core wheel."""
    return {
        "name": "vi-core",
        "version": version,
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": sha256_of(wheel),
        "package_type": "package",
        "imports": ["vi_core"],
        "depends": ["numpy"],
        "unvendored_tests": False,
        "shared_library": False,
    }
