"""The interactive page, driven as a visitor would, with its numbers checked against CPython.

Most tests share one ready page (``warm_page``: Python starts once for the module) and bring
it to the view they need with the selects and Reset; a test about a link or the first paint
opens its own page. vi_core in Pyodide is compared with CPython for every built-in target x
family by calls into the page's worker (``window.viPython.call``), and one full Optimize per
family goes through the page's buttons; the full sweep of UI Optimizes is a slow test.
"""

from __future__ import annotations

import json
import math
from functools import cache

import pytest

from sitegen.cache import Memo, build_session
from tests.e2e.conftest import ARTIFACTS, ROOT, PageLog, axe_serious, wait_idle, wait_ready
from tests.e2e.helpers import (
    KEYS,
    READOUTS,
    assert_clean,
    before_python,
    drag,
    in_page,
    readouts,
    wait_settled,
)
from tests.reference import BUILD_CACHE, catalog, library_fit
from tests.reference import call as cpython

pytestmark = pytest.mark.e2e


@cache
def main_defaults() -> dict:
    """The main page's starting point, from site.toml (target, family, optimizer, natural)."""
    import build

    return build.load_config(ROOT / "site.toml", build_session(Memo(BUILD_CACHE)))["defaults"]


def main_view() -> dict:
    d = main_defaults()
    return cpython("evaluate", target=d["target"], family=d["family"], natural=d["natural"])


def test_first_paint_does_not_wait_for_python(page, page_log, server):
    before_python(page)  # the wasm is never answered: Python stalls
    page.goto(server.base_url)
    page.wait_for_function("document.querySelector('[data-testid=elbo]').dataset.value !== ''")
    assert page.get_attribute("html", "data-vi-status") == "loading"
    values = readouts(page)
    expected = main_view()["readouts"]
    assert values["elbo"] == pytest.approx(expected["elbo"], abs=1e-12)
    assert page.locator("[data-testid=handle-0]").count() == 1


def test_in_browser_numbers_equal_cpython(warm_page):
    """Pyodide's Reset (its own screening of starting points) and its numbers are CPython's."""
    page = warm_page.show()
    cases = [("banana", "gaussian-full"), ("ring", "mixture-3"), ("funnel", "gaussian-diagonal"),
             ("bimodal", "mixture-10"), ("correlated-gaussian", "gaussian-isotropic")]
    for target, family in cases:
        browser = in_page(page, "evaluate", target=target, family=family)
        local = cpython("evaluate", target=target, family=family)
        for key in KEYS:
            assert browser["readouts"][key] == pytest.approx(local["readouts"][key], abs=1e-12)
        assert browser["theta"] == pytest.approx(local["theta"], abs=1e-12)
    assert_clean(warm_page.log)


def _pairs() -> list[tuple[str, str]]:
    return [(t["id"], f["id"]) for t in catalog()["targets"] for f in catalog()["families"]]


#: Iterations of each sweep run: enough for L-BFGS to leave the start (line searches, the
#: curvature memory), few enough that the sweep takes a second or two per pair.
SWEEP_STEPS = 3


