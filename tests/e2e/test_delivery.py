"""Delivery, tested the way it is used: under a sub-path (GitHub Pages), as one offline file,
inside an article's iframe, and as scene pages."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

from sitegen import runtime as rt
from tests.e2e.conftest import ROOT, start_server, wait_idle, wait_ready
from tests.e2e.helpers import assert_clean, before_python, readouts

pytestmark = pytest.mark.e2e


def optimize_to_the_end(page_or_frame) -> None:
    before = float(page_or_frame.get_attribute("[data-testid=elbo]", "data-value"))
    page_or_frame.click("[data-testid=optimize-button]")
    page_or_frame.wait_for_function(
        "document.documentElement.dataset.viStatus === 'ready' && "
        "!document.querySelector('[data-testid=notice]').hidden", timeout=120_000)
    after = float(page_or_frame.get_attribute("[data-testid=elbo]", "data-value"))
    assert after > before


def test_served_under_a_sub_path(page, page_log, dist):
    srv = start_server(dist, prefix="/sub/dir/")
    try:
        page.goto(srv.base_url)
        wait_ready(page)
        optimize_to_the_end(page)
        assert all("/sub/dir/" in url for url in page_log.requests if url.startswith("http"))
        assert_clean(page_log)
    finally:
        srv.httpd.shutdown()


def test_standalone_file_works_with_no_network(context, dist):
    blocked: list[str] = []

    def gate(route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((dist / "standalone.html").as_uri())
    wait_ready(page, timeout=180_000)
    optimize_to_the_end(page)
    assert blocked == []
    assert errors == []
    assert "Licences" in page.text_content("#licenses summary")


def test_index_from_file_explains_what_to_do(page, dist):
    page.goto((dist / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.viStatus === 'error'", timeout=20_000)
    text = page.text_content("[data-testid=notice]")
    assert "standalone.html" in text and "make serve" in text
    # The precomputed first view is still there to look at.
    assert page.get_attribute("[data-testid=elbo]", "data-value") != ""


HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>body {{ margin: 0; }}</style></head>
<body>
<p>An article paragraph before the figure.</p>
<iframe id="vi-demo" src="{src}" style="width: 100%; height: 700px; border: 0"></iframe>
<script>
window.viMessages = [];
{script}
window.addEventListener("message", (e) => window.viMessages.push(e.data));
</script>
</body></html>
"""


