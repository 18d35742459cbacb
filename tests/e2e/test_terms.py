"""The article's argument drawn: the bound figure (E_q[log p~] + H[q] = ELBO <= log Z, the gap
KL, on a scale fixed per target), the two forces (both terms as q is scaled), the optimizer's
trail, and handles that keep apart on a small q."""

from __future__ import annotations

import json
import math

import pytest

from tests.e2e.conftest import ARTIFACTS, wait_idle, wait_ready
from tests.e2e.helpers import drag, readouts, wait_settled
from tests.reference import call as cpython

pytestmark = pytest.mark.e2e


def parts(page) -> dict:
    return json.loads(page.get_attribute("[data-testid=bound-figure]", "data-parts") or "null")


def scale(page) -> dict:
    return json.loads(page.get_attribute("[data-testid=bound-figure]", "data-scale") or "null")


def forces_current(page) -> dict:
    page.wait_for_function(
        "document.querySelector('[data-testid=forces-chart]').dataset.state === 'current'",
        timeout=120_000, polling=100)
    return json.loads(page.get_attribute("[data-testid=forces-chart]", "data-sweep"))


def test_the_bound_figure_shows_the_readouts_on_a_fixed_scale(warm_page):
    page = warm_page.show()
    first = scale(page)
    shown = []
    for act in ("start", "drag", "step", "optimize"):
        if act == "drag":
            drag(page, "handle-0", 40, 25)
        elif act == "step":
            page.click("[data-testid=step-button]")
        elif act == "optimize":
            page.click("[data-testid=optimize-button]")
            page.wait_for_function("/Converged|limit/.test(document.querySelector('[data-testid=notice]').textContent)",
                                   timeout=120_000, polling=100)
        wait_settled(page)
        r = readouts(page)
        p = parts(page)
        for key, testid in (("expected_log_density", "expected-log-density"),
                            ("entropy", "entropy"), ("elbo", "elbo"), ("log_z", "log-z"),
                            ("kl", "kl")):
            assert p[key] == pytest.approx(r[testid], abs=1e-12), (act, key)
        assert p["expected_log_density"] + p["entropy"] == pytest.approx(p["elbo"], abs=1e-9)
        assert scale(page) == first, act  # the scale never changes within a target
        shown.append(p["kl"])
        # Three bars, log Z's line and a labelled gap are drawn.
        assert page.locator("#bound-svg rect.bf-bar").count() == 3
        assert page.locator("#bound-svg .bf-logz").count() == 1
        assert page.locator("#bound-svg .bf-gap-label").text_content().startswith("KL")
    assert shown[-1] < shown[0]
    caption = page.text_content("[data-testid=bound-figure] figcaption")
    assert "cross-entropy term" in caption and "can be negative" in caption
    page.screenshot(path=str(ARTIFACTS / "terms-full-1280.png"), full_page=True)


def test_the_two_forces_follow_q(warm_page):
    page = warm_page.show(family="gaussian-diagonal", height=1000)
    sweep = forces_current(page)
    theta = json.loads(page.get_attribute("[data-testid=plot]", "data-theta"))
    want = cpython("forces", target="banana", family="gaussian-diagonal", theta=theta)
    assert sweep["factors"] == pytest.approx(want["factors"])
    for key in ("expected_log_density", "entropy", "elbo"):
        assert sweep[key] == pytest.approx(want[key], abs=1e-9)
    # For one Gaussian the entropy grows by exactly 2 ln c, as the caption says.
    one = sweep["factors"].index(min(sweep["factors"], key=lambda c: abs(c - 1)))
    for c, h in zip(sweep["factors"], sweep["entropy"], strict=True):
        assert h == pytest.approx(sweep["entropy"][one] + 2 * math.log(c), abs=1e-9)
    assert sweep["elbo"][one] == pytest.approx(readouts(page)["elbo"], abs=1e-9)
    assert float(page.get_attribute("[data-testid=forces-chart]",
                                    "data-factor")) == pytest.approx(1.0)
    assert page.locator("#forces-svg polyline").count() >= 3
    # Grow q's x scale with the keys: the dot moves right of x1, and once q rests the curves
    # are drawn around it again.
    handle = page.locator("[data-testid=scale-handle-sx]")
    handle.focus()
    for _ in range(3):
        page.keyboard.press("Shift+ArrowRight")
    wait_idle(page)
    sweep2 = forces_current(page)
    assert sweep2 != sweep
    assert float(page.get_attribute("[data-testid=forces-chart]",
                                    "data-factor")) == pytest.approx(1.0)
    page.locator("[data-testid=forces-chart]").screenshot(path=str(ARTIFACTS / "terms-forces.png"))


def test_the_terms_are_not_in_an_embed_unless_asked_for(page, server):
    page.goto(server.base_url + "?target=banana&embed=1")
    wait_ready(page)
    assert not page.locator("[data-testid=bound-figure]").is_visible()
    assert not page.locator("[data-testid=forces-chart]").is_visible()
    page.goto(server.base_url + "?target=banana&embed=1&controls=trace,terms")
    wait_ready(page)
    assert page.locator("[data-testid=bound-figure]").is_visible()
    forces_current(page)


def test_the_optimizer_leaves_a_trail_that_a_drag_clears(warm_page):
    page = warm_page.show()
    assert page.get_attribute("[data-testid=plot]", "data-trail") == "0"
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("/Converged|limit/.test(document.querySelector('[data-testid=notice]').textContent)",
                           timeout=120_000, polling=100)
    wait_idle(page)
    assert int(page.get_attribute("[data-testid=plot]", "data-trail")) >= 3
    drag(page, "handle-0", 30, 20)
    wait_settled(page)
    page.wait_for_function("document.querySelector('[data-testid=plot]').dataset.trail === '0'",
                           polling=100)


def test_handles_keep_apart_on_a_small_q_and_the_mean_wins(page, server):
    page.goto(server.base_url + "?target=banana&family=gaussian-diagonal&mean=0,0&scale=0.01,0.01")
    wait_ready(page)
    wait_idle(page)

    def centre(testid):
        box = page.locator(f"[data-testid={testid}]").bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    mean = centre("handle-0")
    for testid in ("scale-handle-sx", "scale-handle-sy"):
        x, y = centre(testid)
        assert math.hypot(x - mean[0], y - mean[1]) >= 21.5, testid
    before = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    drag(page, "handle-0", 12, 0, steps=3)
    wait_settled(page)
    after = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    assert after["means"][0][0] > before["means"][0][0]  # the mean moved ...
    assert after["scales"][0] == pytest.approx(before["scales"][0])  # ... and no scale did
    # A scale handle drawn pushed out moves q by the pointer's motion, not to the pointer.
    drag(page, "scale-handle-sx", 5, 0, steps=1)
    wait_settled(page)
    grown = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    frame_w = page.locator("[data-testid=plot]").bounding_box()["width"]
    assert grown["scales"][0][0] > before["scales"][0][0]
    assert grown["scales"][0][0] < before["scales"][0][0] + 20 / frame_w * 6  # no jump to 22 px
