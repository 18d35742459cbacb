// The page's end of the worker protocol (messages.js): one request, one promise; progress,
// readiness and run frames arrive as callbacks. It knows nothing of the page's state.

import { TO_WORKER, FROM_WORKER, toError } from "./messages.js";

/** Decode one file that standalone.html carries inline (gzip, then base64) into an ArrayBuffer. */
async function decodeInline(el) {
  // fetch() of a data: URL decodes base64 natively, far faster than atob in a loop.
  const response = await fetch("data:application/octet-stream;base64," + el.textContent.trim());
  const stream = el.dataset.encoding === "gzip" ? response.body.pipeThrough(new DecompressionStream("gzip")) : response.body;
  return new Response(stream).arrayBuffer();
}

/** The files the worker needs to start (marked data-start); the others (scipy, ...) wait until
 * Python asks for them (need-file), and a page that never needs them never decodes them. */
async function startFiles(elements) {
  const start = [...elements].filter((el) => el.hasAttribute("data-start"));
  return Object.fromEntries(await Promise.all(start.map(async (el) => [el.dataset.name, await decodeInline(el)])));
}

/** The inline file `name` (parsed by now: the worker asks only after it has started), or null. */
async function inlineFile(name) {
  const el = [...document.querySelectorAll("script[data-vi-asset]")].find((e) => e.dataset.name === name);
  return el ? decodeInline(el) : null;
}

// Python cannot be interrupted mid-call (that needs cross-origin isolation, which static hosts
// such as GitHub Pages do not give), so a call that runs away (an endless loop in a custom
// target) is detected by silence instead, and the worker can be replaced.
const STALL_MS = 12000;
// While no work is outstanding the page asks now and then whether the worker is still there
// (the browser may have stopped it, or a custom target's timer may keep it busy): an answer
// takes milliseconds, so one missing for DEAD_MS means it is gone or blocked.
const PING_EVERY_MS = 2000;
const DEAD_MS = 5000;

// A worker that has run a custom target's code may say anything; what the page repeats of
// its package news is only what Pyodide's loader says ("Loading scipy, openblas") and version
// strings, checked here, never free text.
const PACKAGE_LABEL = /^Loading [A-Za-z0-9_.-]{1,40}(, [A-Za-z0-9_.-]{1,40}){0,15}( and [A-Za-z0-9_.-]{1,40})?$/;
const VERSION = /^[A-Za-z0-9_.+-]{1,40}$/;

/** The packages message with its label and versions kept only where they have their shape. */
export function packagesNews(msg) {
  const label = typeof msg.label === "string" && PACKAGE_LABEL.test(msg.label) ? msg.label : null;
  const v = msg.versions;
  const version = (x) => typeof x === "string" && VERSION.test(x);
  const shaped = v && typeof v === "object" && version(v.python) && version(v.numpy)
    && Object.entries(v).every(([k, x]) => VERSION.test(k) && (x === null || version(x)));
  return shaped ? { label, versions: { ...v } } : { label };
}

export class PythonWorker {
  /** A worker for standalone.html: its script and the whole runtime come from the page itself. */
  static async fromInlineAssets(elements, callbacks) {
    const worker = new PythonWorker(null, callbacks, null);
    worker.inline = elements;
    await worker.start();
    return worker;
  }

  /** runtime: see messages.js (Runtime).
   * callbacks: onProgress, onReady, onFatal, onStall (work outstanding, no word for a while),
   * onHeard (word again after onStall), onDead (idle, and no answer to a ping), onMemory
   * (Python's memory passed the limit; the worker waits to be replaced), onPackages. */
  constructor(url, callbacks, runtime = { mode: "vendored" }) {
    this.url = url;
    this.callbacks = callbacks;
    this.runtime = runtime;
    this.pending = new Map(); // id -> {resolve, reject, onFrame}
    this.nextId = 1;
    this.lastHeard = performance.now();
    this.stallReported = false;
    this.ready = false; // READY heard from this worker
    this.ping = null; // the ping awaiting its pong: {n, sent}, or null
    this.lastPing = -Infinity;
    this.lastWatch = null; // when watch() last ran
    this.deadReported = false;
    if (url) this.start();
    setInterval(() => this.watch(), 1000);
  }

