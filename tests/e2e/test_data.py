"""Posteriors from data on the page: the data panel adds, drags and removes points, log Z (the
evidence) follows what vi_core computes on CPython for the same data, and the data travel in
the link (data=)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import ARTIFACTS, wait_idle, wait_ready
from tests.e2e.helpers import assert_clean
from tests.reference import catalog
from vi_core.protocol import Session
from vi_core.targets import DATA_SPECS, with_data

pytestmark = pytest.mark.e2e


def log_z(page) -> float:
    return float(page.get_attribute("[data-testid=log-z]", "data-value"))


def page_data(page) -> list:
    return [json.loads(v) for v in page.locator("[data-testid=data-point]").evaluate_all(
        "els => els.map(e => e.dataset.value)")]


def link_data(page) -> str | None:
    values = parse_qs(urlsplit(page.url).query).get("data")
    return values[0] if values else None


def wait_log_z(page, value: float) -> None:
    page.wait_for_function(
        "v => Math.abs(Number(document.querySelector('[data-testid=log-z]').dataset.value)"
        " - v) < 1e-9",
        arg=value, timeout=60_000)


def test_a_click_adds_a_point_and_log_z_is_cpythons_and_the_link_carries_the_data(
        page, page_log, server):
    page.goto(f"{server.base_url}?target=normal-posterior&family=gaussian-full")
    wait_ready(page)
    builtin = list(DATA_SPECS["normal-posterior"].default)
    assert page_data(page) == builtin
    assert log_z(page) == pytest.approx(with_data("normal-posterior", None).log_z, abs=1e-12)
    assert "log evidence, log p(D)" in page.text_content(".readouts")
    # The target list keeps posteriors apart from the shapes.
    groups = page.locator("[data-testid=target-select] optgroup").evaluate_all(
        "g => g.map(e => e.label)")
    assert "Posteriors from data" in groups and "Shapes" in groups

    panel = page.locator("[data-testid=data-panel]")
    box = panel.bounding_box()
    panel.click(position={"x": box["width"] * 0.8, "y": box["height"] / 2})
    page.wait_for_function("document.querySelectorAll('[data-testid=data-point]').length"
                           f" === {len(builtin) + 1}")
    wait_idle(page)
    data = page_data(page)
    assert len(data) == len(builtin) + 1 and data[:-1] == builtin
    expected = with_data("normal-posterior", data).log_z  # CPython, the same data
    wait_log_z(page, expected)
    assert log_z(page) == pytest.approx(expected, abs=1e-9)
    assert log_z(page) != pytest.approx(with_data("normal-posterior", None).log_z, abs=1e-3)
    # The ELBO is q's on the new posterior, as CPython computes it.
    natural = json.loads(page.get_attribute("[data-testid=plot]", "data-natural"))
    session = Session()
    reply = session.handle({"method": "set_data", "params": {
        "target": "normal-posterior", "data": data, "family": "gaussian-full", "natural": natural}})
    assert reply["ok"], reply
    assert float(page.get_attribute("[data-testid=elbo]", "data-value")) == pytest.approx(
        reply["result"]["view"]["readouts"]["elbo"], abs=1e-6)

    # The link carries the data, and restores them.
    page.wait_for_function("new URLSearchParams(location.search).has('data')")
    text = link_data(page)
    assert [float(v) for v in text.split(",")] == data
    page.goto(page.url)
    wait_ready(page)
    assert page_data(page) == data
    wait_log_z(page, expected)
    assert_clean(page_log)


def test_drag_and_remove_points_of_a_logistic_regression(warm_page):
    page = warm_page.show(target="logistic-regression")
    builtin = [list(p) for p in DATA_SPECS["logistic-regression"].default]
    assert page_data(page) == builtin
    # Drag the first point (input 0, label 0) to the right and up to the label-1 row.
    point = page.locator("[data-testid=data-point]").first
    page.locator("[data-testid=data-panel]").scroll_into_view_if_needed()
    pbox = point.bounding_box()
    panel = page.locator("[data-testid=data-panel]").bounding_box()
    x0, y0 = pbox["x"] + pbox["width"] / 2, pbox["y"] + pbox["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 6):
        page.mouse.move(x0 + 0.1 * panel["width"] * i / 5, panel["y"] + panel["height"] * 0.2)
    page.mouse.up()
    page.wait_for_function("new URLSearchParams(location.search).has('data')", timeout=60_000)
    wait_idle(page)
    data = page_data(page)
    assert len(data) == len(builtin)
    assert data[0][1] == 1 and data[0][0] > builtin[0][0] and data[1:] == builtin[1:]
    wait_log_z(page, with_data("logistic-regression", data).log_z)
    assert link_data(page).split(",")[0] == f"{data[0][0]:g}:1"

    # Double-click removes a point; Delete on a focused point removes another.
    page.locator("[data-testid=data-point]").nth(5).dblclick()
    page.wait_for_function("document.querySelectorAll('[data-testid=data-point]').length"
                           f" === {len(builtin) - 1}")
    page.locator("[data-testid=data-point]").nth(0).focus()
    page.keyboard.press("Delete")
    page.wait_for_function("document.querySelectorAll('[data-testid=data-point]').length"
                           f" === {len(builtin) - 2}")
    wait_idle(page)
    data = page_data(page)
    wait_log_z(page, with_data("logistic-regression", data).log_z)
    # Reset data: the built-in posterior and a link without data=.
    page.click("[data-testid=data-reset]")
    page.wait_for_function("document.querySelectorAll('[data-testid=data-point]').length"
                           f" === {len(builtin)}")
    wait_log_z(page, with_data("logistic-regression", None).log_z)
    page.wait_for_function("!new URLSearchParams(location.search).has('data')")
    assert_clean(warm_page.log)


@pytest.mark.parametrize("query", [
    "target=normal-posterior&data=1,x,3",
    "target=normal-posterior&data=2,2,2",  # read, but refused by vi_core (all equal)
    "target=logistic-regression&data=1:0,2:7",
    "target=banana&data=1,2",
])
def test_garbled_data_get_a_notice_and_a_working_page(page, page_log, server, query):
    page.goto(f"{server.base_url}?{query}")
    wait_ready(page)
    assert page.is_visible("[data-testid=notice]")
    assert "data" in page.text_content("[data-testid=notice]")
    target = parse_qs(query)["target"][0]
    assert log_z(page) == pytest.approx(with_data(target, None).log_z if target != "banana"
                                        else catalog()["targets"][0]["log_z"], abs=1e-12)
    page.click("[data-testid=step-button]")
    wait_idle(page)
    assert_clean(page_log)


def test_a_link_with_data_paints_the_posterior_of_those_data(page, page_log, server):
    data = [0.5, 1.5, 2.5, -1.0]
    page.goto(f"{server.base_url}?target=normal-posterior&family=gaussian-diagonal&data=0.5,1.5,2.5,-1")
    wait_ready(page)
    assert page_data(page) == data
    assert log_z(page) == pytest.approx(with_data("normal-posterior", data).log_z, abs=1e-9)
    assert page.get_attribute("[data-testid=plot]", "data-painted-target") == "normal-posterior"
    assert link_data(page) == "0.5,1.5,2.5,-1"
    assert_clean(page_log)


def test_screenshots(warm_page):
    page = warm_page.show(target="logistic-regression")
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((375, 800), (1200, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(f"document.documentElement.clientWidth === {width}", polling=100)
        page.screenshot(path=str(ARTIFACTS / f"data-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_clean(warm_page.log)


def test_embedded_posterior_fits_its_iframe(page, page_log, server):
    page.set_viewport_size({"width": 1000, "height": 800})
    page.set_content(f'<body style="margin: 0"><iframe src="{server.base_url}'
                     '?embed=1&target=normal-posterior" '
                     'style="width: 100%; height: 700px; border: 0; display: block"></iframe>')
    frame = page.frame_locator("iframe")
    frame.locator("html[data-vi-status=ready]").wait_for(timeout=120_000)
    inner = page.frames[1]
    assert inner.evaluate("document.documentElement.scrollHeight") <= 700
    assert inner.locator("[data-testid=data-panel]").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "data-iframe-1000.png"))
    page.set_viewport_size({"width": 400, "height": 800})
    inner.wait_for_function("document.documentElement.clientWidth === 400", polling=100)
    page.screenshot(path=str(ARTIFACTS / "data-iframe-400.png"))
    assert inner.evaluate("document.documentElement.scrollHeight") <= 700
