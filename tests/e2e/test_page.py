"""The interactive page, driven as a visitor would, with its numbers checked against CPython."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

import pytest

from tests.e2e.conftest import ARTIFACTS, ROOT, axe_serious, wait_ready
from vi_core.protocol import Session

pytestmark = pytest.mark.e2e

READOUTS = ("elbo", "expected-log-density", "entropy", "log-z", "kl")


def readouts(page) -> dict[str, float]:
    return {
        key: float(page.get_attribute(f"[data-testid={key}]", "data-value")) for key in READOUTS
    }


_SESSION = Session()  # CPython's side of the comparisons, like the page's worker has one


def cpython(method: str, **params) -> dict:
    reply = _SESSION.handle({"method": method, "params": params})
    assert reply["ok"], reply
    return reply["result"]


@cache
def main_defaults() -> dict:
    """The main page's starting point, from site.toml (target, family, optimizer, natural)."""
    import build

    return build.load_config(ROOT / "site.toml")["defaults"]


def main_view() -> dict:
    d = main_defaults()
    return cpython("evaluate", target=d["target"], family=d["family"], natural=d["natural"])


@cache
def catalog() -> dict:
    return cpython("catalog")


@cache
def cli_fit(target: str, family: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "vi_core", "fit", "--target", target, "--family", family, "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(out.stdout)


def wait_idle(page, timeout: int = 120_000) -> None:
    page.wait_for_function("document.documentElement.dataset.viStatus === 'ready'", timeout=timeout)


def drag(page, testid: str, dx: float, dy: float, steps: int = 5) -> None:
    """Drag the handle `testid` by (dx, dy) pixels per step, in `steps` pointer moves."""
    box = page.locator(f"[data-testid={testid}]").bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x0 + dx * i, y0 + dy * i)
    page.mouse.up()


def assert_clean(page_log) -> None:
    assert page_log.console_errors == []
    assert page_log.non_loopback_requests() == []


def test_first_paint_does_not_wait_for_python(page, page_log, server):
    page.route("**/pyodide/pyodide.asm.wasm", lambda route: None)  # never answer: Python stalls
    page.goto(server.base_url)
    page.wait_for_function("document.querySelector('[data-testid=elbo]').dataset.value !== ''")
    assert page.get_attribute("html", "data-vi-status") == "loading"
    values = readouts(page)
    expected = main_view()["readouts"]
    assert values["elbo"] == pytest.approx(expected["elbo"], abs=1e-12)
    assert page.locator("[data-testid=handle-0]").count() == 1


def test_in_browser_numbers_equal_cpython(page, page_log, server):
    page.goto(server.base_url)
    wait_ready(page)
    cases = [("banana", "gaussian-full"), ("ring", "mixture-3"), ("funnel", "gaussian-diagonal"),
             ("bimodal", "mixture-10"), ("correlated-gaussian", "gaussian-isotropic")]
    for target, family in cases:
        browser = page.evaluate(
            "([t, f]) => window.viPython.call('evaluate', {target: t, family: f})", [target, family]
        )
        local = cpython("evaluate", target=target, family=family)
        for key in ("elbo", "expected_log_density", "entropy", "log_z", "kl"):
            assert browser["readouts"][key] == pytest.approx(local["readouts"][key], abs=1e-12)
        assert browser["theta"] == pytest.approx(local["theta"], abs=1e-12)
    assert_clean(page_log)


def _combinations():
    """Every target x family but the flow, whose page runs take a minute each and whose fit is
    vi_core.flows.fit_flow (tests/e2e/test_flow_page.py checks the flow on the page)."""
    return [(t["id"], f["id"]) for t in catalog()["targets"] for f in catalog()["families"]
            if f["kind"] != "flow"]