def _close(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    return a is None and b is None or a == pytest.approx(b, rel=tol, abs=tol)


@pytest.mark.parametrize(("target", "family"), _pairs())
def test_pyodide_evaluates_and_steps_every_pair_as_cpython(warm_page, target, family):
    """Every built-in target x family (the flow included), in the page's worker and in
    CPython: the Reset q's view, then the first iterations of the page's Optimize (L-BFGS),
    equal to 1e-9. (That a run taken to its end is vi_core's fit is tests/unit's; one full
    Optimize per family through the buttons is below.)"""
    page = warm_page.page or warm_page.open()
    theta = cpython("evaluate", target=target, family=family)["theta"]  # the Reset q

    def session_run(call) -> tuple[dict, dict]:
        view = call("evaluate", target=target, family=family, theta=theta)
        run = call("start_run", target=target, family=family, optimizer="lbfgs", theta=theta)
        frame = call("advance_run", run_id=run["run_id"], steps=SWEEP_STEPS)
        call("finish_run", run_id=run["run_id"], reason="stopped")
        return view, frame

    browser_view, browser_frame = session_run(lambda m, **p: in_page(page, m, **p))
    local_view, local_frame = session_run(cpython)
    for key in KEYS:
        assert _close(browser_view["readouts"][key], local_view["readouts"][key]), key
    assert [i for i, _ in browser_frame["trace"]] == [i for i, _ in local_frame["trace"]]
    for (_, got), (_, want) in zip(browser_frame["trace"], local_frame["trace"], strict=True):
        assert _close(got, want)
    assert browser_frame["view"]["theta"] == pytest.approx(local_frame["view"]["theta"],
                                                           rel=1e-9, abs=1e-9)
    assert (browser_frame["done"], browser_frame["converged"]) == (
        local_frame["done"], local_frame["converged"])
    assert_clean(warm_page.log)


#: One full Optimize through the page's buttons for every family but the flow (whose page runs
#: take a minute and whose own tests are tests/e2e/test_flow_page.py), on a target that asks
#: something of it; ``make test-slow`` runs every other pair too.
UI_OPTIMIZE = {("funnel", "gaussian-isotropic"), ("logistic-regression", "gaussian-diagonal"),
               ("bimodal", "gaussian-full"), ("ring", "mixture-3"), ("mickie", "mixture-10"),
               ("banana", "mixture-full")}


def _ui_pairs() -> list:
    return [pytest.param(t, f, marks=() if (t, f) in UI_OPTIMIZE else pytest.mark.slow)
            for t, f in _pairs() if f != "flow"]


def test_every_family_but_the_flow_has_a_full_optimize_through_the_buttons():
    assert {f for _, f in UI_OPTIMIZE} == {f["id"] for f in catalog()["families"]} - {"flow"}


@pytest.mark.parametrize(("target", "family"), _ui_pairs())
def test_optimize_reaches_the_cli_fit(warm_page, target, family):
    page = warm_page.show(target=target, family=family)
    before = readouts(page)
    page.click("[data-testid=optimize-button]")
    page.wait_for_function(
        "document.documentElement.dataset.viStatus === 'ready' && "
        "/Converged|limit/.test(document.querySelector('[data-testid=notice]').textContent)",
        timeout=180_000, polling=100)
    after = readouts(page)
    fit = library_fit(target, family).to_dict()
    assert after["elbo"] >= before["elbo"] - 1e-9
    elbo_error = float(page.text_content("#elbo-error").replace("±", "").replace("<", "").strip())
    tolerance = elbo_error + fit["log_z_error"] + 1e-6
    assert after["elbo"] <= after["log-z"] + tolerance
    assert after["kl"] == pytest.approx(fit["kl"], abs=1e-3)
    assert warm_page.log.console_errors == []


def test_drag_moves_q_to_exactly_what_vi_core_computes(warm_page, page, page_log):
    fresh = page
    page = warm_page.show(width=1400, height=900)
    handle_box = page.locator("[data-testid=handle-0]").bounding_box()
    plot_box = page.locator("[data-testid=plot]").bounding_box()
    before = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    x0 = handle_box["x"] + handle_box["width"] / 2
    y0 = handle_box["y"] + handle_box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x0 + 8 * i, y0 - 5 * i)
    page.mouse.up()
    wait_settled(page)
    after = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    extent = catalog()["targets"][0]["extent"]
    units_per_px = (extent[1] - extent[0]) / plot_box["width"]
    # The mean moved with the pointer (to within the handle's sub-pixel placement).
    assert after["means"][0][0] - before["means"][0][0] == pytest.approx(
        80 * units_per_px, abs=2 * units_per_px)
    assert after["means"][0][1] - before["means"][0][1] == pytest.approx(
        50 * units_per_px, abs=2 * units_per_px)
    expected = cpython("evaluate", target="banana", family="gaussian-full",
                       natural=after)["readouts"]
    shown = readouts(page)
    for key, pkey in zip(READOUTS, KEYS, strict=True):
        assert shown[key] == pytest.approx(expected[pkey], abs=1e-9)
    assert_clean(warm_page.log)
    # The link now carries q (to 7 significant figures): opening it shows the same numbers.
    fresh.goto(page.url)
    wait_ready(fresh)
    assert readouts(fresh) == pytest.approx(shown, abs=1e-5)
    assert_clean(page_log)


def test_keyboard_moves_the_selected_handle(warm_page):
    page = warm_page.show()
    before = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    page.focus("[data-testid=handle-0]")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "JSON.parse(document.getElementById('plot').dataset.natural).means[0][0]"
        f" !== {before['means'][0][0]}",
        polling=100)
    wait_idle(page)
    after = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    assert after["means"][0][0] > before["means"][0][0]
    assert after["means"][0][1] == pytest.approx(before["means"][0][1], abs=1e-12)
    assert_clean(warm_page.log)


