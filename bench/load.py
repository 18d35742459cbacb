"""How long the page takes to load, and how fast a drag answers, in a real Chromium.

    .venv/bin/python bench/load.py [--profile loopback --profile 20mbit-40ms] [--reps 5]
        [--dist DIR] [--extra NAME=DIR ...] [--link NAME=?QUERY ...] [--no-drag | --drag-only]
        [--markdown] [--json FILE]

A benchmark, not a test: it prints numbers and judges nothing.

**Pages.** ``ours`` is ``<dist>/index.html``; ``--extra NAME=DIR`` adds another build (e.g.
``ours-before=/tmp/before/dist``). ``bare-numpy`` and ``bare-scipy`` are the reference: a page
that starts a classic Web Worker the way ours does (``new Worker(url)``, a boot message,
``importScripts(".../pyodide.js")``, ``loadPyodide({indexURL})``), then ``loadPackage`` numpy
(resp. numpy + scipy), imports them, posts "ready", and the page sets
``data-vi-status="ready"``. It is generated into a temp dir from the *official, unmodified*
files: the runtime core and the release's full ``pyodide-lock.json`` from
``node_modules/pyodide/``, the package files from the build's cache of verified originals
(``.cache/pyodide/files``; each must have the sha256 of the official lock), never from dist/.

**Link.** Every page is served by ``throttled_server.py`` (its docstring has the model: gzip
as on GitHub Pages, keep-alive, ``Cache-Control: no-store``, and per profile a global token
bucket for the bandwidth plus one RTT per response and one per new connection). Profiles are
``loopback`` and ``<N>mbit-<M>ms``. Pages alternate within each repetition (ABCABC...), each
load in a fresh browser context (nothing cached), after one untimed warm-up load per page.

**Metrics per load** (all from navigation start, in the page's clock):

* bytes: the response bodies as they came over the wire (encoded, i.e. after gzip), summed by
  Playwright over every request of the page and its worker (``Request.sizes()``,
  ``responseBodySize``; Chromium reports 0 for a worker's own script, so its
  ``Content-Length`` is taken instead); the server's count of body bytes written is a
  cross-check.
* FCP: the ``first-contentful-paint`` paint entry.
* plot (our pages only): the first moment the ELBO readout holds a number (its ``data-value``)
  and the plot shows the target's colours and q (``data-painted-target`` and ``data-painted-q``
  on ``#plot``; for builds without them, at least half of an 8x8 grid of the canvas's pixels
  opaque and not the grey placeholder). Checked whenever the DOM changes (a MutationObserver; the
  page renders the canvas and the readouts in one synchronous pass) and every 50 ms.
* ready: ``data-vi-status`` first becomes ``ready``.
* last byte: the end of the last response that finished before ready (``Request.timing``):
  ready minus last byte is the time spent computing after the network went quiet.

**Drag latency** (``ours`` by default, loopback, after ready), on ``?family=gaussian-full``,
``mixture-3`` and ``mixture-full``: the mean handle (``[data-testid=handle-0]``) is pressed with
a trusted ``page.mouse.down`` (so the page takes pointer capture and attaches its move
listener), then moved along a circle of 25 px, ``--drag-moves`` moves (default 300). In the
page, a capture listener stamps every ``pointermove`` (``event.timeStamp``), a MutationObserver
stamps every change of the ELBO readout's ``data-value`` (the DOM update; the pixels follow at
the next frame, up to ~16 ms later), and ``window.viPython.call`` is wrapped to stamp each
``evaluate`` request the page sends. Two pacings:

* ``await``: trusted moves (``page.mouse.move``), each one waiting for the ELBO to change before
  the next: the unloaded latency of one move, including the browser's input routing (the
  event's timeStamp is taken when the browser received it).
* ``paced``: one move every ``--drag-pace`` ms (default 20, a 50 Hz pointer), without waiting.
  Playwright cannot pace that fast (a ``mouse.move`` round trip took 50-80 ms here), so these
  are synthetic ``PointerEvent``s dispatched on the handle from a timer in the page (the
  browser's input routing is not included). The page coalesces (newest wins: while a request
  is in flight only the newest move waits), so a move's latency is the time until the screen
  shows q for that move *or a newer one*: an ``evaluate`` request carries the newest move
  whose handler ran before it was sent, and its answer is on screen at the first ELBO change
  after it resolved. Moves that no request carried are counted as coalesced.

In the drag table, ``interval ms`` is the median gap between moves as the page saw them,
``worker p50`` the median time from an ``evaluate`` request to its answer on the main thread,
``render p50`` from that answer to the changed readout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from throttled_server import LOOPBACK, LinkProfile, SiteServer, serve

from sitegen.runtime import sha256_of

ROOT = Path(__file__).resolve().parents[1]
NPM_PYODIDE = ROOT / "node_modules" / "pyodide"
PACKAGE_CACHE = ROOT / ".cache" / "pyodide" / "files"
CORE_FILES = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip",
              "pyodide-lock.json")
BARE_PAGES = {"bare-numpy": ("numpy",), "bare-scipy": ("numpy", "scipy")}
DRAG_FAMILIES = ("gaussian-full", "mixture-3", "mixture-full")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--disable-quic"]
LOAD_TIMEOUT_MS = 240_000

# ---------------------------------------------------------------- the bare reference pages

BARE_HTML = """<!doctype html>
<html lang="en" data-vi-status="loading">
<head><meta charset="utf-8"><title>Bare Pyodide {version}: {names}</title></head>
<body>
<p id="status">Bare Pyodide {version}: loading {names}…</p>
<script>
// Started like our page's worker (worker-client.js): a classic worker from a URL, one boot message.
const worker = new Worker("worker.js", {{ name: "bare-python" }});
worker.onmessage = (event) => {{
  const msg = event.data;
  document.getElementById("status").textContent = msg.type === "ready"
    ? `Ready: Python ${{msg.versions.python}}, ${{msg.versions.packages}}`
    : `Error: ${{msg.message}}`;
  document.documentElement.dataset.viStatus = msg.type === "ready" ? "ready" : "error";
}};
worker.postMessage({{ type: "boot", packages: {packages}, imports: {imports} }});
</script>
</body>
</html>
"""

BARE_WORKER = """// Like our worker's vendored boot (worker.js): importScripts, loadPyodide,
// loadPackage.
self.onmessage = async (event) => {
  const { packages, imports } = event.data;
  try {
    const indexURL = new URL("../pyodide/", self.location.href).href;
    importScripts(indexURL + "pyodide.js");
    const pyodide = await self.loadPyodide({ indexURL });
    await pyodide.loadPackage(packages, { messageCallback: () => {} });
    const versions = pyodide.runPython(imports).toJs();
    self.postMessage({ type: "ready", versions: Object.fromEntries(versions) });
  } catch (err) {
    self.postMessage({ type: "error", message: String(err && err.message || err) });
  }
};
"""


def make_bare_site(out: Path, npm_pyodide: Path, package_cache: Path) -> dict[str, str]:
    """Write the bare pages under ``out`` (``<page>/index.html``, ``<page>/worker.js``, shared
    ``pyodide/``); return page name -> path under ``out``."""
    lock = json.loads((npm_pyodide / "pyodide-lock.json").read_text())
    version = lock["info"]["version"]
    runtime = out / "pyodide"
    runtime.mkdir(parents=True)
    for name in CORE_FILES:
        shutil.copyfile(npm_pyodide / name, runtime / name)
    needed: set[str] = set()
    stack = [name for names in BARE_PAGES.values() for name in names]
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(lock["packages"][name]["depends"])
    for name in sorted(needed):
        entry = lock["packages"][name]
        source = package_cache / entry["file_name"]
        if not source.is_file():
            raise SystemExit(f"{source} is missing: run `make build` once (it caches the "
                             f"verified package files)")
        if sha256_of(source) != entry["sha256"]:
            raise SystemExit(f"{source} is not the official file (sha256 differs from "
                             f"{npm_pyodide / 'pyodide-lock.json'})")
        shutil.copyfile(source, runtime / entry["file_name"])
    pages = {}
    for page, names in BARE_PAGES.items():
        folder = out / page
        folder.mkdir()
        imports = ("import sys, " + ", ".join(names) + "\n"
                   + "{'python': sys.version.split()[0], 'packages': ', '.join("
                   + " + ".join(f"['{n} ' + {n}.__version__]" for n in names) + ")}")
        (folder / "index.html").write_text(BARE_HTML.format(
            version=version, names=" + ".join(names), packages=json.dumps(list(names)),
            imports=json.dumps(imports)))
        (folder / "worker.js").write_text(BARE_WORKER)
        pages[page] = f"{page}/"
    return pages


# ---------------------------------------------------------------- in-page instrumentation

LOAD_PROBE = """(() => {
  const b = (window.__bench = { status: {}, plot: null, fcp: null });
  const now = () => performance.now();
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries())
        if (e.name === "first-contentful-paint") b.fcp = e.startTime;
    }).observe({ type: "paint", buffered: true });
  } catch (e) { /* no paint timing */ }
  function plotPainted() {
    const elbo = document.querySelector("[data-testid=elbo]");
    const canvas = document.getElementById("plot-canvas");
    if (!elbo || !canvas || !elbo.dataset.value
        || !Number.isFinite(Number(elbo.dataset.value))) return false;
    // Pages that say what their plot shows (plot-view.js): the target's colours and q drawn.
    const plot = document.getElementById("plot");
    if (plot && "paintedQ" in plot.dataset)
      return plot.dataset.paintedTarget !== "" && plot.dataset.paintedQ !== "";
    if (canvas.width < 8 || canvas.height < 8) return false;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) {
      const x = Math.floor((i + 0.5) * canvas.width / 8),
        y = Math.floor((j + 0.5) * canvas.height / 8);
      const o = 4 * (y * canvas.width + x);
      const grey = data[o] === 241 && data[o + 1] === 241 && data[o + 2] === 241;
      if (data[o + 3] === 255 && !grey) painted++;
    }
    return painted >= 32;
  }
  function check() {
    const s = document.documentElement ? document.documentElement.dataset.viStatus : undefined;
    if (s && !(s in b.status)) b.status[s] = now();
    if (b.plot === null && plotPainted()) b.plot = now();
  }
  const observer = new MutationObserver(() => { check(); done(); });
  observer.observe(document,
    { subtree: true, childList: true, attributes: true, characterData: true });
  const timer = setInterval(() => { check(); done(); }, 50);
  function done() {  // once ready and (the plot seen or no plot on this page): stop watching
    if (b.status.ready === undefined && b.status.error === undefined) return;
    if (b.plot === null && document.querySelector("[data-testid=elbo]")) return;
    observer.disconnect();
    clearInterval(timer);
  }
})();"""

DRAG_PROBE = """(() => {
  const d = (window.__drag = { moves: [], updates: [], sends: [], count: 0, waiters: [] });
  addEventListener("pointermove", (e) => {
    if (d.on) d.moves.push([e.timeStamp, performance.now()]);
  }, { capture: true });
  d.arm = () => {
    const el = document.querySelector("[data-testid=elbo]");
    let last = el.dataset.value;
    new MutationObserver(() => {
      const v = el.dataset.value;
      if (v === last) return;
      last = v;
      d.updates.push(performance.now());
      d.count++;
      for (const w of d.waiters.splice(0)) w();
    }).observe(el, { attributes: true, attributeFilter: ["data-value"] });
    const py = window.viPython;
    const call = py.call.bind(py);
    py.call = (method, params) => {
      const p = call(method, params);
      if (method === "evaluate" && d.on) {
        const rec = { sent: performance.now(), done: null };
        d.sends.push(rec);
        p.then(() => { rec.done = performance.now(); },
               () => { rec.done = performance.now(); rec.failed = true; });
      }
      return p;
    };
  };
  // Synthetic moves on the handle, one every `pace` ms (fixed slots, no catch-up bursts); the
  // handle's move listener (attached on the trusted pointerdown) reads only clientX/clientY.
  d.paced = (points, pace) => new Promise((resolve) => {
    const el = document.querySelector("[data-testid=handle-0]");
    let t0 = performance.now();
    let i = 0;
    const tick = () => {
      const [x, y] = points[i++];
      el.dispatchEvent(new PointerEvent("pointermove", { clientX: x, clientY: y, pointerId: 1,
        pointerType: "mouse", isPrimary: true, buttons: 1, bubbles: true, cancelable: true }));
      if (i >= points.length) return resolve();
      // On time: the next slot. Late (the main thread was busy): one move at once, and the
      // schedule restarts from now (a pointer does not send a burst to catch up either).
      let delay = t0 + i * pace - performance.now();
      if (delay < 0) { t0 -= delay; delay = 0; }
      setTimeout(tick, delay);
    };
    tick();
  });
  d.start = () => { d.moves = []; d.updates = []; d.sends = []; d.on = true; return d.count; };
  d.stop = () => { d.on = false; return { moves: d.moves, updates: d.updates, sends: d.sends }; };
  // Resolves with the number of ELBO changes so far, once it exceeds n (or after ms).
  d.waitUpdate = (n, ms) => new Promise((resolve) => {
    if (d.count > n) return resolve(d.count);
    const t = setTimeout(() => resolve(d.count), ms);
    d.waiters.push(() => { clearTimeout(t); resolve(d.count); });
  });
})();"""

READY_OR_ERROR = ("window.__bench && (window.__bench.status.ready !== undefined"
                  " || window.__bench.status.error !== undefined)")


# ---------------------------------------------------------------- one page load


@dataclass
class Page:
    name: str
    path: str  # URL path on the server, e.g. /ours/
    ours: bool  # one of our builds (has the plot and the readouts)


@dataclass
class Run:
    page: str
    profile: str
    rep: int
    ok: bool
    error: str = ""
    bytes: int = 0  # browser side: encoded response bodies
    header_bytes: int = 0
    requests: int = 0
    server_bytes: int = 0
    server_requests: int = 0
    server_connections: int = 0
    fcp_ms: float | None = None
    plot_ms: float | None = None
    ready_ms: float | None = None
    last_byte_ms: float | None = None
    wall_s: float = 0.0
    files: list[dict[str, Any]] = field(default_factory=list)


def load_once(browser: Any, server: SiteServer, page: Page, profile: LinkProfile,
              rep: int) -> Run:
    server.link.set_profile(profile)
    context = browser.new_context()
    context.add_init_script(LOAD_PROBE)
    finished: list[Any] = []
    failed: list[str] = []
    context.on("requestfinished", lambda r: finished.append(r))
    context.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    tab = context.new_page()
    run = Run(page.name, profile.name, rep, ok=False)
    started = time.perf_counter()
    server.reset_counters()
    try:
        tab.goto(server.base_url + page.path, wait_until="commit", timeout=LOAD_TIMEOUT_MS)
        tab.wait_for_function(READY_OR_ERROR, polling=100, timeout=LOAD_TIMEOUT_MS)
        counts = server.reset_counters()
        run.wall_s = time.perf_counter() - started
        probe = tab.evaluate("""() => ({ ...window.__bench, origin: performance.timeOrigin,
            fcpEntry: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
            message: (document.querySelector('[data-testid=status]')
                      || document.getElementById('status') || {}).textContent })""")
        run.ready_ms = probe["status"].get("ready")
        run.ok = run.ready_ms is not None
        if not run.ok:
            run.error = f"page status error: {probe.get('message')}"
        run.fcp_ms = probe.get("fcp") or probe.get("fcpEntry")
        run.plot_ms = probe.get("plot") if page.ours else None
        run.server_bytes, run.server_requests = counts.body_bytes, counts.requests
        run.server_connections = counts.connections
        for request in finished:
            if not request.url.startswith("http"):
                continue
            sizes = request.sizes()
            body = sizes["responseBodySize"]
            response = request.response()
            if not body and response is not None:
                # A worker's own script is reported with no body size: take the encoded
                # length the server declared.
                body = int(response.headers.get("content-length", "0"))
            timing = request.timing
            start = timing["startTime"] - probe["origin"]
            end = start + timing["responseEnd"] if timing["responseEnd"] >= 0 else None
            name = request.url.split("?")[0].rsplit("/", 1)[-1] or "index.html"
            run.files.append({"name": name, "bytes": body,
                              "header_bytes": sizes["responseHeadersSize"],
                              "start_ms": round(start, 1),
                              "end_ms": None if end is None else round(end, 1)})
        run.files.sort(key=lambda f: f["start_ms"])
        run.bytes = sum(f["bytes"] for f in run.files)
        run.header_bytes = sum(f["header_bytes"] for f in run.files)
        run.requests = len(run.files)
        ends = [f["end_ms"] for f in run.files if f["end_ms"] is not None
                and (run.ready_ms is None or f["end_ms"] <= run.ready_ms)]
        run.last_byte_ms = max(ends) if ends else None
        if failed:
            run.error = (run.error + "; " if run.error else "") + "failed: " + "; ".join(failed)
    except (PlaywrightError, RuntimeError, KeyError, TypeError) as exc:  # report, go on
        run.ok = False
        run.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        run.wall_s = time.perf_counter() - started
    finally:
        context.close()
    return run


# ---------------------------------------------------------------- drag latency


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def attribute(data: dict[str, Any]) -> dict[str, Any]:
    """Latency per move: move (event timeStamp) -> the first ELBO change that shows q for this
    move or a newer one (see the module docstring)."""
    moves = data["moves"]  # [event timeStamp, handler time]
    updates = sorted(data["updates"])
    sends = [s for s in data["sends"] if s["done"] is not None]
    carried: list[tuple[int, float]] = []  # (index of the newest move in it, shown at)
    worker_ms: list[float] = []  # request sent -> answer back on the main thread
    render_ms: list[float] = []  # answer back -> ELBO readout changed
    for send in sends:
        newest = max((i for i, m in enumerate(moves) if m[1] <= send["sent"]), default=-1)
        shown = next((u for u in updates if u >= send["done"]), None)
        if newest >= 0 and shown is not None:
            carried.append((newest, shown))
            worker_ms.append(send["done"] - send["sent"])
            render_ms.append(shown - send["done"])
    latencies: list[float] = []
    for i, (stamp, _handled) in enumerate(moves):
        shown_at = next((shown for newest, shown in carried if newest >= i), None)
        if shown_at is not None:
            latencies.append(shown_at - stamp)
    direct = {newest for newest, _ in carried}
    return {
        "moves": len(moves), "requests": len(sends), "updates": len(updates),
        "coalesced": sum(1 for i in range(len(moves)) if i not in direct),
        "measured": len(latencies),
        "p50_ms": percentile(latencies, 0.5), "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies) if latencies else math.nan,
        "input_p50_ms": percentile([m[1] - m[0] for m in moves], 0.5),
        "worker_p50_ms": percentile(worker_ms, 0.5), "render_p50_ms": percentile(render_ms, 0.5),
        "latencies_ms": [round(x, 2) for x in latencies],
    }


def drag_once(browser: Any, server: SiteServer, page: Page, family: str, moves: int,
              pace_ms: float) -> dict[str, Any]:
    server.link.set_profile(LOOPBACK)
    context = browser.new_context()
    context.add_init_script(LOAD_PROBE)
    context.add_init_script(DRAG_PROBE)
    tab = context.new_page()
    result: dict[str, Any] = {"page": page.name, "family": family}
    try:
        tab.goto(f"{server.base_url}{page.path}?family={family}", timeout=LOAD_TIMEOUT_MS)
        tab.wait_for_function(READY_OR_ERROR, polling=100, timeout=LOAD_TIMEOUT_MS)
        if tab.get_attribute("html", "data-vi-status") != "ready":
            raise RuntimeError("the page did not get ready")
        tab.evaluate("window.__drag.arm()")
        plot = tab.locator("#plot").bounding_box()
        handle = tab.locator("[data-testid=handle-0]").bounding_box()
        assert plot is not None and handle is not None
        radius = 25.0
        cx = handle["x"] + handle["width"] / 2
        cy = handle["y"] + handle["height"] / 2
        # Keep the circle inside the plot.
        cx = min(max(cx, plot["x"] + radius + 5), plot["x"] + plot["width"] - radius - 5)
        cy = min(max(cy, plot["y"] + radius + 5), plot["y"] + plot["height"] - radius - 5)
        hx, hy = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
        for mode in ("await", "paced"):
            tab.mouse.move(hx, hy)
            tab.mouse.down()  # trusted: the page takes the pointer (setPointerCapture)
            tab.wait_for_timeout(200)
            count = tab.evaluate("window.__drag.start()")
            points = [(cx + radius * math.cos(2 * math.pi * i / 60),
                       cy + radius * math.sin(2 * math.pi * i / 60)) for i in range(1, moves + 1)]
            timeouts = 0
            t0 = time.perf_counter()
            if mode == "paced":
                tab.evaluate("([points, pace]) => window.__drag.paced(points, pace)",
                             [points, pace_ms])
            else:
                for x, y in points:
                    tab.mouse.move(x, y)
                    seen = tab.evaluate(f"window.__drag.waitUpdate({count}, 5000)")
                    timeouts += seen == count
                    count = seen
            tab.evaluate(f"window.__drag.waitUpdate({count}, 2000)")
            tab.wait_for_timeout(300)  # the last answers land
            data = tab.evaluate("window.__drag.stop()")
            tab.mouse.up()
            tab.wait_for_timeout(300)
            stats = attribute(data)
            stamps = [m[0] for m in data["moves"]]
            gaps = [b - a for a, b in itertools.pairwise(stamps)]
            stats["interval_ms"] = statistics.median(gaps) if gaps else math.nan
            stats["sent_moves"] = moves
            stats["timeouts"] = timeouts
            stats["seconds"] = round(time.perf_counter() - t0, 2)
            result[mode] = stats
            hx, hy = points[-1]
        result["ok"] = True
    except (PlaywrightError, RuntimeError, AssertionError, KeyError) as exc:  # report, go on
        result["ok"] = False
        result["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        context.close()
    return result


# ---------------------------------------------------------------- report


def spread(raw: list[float | None] | list[int], scale: float = 1.0, digits: int = 0) -> str:
    values = [v * scale for v in raw if v is not None]
    if not values:
        return "–"
    fmt = f"{{:.{digits}f}}"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def median_of(runs: list[Run], key: str) -> float | None:
    values = [getattr(r, key) for r in runs if getattr(r, key) is not None]
    return statistics.median(values) if values else None


def table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def report(runs: list[Run], pages: list[Page], profiles: list[LinkProfile],
           drags: list[dict[str, Any]], markdown: bool) -> str:
    out: list[str] = []
    if runs:
        head = ["profile", "page", "runs", "MB moved", "server MB", "requests", "FCP ms",
                "plot ms", "last byte ms", "ready ms"]
        rows = [head]
        for profile in profiles:
            for page in pages:
                ok = [r for r in runs if r.page == page.name and r.profile == profile.name
                      and r.ok]
                n_all = sum(1 for r in runs if r.page == page.name and r.profile == profile.name)
                if not n_all:
                    continue
                rows.append([profile.name, page.name, f"{len(ok)}/{n_all}",
                             spread([r.bytes for r in ok], 1e-6, 2),
                             spread([r.server_bytes for r in ok], 1e-6, 2),
                             spread([r.requests for r in ok]),
                             spread([r.fcp_ms for r in ok]),
                             spread([r.plot_ms for r in ok]) if page.ours else "n/a",
                             spread([r.last_byte_ms for r in ok]),
                             spread([r.ready_ms for r in ok])])
        out.append("Page loads: median (min–max); times in ms from navigation start\n")
        out.append(table(rows, markdown))
        ratio_rows = [["profile", "ratio", "ready", "bytes"]]
        for profile in profiles:
            mine = [p for p in pages if p.ours]
            bare = [p for p in pages if not p.ours]
            for a in mine:
                for b in bare:
                    ra = [r for r in runs
                          if r.page == a.name and r.profile == profile.name and r.ok]
                    rb = [r for r in runs
                          if r.page == b.name and r.profile == profile.name and r.ok]
                    if not ra or not rb:
                        continue
                    ready_a, ready_b = median_of(ra, "ready_ms"), median_of(rb, "ready_ms")
                    bytes_a, bytes_b = median_of(ra, "bytes"), median_of(rb, "bytes")
                    ratio_rows.append([
                        profile.name, f"{a.name} / {b.name}",
                        f"{ready_a / ready_b:.2f}" if ready_a and ready_b else "–",
                        f"{bytes_a / bytes_b:.2f}" if bytes_a and bytes_b else "–"])
        if len(ratio_rows) > 1:
            out.append("\nRatios of the medians\n")
            out.append(table(ratio_rows, markdown))
        bad = [r for r in runs if not r.ok or r.error]
        for r in bad:
            out.append(f"\nnote: {r.page} {r.profile} rep {r.rep}: {r.error}")
    if drags:
        rows = [["page", "family", "pacing", "moves", "interval ms", "requests", "coalesced",
                 "p50 ms", "p95 ms", "max ms", "worker p50", "render p50"]]
        for d in drags:
            if not d.get("ok"):
                out.append(f"\nnote: drag {d['page']} {d['family']}: {d.get('error')}")
                continue
            for mode in ("await", "paced"):
                s = d[mode]
                rows.append([d["page"], d["family"], mode, str(s["moves"]),
                             f"{s['interval_ms']:.0f}", str(s["requests"]),
                             str(s["coalesced"]), f"{s['p50_ms']:.1f}", f"{s['p95_ms']:.1f}",
                             f"{s['max_ms']:.1f}", f"{s['worker_p50_ms']:.1f}",
                             f"{s['render_p50_ms']:.1f}"])
        out.append("\n\nDrag: pointer move -> ELBO readout changed (loopback, after ready)\n")
        out.append(table(rows, markdown))
    return "\n".join(out)


def waterfall(runs: list[Run], pages: list[Page], profiles: list[LinkProfile]) -> str:
    """The requests of the median run (by ready) of each page and profile."""
    out = []
    for profile in profiles:
        for page in pages:
            ok = sorted((r for r in runs if r.page == page.name and r.profile == profile.name
                         and r.ok), key=lambda r: r.ready_ms or 0)
            if not ok:
                continue
            run = ok[len(ok) // 2]
            out.append(f"\n{page.name} on {profile.name} (rep {run.rep}): FCP {run.fcp_ms:.0f}, "
                       f"ready {run.ready_ms:.0f} ms")
            for f in run.files:
                end = "–" if f["end_ms"] is None else f"{f['end_ms']:8.0f}"
                out.append(f"  {f['start_ms']:8.0f} {end:>8} {f['bytes'] / 1e3:9.1f} kB  "
                           f"{f['name']}")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "loadavg": list(os.getloadavg()),
            "python": platform.python_version(), "platform": platform.platform()}


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", action="append", default=None,
                        help="loopback or <N>mbit-<M>ms; repeat for several "
                             "(default: loopback and 20mbit-40ms)")
    parser.add_argument("--reps", type=int, default=5, help="loads per page and profile")
    parser.add_argument("--warmup", type=int, default=1, help="untimed loads per page first")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="the build called ours")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=DIR",
                        help="another build to load alongside (e.g. ours-before=/tmp/before/dist)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Pyodide pages")
    parser.add_argument("--pyodide-cache", type=Path, default=PACKAGE_CACHE,
                        help="verified official package files (the build's cache)")
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--no-drag", action="store_true", help="page loads only")
    parts.add_argument("--drag-only", action="store_true", help="drag latency only")
    parser.add_argument("--drag-moves", type=int, default=300)
    parser.add_argument("--drag-pace", type=float, default=20.0, metavar="MS",
                        help="ms between moves in the paced drag")
    parser.add_argument("--drag-page", default="ours", help="which of our builds to drag")
    parser.add_argument("--drag-family", action="append", default=None,
                        help=f"families to drag (default: {', '.join(DRAG_FAMILIES)})")
    parser.add_argument("--link", action="append", default=[], metavar="NAME=QUERY",
                        help="also load ours with this query (e.g. ours-bimodal="
                             "'?target=bimodal&family=gaussian-full'): a link other than the "
                             "page's defaults paints from the precomputed views/")
    parser.add_argument("--markdown", action="store_true", help="tables as markdown")
    parser.add_argument("--waterfall", action="store_true",
                        help="also list the requests of each page's median run")
    parser.add_argument("--json", type=Path, help="write every run (raw) to this file")
    parser.add_argument("--headed", action="store_true", help="show the browser")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    profiles = [LinkProfile.parse(p) for p in (args.profile or ["loopback", "20mbit-40ms"])]
    builds: dict[str, Path] = {}
    for spec in args.extra:
        name, sep, directory = spec.partition("=")
        if not sep or not name or name.startswith("bare"):
            raise SystemExit(f"--extra wants NAME=DIR, got {spec!r}")
        builds[name] = Path(directory)
    builds["ours"] = args.dist
    for name, directory in builds.items():
        if not (directory / "index.html").is_file():
            raise SystemExit(f"{directory}/index.html is missing ({name}): build it first "
                             f"(make build)")

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, load average "
          f"{' '.join(f'{x:.2f}' for x in info['loadavg'])}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        mounts = {f"/{name}/": directory for name, directory in builds.items()}
        pages = [Page(name, f"/{name}/", True) for name in builds]
        for spec in args.link:
            name, sep, query = spec.partition("=")
            if not sep or not name or not query.startswith("?") or name in builds:
                raise SystemExit(f"--link wants NAME=?QUERY with a new name, got {spec!r}")
            pages.append(Page(name, f"/ours/{query}", True))
        if not args.no_bare and not args.drag_only:
            bare = make_bare_site(Path(tmp) / "bare", NPM_PYODIDE, args.pyodide_cache)
            mounts["/bare/"] = Path(tmp) / "bare"
            pages += [Page(name, f"/bare/{path}", False) for name, path in bare.items()]
        server = serve(mounts)
        runs: list[Run] = []
        drags: list[dict[str, Any]] = []
        with sync_playwright() as pw:
            launch: dict[str, Any] = {"headless": not args.headed, "args": LAUNCH_ARGS}
            chromium = shutil.which("chromium") or shutil.which("chromium-browser")
            if chromium:
                launch["executable_path"] = chromium
            browser = pw.chromium.launch(**launch)
            info["browser"] = f"Chromium {browser.version}"
            print(f"browser: {info['browser']}", file=sys.stderr)
            if not args.drag_only:
                for _ in range(args.warmup):
                    for page in pages:
                        warm = load_once(browser, server, page, LOOPBACK, -1)
                        print(f"  warm-up {page.name}: {'ok' if warm.ok else warm.error}",
                              file=sys.stderr)
                for profile in profiles:
                    for rep in range(args.reps):
                        for page in pages:
                            run = load_once(browser, server, page, profile, rep)
                            runs.append(run)
                            print(f"  {profile.name} {page.name} rep {rep}: "
                                  + (f"ready {run.ready_ms:.0f} ms, {run.bytes / 1e6:.2f} MB"
                                     if run.ok else f"FAILED {run.error}"), file=sys.stderr)
            if not args.no_drag:
                target = next((p for p in pages if p.name == args.drag_page), None)
                if target is None:
                    raise SystemExit(f"--drag-page {args.drag_page}: no such build")
                for family in args.drag_family or DRAG_FAMILIES:
                    drag = drag_once(browser, server, target, family, args.drag_moves,
                                     args.drag_pace)
                    drags.append(drag)
                    print(f"  drag {family}: " + (
                        f"await p50 {drag['await']['p50_ms']:.1f} ms, paced p50 "
                        f"{drag['paced']['p50_ms']:.1f} ms" if drag["ok"] else drag["error"]),
                        file=sys.stderr)
            browser.close()
        server.shutdown()
    info["loadavg_end"] = list(os.getloadavg())
    print(f"\nmachine: {info['nproc']} cores, {info['cpu']}, {info['browser']}; load average "
          f"{info['loadavg'][0]:.2f} at start, {info['loadavg_end'][0]:.2f} at end")
    print(report(runs, pages, profiles, drags, args.markdown))
    if args.waterfall:
        print(waterfall(runs, pages, profiles))
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info, "argv": sys.argv[1:],
            "repo_head": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True, check=False
                                        ).stdout.strip(),
            "builds": {name: str(directory) for name, directory in builds.items()},
            "runs": [asdict(r) for r in runs], "drags": drags}, indent=1))
        print(f"\nraw runs: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