@pytest.fixture(scope="module")
def shared_page(browser, server):
    """One page for the whole sweep: a visitor switching targets and families, not reloading."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(server.base_url)
    wait_ready(page)
    yield page, errors
    context.close()


@cache
def library_fit(target: str, family: str) -> dict:
    # The same function `python -m vi_core fit` runs (tests/unit/test_cli.py checks that).
    from vi_core.fit import fit

    return fit(target, family).to_dict()


@pytest.mark.parametrize(("target", "family"), _combinations())
def test_optimize_reaches_the_cli_fit(shared_page, target, family):
    page, errors = shared_page
    if page.input_value("[data-testid=target-select]") != target:
        page.select_option("[data-testid=target-select]", target)
        wait_idle(page)
    if page.input_value("[data-testid=family-select]") != family:
        page.select_option("[data-testid=family-select]", family)
        wait_idle(page)
    page.click("[data-testid=reset-button]")
    wait_idle(page)
    before = readouts(page)
    page.click("[data-testid=optimize-button]")
    page.wait_for_function(
        "document.documentElement.dataset.viStatus === 'ready' && "
        "/Converged|limit/.test(document.querySelector('[data-testid=notice]').textContent)",
        timeout=180_000)
    after = readouts(page)
    fit = library_fit(target, family)
    assert after["elbo"] >= before["elbo"] - 1e-9
    elbo_error = float(page.text_content("#elbo-error").replace("±", "").replace("<", "").strip())
    tolerance = elbo_error + fit["log_z_error"] + 1e-6
    assert after["elbo"] <= after["log-z"] + tolerance
    assert after["kl"] == pytest.approx(fit["kl"], abs=1e-3)
    assert errors == []


def test_cli_fit_is_the_library_fit():
    out = cli_fit("banana", "gaussian-full")
    assert out["kl"] == pytest.approx(library_fit("banana", "gaussian-full")["kl"], abs=1e-12)


def test_drag_moves_q_to_exactly_what_vi_core_computes(page, page_log, server):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(server.base_url)
    wait_ready(page)
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
    wait_idle(page)
    page.wait_for_timeout(200)
    wait_idle(page)
    after = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    extent = cpython("catalog")["targets"][0]["extent"]
    units_per_px = (extent[1] - extent[0]) / plot_box["width"]
    # The mean moved with the pointer (to within the handle's sub-pixel placement).
    assert after["means"][0][0] - before["means"][0][0] == pytest.approx(80 * units_per_px, abs=2 * units_per_px)
    assert after["means"][0][1] - before["means"][0][1] == pytest.approx(50 * units_per_px, abs=2 * units_per_px)
    expected = cpython("evaluate", target="banana", family="gaussian-full", natural=after)["readouts"]
    shown = readouts(page)
    for key, pkey in zip(READOUTS, ("elbo", "expected_log_density", "entropy", "log_z", "kl"), strict=True):
        assert shown[key] == pytest.approx(expected[pkey], abs=1e-9)
    # The link now carries q (to 7 significant figures): opening it shows the same numbers.
    link = page.url
    page.goto(link)
    wait_ready(page)
    assert readouts(page) == pytest.approx(shown, abs=1e-5)
    assert_clean(page_log)


def test_keyboard_moves_the_selected_handle(page, page_log, server):
    page.goto(server.base_url)
    wait_ready(page)
    before = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    page.focus("[data-testid=handle-0]")
    page.keyboard.press("ArrowRight")
    wait_idle(page)
    page.wait_for_function(
        f"JSON.parse(document.getElementById('plot').dataset.natural).means[0][0] !== {before['means'][0][0]}"
    )
    after = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    assert after["means"][0][0] > before["means"][0][0]
    assert after["means"][0][1] == pytest.approx(before["means"][0][1], abs=1e-12)
    assert_clean(page_log)


def test_step_and_samples(page, page_log, server):
    page.goto(f"{server.base_url}?target=bimodal&family=mixture-3&optimizer=adam")
    wait_ready(page)
    before = readouts(page)
    page.click("[data-testid=step-button]")
    wait_idle(page)
    page.click("[data-testid=step-button]")
    wait_idle(page)
    after = readouts(page)
    assert after["elbo"] != before["elbo"]
    page.check("[data-testid=samples-toggle]")
    wait_idle(page)
    page.wait_for_selector("[data-testid=mc-elbo]:not([hidden])")
    theta = json.loads(page.get_attribute("[data-testid=plot]", "data-theta"))
    local = cpython("samples", target="bimodal", family="mixture-3", theta=theta, n=400, seed=1)
    shown = float(page.get_attribute("[data-testid=mc-elbo]", "data-value"))
    assert shown == pytest.approx(local["mc"]["elbo"], abs=1e-9)
    # An unbiased estimate: within a few standard errors of the exact ELBO.
    assert abs(shown - after["elbo"]) < 5 * local["mc"]["error"] + 1e-9
    assert_clean(page_log)


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


@pytest.mark.parametrize("size", [(360, 700), (800, 700), (1400, 900)])
def test_screenshots(page, page_log, server, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{server.base_url}?target=bimodal&family=mixture-3")
    wait_ready(page)
    page.check("[data-testid=samples-toggle]")
    wait_idle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{width}x{height}.png"), full_page=True)
    # Nothing sticks out sideways, at any width.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_clean(page_log)


def test_fits_in_pyodide_match_cpython(page, page_log, server):
    """vi_core in the browser (Pyodide, wasm numpy/scipy) reproduces CPython's fits."""
    from vi_core.fit import fit

    page.goto(server.base_url)
    wait_ready(page)
    cases = [("banana", "gaussian-full", "lbfgs"), ("ring", "mixture-3", "lbfgs"),
             ("nessie", "gaussian-diagonal", "adam"), ("bimodal", "mixture-full", "lbfgs"),
             ("student-t", "gaussian-isotropic", "gradient-ascent"),
             ("logistic-regression", "gaussian-full", "lbfgs")]
    for target, family, optimizer in cases:
        browser = page.evaluate(
            "([t, f, o]) => window.viPython.call('fit', {target: t, family: f, optimizer: o})",
            [target, family, optimizer],
        )
        local = fit(target, family, optimizer)
        # Iteration counts may differ by a few where the last digits of wasm's libm differ
        # from the host's; the optimum reached may not.
        # A 3-component mixture on a 2-mode target has a flat valley of optima: the ELBO is
        # pinned there, its two parts are not.
        keys = ("elbo", "kl") if family == "mixture-full" else (
            "elbo", "expected_log_density", "entropy", "kl")
        for key in keys:
            assert browser[key] == pytest.approx(getattr(local, key), abs=1e-9), (target, family, key)
    assert_clean(page_log)


