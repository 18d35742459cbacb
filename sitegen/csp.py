"""The pages' Content-Security-Policy, in a <meta> element (GitHub Pages cannot send headers).

A <meta> policy governs the document; the page starts its worker from a blob: bootstrap, which
inherits it (worker-client.js), so the policy binds Python too: code that runs there (a custom
target, say) can compute but cannot reach another origin. Each page type allows only what it
needs:

    served     scripts, fetches and the worker's imports from the site's own origin;
               'unsafe-eval' (see RUNTIME_EVAL); workers from blob: (the bootstrap)
    cdn        the same, plus exactly the CDN's origin for scripts and fetches, and blob:
               scripts (the worker imports the CDN's files from blob: URLs once their
               integrity is checked)
    standalone (opened from file://, origin null, so 'self' means nothing): its one inline
               script by hash; blob: scripts and workers (the worker and the runtime are
               decoded in the page); data: and blob: fetches (decoding); its inline style by hash

Nothing else: no other origins, no inline event handlers, no plugins, no forms, no <base>, no
frames. The page's own scripts use no eval; the runtime does (RUNTIME_EVAL), so the policy must
allow it. That does not open the network: connect-src and script-src still bind whatever runs.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

#: Pyodide 0.27 compiles WebAssembly (which 'wasm-unsafe-eval' alone would allow) but its loader
#: also evaluates the JavaScript glue of the shared libraries it loads (Emscripten's EM_ASM and
#: EM_JS code in side modules) with eval(), from its very first start; without this source the
#: runtime stops at start-up with "'unsafe-eval' is not an allowed source of script".
RUNTIME_EVAL = "'unsafe-eval'"


def source_hash(text: str) -> str:
    """A CSP hash source for an inline <script> or <style> body."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _policy(**directives: list[str]) -> str:
    fixed = {"default-src": ["'none'"], "base-uri": ["'none'"], "form-action": ["'none'"],
             "object-src": ["'none'"], "frame-src": ["'none'"]}
    parts = {**fixed, **{k.replace("_", "-"): v for k, v in directives.items()}}
    return "; ".join(f"{name} {' '.join(values)}" for name, values in parts.items())


def served_policy(cdn_url: str | None = None) -> str:
    """The policy of a served page; ``cdn_url``: where the runtime comes from in a CDN build."""
    extra: list[str] = []
    blob: list[str] = []
    if cdn_url:
        parts = urlsplit(cdn_url)
        extra = [f"{parts.scheme}://{parts.netloc}"]
        blob = ["blob:"]
    return _policy(script_src=["'self'", RUNTIME_EVAL, *extra, *blob],
                   worker_src=["blob:"],
                   connect_src=["'self'", *extra],
                   img_src=["'self'", "data:"],
                   style_src=["'self'"])


def standalone_policy(inline_script: str, inline_style: str) -> str:
    """The policy of standalone.html, whose script and style are inline (given here)."""
    return _policy(script_src=[source_hash(inline_script), RUNTIME_EVAL, "blob:"],
                   worker_src=["blob:"],
                   connect_src=["data:", "blob:"],
                   img_src=["data:"],
                   style_src=[source_hash(inline_style)])