  async start() {
    let url = this.url;
    let files = null;
    if (this.inline) {
      this.callbacks.onProgress({ stage: "runtime", label: "Unpacking the Python runtime" });
      files = await startFiles(this.inline);
      url = URL.createObjectURL(new Blob([files["worker.js"]], { type: "text/javascript" }));
      delete files["worker.js"];
    }
    let runtime = this.runtime;
    if (!files) {
      // A worker started from its own URL takes its Content-Security-Policy from that file's
      // HTTP headers (GitHub Pages sends none); one started from a blob: URL inherits the
      // page's. So start a blob: bootstrap that imports the real script, and tell the worker
      // where that script is (its own location is the blob's).
      runtime = { ...runtime, script_url: url.href };
      url = URL.createObjectURL(new Blob([`importScripts(${JSON.stringify(url.href)});`], { type: "text/javascript" }));
    }
    const worker = new Worker(url, { name: "vi-python" });
    this.worker = worker;
    this.ready = false;
    this.ping = null;
    this.deadReported = false;
    // The worker's own channel carries only the boot message; anything else posted there (by a
    // custom target's code, which can reach the worker's globals) is not the runtime's word.
    worker.onmessage = null;
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.port.onmessage = (event) => {
      if (this.worker === worker) this.receive(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      // Only until the runtime is up: later, an uncaught error can come from a custom target's
      // callbacks, and its text is that code's to choose.
      if (this.worker === worker && !this.ready) {
        this.callbacks.onFatal({ stage: "worker", error: { name: "WorkerError", message: "the Python worker could not start" } });
      }
    };
    this.lastHeard = performance.now();
    const boot = { type: TO_WORKER.BOOT, runtime: files ? { mode: "inline" } : runtime, port: channel.port2 };
    if (files) boot.files = files;
    worker.postMessage(boot, [channel.port2, ...(files ? Object.values(files) : [])]);
  }

  /** standalone.html: answer the worker's need-file with the inline file (or null). */
  async sendFile(name) {
    let buffer = null;
    try {
      buffer = this.inline ? await inlineFile(String(name)) : null;
    } catch {
      buffer = null; // undecodable: the worker's fetch gets a 404 and Python says what failed
    }
    this.post({ type: TO_WORKER.FILE, name, buffer }, buffer ? [buffer] : []);
  }

  /** @param {import("./messages.js").ToWorker} message */
  post(message, transfer) {
    this.port.postMessage(message, transfer || []);
  }

  /** Throw the worker away (whatever it was doing) and start a fresh one; pending calls fail
   * with an error named "Restarted". */
  async restart() {
    this.worker.terminate();
    this.port.close();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const entry of pending) entry.reject(toError({ name: "Restarted", message: "Python was restarted" }));
    this.stallReported = false;
    await this.start();
  }

  watch() {
    const now = performance.now();
    // A page that was frozen or throttled (a background tab, a phone's lock) may wake before
    // the worker's answers are delivered: judge nothing from the time it was away.
    const away = now - (this.lastWatch ?? now) > 3 * 1000;
    this.lastWatch = now;
    if (away) {
      this.lastHeard = Math.max(this.lastHeard, now - 1000);
      this.ping = null;
    }
    const silent = now - this.lastHeard;
    const busy = this.foregroundPending();
    if (busy && silent > STALL_MS && !this.stallReported) {
      this.stallReported = true;
      if (this.callbacks.onStall) this.callbacks.onStall(silent);
    }
    // Idle: is it still there?
    if (!this.ready || busy || this.deadReported) {
      this.ping = null;
      return;
    }
    if (this.ping && now - this.ping.sent > DEAD_MS) {
      this.deadReported = true;
      if (this.callbacks.onDead) this.callbacks.onDead(now - this.ping.sent);
    } else if (!this.ping && now - this.lastPing > PING_EVERY_MS) {
      this.lastPing = now;
      this.ping = { n: this.nextId++, sent: now };
      this.post({ type: TO_WORKER.PING, n: this.ping.n });
    }
  }

