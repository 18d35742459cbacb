"""Notices of everything the site redistributes, with their licence texts, for licenses.html
and the licences section of standalone.html."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

from sitegen import NPM, ROOT, SITE_SRC
from sitegen.runtime import PYODIDE_VERSION, Runtime

# The npm libraries bundled into app.js (d3-contour and what it and the colour scale import).
FRONT_END_PACKAGES = ("d3-contour", "d3-array", "internmap", "d3-scale-chromatic",
                      "d3-interpolate", "d3-color")


def license_notices(runtime: Runtime, vi_core_version: str) -> list[dict]:
    """``[{name, license, text}]``: this project, Pyodide, CPython, numpy, scipy, OpenBLAS and the
    front-end libraries, in that order. Read from the files that ship (wheels, npm packages)."""

    def wheel_license(file_name: str, member: str) -> str:
        with zipfile.ZipFile(runtime.files[file_name]) as archive:
            return archive.read(member).decode()

    lock = runtime.lock["packages"]
    numpy_whl, scipy_whl = lock["numpy"]["file_name"], lock["scipy"]["file_name"]
    python_license = Path(sys.base_prefix) / "lib" / "python3.12" / "LICENSE.txt"
    notices = [
        {"name": f"vi_core {vi_core_version} and this page", "license": "MIT",
         "text": (ROOT / "LICENSE").read_text()},
        {"name": f"Pyodide {PYODIDE_VERSION}", "license": "MPL-2.0",
         "text": (SITE_SRC / "licenses" / "pyodide.txt").read_text()},
        {"name": f"CPython {runtime.lock['info']['python']} (in Pyodide)",
         "license": "PSF-2.0",
         "text": python_license.read_text() if python_license.exists()
         else "Python Software Foundation License, https://docs.python.org/3/license.html"},
        {"name": f"numpy {lock['numpy']['version']}", "license": "BSD-3-Clause",
         "text": wheel_license(numpy_whl,
                               f"numpy-{lock['numpy']['version']}.dist-info/LICENSE.txt")},
        {"name": f"scipy {lock['scipy']['version']}", "license": "BSD-3-Clause",
         "text": wheel_license(scipy_whl,
                               f"scipy-{lock['scipy']['version']}.dist-info/LICENSE.txt")},
        {"name": f"OpenBLAS {lock['openblas']['version']}", "license": "BSD-3-Clause",
         "text": (SITE_SRC / "licenses" / "openblas.txt").read_text()},
    ]
    for package in FRONT_END_PACKAGES:
        meta = json.loads((NPM / package / "package.json").read_text())
        notices.append({"name": f"{package} {meta['version']}", "license": meta.get("license", ""),
                        "text": (NPM / package / "LICENSE").read_text()})
    return notices
