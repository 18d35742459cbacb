"""What consented code can still do, contained, and recovery that says what it did: the page
hears its worker only over a private channel, code from a link dies with its target, memory has
a limit, a worker that dies while idle is noticed, a slow answer takes the restart offer away,
and a custom target is applied whole or not at all."""

from __future__ import annotations

import math
from urllib.parse import quote

import pytest

from tests.e2e.conftest import wait_idle, wait_ready
from tests.e2e.helpers import readouts

pytestmark = pytest.mark.e2e

NOTICE = "[data-testid=notice]"


def notice(page) -> str:
    return page.text_content(NOTICE) or ""


def wait_notice(page, pattern: str, timeout: int = 30_000) -> str:
    page.wait_for_function(
        "p => new RegExp(p).test(document.querySelector('[data-testid=notice]').textContent)",
        arg=pattern, timeout=timeout, polling=100)
    return notice(page)


def consent_link(server, source: str, extra: str = "") -> str:
    return f"{server.base_url}?target=custom{extra}&source={quote(source)}"


# Code that, once run, keeps a timer going (it announces each tick to our own server, so the
# test can count them), tries to pass itself off as the runtime on the worker's own channel,
# and replaces globals the worker's code uses.
TICKING = """import js
from pyodide.ffi import create_proxy

def tick():
    request = js.XMLHttpRequest.new()
    request.open('GET', str(js.location.origin) + '/assets/style.css?tick=1', False)
    request.send()

js.setInterval(create_proxy(tick), 200)
fake = js.Object.fromEntries([['type', 'fatal'], ['stage', 'runtime'],
    ['error', js.Object.fromEntries([['name', 'Error'],
                                     ['message', 'Your browser is out of date']])]])
js.postMessage(fake)
js.postMessage(js.Object.fromEntries([['type', 'result'], ['id', 1], ['result', 42]]))
js.eval("JSON.parse = () => ({ok: true, result: {kl: -42}})")

def log_density(x, y):
    return -0.5 * (x**2 + y**2)
"""


def test_link_code_is_contained_and_dies_with_its_target(browser, server):
    context = browser.new_context()
    ticks: list[str] = []
    context.on("request", lambda r: "style.css?tick=1" in r.url and ticks.append(r.url))
    try:
        page = context.new_page()
        page.goto(consent_link(server, TICKING))
        wait_ready(page)
        page.click("[data-testid=consent-run]")
        wait_idle(page)
        page.wait_for_function("() => document.querySelector('[data-testid=target-select]')"
                               ".value === 'custom'",
                               polling=100)
        page.wait_for_timeout(1000)
        # It runs (its timer ticks), but what it posted is not the runtime's word, and the
        # globals it replaced are not the ones the worker's code uses.
        assert len(ticks) >= 2
        assert page.get_attribute("html", "data-vi-status") == "ready"
        assert "out of date" not in notice(page) + (page.text_content("[data-testid=status]") or "")
        assert page.get_attribute("html", "data-vi-status") != "error"
        values = readouts(page)
        assert values["log-z"] == pytest.approx(math.log(2 * math.pi), abs=1e-4)
        assert values["kl"] >= 0
        # Leaving its target: a fresh Python, and the timer is gone.
        page.select_option("[data-testid=target-select]", "banana")
        text = wait_notice(page, "fresh Python")
        assert "link's code" in text
        wait_idle(page)
        page.wait_for_timeout(500)
        before = len(ticks)
        page.wait_for_timeout(1500)
        assert len(ticks) == before
        assert page.input_value("[data-testid=target-select]") == "banana"
        assert readouts(page)["kl"] >= 0
        assert page.locator("[data-testid=target-select] option[value=custom]").count() == 0
    finally:
        context.close()


def test_a_worker_that_dies_while_idle_is_noticed_and_restarted(page, page_log, server):
    # Its own page: the message depends on whether this Python ever ran code (here: never),
    # which the shared warm page cannot promise.
    page.goto(server.base_url)
    wait_ready(page)
    before = readouts(page)
    workers = [w for w in page.workers if w.url.startswith("blob:")]
    assert workers
    workers[0].evaluate("close()")
    text = wait_notice(page, "stopped answering while idle", timeout=15_000)
    # a built-in target: no code of the visitor's
    assert "browser stopped it" in text and "your target" not in text
    assert page.is_visible("[data-testid=restart-python]")
    page.click("[data-testid=restart-python]")
    text = wait_notice(page, "Your view is back", timeout=60_000)
    wait_idle(page)
    assert not page.is_visible("[data-testid=restart-python]")
    assert readouts(page)["elbo"] == pytest.approx(before["elbo"], abs=1e-9)


HOG = """import numpy as np
_hoard = np.ones(1200 * 2**20 // 8)

def log_density(x, y):
    return -0.5 * (x**2 + y**2)
"""


def test_code_that_hoards_memory_is_stopped_with_a_message(page, server):
    page.goto(consent_link(server, HOG))
    wait_ready(page)
    page.click("[data-testid=consent-run]")
    text = wait_notice(page, "of memory", timeout=60_000)
    assert "The code from the link took" in text and "limit is 1024 MB" in text
    assert "restarted without it" in text
    wait_ready(page)
    assert page.input_value("[data-testid=target-select]") != "custom"
    assert readouts(page)["kl"] >= 0


