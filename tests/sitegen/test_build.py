"""The generator: verified runtime files, reproducible output, checked configuration, and a
render step that turns plain data into pages without touching disk."""

from __future__ import annotations

import base64
import builtins
import filecmp
import gzip
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from sitegen import BuildError
from sitegen import runtime as rt
from sitegen.bundle import inline_asset
from sitegen.cache import CachedSession, Memo, build_session
from sitegen.claims import check_all
from sitegen.config import load_config, parse_config
from sitegen.data import gather_data, initial_data
from sitegen.render import render, script_json
from sitegen.write import write_site
from vi_core.protocol import Session

ROOT = Path(__file__).resolve().parents[2]
BUILD_CACHE = ROOT / ".cache" / "pyodide"


def kept() -> CachedSession:
    """A protocol session whose pure replies are the build's kept ones (sitegen.cache)."""
    return build_session(Memo(BUILD_CACHE))


@pytest.fixture(scope="module")
def lock() -> dict:
    return rt.load_lock(ROOT / "node_modules" / "pyodide")


def test_only_numpy_scipy_and_their_dependencies_ship(lock):
    assert rt.dependency_closure(lock, rt.PAGE_PACKAGES) == ["numpy", "openblas", "scipy"]


def test_a_corrupted_cached_file_is_detected_and_named(lock, tmp_path):
    entry = lock["packages"]["openblas"]
    files = tmp_path / "files"
    files.mkdir()
    (files / entry["file_name"]).write_bytes(b"not the real openblas")
    actual = hashlib.sha256(b"not the real openblas").hexdigest()
    with pytest.raises(rt.VendorError) as err:
        rt.fetch_package_files(lock, ["openblas"], tmp_path, sources=[])
    message = str(err.value)
    assert entry["file_name"] in message
    assert entry["sha256"] in message and actual in message


def test_a_file_with_the_wrong_hash_from_a_source_is_refused(lock, tmp_path):
    entry = lock["packages"]["openblas"]
    local = tmp_path / "local"
    local.mkdir()
    (local / entry["file_name"]).write_bytes(b"tampered")
    source = rt.LocalDirSource("local directory", local)
    with pytest.raises(rt.VendorError, match=entry["file_name"]):
        rt.fetch_package_files(lock, ["openblas"], tmp_path / "cache", sources=[source])
    assert not (tmp_path / "cache" / "files" / entry["file_name"]).exists()


def test_a_local_distribution_is_used_when_it_matches(lock, tmp_path):
    entry = lock["packages"]["openblas"]
    cached = ROOT / ".cache" / "pyodide" / "files" / entry["file_name"]
    if not cached.exists():
        pytest.skip("run `make build` first: the real file is needed")
    local = tmp_path / "local"
    local.mkdir()
    (local / entry["file_name"]).write_bytes(cached.read_bytes())
    out = rt.fetch_package_files(lock, ["openblas"], tmp_path / "cache",
                                 sources=[rt.LocalDirSource("local directory", local)])
    assert rt.sha256_of(out[entry["file_name"]]) == entry["sha256"]


def test_the_site_lock_keeps_the_release_info(lock):
    site = rt.site_lock(lock, ["numpy"], [{"name": "vi-core"}])
    assert site["info"]["version"] == rt.PYODIDE_VERSION
    assert set(site["packages"]) == {"numpy", "vi-core"}


def _zip(path: Path, members: dict[str, bytes], compress: int) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6))
            info.external_attr = 0o755 << 16
            archive.writestr(info, data, compress_type=compress)
    return path