def test_step_and_samples(warm_page):
    page = warm_page.show(target="bimodal", family="mixture-3", optimizer="adam")
    before = readouts(page)
    page.click("[data-testid=step-button]")
    wait_idle(page)
    page.click("[data-testid=step-button]")
    wait_idle(page)
    after = readouts(page)
    assert after["elbo"] != before["elbo"]
    page.check("[data-testid=samples-toggle]")
    page.wait_for_selector("[data-testid=mc-elbo]:not([hidden])")
    wait_idle(page)
    theta = json.loads(page.get_attribute("[data-testid=plot]", "data-theta"))
    local = cpython("samples", target="bimodal", family="mixture-3", theta=theta, n=400, seed=1)
    shown = float(page.get_attribute("[data-testid=mc-elbo]", "data-value"))
    assert shown == pytest.approx(local["mc"]["elbo"], abs=1e-9)
    # An unbiased estimate: within a few standard errors of the exact ELBO.
    assert abs(shown - after["elbo"]) < 5 * local["mc"]["error"] + 1e-9
    assert_clean(warm_page.log)


def test_url_fallbacks_are_announced(page, page_log, server):
    page.goto(f"{server.base_url}?target=nope&family=gaussian-diagonal&optimizer=sgd&mean=1,x")
    wait_ready(page)
    text = page.text_content("[data-testid=notice]")
    assert "nope" in text and "sgd" in text and "q" in text
    assert page.input_value("[data-testid=target-select]") == "banana"
    assert page.input_value("[data-testid=family-select]") == "gaussian-diagonal"
    assert page.input_value("[data-testid=optimizer-select]") == "lbfgs"
    page.click("[data-testid=optimize-button]")
    wait_idle(page, timeout=60_000)
    assert_clean(page_log)


def test_url_selects_target_family_optimizer(page, page_log, server):
    page.goto(f"{server.base_url}?target=ring&family=mixture-10&optimizer=gradient-ascent")
    wait_ready(page)
    assert page.input_value("[data-testid=target-select]") == "ring"
    assert page.input_value("[data-testid=family-select]") == "mixture-10"
    assert page.input_value("[data-testid=optimizer-select]") == "gradient-ascent"
    assert page.locator("[data-testid^=handle-]").count() == 10
    expected = cpython("evaluate", target="ring", family="mixture-10")["readouts"]
    assert readouts(page)["elbo"] == pytest.approx(expected["elbo"], abs=1e-12)
    assert_clean(page_log)