def test_custom_target_from_the_editor_and_the_link(page, page_log, server):
    page.goto(server.base_url)
    wait_ready(page)
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
    import math

    assert readouts(page)["log-z"] == pytest.approx(math.log(2 * math.pi * 0.5), abs=1e-4)
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("/Converged/.test(document.querySelector('[data-testid=notice]').textContent)",
                           timeout=60_000)
    assert readouts(page)["kl"] == pytest.approx(0, abs=1e-5)  # a Gaussian fits a Gaussian
    # The link carries the source: a fresh page rebuilds the same view.
    shown = readouts(page)
    page.goto(page.url)
    wait_ready(page)
    # Code from a link runs only when the visitor says so (see test_policy.py).
    assert page.text_content("[data-testid=consent-code]") == source
    page.click("[data-testid=consent-run]")
    wait_idle(page)
    assert page.input_value("[data-testid=target-select]") == "custom"
    assert readouts(page) == pytest.approx(shown, abs=1e-5)  # q travels to 7 significant figures
    assert_clean(page_log)


def test_stop_resume_and_reset_during_a_run(page, page_log, server):
    page.goto(f"{server.base_url}?target=banana&family=gaussian-full&optimizer=gradient-ascent"
              "&mean=1.5,1&scale=0.1,0.1")
    wait_ready(page)
    start = readouts(page)["elbo"]
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("document.documentElement.dataset.viStatus === 'busy'")
    page.wait_for_timeout(600)
    assert page.text_content("[data-testid=optimize-button]") == "Stop"
    page.click("[data-testid=optimize-button]")
    wait_idle(page)
    paused = readouts(page)["elbo"]
    assert paused > start
    page.wait_for_timeout(300)
    assert readouts(page)["elbo"] == paused  # really stopped
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("document.documentElement.dataset.viStatus === 'busy'")
    page.wait_for_timeout(300)
    page.click("[data-testid=reset-button]")
    wait_idle(page)
    page.wait_for_timeout(500)
    reset = main_view()["readouts"]["elbo"]
    assert readouts(page)["elbo"] == pytest.approx(reset, abs=1e-12)  # no stale frame won
    assert_clean(page_log)


@pytest.mark.parametrize(("family", "handle"), [
    ("gaussian-full", "scale-handle-major"), ("gaussian-full", "scale-handle-minor"),
    ("gaussian-diagonal", "scale-handle-sx"), ("mixture-3", "scale-handle-radius")])
def test_dragging_a_scale_handle(page, page_log, server, family, handle):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{server.base_url}?target=banana&family={family}")
    wait_ready(page)
    before = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    drag(page, handle, 6, 9)
    page.wait_for_timeout(200)
    wait_idle(page)
    after = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    assert after["scales"] != before["scales"]
    assert after["means"] == before["means"]
    expected = cpython("evaluate", target="banana", family=family, natural=after)["readouts"]
    shown = readouts(page)
    for key, pkey in zip(READOUTS, ("elbo", "expected_log_density", "entropy", "log_z", "kl"), strict=True):
        assert shown[key] == pytest.approx(expected[pkey], abs=1e-9)
    assert_clean(page_log)


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


