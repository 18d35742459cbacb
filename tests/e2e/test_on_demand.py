"""Python starts with numpy and vi_core only: scipy (and its OpenBLAS) load only when a custom
target imports them."""

from __future__ import annotations

import math

import pytest

from tests.e2e.conftest import wait_ready
from tests.e2e.test_page import assert_clean, readouts, wait_idle

pytestmark = pytest.mark.e2e


def scipy_requests(page_log) -> list[str]:
    return [u for u in page_log.requests if "scipy" in u or "openblas" in u]


def test_a_default_session_loads_no_scipy(page, page_log, server):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(server.base_url)
    wait_ready(page)
    # Drag q a little, Optimize, Reset, samples: the visitor's usual session.
    box = page.locator("[data-testid=handle-0]").bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 6):
        page.mouse.move(x0 + 6 * i, y0 + 4 * i)
    page.mouse.up()
    wait_idle(page)
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


def test_a_custom_target_that_imports_scipy_loads_it(page, page_log, server):
    page.goto(server.base_url)
    wait_ready(page)
    notices: list[str] = []
    page.expose_function("reportNotice", lambda text: notices.append(text))
    page.evaluate("""() => new MutationObserver(() => reportNotice(
        document.querySelector('[data-testid=notice]').textContent)).observe(
        document.querySelector('[data-testid=notice]'), {childList: true, characterData: true,
        subtree: true})""")
    page.click("#custom summary")
    source = ("from scipy.special import logsumexp\n\n"
              "def log_density(x, y):\n"
              "    return logsumexp([-0.5 * ((x - 1)**2 + y**2), -0.5 * ((x + 1)**2 + y**2)],"
              " axis=0)\n")
    page.fill("[data-testid=custom-source]", source)
    page.click("[data-testid=custom-apply]")
    wait_idle(page)
    assert page.input_value("[data-testid=target-select]") == "custom"
    # Two unit Gaussians' kernels: Z = 2 * 2 pi.
    assert readouts(page)["log-z"] == pytest.approx(math.log(4 * math.pi), abs=1e-4)
    assert any("Loading" in n and "scipy" in n for n in notices), notices
    assert scipy_requests(page_log), "scipy was not fetched"
    assert page.evaluate("window.viVersions.scipy") == "1.14.1"
    assert "scipy 1.14.1" in page.text_content("#python-version")
    assert_clean(page_log)
