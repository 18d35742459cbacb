"""Benchmark: the same fits on CPython and in the browser (Pyodide in Chromium, the built page's
own worker), for issue 12's table: KL and time per fit of gaussian-full, mixture-full and
flows of two depths on every built-in target.

    .venv/bin/python build.py --out /tmp/dist-bench --offline
    .venv/bin/python bench/fits.py --dist /tmp/dist-bench [--targets a,b] [--families x,y]
                                   [--jsonl out.jsonl] [--markdown]

Each fit is the protocol's ``fit`` (``vi_core.protocol.Session.fit``: ``vi_core.fit`` or, for a
flow, ``vi_core.flows.fit_flow`` with its Monte Carlo check, from the family's Reset q with
L-BFGS), called once in this CPython process and once in the page's worker through
``window.viPython.call``, one after the other (never both at once), so the ratio of the two is
measured under the same load. The seconds are the fit's own ``seconds`` field (time inside the
fit, measured by ``time.perf_counter`` in either runtime); the page's wall time of the call is
printed too (it adds the diagnostics, k-hat and the IW-ELBO, and the worker's messaging).

Not a test; numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.conftest import start_server  # the e2e tests' static server
from vi_core.protocol import Session
from vi_core.targets import target_ids

FAMILIES = ("gaussian-full", "mixture-full", "flow", "flow-16")


def _cpython_fit(session: Session, target: str, family: str) -> dict:
    t0 = time.perf_counter()
    reply = session.handle({"method": "fit", "params": {"target": target, "family": family}})
    if not reply["ok"]:
        raise RuntimeError(f"{target} {family}: {reply['error']['message']}")
    out = reply["result"]
    out["wall"] = time.perf_counter() - t0
    return out


_BROWSER_FIT = """async ([target, family]) => {
  const t0 = performance.now();
  const out = await window.viPython.call("fit", { target, family });
  out.wall = (performance.now() - t0) / 1000;
  return out;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, required=True, help="a built site (build.py --out)")
    parser.add_argument("--targets", default=",".join(target_ids()))
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--jsonl", type=Path, help="append each row here as it is measured")
    parser.add_argument("--markdown", action="store_true", help="print the table at the end")
    parser.add_argument("--chromium",
                        default=os.environ.get("CHROMIUM") or shutil.which("chromium"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    session = Session()
    base = start_server(args.dist).base_url
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base)
        page.wait_for_function("document.documentElement.dataset.viStatus === 'ready'",
                               timeout=180_000)
        for target in args.targets.split(","):
            for family in args.families.split(","):
                py = _cpython_fit(session, target, family)
                web = page.evaluate(_BROWSER_FIT, [target, family])
                row = {"target": target, "family": family,
                       "kl": py["kl"], "kl_browser": web["kl"],
                       "elbo_error": py["elbo_error"], "converged": py["converged"],
                       "refused": "refused" in (py.get("message") or ""),
                       "seconds": py["seconds"], "seconds_browser": web["seconds"],
                       "wall_browser": web["wall"], "iterations": py["iterations"],
                       "iterations_browser": web["iterations"],
                       "load": os.getloadavg()[0]}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.jsonl:
                    with args.jsonl.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
        browser.close()
    if args.markdown:
        print(f"\nCPython {platform.python_version()} vs Pyodide in Chromium, "
              f"{platform.machine()}\n")
        print("| target | family | KL (CPython) | KL (browser) | ELBO error | s CPython | "
              "s browser | ratio | note |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            note = ("refused as exact" if r["refused"]
                    else ("" if r["converged"] else "not converged"))
            ratio = r["seconds_browser"] / r["seconds"] if r["seconds"] > 0 else float("nan")
            print(f"| {r['target']} | {r['family']} | {r['kl']:.4f} | {r['kl_browser']:.4f} | "
                  f"{r['elbo_error']:.1g} | {r['seconds']:.2f} | {r['seconds_browser']:.2f} | "
                  f"{ratio:.1f} | {note} |")


if __name__ == "__main__":
    main()
