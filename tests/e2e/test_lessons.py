"""The guided path through the article (lessons/ of the built site): walked from its index to the
last step with Next, each step ready with its own target and family and its sentences on show,
then Back; plain links that work without script; the bar in a 700 px tall frame; axe-clean; and
screenshots of every step at 375 and 1200 px in test-artifacts/, to be looked at."""

from __future__ import annotations

import tomllib

import pytest

from tests.e2e.conftest import ARTIFACTS, ROOT, axe_serious, wait_ready
from tests.e2e.helpers import assert_clean, settled

pytestmark = pytest.mark.e2e

LESSONS = tomllib.loads((ROOT / "site.toml").read_text())["lessons"]


def _file(step: int) -> str:
    return f"{step}-{LESSONS[step - 1]['slug']}.html"


def _shows_step(page, step: int) -> None:
    """The page is lesson step ``step``: its file, bar, text and state (once Python is ready)."""
    lesson = LESSONS[step - 1]
    assert page.url.split("?")[0].endswith("/lessons/" + _file(step))
    wait_ready(page)
    assert page.text_content("[data-testid=lesson-step]").endswith(f"step {step} of {len(LESSONS)}")
    assert page.text_content(".lesson-bar h1") == lesson["title"]
    assert page.text_content("[data-testid=lesson-text]") == lesson["text"]
    assert page.input_value("[data-testid=target-select]") == lesson["target"]
    assert page.input_value("[data-testid=family-select]") == lesson["family"]
    assert page.is_visible("[data-testid=lesson-text]")


def test_walk_the_lessons_with_next_then_back(page, page_log, server):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 800})
    page.goto(server.base_url + "lessons/index.html")
    assert page.locator("[data-testid=lesson-list] li").count() == len(LESSONS)
    page.screenshot(path=str(ARTIFACTS / "lessons-index-1200.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "lessons-index-375.png"), full_page=True)
    page.set_viewport_size({"width": 1200, "height": 800})
    page.click("[data-testid=lesson-start]")
    for step in range(1, len(LESSONS) + 1):
        _shows_step(page, step)
        slug = LESSONS[step - 1]["slug"]
        # Screenshots at both widths, of the same ready page.
        page.screenshot(path=str(ARTIFACTS / f"lesson-{step}-{slug}-1200.png"), full_page=True)
        page.set_viewport_size({"width": 375, "height": 800})
        page.wait_for_function("document.documentElement.clientWidth === 375", polling=100)
        settled(page)  # the plot redraws for its new size
        page.screenshot(path=str(ARTIFACTS / f"lesson-{step}-{slug}-375.png"), full_page=True)
        page.set_viewport_size({"width": 1200, "height": 800})
        assert (page.locator("[data-testid=lesson-back]").count() == 0) == (step == 1)
        if step < len(LESSONS):
            # Next by keyboard: a link, focused and followed with Enter like any other.
            with page.expect_navigation(url=f"**/lessons/{_file(step + 1)}", timeout=90_000):
                page.locator("[data-testid=lesson-next]").press("Enter")
    # The last step has no Next, but a way back to the start; Back goes one step back.
    assert page.locator("[data-testid=lesson-next]").count() == 0
    assert page.get_attribute("[data-testid=lesson-restart]", "href") == _file(1)
    # (Waited for as it starts: the page then writes its state into the URL's query, and a
    # wait begun after that would miss the plain URL.)
    with page.expect_navigation(url=f"**/lessons/{_file(len(LESSONS) - 1)}", timeout=90_000):
        page.click("[data-testid=lesson-back]")
    _shows_step(page, len(LESSONS) - 1)
    assert_clean(page_log)


def test_the_links_work_without_script(browser, server):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.base_url + f"lessons/{_file(2)}")
        assert page.text_content("[data-testid=lesson-text]") == LESSONS[1]["text"]
        page.click("[data-testid=lesson-next]")
        page.wait_for_url(f"**/lessons/{_file(3)}")
        page.click("[data-testid=lesson-back]")
        page.wait_for_url(f"**/lessons/{_file(2)}")
    finally:
        context.close()


def test_the_bar_and_the_plot_fit_a_700px_iframe(page, page_log, server):
    """In an article's iframe (100% wide, 700 px tall) the bar takes the top and leaves most of
    the plot in view, with Back and Next on screen, at a phone's width and a desktop's (the
    frame laid out again as the window changes)."""
    for step in (1, 7):  # among the longest texts, and the first step
        page.set_viewport_size({"width": 375, "height": 800})
        page.set_content(f'<body style="margin: 0"><iframe src="{server.base_url}lessons/'
                         f'{_file(step)}" style="width: 100%; height: 700px; border: 0" '
                         'title="Lesson"></iframe></body>')
        frame = page.wait_for_selector("iframe").content_frame()
        wait_ready(frame)
        for width in (375, 1200):
            page.set_viewport_size({"width": width, "height": 800})
            frame.wait_for_function(f"document.documentElement.clientWidth === {width}",
                                    polling=100)
            settled(frame)
            box = frame.evaluate("""() => Object.fromEntries(
                ["[data-testid=lesson-bar]", ".lesson-nav", "[data-testid=plot]"].map(
                    (s) => [s, document.querySelector(s).getBoundingClientRect().toJSON()]))""")
            bar, nav, plot = (box["[data-testid=lesson-bar]"], box[".lesson-nav"],
                              box["[data-testid=plot]"])
            assert bar["right"] <= width and nav["right"] <= width, (step, width)
            assert bar["bottom"] < 0.45 * 700, (step, width)
            # at least half the plot shows
            assert plot["top"] + 0.5 * plot["height"] < 700, (step, width)
            page.screenshot(path=str(ARTIFACTS / f"lesson-{step}-iframe-{width}.png"))
    assert_clean(page_log)


def test_lesson_pages_pass_the_accessibility_audit(browser, server):
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        for path in ("lessons/index.html", f"lessons/{_file(1)}", f"lessons/{_file(len(LESSONS))}"):
            page.goto(server.base_url + path)
            if path != "lessons/index.html":
                wait_ready(page)
            assert axe_serious(page) == [], path
    finally:
        context.close()