def test_accessibility_audit(browser, server):
    """axe-core (the engine behind Lighthouse's audit) finds no serious or critical problems.
    The page's policy forbids inline scripts, so the audit's own script is injected in a
    context that lets the test (not the page) bypass it."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(server.base_url)
        wait_ready(page)
        assert axe_serious(page) == []
        assert errors == []
    finally:
        context.close()


def test_every_control_is_reachable_by_tab(page, page_log, server):
    page.goto(server.base_url)
    wait_ready(page)
    seen = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        testid = page.evaluate("document.activeElement && document.activeElement.dataset.testid")
        if testid:
            seen.add(testid)
    for needed in ("handle-0", "target-select", "family-select", "optimizer-select",
                   "optimize-button", "step-button", "reset-button", "samples-toggle"):
        assert needed in seen, (needed, seen)
    assert_clean(page_log)


def test_a_runaway_custom_target_can_be_restarted_without_losing_the_view(page, page_log, server):
    page.goto(f"{server.base_url}?target=ring&family=mixture-3")
    wait_ready(page)
    page.click("#custom summary")
    page.fill("[data-testid=custom-source]", "def log_density(x, y):\n    while True:\n        pass\n")
    page.click("[data-testid=custom-apply]")
    page.wait_for_selector("[data-testid=restart-python]:not([hidden])", timeout=40_000)
    page.click("[data-testid=restart-python]")
    wait_ready(page, timeout=60_000)
    page.wait_for_function("/restarted/.test(document.querySelector('[data-testid=notice]').textContent)")
    assert page.input_value("[data-testid=target-select]") == "ring"
    assert page.input_value("[data-testid=family-select]") == "mixture-3"
    expected = cpython("evaluate", target="ring", family="mixture-3")["readouts"]
    assert readouts(page)["elbo"] == pytest.approx(expected["elbo"], abs=1e-12)
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("/Converged/.test(document.querySelector('[data-testid=notice]').textContent)",
                           timeout=60_000)
    assert_clean(page_log)


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


def test_link_problems_are_short_and_say_what_was_dropped(page, page_log, server):
    long = "z" * 120
    page.goto(f"{server.base_url}?target={long}&family=gaussian-full")
    wait_ready(page)
    notice = page.text_content("[data-testid=notice]")
    assert "unknown target" in notice and long not in notice and len(notice) < 200
    # The plot keeps its width (the notice wraps instead of widening the page).
    assert page.locator("#plot-canvas").bounding_box()["width"] > 100
    # Two means for a one-component family: said, not silently dropped.
    page.goto(f"{server.base_url}?family=gaussian-full&mean=0.5,0.5;-0.5,-0.5")
    wait_ready(page)
    assert "2 components" in page.text_content("[data-testid=notice]")
    assert_clean(page_log)


@pytest.mark.parametrize("query", ["?target=__proto__", "?target=constructor", "?target=toString",
                                   "?family=toString", "?family=hasOwnProperty",
                                   "?optimizer=__proto__", "?k=__proto__",
                                   "?target=%3Cimg%20src%3Dx%20onerror%3D%22document.title%3D1%22%3E",
                                   "?family=%3Cscript%3Edocument.title%3D1%3C%2Fscript%3E"])
def test_prototype_names_in_a_link_are_unknown_ids(page, page_log, server, query):
    """Ids are looked up among the catalog's own entries: a name every JS object has is just
    an unknown id (a notice, the default), never a hang or a function sent to the worker. Markup
    in an id is quoted as text, never inserted as HTML."""
    page.goto(server.base_url + query)
    wait_ready(page)
    assert "The link had problems" in page.text_content("[data-testid=notice]")
    assert page.locator("[data-testid=notice] img, [data-testid=notice] script").count() == 0
    assert page.title() != "1"
    assert page.get_attribute("[data-testid=elbo]", "data-value") != ""
    assert_clean(page_log)


def test_unknown_controls_fall_back_to_the_defaults_with_their_own_notice(page, page_log, server):
    page.goto(f"{server.base_url}?target=nope&controls=foo")
    wait_ready(page)
    notice = page.text_content("[data-testid=notice]")
    assert "The link had problems" in notice and 'Unknown controls ignored: "foo"' in notice
    assert "showing the default controls" in notice
    assert page.is_visible("[data-testid=target-select]") and page.is_visible("[data-testid=family-select]")
    assert_clean(page_log)