  /** @param {import("./messages.js").FromWorker} msg */
  receive(msg) {
    const { onProgress, onReady, onFatal, onPackages, onHeard, onMemory } = this.callbacks;
    this.lastHeard = performance.now();
    if (this.stallReported) {
      this.stallReported = false;
      if (onHeard) onHeard();
    }
    if (msg.type === FROM_WORKER.PONG) {
      if (this.ping && this.ping.n === msg.n) this.ping = null;
      return;
    }
    if (msg.type === FROM_WORKER.PROGRESS) return onProgress(msg);
    if (msg.type === FROM_WORKER.READY) {
      this.ready = true;
      return onReady(msg.versions);
    }
    if (msg.type === FROM_WORKER.MEMORY) return onMemory && onMemory(msg);
    // Start-up failures come before READY, before any code from a link or the editor can have
    // run in this worker; after it, a "fatal" can only be such code talking: not the page's.
    if (msg.type === FROM_WORKER.FATAL) return this.ready ? undefined : onFatal(msg);
    if (msg.type === FROM_WORKER.PACKAGES) return onPackages && onPackages(packagesNews(msg));
    if (msg.type === FROM_WORKER.NEED_FILE) return this.sendFile(msg.name);
    const entry = this.pending.get(msg.id);
    if (!entry) return;
    if (msg.type === FROM_WORKER.FRAME) return entry.onFrame && entry.onFrame(msg.frame);
    this.pending.delete(msg.id);
    if (msg.type === FROM_WORKER.RESULT) entry.resolve(msg.result);
    else entry.reject(toError(msg.error));
  }

  /** Calls the page waits for (not background ones) are outstanding. */
  foregroundPending() {
    for (const entry of this.pending.values()) if (!entry.background) return true;
    return false;
  }

  send(message, onFrame, background = false) {
    const id = this.nextId++;
    if (!background && !this.foregroundPending()) this.lastHeard = performance.now(); // the silence clock starts
    const promise = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, onFrame, background }));
    this.post({ ...message, id });
    return { id, promise };
  }

  /** One vi_core.protocol method. `background`: work the page does not wait for (the two
   * forces' sweep): while only such calls are out the worker counts as idle, so the idle
   * watchdog's pings go on (answered once the call is done; one that never ends shows as dead). */
  call(method, params = {}, { background = false } = {}) {
    return this.send({ type: TO_WORKER.CALL, method, params }, undefined, background).promise;
  }

  /** An optimization run (messages.js, RunParams): returns {id, promise}. Frames go to
   * onFrame; stop(id) pauses it; the promise resolves with its last frame. */
  run(params, onFrame) {
    return this.send({ type: TO_WORKER.RUN, params }, onFrame);
  }

  stop(id) {
    this.post({ type: TO_WORKER.STOP, id });
  }
}

/** Coalesce requests: while one is in flight, keep only the newest; the UI never queues stale
 * work. A superseded request resolves with undefined. */
export function latestOnly(fn) {
  let inFlight = false;
  let queued = null;
  const pump = async () => {
    while (queued) {
      const { args, resolve, reject } = queued;
      queued = null;
      inFlight = true;
      try { resolve(await fn(...args)); } catch (err) { reject(err); }
      inFlight = false;
    }
  };
  return (...args) => new Promise((resolve, reject) => {
    if (queued) queued.resolve(undefined); // superseded: resolved with nothing
    queued = { args, resolve, reject };
    if (!inFlight) pump();
  });
}
