"""The ELBO trace tells no lies: a run belongs to one target x family x K, a drag ends it, and
nothing drawn sits above log Z. The trace exposes what it draws as JSON (data-series)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import wait_idle, wait_ready
from tests.e2e.helpers import drag, readouts, wait_settled
from tests.reference import call as cpython

pytestmark = pytest.mark.e2e


def series(page) -> list[dict]:
    return json.loads(page.get_attribute("[data-testid=elbo-trace]", "data-series") or "[]")


def optimize_to_end(page) -> None:
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("/Converged|limit|without converging/.test("
                           "document.querySelector('[data-testid=notice]').textContent)",
                           timeout=120_000, polling=100)
    wait_idle(page)


def below_log_z(page, drawn: list[dict]) -> None:
    r = readouts(page)
    bound = r["log-z"] + 3 * max(r.get("log-z-error", 0.0), 1e-9)
    for s in drawn:
        for _, elbo in s["points"]:
            assert elbo is None or elbo <= bound, (s["label"], elbo, r["log-z"])


@pytest.mark.parametrize("switch", ["target", "family", "k"])
def test_switching_target_family_or_k_starts_a_clean_trace(warm_page, switch):
    page = warm_page.show(family="mixture-full" if switch == "k" else "gaussian-diagonal")
    if switch == "k":
        page.select_option("[data-testid=k-select]", "1")
        wait_idle(page)
    optimize_to_end(page)
    before = series(page)
    assert len(before[-1]["points"]) > 2
    old_points = {tuple(p) for p in before[-1]["points"][1:]}
    if switch == "target":
        page.select_option("[data-testid=target-select]", "bimodal")
    elif switch == "family":
        page.select_option("[data-testid=family-select]", "gaussian-full")
    else:
        page.select_option("[data-testid=k-select]", "2")
    wait_idle(page)
    after = series(page)
    current = after[-1]
    assert current["label"] == "q now" and len(current["points"]) == 1
    assert not old_points & {tuple(p) for p in current["points"]}
    if switch == "target":
        assert after == [current]  # earlier runs of another target are not drawn at all
    else:
        # The same target: the earlier run may stay, as a labelled ghost.
        ran = ("Mixture of K full Gaussians (K = 1)" if switch == "k"
               else "Diagonal Gaussian (mean field)")
        assert [s["label"] for s in after[:-1]] == [ran + " \u00b7 L-BFGS"]
    below_log_z(page, after)


def test_a_drag_ends_the_run_and_the_next_optimize_climbs_from_there(warm_page):
    page = warm_page.show()
    optimize_to_end(page)
    assert "Converged" in page.text_content("[data-testid=notice]")
    drag(page, "handle-0", 60, 40)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=notice]').textContent.trim()", polling=100)
    wait_idle(page)
    dragged = readouts(page)["elbo"]
    current = series(page)[-1]
    assert current["points"] == [[0, pytest.approx(dragged, abs=1e-9)]]
    page.click("[data-testid=optimize-button]")
    page.wait_for_function("/Converged/.test(document.querySelector('[data-testid=notice]').textContent)",
                           timeout=120_000, polling=100)
    wait_idle(page)
    drawn = series(page)
    run = drawn[-1]
    assert run["label"] == "Full-covariance Gaussian \u00b7 L-BFGS"
    assert run["points"][0] == [0, pytest.approx(dragged, abs=1e-9)]
    assert run["points"][1][0] == 1  # iterations count per run
    assert run["points"][-1][1] > dragged + 1  # the climb back is drawn
    # the first run, greyed
    assert [s["label"] for s in drawn[:-1]] == ["Full-covariance Gaussian \u00b7 L-BFGS"]
    below_log_z(page, drawn)


def gauge(page) -> float:
    return float(page.get_attribute("#bound", "data-fill"))


def test_the_bound_gauge_has_one_fixed_scale(warm_page):
    """The gap bar is the KL gap on a fixed log scale (0 full, 100 nats empty): the same q
    always fills it the same, and a worse q always fills it less."""
    import math

    def expected(kl: float) -> float:
        return 1 - min(1.0, math.log1p(max(kl, 0) / 0.01) / math.log1p(100 / 0.01))

    page = warm_page.show()
    start = readouts(page)
    assert gauge(page) == pytest.approx(expected(start["kl"]), abs=1e-9)
    drag(page, "handle-0", 40, 30)
    wait_settled(page)
    far = readouts(page)
    assert far["kl"] > start["kl"] and gauge(page) < expected(start["kl"])
    assert gauge(page) == pytest.approx(expected(far["kl"]), abs=1e-9)
    page.click("[data-testid=reset-button]")
    wait_idle(page)
    assert gauge(page) == pytest.approx(expected(start["kl"]), abs=1e-9)  # no rescaling since
    optimize_to_end(page)
    assert gauge(page) > expected(start["kl"])
    text = page.text_content("#bound-label")
    assert "KL(q‖p)" in text and "−0.0000" not in text


def test_only_the_handles_capture_touch(warm_page):
    """A swipe on the plot's background scrolls the page on a phone; only the handles keep
    their gestures for dragging q."""
    page = warm_page.show()
    style = "el => getComputedStyle(el).touchAction"
    assert page.eval_on_selector("[data-testid=plot]", style) == "auto"
    assert page.eval_on_selector("[data-testid=handle-0]", style) == "none"


def test_q_cannot_leave_the_plot_and_focus_never_scrolls_it(warm_page):
    page = warm_page.show()
    extent = next(t["extent"] for t in cpython("catalog")["targets"] if t["id"] == "banana")
    drag(page, "handle-0", 400, -300, steps=4)  # far past the top right corner
    wait_idle(page)
    natural = json.loads(page.get_attribute("#plot", "data-natural"))
    x, y = natural["means"][0]
    assert extent[0] <= x <= extent[1] and extent[2] <= y <= extent[3], (x, y)
    assert x == pytest.approx(extent[1]) and y == pytest.approx(extent[3])
    page.focus("[data-testid=handle-0]")
    for _ in range(30):
        page.keyboard.press("Shift+ArrowRight")
    wait_idle(page)
    assert (json.loads(page.get_attribute("#plot", "data-natural"))["means"][0][0]
            <= extent[1] + 1e-12)
    # A scale handle now sits past the edge; focusing it must not scroll the clipped plot.
    for testid in ("scale-handle-major", "scale-handle-minor"):
        if page.locator(f"[data-testid={testid}]").count():
            page.focus(f"[data-testid={testid}]")
    assert page.eval_on_selector("[data-testid=plot]",
                                 "el => [el.scrollLeft, el.scrollTop]") == [0, 0]


def test_the_mean_wins_when_a_small_q_puts_its_handles_together(page, server):
    page.goto(server.base_url + "?target=banana&family=gaussian-full&mean=0.3,0.2&scale=0.01,0.01")
    wait_ready(page)
    box = page.locator("[data-testid=handle-0]").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).dataset.testid", [cx, cy])
    assert hit == "handle-0"
    before = json.loads(page.get_attribute("#plot", "data-natural"))
    drag(page, "handle-0", 20, 0, steps=2)
    wait_settled(page)
    after = json.loads(page.get_attribute("#plot", "data-natural"))
    # the mean moved, not a scale
    assert after["scales"] == before["scales"] and after["means"] != before["means"]