def test_stored_zips_are_repacked_with_deflate_and_the_lock_says_so(tmp_path):
    members = {"lib/libfoo.so": b"\0asm" + b"abc" * 20000, "lib/empty": b""}
    stored = _zip(tmp_path / "foo-1.zip", members, zipfile.ZIP_STORED)
    deflated = _zip(tmp_path / "bar-1.whl", members, zipfile.ZIP_DEFLATED)
    lock = {"info": {}, "packages": {
        "foo": {"file_name": "foo-1.zip", "sha256": rt.sha256_of(stored)},
        "bar": {"file_name": "bar-1.whl", "sha256": rt.sha256_of(deflated)}}}
    files = {"foo-1.zip": stored, "bar-1.whl": deflated}
    out, new_lock, report = rt.repack(files, lock, ["foo", "bar"], tmp_path / "out")
    # Only the stored one is repacked; the other file and its lock entry are untouched.
    assert set(report) == {"foo-1.zip"} and out["bar-1.whl"] == deflated
    assert new_lock["packages"]["bar"] == lock["packages"]["bar"]
    before, after = report["foo-1.zip"]
    assert after < before / 10 == stored.stat().st_size / 10
    # The lock's sha256 is the repacked file's; the members, dates and modes are the same.
    assert new_lock["packages"]["foo"]["sha256"] == rt.sha256_of(out["foo-1.zip"])
    assert lock["packages"]["foo"]["sha256"] == rt.sha256_of(stored)  # input not mutated
    with zipfile.ZipFile(stored) as a, zipfile.ZipFile(out["foo-1.zip"]) as b:
        assert [(i.filename, i.date_time, i.external_attr) for i in a.infolist()] == \
               [(i.filename, i.date_time, i.external_attr) for i in b.infolist()]
        assert all(b.read(n) == a.read(n) for n in a.namelist())
        assert b.getinfo("lib/libfoo.so").compress_type == zipfile.ZIP_DEFLATED
    # Deterministic: a second repack gives the same bytes.
    again, _, _ = rt.repack(files, lock, ["foo"], tmp_path / "again")
    assert again["foo-1.zip"].read_bytes() == out["foo-1.zip"].read_bytes()


def test_a_stored_zip_that_does_not_shrink_is_shipped_as_it_is(tmp_path):
    stored = _zip(tmp_path / "rnd-1.zip", {"x": os.urandom(50000)}, zipfile.ZIP_STORED)
    lock = {"info": {}, "packages": {"rnd": {"file_name": "rnd-1.zip",
                                             "sha256": rt.sha256_of(stored)}}}
    out, new_lock, report = rt.repack({"rnd-1.zip": stored}, lock, ["rnd"], tmp_path / "out")
    assert report == {} and out["rnd-1.zip"] == stored and new_lock == lock


def test_the_ipad_fix_is_applied_to_the_official_runtime_only(tmp_path):
    official = ROOT / "node_modules" / "pyodide" / "pyodide.asm.js"
    digest = rt.patch_ios_detection(official, tmp_path / "pyodide.asm.js")
    patched = (tmp_path / "pyodide.asm.js").read_text(encoding="utf-8")
    assert digest == rt.sha256_of(tmp_path / "pyodide.asm.js") != rt.OFFICIAL_ASM_JS_SHA256
    assert rt.IOS_TEST not in patched and patched.count(rt.IOS_TEST_FIXED) == 1
    # Nothing else changed.
    assert patched.replace(rt.IOS_TEST_FIXED, rt.IOS_TEST) == official.read_text(encoding="utf-8")
    tampered = tmp_path / "tampered.asm.js"
    tampered.write_text(official.read_text(encoding="utf-8") + "//")
    with pytest.raises(rt.VendorError, match="not patching"):
        rt.patch_ios_detection(tampered, tmp_path / "out.js")


@pytest.mark.parametrize("platform,agent,touch,ios", [
    ("MacIntel", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari", 5, True),  # iPad
    ("MacIntel", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari", 0, False),  # a Mac
    ("iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", 5, True),
    ("Linux x86_64", "Mozilla/5.0 (X11; Linux x86_64) Chrome", 0, False),
    ("Win32", "Mozilla/5.0 (Windows NT 10.0) Chrome", 10, False),  # a touch laptop
])
def test_the_patched_ios_test_tells_ipads_from_macs(platform, agent, touch, ios):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    expression = rt.IOS_TEST_FIXED.removeprefix("let isIOS=").rstrip(";")
    script = (f"globalThis.navigator = {json.dumps({'platform': platform, 'userAgent': agent,
                                                     'maxTouchPoints': touch})};"
              f"process.stdout.write(String(Boolean({expression})));")
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    assert out.stdout == str(ios).lower()