def test_screenshots(warm_page):
    """At three widths (the page laid out again as the window changes, as for a reader who
    turns a tablet): written to test-artifacts/, and nothing sticks out sideways."""
    page = warm_page.show(target="bimodal", family="mixture-3")
    page.check("[data-testid=samples-toggle]")
    page.wait_for_selector("[data-testid=mc-elbo]:not([hidden])")
    wait_idle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((360, 700), (800, 700), (1400, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(f"document.documentElement.clientWidth === {width}", polling=100)
        page.screenshot(path=str(ARTIFACTS / f"page-{width}x{height}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_clean(warm_page.log)


def test_fits_in_pyodide_match_cpython(warm_page):
    """vi_core in the browser (Pyodide, wasm numpy/scipy) reproduces CPython's fits."""
    page = warm_page.page or warm_page.open()
    cases = [("banana", "gaussian-full", "lbfgs"), ("ring", "mixture-3", "lbfgs"),
             ("nessie", "gaussian-diagonal", "adam"), ("bimodal", "mixture-full", "lbfgs"),
             ("student-t", "gaussian-isotropic", "gradient-ascent"),
             ("logistic-regression", "gaussian-full", "lbfgs")]
    for target, family, optimizer in cases:
        browser = in_page(page, "fit", target=target, family=family, optimizer=optimizer)
        local = library_fit(target, family, optimizer)
        # Iteration counts may differ by a few where the last digits of wasm's libm differ
        # from the host's; the optimum reached may not.
        # A 3-component mixture on a 2-mode target has a flat valley of optima: the ELBO is
        # pinned there, its two parts are not.
        keys = ("elbo", "kl") if family == "mixture-full" else (
            "elbo", "expected_log_density", "entropy", "kl")
        for key in keys:
            assert browser[key] == pytest.approx(getattr(local, key), abs=1e-9), (
                target, family, key)
    assert_clean(warm_page.log)


def test_custom_target_from_the_editor_and_the_link(warm_page, page, page_log):
    fresh = page
    page = warm_page.show()
    page.click("#custom summary")
    # A broken density: a clear message, and the page keeps its target.
    page.fill("[data-testid=custom-source]", "def log_density(x, y):\n    return x +\n")
    page.click("[data-testid=custom-apply]")
    wait_idle(page)
    assert "not accepted" in page.text_content("[data-testid=notice]")
    assert page.input_value("[data-testid=target-select]") == "banana"
    source = "def log_density(x, y):\n    return -0.5 * (x**2 + (y - 1)**2 / 0.25)\n"
    page.fill("[data-testid=custom-source]", source)
    page.click("[data-testid=custom-apply]")
    wait_idle(page)
    assert page.input_value("[data-testid=target-select]") == "custom"
    assert readouts(page)["log-z"] == pytest.approx(math.log(2 * math.pi * 0.5), abs=1e-4)
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("/Converged/.test(document.querySelector('[data-testid=notice]').textContent)",
                           timeout=60_000, polling=100)
    assert readouts(page)["kl"] == pytest.approx(0, abs=1e-5)  # a Gaussian fits a Gaussian
    assert_clean(warm_page.log)
    # The link carries the source: a fresh page rebuilds the same view.
    shown = readouts(page)
    fresh.goto(page.url)
    wait_ready(fresh)
    # Code from a link runs only when the visitor says so (see test_policy.py).
    assert fresh.text_content("[data-testid=consent-code]") == source
    fresh.click("[data-testid=consent-run]")
    wait_idle(fresh)
    assert fresh.input_value("[data-testid=target-select]") == "custom"
    assert readouts(fresh) == pytest.approx(shown, abs=1e-5)  # q travels to 7 significant figures
    assert_clean(page_log)


def test_stop_resume_and_reset_during_a_run(page, page_log, server):
    page.goto(f"{server.base_url}?target=banana&family=gaussian-full&optimizer=gradient-ascent"
              "&mean=1.5,1&scale=0.1,0.1")
    wait_ready(page)
    start = readouts(page)["elbo"]
    elbo_above = ("v => Number(document.querySelector('[data-testid=elbo]').dataset.value) > v"
                  " && document.documentElement.dataset.viStatus === 'busy'")
    page.click("[data-testid=optimize-button]")
    page.wait_for_function(elbo_above, arg=start, polling=50)  # a frame of the run is in
    assert page.text_content("[data-testid=optimize-button]") == "Stop"
    page.click("[data-testid=optimize-button]")
    wait_idle(page)
    paused = readouts(page)["elbo"]
    assert paused > start
    # Really stopped: no frame in the next 300 ms (six of the run's 50 ms frames).
    page.wait_for_timeout(300)
    assert readouts(page)["elbo"] == paused
    page.click("[data-testid=optimize-button]")
    page.wait_for_function(elbo_above, arg=paused, polling=50)  # going on, frames arriving
    page.click("[data-testid=reset-button]")
    wait_idle(page)
    # No stale frame wins: none lands in the next 500 ms.
    page.wait_for_timeout(500)
    reset = main_view()["readouts"]["elbo"]
    assert readouts(page)["elbo"] == pytest.approx(reset, abs=1e-12)
    assert_clean(page_log)


@pytest.mark.parametrize(("family", "handle"), [
    ("gaussian-full", "scale-handle-major"), ("gaussian-full", "scale-handle-minor"),
    ("gaussian-diagonal", "scale-handle-sx"), ("mixture-3", "scale-handle-radius")])
def test_dragging_a_scale_handle(warm_page, family, handle):
    page = warm_page.show(family=family, width=1400, height=900)
    before = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    drag(page, handle, 6, 9)
    wait_settled(page)
    after = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    assert after["scales"] != before["scales"]
    assert after["means"] == before["means"]
    expected = cpython("evaluate", target="banana", family=family, natural=after)["readouts"]
    shown = readouts(page)
    for key, pkey in zip(READOUTS, KEYS, strict=True):
        assert shown[key] == pytest.approx(expected[pkey], abs=1e-9)
    assert_clean(warm_page.log)


@pytest.mark.parametrize("query", [
    "target=banana&family=gaussian-full&mean=1e308,5&scale=1,1",
    "target=banana&family=gaussian-full&mean=0,0&scale=0,1",
    "target=banana&family=mixture-3&mean=0,0;1,1&scale=1,1;1,1",
    "target=banana&family=gaussian-full&mean=NaN,1",
    "target=%ZZ&family=&optimizer=%00",
])
def test_garbled_links_get_a_message_and_a_working_page(page, page_log, server, query):
    page.goto(f"{server.base_url}?{query}")
    wait_ready(page)
    assert page.is_visible("[data-testid=notice]")
    assert page.text_content("[data-testid=notice]").strip()
    elbo = page.get_attribute("[data-testid=elbo]", "data-value")
    assert elbo not in ("", None)
    page.click("[data-testid=step-button]")
    wait_idle(page)
    assert_clean(page_log)


def test_accessibility_audit_and_the_tab_order(browser, server):
    """Every control is reachable by Tab, and axe-core (the engine behind Lighthouse's audit)
    finds no serious or critical problems. The page's policy forbids inline scripts, so the
    audit's own script is injected in a context that lets the test (not the page) bypass it."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        requests: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        page.goto(server.base_url)
        wait_ready(page)
        seen = set()
        for _ in range(60):
            page.keyboard.press("Tab")
            testid = page.evaluate(
                "document.activeElement && document.activeElement.dataset.testid")
            if testid:
                seen.add(testid)
        for needed in ("handle-0", "target-select", "family-select", "optimizer-select",
                       "optimize-button", "step-button", "reset-button", "samples-toggle"):
            assert needed in seen, (needed, seen)
        wait_idle(page)
        assert axe_serious(page) == []
        assert errors == []
        log = PageLog(requests=requests)
        assert log.non_loopback_requests() == []
    finally:
        context.close()


def test_a_runaway_custom_target_can_be_restarted_without_losing_the_view(warm_page):
    page = warm_page.show(target="ring", family="mixture-3")
    page.click("#custom summary")
    page.fill("[data-testid=custom-source]",
              "def log_density(x, y):\n    while True:\n        pass\n")
    page.click("[data-testid=custom-apply]")
    page.wait_for_selector("[data-testid=restart-python]:not([hidden])", timeout=40_000)
    page.click("[data-testid=restart-python]")
    wait_ready(page, timeout=60_000)
    page.wait_for_function("/restarted/.test(document.querySelector('[data-testid=notice]').textContent)",
                           polling=100)
    assert page.input_value("[data-testid=target-select]") == "ring"
    assert page.input_value("[data-testid=family-select]") == "mixture-3"
    expected = cpython("evaluate", target="ring", family="mixture-3")["readouts"]
    assert readouts(page)["elbo"] == pytest.approx(expected["elbo"], abs=1e-12)
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("/Converged/.test(document.querySelector('[data-testid=notice]').textContent)",
                           timeout=60_000, polling=100)
    assert_clean(warm_page.log)


# Links other than the page's own defaults: the build's precomputed views paint them before
# Python is up, and they are exactly what the browser's vi_core computes once it is.
PRECOMPUTED_LINKS = [
    ("?embed=1&target=bimodal&family=gaussian-full", "bimodal"),  # an embed link
    ("?target=ring&family=mixture-3", "ring"),
    ("?target=funnel", "funnel"),
    ("?target=logistic-regression&family=mixture-full", "logistic-regression"),
]


def _painted(page) -> dict:
    return page.evaluate("""() => {
        const plot = document.querySelector('[data-testid=plot]');
        return {target: plot.dataset.paintedTarget, q: plot.dataset.paintedQ,
                theta: plot.dataset.theta, status: document.documentElement.dataset.viStatus};
    }""")


@pytest.mark.parametrize("query,target", PRECOMPUTED_LINKS)
def test_a_builtin_link_paints_before_python_with_the_browsers_numbers(browser, server, query,
                                                                       target):
    context = browser.new_context()
    try:
        early = context.new_page()
        early.route("**/pyodide/pyodide.asm.wasm", lambda route: None)  # Python never comes up
        early.goto(server.base_url + query)
        early.wait_for_function("document.querySelector('[data-testid=elbo]').dataset.value !== ''")
        before = _painted(early)
        assert before["status"] == "loading"
        assert before["target"] == target and before["q"] == target
        before_readouts = readouts(early)
        early.close()

        late = context.new_page()
        late.goto(server.base_url + query)
        wait_ready(late)
        after = _painted(late)
        assert after["target"] == target and after["q"] == target
        assert json.loads(after["theta"]) == pytest.approx(json.loads(before["theta"]), abs=1e-12)
        for key, value in readouts(late).items():
            assert value == pytest.approx(before_readouts[key], abs=1e-12), key
    finally:
        context.close()


def test_a_link_that_sets_q_paints_the_target_before_python(page, server):
    page.route("**/pyodide/pyodide.asm.wasm", lambda route: None)
    page.goto(server.base_url + "?target=bimodal&family=gaussian-full&mean=0.5,0.5")
    page.wait_for_function(
        "document.querySelector('[data-testid=plot]').dataset.paintedTarget === 'bimodal'")
    # q from the link needs Python: no made-up numbers meanwhile.
    assert page.get_attribute("[data-testid=elbo]", "data-value") == ""
    assert page.get_attribute("html", "data-vi-status") == "loading"


def test_link_problems_are_short_and_say_what_was_dropped(page, page_log, server, browser):
    # Read before Python is up: the link's own problems are the page's to say.
    context = browser.new_context()
    try:
        early = context.new_page()
        before_python(early)
        long = "z" * 120
        early.goto(f"{server.base_url}?target={long}&family=gaussian-full")
        early.wait_for_function("document.querySelector('[data-testid=elbo]').dataset.value !== ''")
        notice = early.text_content("[data-testid=notice]")
        assert "unknown target" in notice and long not in notice and len(notice) < 200
        # The plot keeps its width (the notice wraps instead of widening the page).
        assert early.locator("#plot-canvas").bounding_box()["width"] > 100
    finally:
        context.close()
    # Two means for a one-component family: said (by vi_core), not silently dropped.
    page.goto(f"{server.base_url}?family=gaussian-full&mean=0.5,0.5;-0.5,-0.5")
    wait_ready(page)
    assert "2 components" in page.text_content("[data-testid=notice]")
    assert_clean(page_log)


PROTOTYPE_NAMES = ["?target=__proto__", "?target=constructor", "?target=toString",
                   "?family=toString", "?family=hasOwnProperty", "?optimizer=__proto__",
                   "?k=__proto__",
                   "?target=%3Cimg%20src%3Dx%20onerror%3D%22document.title%3D1%22%3E",
                   "?family=%3Cscript%3Edocument.title%3D1%3C%2Fscript%3E"]


@pytest.mark.parametrize("query", PROTOTYPE_NAMES)
def test_prototype_names_in_a_link_are_unknown_ids(page, page_log, server, query):
    """Ids are looked up among the catalog's own entries: a name every JS object has is just
    an unknown id (a notice, the default), read before Python is up. Markup in an id is quoted
    as text, never inserted as HTML. (That the page then works is the next test's.)"""
    before_python(page)
    page.goto(server.base_url + query)
    page.wait_for_function("document.querySelector('[data-testid=elbo]').dataset.value !== ''")
    assert "The link had problems" in page.text_content("[data-testid=notice]")
    assert page.locator("[data-testid=notice] img, [data-testid=notice] script").count() == 0
    assert page.title() != "1"
    assert page.get_attribute("[data-testid=elbo]", "data-value") != ""
    assert_clean(page_log)


def test_a_link_of_prototype_names_gives_a_working_page(page, page_log, server):
    """All of them in one link: the defaults, never a hang or a function sent to the worker,
    and the page works once Python is up."""
    page.goto(server.base_url + "?target=__proto__&family=hasOwnProperty&optimizer=__proto__"
              "&k=__proto__")
    wait_ready(page)
    notice = page.text_content("[data-testid=notice]")
    assert "The link had problems" in notice and "__proto__" in notice
    assert page.input_value("[data-testid=target-select]") == "banana"
    assert page.get_attribute("[data-testid=elbo]", "data-value") != ""
    before = readouts(page)["elbo"]
    page.click("[data-testid=step-button]")
    wait_idle(page)
    assert readouts(page)["elbo"] > before
    assert_clean(page_log)


def test_unknown_controls_fall_back_to_the_defaults_with_their_own_notice(page, page_log, server):
    page.goto(f"{server.base_url}?target=nope&controls=foo")
    wait_ready(page)
    notice = page.text_content("[data-testid=notice]")
    assert "The link had problems" in notice and 'Unknown controls ignored: "foo"' in notice
    assert "showing the default controls" in notice
    assert (page.is_visible("[data-testid=target-select]")
            and page.is_visible("[data-testid=family-select]"))
    assert_clean(page_log)
