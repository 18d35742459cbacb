"""Loading on demand: Python starts with numpy and vi_core only, scipy (and its OpenBLAS) only
when a custom target imports them, and an embedded page only when the reader gets near."""

from __future__ import annotations

import math

import pytest

from tests.e2e.conftest import wait_idle, wait_ready
from tests.e2e.helpers import assert_clean, drag, readouts, wait_settled

pytestmark = pytest.mark.e2e


def scipy_requests(page_log) -> list[str]:
    return [u for u in page_log.requests if "scipy" in u or "openblas" in u]


def test_a_default_session_loads_no_scipy(page, page_log, server):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(server.base_url)
    wait_ready(page)
    # Drag q a little, Optimize, Reset, samples: the visitor's usual session.
    drag(page, "handle-0", 6, 4)
    wait_settled(page)
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("/Converged/.test(document.querySelector('[data-testid=notice]').textContent)",
                           timeout=60_000)
    page.click("[data-testid=reset-button]")
    wait_idle(page)
    page.check("[data-testid=samples-toggle]")
    page.wait_for_selector("[data-testid=mc-elbo]:not([hidden])")
    wait_idle(page)
    assert any("numpy" in u for u in page_log.requests)
    assert scipy_requests(page_log) == []
    assert page.evaluate("window.viVersions.scipy") is None
    assert "scipy" not in page.text_content("#python-version")
    assert_clean(page_log)


SCIPY_SOURCE = ("from scipy.special import logsumexp\n\n"
                "def log_density(x, y):\n"
                "    return logsumexp([-0.5 * ((x - 1)**2 + y**2), -0.5 * ((x + 1)**2 + y**2)],"
                " axis=0)\n")


def use_scipy_target(page) -> list[str]:
    """Apply a custom target that imports scipy; check its numbers; return the notices shown."""
    assert page.evaluate("window.viVersions.scipy") is None
    notices: list[str] = []
    page.expose_function("reportNotice", lambda text: notices.append(text))
    page.evaluate("""() => new MutationObserver(() => reportNotice(
        document.querySelector('[data-testid=notice]').textContent)).observe(
        document.querySelector('[data-testid=notice]'), {childList: true, characterData: true,
        subtree: true})""")
    page.click("#custom summary")
    page.fill("[data-testid=custom-source]", SCIPY_SOURCE)
    page.click("[data-testid=custom-apply]")
    wait_idle(page)
    assert page.input_value("[data-testid=target-select]") == "custom"
    # Two unit Gaussians' kernels: Z = 2 * 2 pi.
    assert readouts(page)["log-z"] == pytest.approx(math.log(4 * math.pi), abs=1e-4)
    assert any("Loading" in n and "scipy" in n for n in notices), notices
    assert page.evaluate("window.viVersions.scipy") == "1.14.1"
    assert "scipy 1.14.1" in page.text_content("#python-version")
    return notices


def test_a_custom_target_that_imports_scipy_loads_it(page, page_log, server):
    page.goto(server.base_url)
    wait_ready(page)
    use_scipy_target(page)
    assert scipy_requests(page_log), "scipy was not fetched"
    assert_clean(page_log)


def test_standalone_decodes_scipy_only_when_a_target_imports_it(context, dist):
    """standalone.html sends Python only what it starts with; scipy and OpenBLAS are decoded
    from the file when a custom target imports them, with no network at all."""
    blocked: list[str] = []
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith(("file:", "data:", "blob:"))
                  else (blocked.append(route.request.url), route.abort()))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    asked: list[str] = []
    page.expose_function("reportNeedFile", lambda name: asked.append(name))
    # The worker speaks over a private MessageChannel (worker-client.js): listen on its port.
    page.add_init_script("""(() => {
        const Real = window.MessageChannel;
        window.MessageChannel = class extends Real {
            constructor() {
                super();
                this.port1.addEventListener('message', (e) => {
                    if (e.data && e.data.type === 'need-file') reportNeedFile(e.data.name);
                });
            }
        };
    })()""")
    page.goto((dist / "standalone.html").as_uri())
    wait_ready(page, timeout=180_000)
    assert asked == []  # the start needed nothing beyond what the page sent at boot
    use_scipy_target(page)
    assert sorted(a.split("-")[0] for a in asked) == ["openblas", "scipy"]
    assert blocked == [] and errors == []


FAR_HOST = """<!doctype html>
<html><head><meta charset="utf-8"><style>body {{ margin: 0; }}</style></head>
<body>
<p>An article paragraph before the figure.</p>
<div id="spacer" style="height: 6000px"></div>
<iframe id="vi-demo" src="{src}" style="width: 100%; height: 700px; border: 0"></iframe>
<div style="height: 6000px"></div>
</body></html>
"""


def test_a_frame_far_from_view_starts_python_when_the_reader_gets_near(page, dist, tmp_path):
    """An embedded page far below the fold paints its first view but loads no Python until it
    is scrolled near; an Optimize run pauses while the frame is off screen and goes on after."""
    from tests.e2e.conftest import start_server

    site = start_server(dist)
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    src = f"{site.base_url}?embed=1&target=banana&family=gaussian-full&optimizer=gradient-ascent"
    (host_dir / "article.html").write_text(FAR_HOST.format(src=src))
    host = start_server(host_dir)  # another origin, as on a real blog
    requests: list[str] = []
    page.context.on("request", lambda r: requests.append(r.url))
    try:
        page.set_viewport_size({"width": 900, "height": 800})
        page.goto(host.base_url + "article.html")
        inner = page.wait_for_selector("#vi-demo").content_frame()
        inner.wait_for_selector("[data-testid=handle-0]", state="attached")
        page.wait_for_timeout(3000)
        assert inner.get_attribute("html", "data-vi-status") == "loading"
        assert not [u for u in requests if "pyodide" in u], "Python started off screen"
        assert inner.get_attribute("[data-testid=elbo]", "data-value")  # the first view shows
        page.evaluate("document.getElementById('vi-demo').scrollIntoView()")
        wait_ready(inner)
        # A long run (gradient ascent), then the frame leaves the screen: the run pauses.
        inner.click("[data-testid=optimize-button]")
        inner.wait_for_function("document.documentElement.dataset.viStatus === 'busy'")
        page.evaluate("window.scrollTo(0, 0)")
        # (Poll by time: an off-screen frame gets no animation frames, Playwright's default.)
        inner.wait_for_function("document.documentElement.dataset.viStatus === 'ready'",
                                polling=100, timeout=30_000)
        paused = float(inner.get_attribute("[data-testid=elbo]", "data-value"))
        page.wait_for_timeout(1500)
        assert float(inner.get_attribute("[data-testid=elbo]", "data-value")) == paused
        # Back on screen, it goes on.
        page.evaluate("document.getElementById('vi-demo').scrollIntoView()")
        inner.wait_for_function(
            f"Number(document.querySelector('[data-testid=elbo]').dataset.value) > {paused}",
            polling=100, timeout=30_000)
    finally:
        site.httpd.shutdown()
        host.httpd.shutdown()
