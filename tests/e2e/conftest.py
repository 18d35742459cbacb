"""Fixtures that drive the built site (dist/) in a real Chromium.

The site is served by a local HTTP server on 127.0.0.1 (optionally under a sub-path, as on
GitHub Pages). Every test page records console errors and every request it makes, so tests can
assert "no console errors" and "nothing left loopback".
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("VI_DIST", ROOT / "dist"))
ARTIFACTS = ROOT / "test-artifacts"
READY_TIMEOUT_MS = 120_000


@pytest.fixture(scope="session")
def dist() -> Path:
    if not (DIST / "index.html").exists():
        pytest.fail("dist/ is not built: run `make test` (it builds first) or `make build`")
    return DIST


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm", ".mjs": "text/javascript",
        ".js": "text/javascript"}

    def log_message(self, *args) -> None:  # keep test output readable
        pass


class _PrefixHandler(_QuietHandler):
    """Serves the site under ``prefix`` (e.g. /sub/dir/) and 404s everything else."""

    prefix = "/"

    def translate_path(self, path: str) -> str:
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "__not_found__")
        return super().translate_path("/" + path[len(self.prefix):])


@dataclass
class Server:
    base_url: str
    httpd: http.server.ThreadingHTTPServer = field(repr=False)


def start_server(directory: Path, prefix: str = "/") -> Server:
    handler = type("Handler", (_PrefixHandler,), {"prefix": prefix})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return Server(f"http://127.0.0.1:{httpd.server_address[1]}{prefix}", httpd)


@pytest.fixture(scope="session")
def server(dist: Path) -> Iterator[Server]:
    srv = start_server(dist)
    yield srv
    srv.httpd.shutdown()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's chromium when present (offline machines); Playwright's own browser otherwise."""
    args = dict(browser_type_launch_args)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        args["executable_path"] = chromium
    args["args"] = [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    ]
    return args


@dataclass
class PageLog:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def non_loopback_requests(self) -> list[str]:
        bad = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.hostname != "127.0.0.1":
                bad.append(url)
        return bad


@pytest.fixture
def page_log(page) -> PageLog:
    log = PageLog()
    page.on("console", lambda m: m.type == "error" and log.console_errors.append(m.text))
    page.on("pageerror", lambda e: log.console_errors.append(f"pageerror: {e}"))
    # The context reports the page's requests and its workers' (the page alone misses some).
    page.context.on("request", lambda r: log.requests.append(r.url))
    return log


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (``item.rep_call``): a shared page is
    reloaded after a test that failed on it."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def wait_idle(page, timeout: int = READY_TIMEOUT_MS) -> None:
    """Wait until the page has no call or run outstanding (data-vi-status back to ready)."""
    page.wait_for_function("document.documentElement.dataset.viStatus === 'ready'",
                           timeout=timeout, polling=100)


class WarmPage:
    """One page kept ready for the whole test run (Python starts once), brought back to a known
    view before each test that uses it (``show``), and reloaded after a test that failed on it
    (or that left it in a state ``show`` cannot undo: ``close``). Its console errors and
    requests are counted per test (``log``)."""

    def __init__(self, browser, url: str) -> None:
        self.browser, self.url = browser, url
        self.context = None
        self.page = None
        self.log = PageLog()

    def open(self):
        self.close()
        self.context = self.browser.new_context()
        page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.log.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.log.console_errors.append(f"pageerror: {e}"))
        self.context.on("request", lambda r: self.log.requests.append(r.url))
        page.goto(self.url)
        wait_ready(page)
        self.page = page
        return page

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
        self.context = self.page = None

    def show(self, *, target: str = "banana", family: str = "gaussian-full",
             optimizer: str = "lbfgs", width: int = 1280, height: int = 900):
        """The page, with that target, family and optimizer at their Reset q, a trace with no
        earlier runs, no notice, no samples or comparison on show, at that viewport; a fresh
        log."""
        page = self.page
        # Code that ran in the page's Python (a custom target) may have left anything there
        # (timers, patches): a page whose Python has run code is replaced by a fresh one.
        # (Seen by a custom target on offer, or by the editor's text no longer its default:
        # code typed there and applied, even if refused, ran in this Python.)
        if page is None or page.eval_on_selector(
                "#custom-source", "t => t.value !== t.defaultValue || document.querySelector("
                "'[data-testid=target-select] option[value=custom]') !== null"):
            page = self.open()
        self.log = PageLog()
        page.set_viewport_size({"width": width, "height": height})
        first = page.eval_on_selector("[data-testid=compare-with]", "s => s.options[0].value")
        if page.input_value("[data-testid=compare-with]") != first:  # Compare's default choice
            page.check("[data-testid=compare-toggle]")
            page.select_option("[data-testid=compare-with]", first)
        for toggle in ("samples-toggle", "compare-toggle"):
            if page.is_checked(f"[data-testid={toggle}]"):
                page.uncheck(f"[data-testid={toggle}]")
        wait_idle(page)
        if page.eval_on_selector("#custom", "d => d.open"):  # the custom target's editor, closed
            page.click("#custom summary")
        # Another target first: a target change starts a clean trace (no earlier runs).
        other = "bimodal" if target != "bimodal" else "banana"
        for testid, value in (("target-select", other), ("target-select", target),
                              ("family-select", family), ("optimizer-select", optimizer)):
            if page.input_value(f"[data-testid={testid}]") != value:
                page.select_option(f"[data-testid={testid}]", value)
                wait_idle(page)
        page.click("[data-testid=reset-button]")
        wait_idle(page)
        if page.is_visible("[data-testid=notice-close]"):
            page.click("[data-testid=notice-close]")
        return page


@pytest.fixture(scope="session")
def warm(browser, server) -> Iterator[WarmPage]:
    """The test run's ready page (see WarmPage); use it through ``warm_page``."""
    kept = WarmPage(browser, server.base_url)
    yield kept
    kept.close()


@pytest.fixture
def warm_page(warm, request) -> Iterator[WarmPage]:
    yield warm
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        warm.close()  # the next test starts from a fresh page


def wait_ready(page, timeout: int = READY_TIMEOUT_MS) -> None:
    """Wait until the page says ready (or fail fast with its message if it says error)."""
    page.wait_for_function(
        "['ready', 'error'].includes(document.documentElement.dataset.viStatus)",
        timeout=timeout,
    )
    status = page.get_attribute("html", "data-vi-status")
    if status != "ready":
        pytest.fail(f"page status {status}: {page.text_content('[data-testid=status]')}")


def axe_serious(page) -> list[tuple]:
    """Run the axe-core audit on the page (its context must bypass the page's CSP, which forbids
    the injected script) and return its serious and critical violations: (id, help, targets)."""
    page.add_script_tag(path=str(ROOT / "node_modules" / "axe-core" / "axe.min.js"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]