def readme_host_script() -> str:
    """The host-page script exactly as the README gives it (so the README is tested too)."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- host-script -->\s*```html\n(.*?)```", readme, re.DOTALL)
    assert match, "README lacks the host-page script block"
    script = match.group(1)
    inner = re.search(r"<script>(.*?)</script>", script, re.DOTALL).group(1)
    return inner


def test_embedded_in_an_article(page, dist, tmp_path: Path):
    """The README's host script sizes the iframe to the content, at a desktop article's width
    and then a phone's (the frame laid out again as the reader's window changes)."""
    site = start_server(dist)
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    src = f"{site.base_url}?embed=1&target=bimodal&family=gaussian-full"
    origin = site.base_url.rstrip("/")
    script = readme_host_script().replace("https://YOUR-NAME.github.io", origin)
    (host_dir / "article.html").write_text(HOST_PAGE.format(src=src, script=script))
    host = start_server(host_dir)  # another port: another origin, as on a real blog
    try:
        page.set_viewport_size({"width": 1000, "height": 900})
        page.goto(host.base_url + "article.html")
        frame = page.frame_locator("#vi-demo")
        handle = page.wait_for_selector("#vi-demo")
        inner = handle.content_frame()
        wait_ready(inner)
        for width in (1000, 360):
            if width != 1000:
                page.set_viewport_size({"width": width, "height": 900})
                inner.wait_for_function(f"document.documentElement.clientWidth <= {width}",
                                        polling=100)
                inner.click("[data-testid=notice-close]")
                inner.click("[data-testid=reset-button]")
                wait_idle(inner)
            optimize_to_the_end(inner)
            # The frame's last height message has reached the host and been applied.
            page.wait_for_function("""() => {
                const sizes = window.viMessages.filter((m) => m && m.type === 'vi-demo:resize');
                const frame = document.getElementById('vi-demo').getBoundingClientRect().height;
                return sizes.length && Math.abs(frame - sizes.at(-1).height) <= 1;
            }""", polling=100)
            messages = page.evaluate("window.viMessages")
            resize = [m for m in messages
                      if isinstance(m, dict) and m.get("type") == "vi-demo:resize"]
            assert resize, messages
            for m in resize:
                assert set(m) == {"type", "height"}
                assert isinstance(m["height"], int) and 100 < m["height"] < 5000
            # The host script sized the iframe to the content: no inner scrollbars.
            iframe_height = page.evaluate(
                "document.getElementById('vi-demo').getBoundingClientRect().height")
            assert iframe_height == pytest.approx(resize[-1]["height"], abs=1)
            scroll = inner.evaluate(
                "[document.documentElement.scrollHeight, document.documentElement.clientHeight,"
                " document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert scroll[0] <= scroll[1] and scroll[2] <= scroll[3], (width, scroll)
            assert frame.locator("[data-testid=plot]").is_visible()
            page.screenshot(path=str(ROOT / "test-artifacts" / f"embed-{width}.png"),
                            full_page=True)
    finally:
        site.httpd.shutdown()
        host.httpd.shutdown()


def test_embed_fits_the_article_iframe_without_resizing(page, page_log, server):
    """Even a host without the resize script shows the essentials of a 700 px iframe."""
    page.set_viewport_size({"width": 800, "height": 700})
    page.goto(f"{server.base_url}?embed=1")
    wait_ready(page)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 700
    assert page.locator("[data-testid=optimize-button]").is_visible()
    assert page.locator("[data-testid=elbo]").is_visible()
    assert_clean(page_log)


def test_controls_parameter_chooses_what_shows(page, page_log, server):
    page.goto(f"{server.base_url}?embed=1&controls=optimizer,samples")
    wait_ready(page)
    assert page.locator("[data-testid=optimizer-select]").is_visible()
    assert page.locator("[data-testid=samples-toggle]").is_visible()
    assert not page.locator("[data-testid=target-select]").is_visible()
    assert page.locator("[data-testid=optimize-button]").is_visible()
    assert_clean(page_log)


def flat(rows: list[list[float]]) -> list[float]:
    return [v for row in rows for v in row]


def test_scene_pages(page, page_log, server, dist):
    import tomllib

    config = tomllib.loads((ROOT / "site.toml").read_text())
    index = (dist / "scenes" / "index.html").read_text()
    for scene in config["scenes"]:
        assert f'href="{scene["slug"]}.html"' in index
        page.goto(f"{server.base_url}scenes/{scene['slug']}.html?embed=1")
        wait_ready(page)
        assert page.input_value("[data-testid=target-select]") == scene["target"]
        # A flow of another depth is "flow" in the family select, its depth in Layers.
        depth = re.fullmatch(r"flow-(\d+)", scene["family"])
        assert page.input_value("[data-testid=family-select]") == (
            "flow" if depth else scene["family"])
        if depth:
            assert page.input_value("[data-testid=layers-select]") == depth.group(1)
        if "q" in scene:
            natural = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
            assert flat(natural["means"]) == pytest.approx(flat(scene["q"]["means"]))
            # Reset restores the scene's q, not the family default.
            page.click("[data-testid=reset-button]")
            wait_idle(page)
            natural = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
            assert flat(natural["means"]) == pytest.approx(flat(scene["q"]["means"]))
    assert readouts(page)["log-z"] is not None
    assert_clean(page_log)


def test_licences_and_versions_are_reachable(page, page_log, server):
    before_python(page)  # the versions of what the page ships are written at build time
    page.goto(server.base_url)
    page.wait_for_selector("footer")
    footer = page.text_content("footer")
    assert "vi_core" in footer and "Pyodide 0.27.7" in footer
    page.goto(server.base_url + "licenses.html")
    text = page.text_content("body")
    for name in ("Pyodide", "CPython", "numpy", "scipy", "OpenBLAS", "d3-contour",
                 "d3-scale-chromatic", "vi_core"):
        assert name in text
    assert_clean(page_log)


def test_cdn_runtime_checks_integrity(page, cdn_build):
    """The --runtime cdn build, with the CDN played by local files: it loads when the bytes are
    the official ones, and refuses a tampered core file (Subresource Integrity)."""
    from sitegen import runtime as pa

    out = cdn_build
    files = {p.name: p for p in (ROOT / ".cache" / "pyodide" / "files").iterdir()}
    for name in (*pa.CORE_FILES, "pyodide-lock.json"):
        files[name] = ROOT / "node_modules" / "pyodide" / name
    tampered: set[str] = set()

    def cdn(route):
        name = route.request.url.removeprefix(pa.CDN_BASE).split("?")[0]
        if name not in files:
            route.fulfill(status=404, body="not found")
            return
        body = files[name].read_bytes()
        if name in tampered:
            body = body[:-1] + bytes([body[-1] ^ 1])
        content_type = "application/wasm" if name.endswith(".wasm") else "application/octet-stream"
        route.fulfill(status=200, body=body, headers={
            "Content-Type": content_type, "Access-Control-Allow-Origin": "*"})

    page.context.route(pa.CDN_BASE + "**", cdn)
    srv = start_server(out)
    try:
        page.goto(srv.base_url)
        wait_ready(page)
        optimize_to_the_end(page)
        tampered.add("pyodide.asm.js")
        page.goto(srv.base_url)
        page.wait_for_function("document.documentElement.dataset.viStatus === 'error'",
                               timeout=60_000)
    finally:
        srv.httpd.shutdown()


def test_the_served_and_standalone_runtimes_carry_the_ipad_fix(page, server, dist):
    """Safari on iPad: the vendored pyodide.asm.js counts iPadOS as iOS (sitegen.runtime)."""
    served = page.request.get(server.base_url + "pyodide/pyodide.asm.js").text()
    assert rt.IOS_TEST_FIXED in served and rt.IOS_TEST not in served
    html = (dist / "standalone.html").read_text()
    match = re.search(r'data-name="pyodide.asm.js" data-encoding="gzip">([^<]+)<', html)
    inline = gzip.decompress(base64.b64decode(match.group(1))).decode()
    assert inline == served
