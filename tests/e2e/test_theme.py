"""The page's colours: light or dark after the system's preference (prefers-color-scheme), or
as the link says (theme=light|dark); readable in both (axe), chosen before the first paint;
and with prefers-reduced-motion Optimize shows its end state without the animation."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, _QuietHandler, axe_serious, start_server, wait_ready
from .helpers import before_python, settled
from .test_embed_layout import HOST, SEED_IFRAME, wait_frame_ready

BACKGROUND = "getComputedStyle(document.body).backgroundColor"
DARK_BG = "rgb(22, 24, 28)"
LIGHT_BG = "rgb(255, 255, 255)"


# Pixels of the trace canvas near the log Z line's colour in each theme (--trace-bound).
TRACE_COLOURS = """() => {
  const c = document.getElementById('elbo-trace');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const near = (i, [r, g, b]) =>
    Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 30;
  let light = 0, dark = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 200) continue;
    if (near(i, [11, 83, 148])) light++;
    if (near(i, [140, 188, 240])) dark++;
  }
  return {light, dark};
}"""


def theme_of(page) -> str:
    return page.evaluate(BACKGROUND)


@pytest.mark.parametrize("scheme,query,expected", [
    ("light", "", LIGHT_BG),
    ("dark", "", DARK_BG),
    ("light", "?theme=dark", DARK_BG),
    ("dark", "?theme=light", LIGHT_BG),
])
def test_theme_follows_the_system_unless_the_link_says(browser, server, scheme, query, expected):
    """Chosen before the first paint, from the link or the system (read with Python held
    back: the theme is the page's own); the link that overrides a dark system is also checked
    once Python is ready."""
    context = browser.new_context(color_scheme=scheme)
    ready = (scheme, query) == ("dark", "?theme=light")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        if not ready:
            before_python(page)
        # The colours are right at the first paint: check as soon as the page has parsed.
        page.goto(server.base_url + query, wait_until="domcontentloaded")
        assert theme_of(page) == expected
        page.wait_for_function("document.querySelector('[data-testid=elbo]').dataset.value !== ''"
                               " && !document.documentElement.hasAttribute("
                               "'data-vi-before-script')",
                               polling=100)
        if ready:
            wait_ready(page)
        assert theme_of(page) == expected
        # The link keeps its theme as the page rewrites it.
        if query:
            page.wait_for_function("new URLSearchParams(location.search).has('target')",
                                   polling=100)
            assert query.lstrip("?") in page.evaluate("location.search")
        assert page.is_hidden("[data-testid=notice]")
        # The trace's canvas took the theme's colours: its log Z line is the theme's blue.
        dark = expected == DARK_BG
        counts = page.evaluate(TRACE_COLOURS)
        assert (counts["dark" if dark else "light"] > 20
                and counts["light" if dark else "dark"] == 0), counts
        assert errors == []
    finally:
        context.close()


def test_a_bad_theme_in_the_link_is_reported_and_ignored(browser, server):
    context = browser.new_context(color_scheme="dark")
    try:
        page = context.new_page()
        before_python(page)  # the link is read, and its theme chosen, before Python
        page.goto(server.base_url + "?theme=%3Cb%3Epurple%3C%2Fb%3E")
        page.wait_for_function("!document.documentElement.hasAttribute('data-vi-before-script')",
                               polling=100)
        notice = page.text_content("[data-testid=notice]")
        assert 'unknown theme "<b>purple</b>"' in notice  # quoted as text, never as HTML
        assert page.locator("[data-testid=notice] b").count() == 0
        assert page.get_attribute("html", "data-theme") is None
        assert theme_of(page) == DARK_BG  # the system's
    finally:
        context.close()


@pytest.fixture
def host(dist: Path, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    site = start_server(dist)
    host = start_server(tmp_path)
    try:
        yield site.base_url, host.base_url, tmp_path
    finally:
        site.httpd.shutdown()
        host.httpd.shutdown()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_in_both_themes(browser, host, scheme):
    """Embedded in the seed's iframe at 320, 375, 700 and 1000 px after an Optimize (one frame,
    resized from width to width), and the full page at 1280 px, in each theme: written to
    test-artifacts/ to be looked at."""
    site_url, host_url, host_dir = host
    ARTIFACTS.mkdir(exist_ok=True)
    src = f"{site_url}?embed=1&target=bimodal&family=mixture-3"
    (host_dir / "article.html").write_text(HOST.format(iframe=SEED_IFRAME.format(src=src)).replace(
        '<body style="margin: 0">',
        f'<body style="margin: 0; background: {"#111" if scheme == "dark" else "#fff"}">'))
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_viewport_size({"width": 320, "height": 720})
        page.goto(host_url + "article.html")
        frame = page.wait_for_selector("iframe").content_frame()
        wait_frame_ready(frame)
        # One Optimize; its end (q, trace, notice) is then seen at each width.
        frame.click("[data-testid=optimize-button]")
        frame.wait_for_function("document.documentElement.dataset.viStatus === 'ready'"
                                " && !document.getElementById('notice').hidden",
                                timeout=60_000, polling=100)
        for width in (320, 375, 700, 1000):
            if width != 320:
                page.set_viewport_size({"width": width, "height": 720})
                frame.wait_for_function(f"document.documentElement.clientWidth === {width}",
                                        polling=100)
                settled(frame)
            assert frame.is_visible("[data-testid=notice]")
            page.screenshot(path=str(ARTIFACTS / f"embed-{scheme}-{width}.png"))
            # Dark means dark inside the frame too: no bright box in a dark article.
            assert frame.evaluate(BACKGROUND) == (DARK_BG if scheme == "dark" else LIGHT_BG)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{site_url}?target=bimodal&family=mixture-3")
        wait_ready(page)
        page.click("[data-testid=optimize-button]")
        page.wait_for_function("document.documentElement.dataset.viStatus === 'ready'"
                               " && !document.getElementById('notice').hidden",
                               timeout=60_000, polling=100)
        page.check("[data-testid=samples-toggle]")
        page.wait_for_function("!document.getElementById('mc-elbo').hidden",
                               timeout=60_000, polling=100)
        page.screenshot(path=str(ARTIFACTS / f"page-{scheme}-1280.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("query", ["", "?embed=1&target=bimodal&family=gaussian-full"])
def test_accessibility_audit_in_both_themes(browser, server, scheme, query):
    """axe-core finds no serious or critical problem, colour contrast included, in each theme,
    on the full page and the embed (a notice showing). Its script is injected in a context that
    bypasses the page's CSP (the page forbids inline scripts)."""
    context = browser.new_context(bypass_csp=True, color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_viewport_size({"width": 700 if query else 1280, "height": 700 if query else 900})
        page.goto(server.base_url + query)
        wait_ready(page)
        page.click("[data-testid=optimize-button]")
        page.wait_for_function("document.documentElement.dataset.viStatus === 'ready'"
                               " && !document.getElementById('notice').hidden",
                               timeout=60_000, polling=100)
        assert axe_serious(page) == []
    finally:
        context.close()


SNAPSHOT = """() => [document.documentElement.dataset.viStatus,
  !document.querySelector('[data-testid=notice]').hidden,
  document.querySelector('[data-testid=handle-0]').getAttribute('style')]"""


def test_reduced_motion_shows_the_end_of_optimize_without_the_animation(browser, server):
    """With prefers-reduced-motion the plot, q's handles and the trace do not move while
    Optimize runs; when it ends they show the end state (the same q as without the preference)."""
    positions: dict[str, list[str]] = {}
    ends: dict[str, str] = {}
    for motion in ("no-preference", "reduce"):
        context = browser.new_context(reduced_motion=motion)
        try:
            page = context.new_page()
            page.goto(f"{server.base_url}?target=banana&family=gaussian-full&optimizer=gradient-ascent")
            wait_ready(page)
            start = page.get_attribute("[data-testid=handle-0]", "style")
            page.click("[data-testid=optimize-button]")
            seen = [start]
            while True:
                # One look at the page: whether the run is still on, and where q's handle is.
                status, ended, style = page.evaluate(SNAPSHOT)
                if status == "ready" and ended:
                    break
                if status == "busy":
                    seen.append(style)
                page.wait_for_timeout(30)
            positions[motion] = seen
            ends[motion] = page.get_attribute("[data-testid=handle-0]", "style")
            assert ends[motion] != start
        finally:
            context.close()
    assert len(set(positions["no-preference"])) > 3  # animated: many positions on the way
    # still until the end
    assert set(positions["reduce"]) == {positions["reduce"][0]}, positions["reduce"]
    assert ends["reduce"] == ends["no-preference"]  # then the same end state


class _SlowScript(_QuietHandler):
    """Serves the site with its script held back, as a slow network would."""

    def do_GET(self) -> None:
        if self.path.split("?")[0].endswith("/assets/app.js"):
            time.sleep(2.5)
        try:
            super().do_GET()
        except (BrokenPipeError, ConnectionResetError):
            pass


def test_nothing_shows_before_the_script_has_chosen_theme_and_layout(browser, dist: Path,
                                                                      tmp_path: Path):
    """A dark article, a reader whose system is light, a slow script: until the script has run,
    the frame is see-through (the article's dark shows, no white box, no full-page layout);
    then the dark compact embed."""
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_SlowScript, directory=str(dist)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = start_server(tmp_path)
    src = f"http://127.0.0.1:{httpd.server_address[1]}/?embed=1&theme=dark"
    (tmp_path / "article.html").write_text(HOST.format(iframe=SEED_IFRAME.format(src=src)).replace(
        '<body style="margin: 0">', '<body style="margin: 0; background: #202124">'))
    context = browser.new_context(color_scheme="light")
    try:
        page = context.new_page()
        page.set_viewport_size({"width": 700, "height": 720})
        page.goto(host.base_url + "article.html", wait_until="commit")
        frame = page.wait_for_selector("iframe").content_frame()
        frame.wait_for_selector("footer", state="attached")
        early = frame.evaluate("""() => ({
            script: !document.documentElement.hasAttribute('data-vi-before-script'),
            visibility: getComputedStyle(document.body).visibility,
            body: getComputedStyle(document.body).backgroundColor,
            root: getComputedStyle(document.documentElement).backgroundColor})""")
        assert early == {"script": False, "visibility": "hidden", "body": "rgba(0, 0, 0, 0)",
                         "root": "rgba(0, 0, 0, 0)"}
        frame.wait_for_function("!document.documentElement.hasAttribute('data-vi-before-script')",
                                timeout=30_000, polling=100)
        assert frame.evaluate("getComputedStyle(document.body).visibility") == "visible"
        assert frame.evaluate(BACKGROUND) == DARK_BG
        assert frame.get_attribute("html", "data-embed") == "1"
    finally:
        context.close()
        httpd.shutdown()
        host.httpd.shutdown()
