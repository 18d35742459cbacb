"""A small static HTTP server that behaves like GitHub Pages behind a slow link (stdlib only).

What it models (an approximation, good for comparing pages, not for predicting a user's load
time to the millisecond):

* **Compression as on GitHub Pages.** gzip (``Content-Encoding: gzip``, level 6) for text types
  and ``.wasm`` (html, js, mjs, css, json, svg, txt, wasm) when the request accepts gzip; every
  other file (``.whl``, ``.zip``, images, ...) is sent as it is. Each file is compressed once and
  kept in memory (keyed by path, size and mtime). No Brotli, as on Pages.
* **HTTP/1.1 keep-alive**, so the browser's connection reuse (and its six connections per host)
  shows. Every response says ``Cache-Control: no-store``; with a fresh browser context per page
  load, nothing is cached between runs.
* **A link profile** (``LinkProfile``): ``loopback`` adds nothing. ``<N>mbit-<M>ms`` models a
  downstream of N Mbit/s shared by all connections of the page and a round-trip time of M ms:

  - bandwidth: one global token bucket for the whole server (bucket of 32 KiB, kept as a FIFO
    reservation clock): the body goes out in chunks of 16 KiB, each chunk books the link for
    ``len / rate`` seconds after the previous booking ends, and is written when its booking
    ends. Concurrent responses therefore share the rate, interleaved chunk by chunk. Headers are not
    throttled (they are small); there is no TCP slow start, no loss, no upstream limit.
  - latency: one RTT before the first byte of each response (the request's way up plus the
    first byte's way down), and one more RTT when a connection is new (the TCP handshake;
    there is no TLS handshake in the model, which a real HTTPS host adds).

* **Counts** of what was actually written, per page load (``reset_counters`` between loads):
  body bytes after compression, header bytes, requests, connections.

The server maps URL prefixes to directories (``/ours/`` -> dist/, ...), so one server and one
link serve every page of a benchmark; only one page loads at a time.
"""

from __future__ import annotations

import gzip
import http.server
import mimetypes
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

CHUNK = 16 * 1024
BURST = 2 * CHUNK  # the token bucket's size
GZIP_LEVEL = 6
# What GitHub Pages compresses (checked for these extensions); everything else goes as is.
COMPRESSED_SUFFIXES = {".html", ".htm", ".js", ".mjs", ".css", ".json", ".svg", ".txt",
                       ".wasm", ".map", ".xml"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm", ".whl": "application/octet-stream",
    ".zip": "application/zip", ".map": "application/json; charset=utf-8",
}
PROFILE_RE = re.compile(r"^(?P<mbit>\d+(?:\.\d+)?)mbit-(?P<ms>\d+(?:\.\d+)?)ms$")


@dataclass(frozen=True)
class LinkProfile:
    """``mbit`` None: no bandwidth limit; ``rtt_ms`` 0: no added latency."""

    name: str
    mbit: float | None = None
    rtt_ms: float = 0.0

    @property
    def bytes_per_second(self) -> float | None:
        return None if self.mbit is None else self.mbit * 1e6 / 8

    @property
    def rtt(self) -> float:
        return self.rtt_ms / 1000.0

    @classmethod
    def parse(cls, text: str) -> LinkProfile:
        """``loopback`` or ``<N>mbit-<M>ms`` (e.g. ``20mbit-40ms``, ``1.5mbit-300ms``)."""
        if text == "loopback":
            return cls("loopback")
        match = PROFILE_RE.match(text)
        if not match:
            raise ValueError(f"unknown link profile {text!r}: use loopback or <N>mbit-<M>ms")
        return cls(text, float(match["mbit"]), float(match["ms"]))


LOOPBACK = LinkProfile("loopback")


class Link:
    """The shared downstream: one token bucket (FIFO reservations) for all connections."""

    def __init__(self, profile: LinkProfile = LOOPBACK) -> None:
        self.profile = profile
        self._lock = threading.Lock()
        self._free_at = 0.0  # monotonic time at which the link has sent everything booked

    def set_profile(self, profile: LinkProfile) -> None:
        with self._lock:
            self.profile = profile
            self._free_at = 0.0

    def transmit(self, n: int) -> None:
        """Block until ``n`` bytes have passed the link (returns at once on loopback)."""
        rate = self.profile.bytes_per_second
        if rate is None:
            return
        with self._lock:
            # A bucket of BURST bytes: a sender that woke late may catch up that much.
            start = max(time.monotonic() - BURST / rate, self._free_at)
            self._free_at = start + n / rate
            done = self._free_at
        delay = done - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def latency(self, rtts: int = 1) -> None:
        if self.profile.rtt > 0:
            time.sleep(rtts * self.profile.rtt)


