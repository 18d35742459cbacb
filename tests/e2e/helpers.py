"""What the browser tests share: reading the page's numbers, dragging its handles, waiting
for it, calling its worker, and holding Python back."""

from __future__ import annotations

READOUTS = ("elbo", "expected-log-density", "entropy", "log-z", "kl")
KEYS = ("elbo", "expected_log_density", "entropy", "log_z", "kl")


def readouts(page) -> dict[str, float]:
    """The numbers shown (their exact values); true numbers never contradict each other."""
    assert page.is_hidden("[data-testid=inconsistent]"), page.text_content(
        "[data-testid=inconsistent]")
    return {
        key: float(page.get_attribute(f"[data-testid={key}]", "data-value")) for key in READOUTS
    }


def drag(page, testid: str, dx: float, dy: float, steps: int = 5) -> None:
    """Drag the handle `testid` by (dx, dy) pixels per step, in `steps` pointer moves."""
    box = page.locator(f"[data-testid={testid}]").bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x0 + dx * i, y0 + dy * i)
    page.mouse.up()


def wait_settled(page) -> None:
    """After a drag or a key: wait until no handle is being dragged (the page ends a drag once
    vi_core's view for its last position is in) and no call is outstanding."""
    page.wait_for_function(
        "!document.querySelector('.handle.dragging')"
        " && document.documentElement.dataset.viStatus === 'ready'", polling=100)


def assert_clean(page_log) -> None:
    assert page_log.console_errors == []
    assert page_log.non_loopback_requests() == []


def in_page(page, method: str, **params) -> dict:
    """One protocol call answered by the page's own worker (vi_core in Pyodide)."""
    return page.evaluate("([m, p]) => window.viPython.call(m, p)", [method, params])


def before_python(page) -> None:
    """Hold the runtime's wasm back for good: the page paints and reads its link, Python never
    comes up (for checks of what a link does before Python, without paying for its start)."""
    page.route("**/pyodide/pyodide.asm.wasm", lambda route: None)


def settled(frame) -> None:
    """Wait until the frame's layout holds still (the plot is sized by a ResizeObserver, which
    runs with the frame's next rendering update): the plot's box the same at two polls."""
    frame.wait_for_function("""() => {
        const box = JSON.stringify(document.getElementById('plot').getBoundingClientRect());
        const same = window.viLastPlotBox === box;
        window.viLastPlotBox = box;
        return same;
    }""", polling=100)
