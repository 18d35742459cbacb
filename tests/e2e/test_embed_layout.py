"""The embed in the seed article's own iframe: 100 % wide, 700 px tall, no host script.

The host page is served from another origin (as a blog is) and holds exactly the seed's snippet.
Inside the frame nothing may scroll at any width, at ready, during and after Optimize, with a
notice showing and while a link's code waits for consent; messages lie over the plot, so the
page's height never changes. A cross-origin frame gets no animation frames here, so every wait
polls.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import READY_TIMEOUT_MS, start_server
from .helpers import before_python, settled

# Exactly the seed article's embed (its only change here: the src).
SEED_IFRAME = '<iframe src="{src}" width="100%" height="700px" style="border: none;"></iframe>'
HOST = """<!doctype html>
<html><head><meta charset="utf-8"><title>An article</title></head>
<body style="margin: 0">
{iframe}
<script>
window.viMessages = [];
window.addEventListener("message", (e) => window.viMessages.push(e.data));
</script>
</body></html>
"""
FRAME_HEIGHT = 700
BANANA = "def log_density(x, y):\n    return -0.5 * (x**2 / 2 + 4 * (y - 0.4 * x**2 + 1) ** 2)\n"

MEASURE = """() => {
  const d = document.documentElement;
  const box = (sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                         return {top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
  return {scrollHeight: d.scrollHeight, clientHeight: d.clientHeight, scrollWidth: d.scrollWidth,
          clientWidth: d.clientWidth, app: box('.app'), plot: box('#plot'),
          status: d.dataset.viStatus, notice: document.getElementById('notice').hidden ? '' :
          document.getElementById('notice').textContent};
}"""


class Article:
    """A host page on one origin framing the site on another, as the seed article does."""

    def __init__(self, page, site_url: str, host_url: str, host_dir: Path):
        self.page, self.site_url, self.host_url, self.host_dir = page, site_url, host_url, host_dir

    def open(self, width: int, query: str):
        (self.host_dir / "article.html").write_text(
            HOST.format(iframe=SEED_IFRAME.format(src=f"{self.site_url}?{query}")))
        self.page.set_viewport_size({"width": width, "height": 900})
        self.page.goto(self.host_url + "article.html")
        frame = self.page.wait_for_selector("iframe").content_frame()
        frame.wait_for_selector("#plot", timeout=30_000)
        return frame

    def resize(self, frame, width: int) -> None:
        """The reader's window (and so the frame) becomes ``width`` wide: wait until the frame
        has been laid out at that width."""
        self.page.set_viewport_size({"width": width, "height": 900})
        frame.wait_for_function(f"document.documentElement.clientWidth === {width}", polling=100)
        settled(frame)

    def first_paints(self, widths, query: str) -> dict[int, dict]:
        """The frame's first paint at each width (Python held back: nothing after the first
        paint can change it), measured with ``fits``."""
        before_python(self.page)
        try:
            return {w: fits(self.open(w, query), f"first paint at {w} px") for w in widths}
        finally:
            self.page.unroute("**/pyodide/pyodide.asm.wasm")

    def first_paints_resized(self, widths, query: str) -> dict[int, dict]:
        """One frame's first paint (Python held back), opened at the first width and resized
        through the others: the same history as a ready frame resized the same way (a column's
        width depends on the content it has had, so a resized frame may differ from a fresh
        load by a few pixels)."""
        before_python(self.page)
        try:
            frame = self.open(widths[0], query)
            measured = {}
            for w in widths:
                if w != widths[0]:
                    self.resize(frame, w)
                measured[w] = fits(frame, f"first paint resized to {w} px")
            return measured
        finally:
            self.page.unroute("**/pyodide/pyodide.asm.wasm")


@pytest.fixture
def article(page, dist: Path, tmp_path: Path) -> Iterator[Article]:
    site = start_server(dist)
    host = start_server(tmp_path)  # another port: another origin
    try:
        yield Article(page, site.base_url, host.base_url, tmp_path)
    finally:
        site.httpd.shutdown()
        host.httpd.shutdown()


def wait_frame_ready(frame, timeout: int = READY_TIMEOUT_MS) -> None:
    frame.wait_for_function(
        "['ready', 'error'].includes(document.documentElement.dataset.viStatus)",
        timeout=timeout, polling=100)
    status = frame.evaluate("document.documentElement.dataset.viStatus")
    assert status == "ready", frame.text_content("[data-testid=status]")


def fits(frame, when: str) -> dict:
    """Nothing scrolls inside the frame; returns the measures."""
    m = frame.evaluate(MEASURE)
    assert m["clientHeight"] == FRAME_HEIGHT, (when, m)
    assert m["scrollHeight"] <= m["clientHeight"], (when, m)
    assert m["scrollWidth"] <= m["clientWidth"], (when, m)
    assert m["app"]["bottom"] <= FRAME_HEIGHT, (when, m)
    return m


def optimize_watching(frame, when: str) -> list[dict]:
    """Press Optimize; check the fit while it runs and once it has ended with its notice."""
    frame.click("[data-testid=optimize-button]")
    seen = []
    for _ in range(400):
        m = fits(frame, f"{when}, during Optimize")
        seen.append(m)
        if m["status"] == "ready" and m["notice"]:
            break
        frame.wait_for_timeout(50)
    frame.wait_for_function(
        "document.documentElement.dataset.viStatus === 'ready'"
        " && !document.getElementById('notice').hidden", timeout=60_000, polling=100)
    seen.append(fits(frame, f"{when}, after Optimize"))
    return seen


def restart_run(frame) -> None:
    """Back to the start for another Optimize: the notice dismissed, q at its Reset."""
    frame.click("[data-testid=notice-close]")
    frame.click("[data-testid=reset-button]")
    frame.wait_for_function("document.documentElement.dataset.viStatus === 'ready'", polling=100)


SEED_WIDTHS = (320, 375, 700, 1000)


def test_the_seed_iframe_shows_the_whole_page_without_scrolling(article):
    """At each width: the first paint, the ready page and a whole Optimize (during and after)
    fit the frame, and the page keeps one height throughout. One frame is resized from width
    to width (Python starts once); the first paints are each width's own load."""
    query = "embed=1&target=bimodal&family=gaussian-full"
    article.first_paints(SEED_WIDTHS, query)  # each width's own load fits
    loading = article.first_paints_resized(SEED_WIDTHS, query)
    frame = article.open(SEED_WIDTHS[0], query)
    wait_frame_ready(frame)
    for width in SEED_WIDTHS:
        if width != SEED_WIDTHS[0]:
            article.resize(frame, width)
            restart_run(frame)
        ready = fits(frame, f"ready at {width} px")
        assert ready["app"]["height"] == loading[width]["app"]["height"], width
        seen = optimize_watching(frame, f"ready at {width} px")
        assert "Converged" in seen[-1]["notice"]
        # The notice lies over the plot: the page kept its height throughout.
        assert {m["app"]["height"] for m in seen} == {ready["app"]["height"]}, width
        for testid in ("plot", "optimize-button", "elbo", "kl", "elbo-trace", "notice", "legend"):
            assert frame.is_visible(f"[data-testid={testid}]"), (width, testid)
    # Nothing besides its height and its readiness went to the host, in the documented shapes.
    messages = article.page.evaluate("window.viMessages")
    assert messages, "the frame told its host nothing"
    for m in messages:
        assert m == {"type": "vi-demo:ready"} or (
            set(m) == {"type", "height"} and m["type"] == "vi-demo:resize"
            and isinstance(m["height"], int) and 0 < m["height"] <= FRAME_HEIGHT), m
    assert messages.count({"type": "vi-demo:ready"}) == 1


def test_a_link_with_problems_shows_its_notice_without_scrolling(article):
    bad = "x" * 120
    query = f"embed=1&target={bad}&family=nope&theme=purple"
    first = article.first_paints((320, 700), query)
    for m in first.values():
        assert "unknown target" in m["notice"] and "theme" in m["notice"]
    frame = article.open(320, query)
    wait_frame_ready(frame)
    for width in (320, 700):
        article.resize(frame, width)
        ready = fits(frame, f"ready with a notice at {width} px")
        assert ready["notice"] == first[width]["notice"]
        assert ready["app"]["height"] == first[width]["app"]["height"]
    # The notice can be dismissed; the page keeps its height.
    frame.click("[data-testid=notice-close]")
    frame.wait_for_function("document.getElementById('notice').hidden", polling=100)
    assert fits(frame, "notice dismissed")["app"]["height"] == ready["app"]["height"]


def test_code_in_the_link_fits_while_it_waits_and_after_it_runs(article):
    """In the frame the code waits (it runs only on a page of its own: the frame offers a new
    tab); the new tab's page, the same embed link at the frame's size, fits once it has run."""
    widths = (320, 1000)
    query = f"embed=1&target=custom&source={quote(BANANA)}&family=gaussian-full"
    frame = article.open(widths[0], query)
    wait_frame_ready(frame)
    assert frame.is_visible("[data-testid=consent]")
    for width in widths:
        article.resize(frame, width)
        waiting = fits(frame, f"code waiting for consent at {width} px")
        assert waiting["app"]["height"] <= FRAME_HEIGHT
        for testid in ("consent-code", "consent-open", "consent-decline", "consent-framed"):
            assert frame.is_visible(f"[data-testid={testid}]"), (width, testid)
        assert frame.is_hidden("[data-testid=consent-run]")
    # The link the frame offers, on a page of its own the size of the frame.
    top = article.page.context.new_page()
    top.set_viewport_size({"width": widths[-1], "height": FRAME_HEIGHT})
    top.goto(frame.get_attribute("[data-testid=consent-open]", "href"))
    wait_frame_ready(top)
    top.click("[data-testid=consent-run]")
    top.wait_for_function(
        "document.getElementById('consent').hidden"
        " && document.documentElement.dataset.viStatus === 'ready'"
        " && document.getElementById('target-select').value === 'custom'",
        timeout=60_000, polling=100)
    for width in reversed(widths):
        if width != widths[-1]:
            top.set_viewport_size({"width": width, "height": FRAME_HEIGHT})
            top.wait_for_function(f"document.documentElement.clientWidth === {width}",
                                  polling=100)
            settled(top)
            restart_run(top)
        # Its own extent may have another shape than the built-in target's: the plot follows it.
        ran = fits(top, f"custom target at {width} px")
        seen = optimize_watching(top, f"custom target at {width} px")
        assert {m["app"]["height"] for m in seen} == {ran["app"]["height"]}
    top.close()


def test_in_an_article_column_the_plot_takes_the_width(article):
    frame = article.open(600, "embed=1")
    wait_frame_ready(frame)
    for width in (600, 700, 760):
        article.resize(frame, width)
        m = fits(frame, f"column of {width} px")
        # At least 600 px, or all of a narrower column (the page's padding aside).
        assert m["plot"]["width"] >= min(600, width - 16), m
        # The readouts and the buttons sit under the plot, not beside it.
        for testid in ("optimize-button", "elbo", "elbo-trace"):
            box = frame.locator(f"[data-testid={testid}]").bounding_box()
            assert box["y"] >= m["plot"]["bottom"], (width, testid, box, m["plot"])


@pytest.mark.parametrize("start,stop", [(320, 1000)])
def test_every_width_fits(article, start, stop):
    """A sweep: the frame is resized (no reload) from 320 to 1000 px in 20 px steps."""
    frame = article.open(start, "embed=1&target=bimodal&family=mixture-full")
    wait_frame_ready(frame)
    plot_widths = set()
    for width in range(start, stop + 1, 20):
        article.resize(frame, width)
        plot_widths.add(round(fits(frame, f"{width} px")["plot"]["width"]))
    assert len(plot_widths) > 10  # the plot was laid out again as the frame grew


def test_an_embed_has_a_legend_and_no_runtime_versions(article, page, server):
    before_python(page)  # the legend and the footer are the page's own, from its first paint
    frame = article.open(700, "embed=1")
    assert frame.is_visible("[data-testid=legend]")
    assert "orange q" in frame.text_content("[data-testid=legend]")
    assert not frame.is_visible(".hint")
    assert not frame.is_visible("#python-version")
    assert "Pyodide" not in frame.inner_text("footer")
    assert frame.is_visible("footer a:text('licences')")
    # The full page keeps its hint and its versions, without the legend.
    page.goto(server.base_url)
    page.wait_for_selector("#plot")
    assert page.is_visible(".hint") and not page.is_visible("[data-testid=legend]")
    assert "Pyodide" in page.inner_text("footer")


def test_more_controls_still_fit(article):
    """A host that asks for more (controls=...) gets a smaller plot, not a scrollbar, even when
    the samples' Monte Carlo line appears later."""
    frame = article.open(375, "embed=1&controls=target,family,optimizer,trace,samples")
    wait_frame_ready(frame)
    for width in (375, 700):
        article.resize(frame, width)
        if frame.is_checked("[data-testid=samples-toggle]"):
            frame.uncheck("[data-testid=samples-toggle]")
            frame.wait_for_function("document.getElementById('mc-elbo').hidden", polling=100)
        before = fits(frame, f"more controls at {width} px")
        frame.check("[data-testid=samples-toggle]")
        frame.wait_for_function("!document.getElementById('mc-elbo').hidden",
                                timeout=60_000, polling=100)
        frame.wait_for_function("document.documentElement.dataset.viStatus === 'ready'",
                                polling=100)
        settled(frame)
        after = fits(frame, f"samples on at {width} px")
        assert after["plot"]["height"] <= before["plot"]["height"]
        assert (frame.is_visible("[data-testid=optimizer-select]")
                and frame.is_visible("[data-testid=mc-elbo]"))
