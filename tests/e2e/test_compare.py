"""Reverse vs forward KL side by side on the plot, and k̂ / the IW-ELBO next to the samples."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.e2e.conftest import ARTIFACTS, axe_serious, wait_idle, wait_ready
from tests.e2e.helpers import assert_clean
from tests.reference import call as cpython

pytestmark = pytest.mark.e2e


# The compared fits' colours on the canvas (plot.js COLORS.fitForward): count its pixels.
_MAGENTA_PIXELS = """() => {
  const c = document.getElementById('plot-canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] > 220 && d[i + 1] < 110 && d[i + 2] > 170) n++;
  }
  return n;
}"""


def sd_along(cov: list[list[float]], direction: np.ndarray) -> float:
    u = direction / np.linalg.norm(direction)
    return math.sqrt(float(u @ np.asarray(cov) @ u))


def compare_on(page) -> dict:
    """Check Compare on the page (bimodal x full Gaussian on show); return the legend's fits
    and the magenta pixels of the compared fit before and after."""
    assert page.is_hidden("[data-testid=compare-legend]")
    before = page.evaluate(_MAGENTA_PIXELS)
    page.check("[data-testid=compare-toggle]")
    page.wait_for_function(
        "document.querySelector('[data-testid=compare-legend]').dataset.fits !== ''",
        timeout=120_000, polling=100)
    wait_idle(page)
    fits = json.loads(page.get_attribute("[data-testid=compare-legend]", "data-fits"))
    fits["magenta_before"] = before
    fits["magenta_after"] = page.evaluate(_MAGENTA_PIXELS)
    return fits


def test_bimodal_shows_reverse_and_forward_fits_together(warm_page):
    page = warm_page.show(target="bimodal", width=1200)
    fits = compare_on(page)
    rev, fwd = fits["reverse"], fits["forward"]
    assert (fits["target"], fits["family"], fits["objective"]) == (
        "bimodal", "gaussian-full", "forward-kl")
    # The legend gives each fit's ELBO; the forward fit's is lower (the ELBO's optimum is the
    # reverse fit), and it has the smaller KL(p‖q).
    legend = page.text_content("[data-testid=compare-legend]")
    assert legend.count("ELBO") >= 2 and "Reverse KL(q‖p)" in legend and "Forward KL(p‖q)" in legend
    assert "Only reverse KL" in legend
    assert fwd["elbo"] < rev["elbo"] - 0.05 and fwd["forward_kl"] < rev["forward_kl"]
    # The numbers are vi_core's, in Pyodide as on CPython.
    ref = cpython("compare", target="bimodal", family="gaussian-full")
    assert fwd["elbo"] == pytest.approx(ref["forward"]["elbo"], abs=1e-5)
    assert rev["elbo"] == pytest.approx(ref["reverse"]["elbo"], abs=1e-5)
    np.testing.assert_allclose(fwd["theta"], ref["forward"]["theta"], atol=1e-4)
    # Mode-seeking vs mass-covering: along the axis through the two modes the forward fit is
    # much wider than the reverse fit, which sits on the heavier mode.
    axis = np.array([0.8, 0.7]) - np.array([-0.8, 0.0])
    covs = {side: ref[side]["components"]["covs"][0] for side in ("reverse", "forward")}
    assert sd_along(covs["forward"], axis) > 1.4 * sd_along(covs["reverse"], axis)
    assert ref["reverse"]["natural"]["means"][0][0] < -0.6       # on the heavy mode
    assert ref["forward"]["natural"]["means"][0][0] == pytest.approx(-0.4, abs=1e-3)
    # Both fits are drawn: the forward fit's magenta appears on the plot.
    assert fits["magenta_before"] < 20 < fits["magenta_after"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare-1200.png"), full_page=True)
    # Leaving the family ends the comparison (and its drawing).
    page.select_option("[data-testid=family-select]", "gaussian-diagonal")
    wait_idle(page)
    assert page.is_hidden("[data-testid=compare-legend]")
    assert not page.is_checked("[data-testid=compare-toggle]")
    assert page.evaluate(_MAGENTA_PIXELS) < 20
    assert_clean(warm_page.log)


def test_samples_show_khat_and_the_iw_elbo_with_their_reading(warm_page):
    page = warm_page.show(target="bimodal", width=1200)
    assert page.is_hidden("[data-testid=khat]")
    page.check("[data-testid=samples-toggle]")
    page.wait_for_selector("[data-testid=khat]:visible", timeout=120_000)
    wait_idle(page)
    theta = json.loads(page.get_attribute("[data-testid=plot]", "data-theta"))
    ref = cpython("diagnostics", target="bimodal", family="gaussian-full", theta=theta, seed=1)
    khat_text = page.text_content("[data-testid=khat]")
    assert ref["reading"] in khat_text and "k̂" in khat_text
    assert float(page.get_attribute("[data-testid=khat]", "data-value")) == pytest.approx(
        ref["khat"], abs=1e-9)
    iw = page.text_content("[data-testid=iw-elbo]")
    assert "IW-ELBO" in iw and "log Z − IW-ELBO" in iw
    assert float(page.get_attribute("[data-testid=iw-elbo]", "data-value")) == pytest.approx(
        ref["iw_elbo"], abs=1e-9)
    # The honest limit, where k̂ shows.
    assert "far-apart modes" in page.text_content("[data-testid=khat-caveat]")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "khat-1200.png"), full_page=True)
    page.uncheck("[data-testid=samples-toggle]")
    assert page.is_hidden("[data-testid=khat]")
    assert_clean(warm_page.log)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_comparison_and_khat_pass_the_accessibility_audit(browser, server, theme):
    """axe-core finds no serious problem with the legend and the k̂ lines on show (light and
    dark). In the dark theme the same page then becomes a phone's: Compare fits its width."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.set_viewport_size({"width": 1200, "height": 900})
        page.goto(f"{server.base_url}?target=bimodal&family=gaussian-full&theme={theme}")
        wait_ready(page)
        fits = compare_on(page)
        page.check("[data-testid=samples-toggle]")
        page.wait_for_selector("[data-testid=khat]:visible", timeout=120_000)
        wait_idle(page)
        assert axe_serious(page) == [], theme
        if theme == "dark":  # Compare on a phone in the dark theme
            page.set_viewport_size({"width": 375, "height": 900})
            page.wait_for_function("document.documentElement.clientWidth === 375", polling=100)
            assert fits["forward"]["elbo"] < fits["reverse"]["elbo"]
            assert fits["magenta_after"] > 20
            assert page.is_visible("[data-testid=compare-legend]")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "compare-375-dark.png"), full_page=True)
        assert errors == []
    finally:
        context.close()


