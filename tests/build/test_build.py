"""The generator: verified runtime files, reproducible output, checked configuration."""

from __future__ import annotations

import base64
import filecmp
import hashlib
import json
from pathlib import Path

import pytest

import build
from sitegen import pyodide_assets as pa

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lock() -> dict:
    return pa.load_lock(ROOT / "node_modules" / "pyodide")


def test_only_numpy_scipy_and_their_dependencies_ship(lock):
    assert pa.dependency_closure(lock, build.PAGE_PACKAGES) == ["numpy", "openblas", "scipy"]


def test_a_corrupted_cached_file_is_detected_and_named(lock, tmp_path):
    entry = lock["packages"]["openblas"]
    files = tmp_path / "files"
    files.mkdir()
    (files / entry["file_name"]).write_bytes(b"not the real openblas")
    actual = hashlib.sha256(b"not the real openblas").hexdigest()
    with pytest.raises(pa.VendorError) as err:
        pa.fetch_package_files(lock, ["openblas"], tmp_path, sources=[])
    message = str(err.value)
    assert entry["file_name"] in message
    assert entry["sha256"] in message and actual in message


def test_a_file_with_the_wrong_hash_from_a_source_is_refused(lock, tmp_path):
    entry = lock["packages"]["openblas"]
    local = tmp_path / "local"
    local.mkdir()
    (local / entry["file_name"]).write_bytes(b"tampered")
    source = pa.LocalDirSource("local directory", local)
    with pytest.raises(pa.VendorError, match=entry["file_name"]):
        pa.fetch_package_files(lock, ["openblas"], tmp_path / "cache", sources=[source])
    assert not (tmp_path / "cache" / "files" / entry["file_name"]).exists()


def test_a_local_distribution_is_used_when_it_matches(lock, tmp_path):
    entry = lock["packages"]["openblas"]
    cached = ROOT / ".cache" / "pyodide" / "files" / entry["file_name"]
    if not cached.exists():
        pytest.skip("run `make build` first: the real file is needed")
    local = tmp_path / "local"
    local.mkdir()
    (local / entry["file_name"]).write_bytes(cached.read_bytes())
    out = pa.fetch_package_files(lock, ["openblas"], tmp_path / "cache",
                                 sources=[pa.LocalDirSource("local directory", local)])
    assert pa.sha256_of(out[entry["file_name"]]) == entry["sha256"]


def test_the_site_lock_keeps_the_release_info(lock):
    site = pa.site_lock(lock, ["numpy"], [{"name": "vi-core"}])
    assert site["info"]["version"] == pa.PYODIDE_VERSION
    assert set(site["packages"]) == {"numpy", "vi-core"}


def test_scene_config_is_checked(tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text('[[scenes]]\nslug = "x"\ntitle = "X"\ntarget = "nope"\nfamily = "gaussian-full"\n')
    with pytest.raises(build.BuildError, match="nope"):
        build.load_config(bad)
    bad.write_text('[[scenes]]\nslug = "x"\ntitle = "X"\ntarget = "banana"\n')
    with pytest.raises(build.BuildError, match="family"):
        build.load_config(bad)
    bad.write_text('[[scenes]]\nslug = "x"\ntitle = "X"\ntarget = "banana"\nfamily = "gaussian-full"\n'
                   'q = { means = [[0, 0]], scales = [[-1, 1]] }\n')
    with pytest.raises(build.BuildError, match="x"):
        build.load_config(bad)


def test_initial_data_is_plain_json():
    config = build.load_config(ROOT / "site.toml")
    data = build.initial_data(config["defaults"], build._protocol("catalog"))
    assert json.loads(json.dumps(data)) == data
    assert data["view"]["target"] == config["defaults"]["target"]
    assert "</script" not in str(build.script_json({"x": "</script><b>"}))


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> tuple[Path, Path]:
    outs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(name) / "dist"
        build.build(out, ROOT / "site.toml", ROOT / ".cache" / "pyodide", None, offline=True)
        outs.append(out)
    return outs[0], outs[1]


def test_two_builds_are_byte_identical(two_builds):
    a, b = two_builds
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files_a], shallow=False)
    assert mismatch == [] and errors == []


def test_urls_are_relative(two_builds):
    a, _ = two_builds
    for page in a.rglob("*.html"):
        text = page.read_text()
        assert 'src="/' not in text and 'href="/' not in text, page


def test_cdn_runtime_build_is_small_and_pinned(tmp_path):
    out = tmp_path / "dist"
    build.build(out, ROOT / "site.toml", ROOT / ".cache" / "pyodide", None, offline=True,
                runtime_mode="cdn")
    shipped = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()
                  and p.name != "standalone.html")
    assert shipped < 2_000_000
    assert not (out / "pyodide" / "pyodide.asm.wasm").exists()
    html = (out / "index.html").read_text()
    start = html.index('id="vi-initial">') + len('id="vi-initial">')
    data = json.loads(html[start:html.index("</script>", start)])
    runtime = data["runtime"]
    assert runtime["mode"] == "cdn" and runtime["index_url"] == pa.CDN_BASE
    wasm = (ROOT / "node_modules" / "pyodide" / "pyodide.asm.wasm").read_bytes()
    expected = "sha384-" + base64.b64encode(hashlib.sha384(wasm).digest()).decode()
    assert runtime["integrity"]["pyodide.asm.wasm"] == expected
    assert (out / "pyodide" / runtime["vi_core_wheel"]).exists()