@dataclass
class Counters:
    body_bytes: int = 0
    header_bytes: int = 0
    requests: int = 0
    connections: int = 0


class SiteServer(http.server.ThreadingHTTPServer):
    """Serves ``mounts`` (URL prefix -> directory) through ``link``; see the module docstring."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, mounts: dict[str, Path], link: Link | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.mounts = {("/" + prefix.strip("/") + "/").replace("//", "/"): Path(d).resolve()
                       for prefix, d in mounts.items()}
        self.link = link or Link()
        self.counters = Counters()
        self._counter_lock = threading.Lock()
        self._gzip_cache: dict[tuple[str, int, int], bytes] = {}
        self._gzip_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, **amounts: int) -> None:
        with self._counter_lock:
            for key, value in amounts.items():
                setattr(self.counters, key, getattr(self.counters, key) + value)

    def reset_counters(self) -> Counters:
        """Return the counts so far and start new ones."""
        with self._counter_lock:
            old, self.counters = self.counters, Counters()
        return old

    def resolve(self, url_path: str) -> Path | None:
        path = urllib.parse.unquote(url_path.split("?", 1)[0].split("#", 1)[0])
        for prefix, directory in sorted(self.mounts.items(), key=lambda kv: -len(kv[0])):
            if path.startswith(prefix) or path + "/" == prefix:
                rel = path[len(prefix):]
                candidate = (directory / rel).resolve()
                if candidate != directory and directory not in candidate.parents:
                    return None
                if candidate.is_dir():
                    candidate = candidate / "index.html"
                return candidate if candidate.is_file() else None
        return None

    def gzipped(self, path: Path) -> bytes:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._gzip_lock:
            cached = self._gzip_cache.get(key)
        if cached is None:
            cached = gzip.compress(path.read_bytes(), compresslevel=GZIP_LEVEL, mtime=0)
            with self._gzip_lock:
                self._gzip_cache[key] = cached
        return cached


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: SiteServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        self.server.count(connections=1)
        self.server.link.latency()  # the TCP handshake of a new connection
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        self.server.count(requests=1)
        path_only = self.path.split("?", 1)[0]
        if any(path_only + "/" == prefix for prefix in self.server.mounts):
            self._send(301, b"", {"Location": path_only + "/"}, head)
            return
        path = self.server.resolve(self.path)
        if path is None:
            self._send(404, b"not found\n", {"Content-Type": "text/plain; charset=utf-8"}, head)
            return
        suffix = path.suffix.lower()
        headers = {"Content-Type": CONTENT_TYPES.get(suffix)
                   or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                   "Cache-Control": "no-store", "Vary": "Accept-Encoding"}
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if suffix in COMPRESSED_SUFFIXES and accepts_gzip:
            body = self.server.gzipped(path)
            headers["Content-Encoding"] = "gzip"
        else:
            body = path.read_bytes()
        self._send(200, body, headers, head)

    def _send(self, code: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        link = self.server.link
        link.latency()  # request up + first byte down
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        # What end_headers is about to write: the buffered lines and the blank line.
        header_bytes = sum(len(line) for line in getattr(self, "_headers_buffer", [])) + 2
        self.end_headers()
        self.server.count(header_bytes=header_bytes)
        if head:
            return
        view = memoryview(body)
        for offset in range(0, len(body), CHUNK):
            chunk = view[offset:offset + CHUNK]
            link.transmit(len(chunk))
            self.wfile.write(chunk)
            self.server.count(body_bytes=len(chunk))


def serve(mounts: dict[str, Path], profile: LinkProfile = LOOPBACK) -> SiteServer:
    """Start a ``SiteServer`` on a free port of 127.0.0.1 in a daemon thread."""
    server = SiteServer(mounts, Link(profile))
    threading.Thread(target=server.serve_forever, name="site-server", daemon=True).start()
    return server


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve a directory like GitHub Pages over a "
                                                 "modelled link (see the module docstring).")
    parser.add_argument("directory", type=Path, nargs="?", default=Path("dist"))
    parser.add_argument("--profile", default="loopback", help="loopback or <N>mbit-<M>ms")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = SiteServer({"/": args.directory}, Link(LinkProfile.parse(args.profile)),
                        port=args.port)
    print(f"Serving {args.directory} on {server.base_url}/ over {args.profile} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        os._exit(0)


if __name__ == "__main__":
    main()