def test_an_alpha_divergence_fit_beside_the_reverse_one(warm_page):
    """Compare's other side is chosen from vi_core's list (forward KL, Rényi α): choosing α
    refits that side with vi_core's numbers and names the divergence in the legend."""
    page = warm_page.show(target="bimodal", width=1200)
    fits = compare_on(page)
    assert fits["objective"] == "forward-kl"
    assert page.is_visible("[data-testid=compare-with]")
    choices = page.eval_on_selector_all(
        "[data-testid=compare-with] option", "os => os.map(o => o.value)")
    assert choices == [c["id"] for c in cpython("catalog")["comparisons"]]
    page.select_option("[data-testid=compare-with]", "alpha-0.5")
    page.wait_for_function(
        "(document.querySelector('[data-testid=compare-legend]').dataset.fits || '')"
        ".includes('\"alpha\":0.5')",
        timeout=120_000)
    wait_idle(page)
    alpha = json.loads(page.get_attribute("[data-testid=compare-legend]", "data-fits"))
    assert (alpha["objective"], alpha["alpha"]) == ("alpha", 0.5)
    ref = cpython("compare", target="bimodal", family="gaussian-full", objective="alpha", alpha=0.5)
    assert alpha["forward"]["theta"] == pytest.approx(ref["forward"]["theta"], abs=1e-6)
    assert alpha["forward"]["divergence"] == pytest.approx(ref["forward"]["divergence"], abs=1e-6)
    assert alpha["reverse"]["elbo"] == pytest.approx(fits["reverse"]["elbo"], abs=1e-12)
    legend = page.text_content("[data-testid=compare-legend]")
    assert "Rényi α = 0.5 fit, D_α(p‖q)" in legend
    # α = 0.5 sits between the two: its forward KL between the reverse and the forward fits'.
    assert (fits["forward"]["forward_kl"] < alpha["forward"]["forward_kl"]
            < fits["reverse"]["forward_kl"])
    page.screenshot(path=str(ARTIFACTS / "compare-alpha-1200.png"))
    assert_clean(warm_page.log)