@pytest.mark.parametrize("extent", ["(-3, 3, -3000, 3000)", "(-1e300, 1e300, -1e300, 1e300)"])
def test_a_custom_target_is_applied_whole_or_not_at_all(warm_page, extent):
    page = warm_page.show()
    before = readouts(page)
    page.click("#custom summary")
    page.fill("[data-testid=custom-source]", f"extent = {extent}\ndef log_density(x, y):\n"
              "    return -0.5 * (x**2 + y**2)\n")
    page.click("[data-testid=custom-apply]")
    text = wait_notice(page, "not accepted")
    assert "extent" in text or "-inf" in text
    wait_idle(page)
    assert page.input_value("[data-testid=target-select]") == "banana"
    assert readouts(page) == before
    assert page.get_attribute("#plot", "data-painted-target") == "banana"
    # Reset still works, on the same target.
    page.click("[data-testid=reset-button]")
    wait_idle(page)
    assert readouts(page)["log-z"] == before["log-z"]


SLOW = """import time
time.sleep(14)

def log_density(x, y):
    return -0.5 * (x**2 + y**2)
"""


def test_a_slow_answer_takes_the_restart_offer_away(warm_page):
    page = warm_page.show()
    page.click("#custom summary")
    page.fill("[data-testid=custom-source]", SLOW)
    page.click("[data-testid=custom-apply]")
    text = wait_notice(page, "busy for a while", timeout=30_000)
    # it is running the visitor's code
    assert "your target's code may be in an endless loop" in text
    assert page.is_visible("[data-testid=restart-python]")
    page.wait_for_function("() => document.querySelector('[data-testid=target-select]')"
                           ".value === 'custom'",
                           timeout=30_000, polling=100)
    wait_idle(page)
    assert not page.is_visible("[data-testid=restart-python]")
    assert "busy" not in notice(page)


def test_a_restart_says_what_it_could_not_keep(warm_page):
    page = warm_page.show()
    page.click("#custom summary")
    page.fill("[data-testid=custom-source]",
              "def log_density(x, y):\n    return -0.5 * (x**2 + y**2)\n")
    page.click("[data-testid=custom-apply]")
    wait_notice(page, "Custom target ready")
    loop = "def log_density(x, y):\n    while True:\n        pass\n"
    page.fill("[data-testid=custom-source]", loop)
    page.click("[data-testid=custom-apply]")
    text = wait_notice(page, "busy for a while", timeout=30_000)
    assert "your target's code may be in an endless loop" in text
    page.click("[data-testid=restart-python]")
    text = wait_notice(page, "Python was restarted", timeout=60_000)
    wait_idle(page)
    assert "not run again" in text and "Your view is back" not in text
    assert page.input_value("[data-testid=target-select]") != "custom"
    assert page.input_value("[data-testid=custom-source]") == loop


HOSTILE_SOURCES = {
    "syntax error": "def log_density(x, y) return x",
    "NaN everywhere": "def log_density(x, y):\n    return float('nan') * x",
    "raises": "def log_density(x, y):\n    raise RuntimeError('boom')",
    "not a function": "log_density = 5",
    "no decay": "def log_density(x, y):\n    return 0 * x",
    "HTML in its error": "raise ValueError('<img src=x onerror=\"document.title=1\"><b>bold</b>')",
    "exits": "import sys\nsys.exit(0)",
    "bad extent": "extent = 'abc'\ndef log_density(x, y):\n    return -x**2 - y**2",
}


@pytest.mark.parametrize("name", list(HOSTILE_SOURCES))
def test_a_broken_target_from_the_editor_is_refused_and_nothing_is_lost(warm_page, name):
    page = warm_page.show(target="ring", family="gaussian-diagonal")
    before = readouts(page)
    page.click("#custom summary")
    page.fill("[data-testid=custom-source]", HOSTILE_SOURCES[name])
    page.click("[data-testid=custom-apply]")
    text = wait_notice(page, "not accepted")
    wait_idle(page)
    assert len(text) < 400
    assert page.locator("[data-testid=notice] img, [data-testid=notice] b").count() == 0
    assert page.title() != "1"
    assert page.input_value("[data-testid=target-select]") == "ring"
    assert readouts(page) == before
    page.click("[data-testid=step-button]")
    wait_idle(page)
    assert readouts(page)["elbo"] >= before["elbo"] - 1e-9


def test_a_failure_in_the_first_render_leaves_a_working_page_that_says_so(page, server):
    """A canvas the browser refuses to draw (here: drawImage throws, the first few times) must
    not leave the page stuck in "loading": the status, controls and readouts still follow the
    state, and the notice says what failed."""
    page.add_init_script("""(() => {
      const real = CanvasRenderingContext2D.prototype.drawImage;
      window.canvasBroken = true;
      CanvasRenderingContext2D.prototype.drawImage = function (...args) {
        if (window.canvasBroken) throw new Error("the canvas is unavailable");
        return real.apply(this, args);
      };
    })();""")
    page.goto(server.base_url)
    wait_ready(page)
    assert "could not be drawn (the canvas is unavailable)" in notice(page)
    assert page.get_attribute("[data-testid=elbo]", "data-value") not in ("", None)
    page.click("[data-testid=step-button]")
    wait_idle(page)
    assert "could not be drawn" in notice(page)
    # Drawn after all: the notice goes.
    page.evaluate("window.canvasBroken = false")
    page.click("[data-testid=step-button]")
    page.wait_for_function("() => !/could not be drawn/.test("
                           "document.querySelector('[data-testid=notice]').textContent)",
                           polling=100)


def test_url_updates_do_not_fetch_the_favicon_again(warm_page):
    """The icon is inline (a data: URL): the link changing under a drag or a run costs nothing."""
    page = warm_page.show()
    before = page.url
    page.click("[data-testid=optimize-button]")
    wait_notice(page, "Converged", timeout=120_000)
    assert page.url != before  # the link followed q
    assert [u for u in warm_page.log.requests if "favicon" in u] == []
    assert page.get_attribute("link[rel=icon]", "href").startswith("data:image/svg+xml")