def test_a_vendor_error_is_a_build_error():
    # build.py's CLI reports every BuildError as "build failed: ..." with exit code 1.
    assert issubclass(rt.VendorError, BuildError)


# ------------------------------------------------------------------------------------ config


def test_scene_config_is_checked(tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text('[[scenes]]\nslug = "x"\ntitle = "X"\ntarget = "nope"\n'
                   'family = "gaussian-full"\n')
    with pytest.raises(BuildError, match="nope"):
        load_config(bad)
    bad.write_text('[[scenes]]\nslug = "x"\ntitle = "X"\ntarget = "banana"\n')
    with pytest.raises(BuildError, match="family"):
        load_config(bad)
    bad.write_text('[[scenes]]\nslug = "x"\ntitle = "X"\ntarget = "banana"\n'
                   'family = "gaussian-full"\nq = { means = [[0, 0]], scales = [[-1, 1]] }\n')
    with pytest.raises(BuildError, match="x"):
        load_config(bad)


def _scene(**fields) -> dict:
    return {"slug": "s", "title": "S", "target": "banana", "family": "gaussian-full", **fields}


@pytest.mark.parametrize(("raw", "message"), [
    ({"site": {"target": "nope"}}, "site.toml: [site]: Unknown target 'nope'"),
    ({"site": {"q": {"means": [[0.0, 0.0]], "scales": [[-1.0, 1.0]]}}}, "site.toml: [site]: "),
    ({"scenes": [{"slug": "s", "title": "S"}]}, "site.toml: scene 1 lacks family, target"),
    ({"scenes": [_scene(slug="a b")]},
     "site.toml: scene 1: slug 'a b' must be unique letters, digits, - or _"),
    ({"scenes": [_scene(), _scene()]},
     "site.toml: scene 2: slug 's' must be unique letters, digits, - or _"),
    ({"scenes": [_scene(), _scene(slug="t", family="nope")]}, "site.toml: scene 2 (t): "),
])
def test_config_errors_say_where(raw, message):
    """Each problem stops the build with a message that starts by saying where it is."""
    with pytest.raises(BuildError, match="^" + re.escape(message)):
        parse_config(raw, "site.toml", kept())


def test_config_fills_defaults():
    means = [[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]]
    scales = [[0.5, 0.5]] * 3
    config = parse_config({"scenes": [_scene(family="mixture-3",
                                             q={"means": means, "scales": scales})]},
                          "site.toml", Session())
    assert config["title"] == "Variational inference"
    assert config["defaults"] == {"target": "banana", "family": "gaussian-full",
                                  "optimizer": "lbfgs", "natural": None}
    (scene,) = config["scenes"]
    assert scene["text"] == "" and scene["defaults"]["optimizer"] == "lbfgs"
    assert scene["defaults"]["natural"] == {"means": means, "scales": scales,
                                            "correlations": [0.0] * 3, "weights": [1 / 3] * 3}


# ------------------------------------------------------------------------------------ data


def test_initial_data_is_plain_json():
    # the build's kept replies (two checked afresh below)
    session = build_session(Memo(BUILD_CACHE))
    config = load_config(ROOT / "site.toml", session)
    data = gather_data(config, session)
    initial = initial_data(config["defaults"], data, data["first_views"]["main"],
                           {"mode": "vendored"})
    assert json.loads(json.dumps(data)) == data
    assert json.loads(json.dumps(initial)) == initial
    assert initial["view"]["target"] == config["defaults"]["target"]
    assert "</script" not in str(script_json({"x": "</script><b>"}))
    # The colour map uses the catalog's default grid, and every scene has its first view.
    nx, ny = data["catalog"]["defaults"]["target_grid"]
    assert (initial["target_grid"]["nx"], initial["target_grid"]["ny"]) == (nx, ny)
    assert set(data["first_views"]["scenes"]) == {s["slug"] for s in config["scenes"]}
    # A Reset q for every built-in target x family.
    assert set(data["initial_thetas"]) == {t["id"] for t in data["catalog"]["targets"]}
    for thetas in data["initial_thetas"].values():
        assert set(thetas) == {f["id"] for f in data["catalog"]["families"]}
    # Every built-in link's first view: the grid and each family's Reset view, which is the
    # view the protocol gives without theta (and the one the Reset theta evaluates to).
    assert set(data["views"]) == set(data["initial_thetas"])
    fresh = Session()
    for target, family in [("bimodal", "gaussian-full"), ("ring", "mixture-3")]:
        view = data["views"][target]["families"][family]
        assert view == fresh.handle({"method": "evaluate", "params": {
            "target": target, "family": family}})["result"]
        assert view["theta"] == data["initial_thetas"][target][family]
        grid = data["views"][target]["target_grid"]
        assert (grid["target"], grid["nx"], grid["ny"]) == (target, nx, ny)


# ------------------------------------------------------------------------------------ render

TEMPLATES = {path.name: path.read_text(encoding="utf-8")
             for path in sorted((ROOT / "site_src" / "templates").glob("*.j2"))}


def _plain_inputs() -> tuple[dict, dict, dict]:
    """A site of one scene, in plain data made up here (nothing computed, nothing read)."""
    defaults = {"target": "banana", "family": "gaussian-full", "optimizer": "lbfgs",
                "natural": None}
    config = {"title": "A <title>", "defaults": defaults, "scenes": [
        {"slug": "one", "title": "Scene one", "text": "About </script> scene one.",
         "defaults": {**defaults, "family": "gaussian-diagonal"}}]}
    first = {"target_grid": {"target": "banana", "nx": 2, "ny": 2,
                             "log_density": [0.0, -1.0, None, -2.0]},
             "view": {"target": "banana", "note": "</script><b>"}}
    data = {"vi_core_version": "9.9.9",
            "catalog": {"targets": [{"id": "banana"}], "families": [{"id": "gaussian-full"}],
                        "optimizers": [], "defaults": {"target_grid": [2, 2]}},
            "initial_thetas": {"banana": {"gaussian-full": [0.0, 1.0]}},
            "first_views": {"main": first, "scenes": {"one": first}},
            "views": {"banana": {"target_grid": first["target_grid"],
                                 "families": {"gaussian-full": first["view"]}}}}
    assets = {"templates": TEMPLATES,
              "runtime": {"mode": "cdn", "index_url": "https://example.invalid/"},
              "pyodide_version": "0.0.1",
              "licenses": [{"name": "Thing 1.0", "license": "MIT", "text": "Permission..."}],
              "app_js": "console.log('</script>')", "css": "body{color:red}",
              "favicon_svg": "<svg></svg>",
              "inline_assets": [inline_asset("worker.js", b"self.onmessage = null;")]}
    return config, data, assets


def _embedded(html: str) -> dict:
    start = html.index('id="vi-initial">') + len('id="vi-initial">')
    return json.loads(html[start:html.index("</script>", start)])


@pytest.fixture
def no_disk(monkeypatch):
    """Any file read or write fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"render touched the disk: {args!r}")

    for owner, name in [(builtins, "open"), (io, "open"), (pathlib.Path, "open"),
                        (pathlib.Path, "read_text"), (pathlib.Path, "read_bytes"),
                        (pathlib.Path, "write_text"), (pathlib.Path, "write_bytes"),
                        (pathlib.Path, "exists"), (pathlib.Path, "stat")]:
        monkeypatch.setattr(owner, name, refuse)


def test_render_makes_every_page_from_plain_data_without_disk(no_disk):
    config, data, assets = _plain_inputs()
    pages = render(config, data, assets)
    assert set(pages) == {"index.html", "standalone.html", "scenes/one.html",
                          "scenes/index.html", "licenses.html", "views/banana/grid.json",
                          "views/banana/gaussian-full.json"}
    assert json.loads(pages["views/banana/gaussian-full.json"]) == data["first_views"]["main"][
        "view"]
    assert json.loads(pages["views/banana/grid.json"]) == data["first_views"]["main"][
        "target_grid"]

    main = _embedded(pages["index.html"])
    assert main == initial_data(config["defaults"], data, data["first_views"]["main"],
                                assets["runtime"], views_url="views/")
    assert 'src="assets/app.js"' in pages["index.html"]
    assert "<title>A &lt;title&gt;</title>" in pages["index.html"]
    assert "vi_core 9.9.9 · Pyodide 0.0.1" in pages["index.html"]
    assert 'href="scenes/index.html"' in pages["index.html"]
    # The icon is inline: no request for it when the page rewrites its link.
    assert 'rel="icon" href="data:image/svg+xml,%3Csvg%3E%3C/svg%3E"' in pages["index.html"]
    assert "favicon.svg" not in pages["index.html"]

    standalone = pages["standalone.html"]
    assert _embedded(standalone) == {**main, "runtime": {"mode": "inline"}, "views_url": None}
    assert "<style>body{color:red}</style>" in standalone
    assert "console.log('<\\/script>')" in standalone
    assert f'data-name="worker.js" data-encoding="gzip">{assets["inline_assets"][0]["data"]}' \
        in standalone
    assert "Thing 1.0 (MIT)" in standalone and 'href="scenes/index.html"' not in standalone
    assert 'src="assets/' not in standalone and 'href="assets/' not in standalone

    scene = pages["scenes/one.html"]
    assert _embedded(scene)["defaults"]["family"] == "gaussian-diagonal"
    assert _embedded(scene)["views_url"] == "../views/"
    assert 'src="../assets/app.js"' in scene and "<h1>Scene one</h1>" in scene
    assert "About &lt;/script&gt; scene one." in scene
    assert 'href="one.html?embed=1"' in pages["scenes/index.html"]
    assert "Thing 1.0" in pages["licenses.html"]


def test_render_is_deterministic():
    config, data, assets = _plain_inputs()
    assert render(config, data, assets) == render(config, data, assets)


# ------------------------------------------------------------------------------------ write


def test_write_replaces_the_output_and_ships_the_runtime_only_when_vendored(tmp_path):
    runtime_file = tmp_path / "pyodide.js"
    runtime_file.write_text("// runtime")
    wheel = tmp_path / "vi_core-0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    runtime = rt.Runtime(files={"pyodide.js": runtime_file},
                         lock={"info": {"version": rt.PYODIDE_VERSION}, "packages": {}})
    out = tmp_path / "dist"
    (out / "stale").mkdir(parents=True)
    pages = {"index.html": "<p>index</p>", "scenes/a.html": "<p>a</p>"}
    for mode, shipped in (("vendored", True), ("cdn", False)):
        files = write_site(out, pages, app_js="app", worker_js="worker", wheel=wheel,
                           runtime=runtime, runtime_mode=mode)
        names = {str(p.relative_to(out)) for p in files}
        assert {"index.html", "scenes/a.html", "assets/app.js", "assets/worker.js",
                "assets/style.css", "assets/favicon.svg", f"pyodide/{wheel.name}",
                ".nojekyll"} <= names
        assert not (out / "stale").exists()
        assert ("pyodide/pyodide.js" in names) is shipped
        assert ("pyodide/pyodide-lock.json" in names) is shipped
        assert (out / "scenes" / "a.html").read_text() == "<p>a</p>"


# ------------------------------------------------------------------------------------ build


def test_two_builds_are_byte_identical(kept_build, fresh_build):
    """A build that takes what the cache kept (views, claims, wheel, encodings) writes exactly
    what a build that computes everything anew writes."""
    a, b = kept_build, fresh_build
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files_a], shallow=False)
    assert mismatch == [] and errors == []


def test_urls_are_relative(kept_build):
    for page in kept_build.rglob("*.html"):
        text = page.read_text()
        assert 'src="/' not in text and 'href="/' not in text, page


def test_cdn_runtime_build_is_small_and_pinned(cdn_build):
    out = cdn_build
    files = [p for p in out.rglob("*") if p.is_file() and p.name != "standalone.html"]
    views = out / "views"
    # The code (scripts, style, vi_core's wheel, licences) is small; each page (main, scenes,
    # lessons: a visitor opens one at a time) embeds its own first view and stays small on the
    # wire too, however many lessons and scenes the site has.
    pages = [p for p in files if p.suffix == ".html"]
    code = sum(p.stat().st_size for p in files if views not in p.parents and p not in pages)
    assert code < 2_000_000
    for page in pages:
        assert len(gzip.compress(page.read_bytes())) < 120_000, page
    # The precomputed first views are data, fetched one link at a time and served
    # compressed: each link's pair (target grid + Reset view) stays small on the wire.
    for target in views.iterdir():
        grid = len(gzip.compress((target / "grid.json").read_bytes()))
        for view in target.glob("*.json"):
            if view.name != "grid.json":
                assert grid + len(gzip.compress(view.read_bytes())) < 120_000, view
    assert not (out / "pyodide" / "pyodide.asm.wasm").exists()
    html = (out / "index.html").read_text()
    start = html.index('id="vi-initial">') + len('id="vi-initial">')
    data = json.loads(html[start:html.index("</script>", start)])
    runtime = data["runtime"]
    assert runtime["mode"] == "cdn" and runtime["index_url"] == rt.CDN_BASE
    wasm = (ROOT / "node_modules" / "pyodide" / "pyodide.asm.wasm").read_bytes()
    expected = "sha384-" + base64.b64encode(hashlib.sha384(wasm).digest()).decode()
    assert runtime["integrity"]["pyodide.asm.wasm"] == expected
    assert (out / "pyodide" / runtime["vi_core_wheel"]).exists()


# ------------------------------------------------------------------------------------ policy


def _csp(html: str) -> dict[str, list[str]]:
    import html as html_lib
    content = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert content, "no policy"
    return {part.split()[0]: part.split()[1:]
            for part in html_lib.unescape(content.group(1)).split(";")}


def test_each_page_allows_only_what_it_needs():
    from sitegen.csp import source_hash
    config, data, assets = _plain_inputs()
    pages = render(config, data, {**assets, "runtime": {"mode": "vendored"}})
    served = _csp(pages["index.html"])
    assert served["default-src"] == ["'none'"] and served["connect-src"] == ["'self'"]
    assert served["script-src"] == ["'self'", "'unsafe-eval'"]
    assert served["worker-src"] == ["blob:"]
    for path in ("scenes/one.html", "scenes/index.html", "licenses.html"):
        assert _csp(pages[path]) == served
    # standalone.html: its one inline script and style, by hash; no origin at all.
    standalone = pages["standalone.html"]
    script = re.search(r"<script>(.*?)</script>", standalone, re.DOTALL).group(1)
    style = re.search(r"<style>(.*?)</style>", standalone, re.DOTALL).group(1)
    policy = _csp(standalone)
    assert policy["script-src"][0] == source_hash(script)
    assert policy["style-src"] == [source_hash(style)]
    assert not any("http" in value for values in policy.values() for value in values)
    # The CDN build adds exactly the CDN's origin.
    cdn = _csp(render(config, data, assets)["index.html"])
    assert cdn["connect-src"] == ["'self'", "https://example.invalid"]
    assert "https://example.invalid" in cdn["script-src"]


# ------------------------------------------------------------------------------------ claims

def _claimed(*claims: dict, **scene) -> dict:
    return {"scenes": [{"slug": "mf", "title": "MF", "target": "banana",
                        "family": "gaussian-diagonal", **scene, "claims": list(claims)}]}


def test_a_true_claim_builds_and_a_false_one_stops_the_build_naming_the_scene(tmp_path):
    same = {"says": "mean field loses nothing here",
            "kl_same_as": {"family": "gaussian-full", "within": 0.001}}
    config = parse_config(_claimed(same), "site.toml", kept())
    assert check_all(config) == 1
    worse = {"says": "mean field is much worse here",
             "kl_worse_than": {"family": "gaussian-full", "by": 0.3}}
    config = parse_config(_claimed(same, worse), "site.toml", kept())
    with pytest.raises(BuildError, match=r"scene 'mf': the claim 'mean field is much worse here' "
                                         r"is false .*KL\(gaussian-diagonal\) - "
                                         r"KL\(gaussian-full\) = 0\.1451"):
        check_all(config)
    # A held claim is remembered for the same scene and vi_core; a false one never is.
    cache = tmp_path / "claims"
    check_all(parse_config(_claimed(same), "site.toml", kept()), cache)
    assert len(list(cache.iterdir())) == 1
    with pytest.raises(BuildError):
        check_all(config, cache)
    assert len(list(cache.iterdir())) == 1


@pytest.mark.parametrize(("claim", "quantity"), [
    ({"says": "Optimize gains 5 nats", "elbo_gain_above": 5.0}, "gain = "),
    ({"says": "it ends on the right", "mean_x_above": 0.5}, "mean_x = "),
    ({"says": "it is wide", "scale_x_above": 1.0}, "scale_x = "),
    ({"says": "it is exact", "kl_below": 0.01}, "kl = "),
])
def test_each_kind_of_false_claim_is_caught(claim, quantity):
    config = parse_config(_claimed(claim), "site.toml", kept())
    with pytest.raises(BuildError, match=f"scene 'mf'.*{quantity}"):
        check_all(config)


@pytest.mark.parametrize(("claim", "message"), [
    ({"kl_below": 1}, "needs says"),
    ({"says": "x"}, "exactly one check"),
    ({"says": "x", "kl_below": 1, "kl_above": 0}, "exactly one check"),
    ({"says": "x", "kl_smaller": 1}, "unknown: kl_smaller"),
    ({"says": "x", "kl_below": "small"}, "must be a number"),
    ({"says": "x", "kl_worse_than": {"family": "gaussian-full"}}, "by = number"),
])
def test_a_malformed_claim_is_refused(claim, message):
    with pytest.raises(BuildError, match=message):
        parse_config(_claimed(claim), "site.toml", kept())


def test_the_sites_scenes_carry_claims_and_they_hold():
    # (As the build checks them: a claim that held for the same scene and source is not refit.)
    config = load_config(ROOT / "site.toml", build_session(Memo(BUILD_CACHE)))
    assert all(scene["claims"] for scene in config["scenes"])
    assert check_all(config, BUILD_CACHE / "claims") >= len(config["scenes"])


def test_a_flow_scene_of_any_depth_has_its_claims_checked_by_the_flows_own_fit():
    # flow-2: a depth the page does not list (its id carries the layers); fit by fit_flow, and
    # the probe widens the base's L (vi.scaled).
    ok = {"says": "a wider q trades the terms", "wider_q_trades_terms": 2.0}
    assert check_all(parse_config(_claimed(ok, family="flow-2"), "site.toml", kept())) == 1
    false = {"says": "it is exact", "kl_below": 1e-6}
    with pytest.raises(BuildError, match=r"scene 'mf'.*kl = "):
        check_all(parse_config(_claimed(false, family="flow-2"), "site.toml", kept()))
    mean = {"says": "it ends on the right", "mean_x_above": 0.5}
    with pytest.raises(BuildError, match=r"not flows"):
        check_all(parse_config(_claimed(mean, family="flow-2"), "site.toml", kept()))
