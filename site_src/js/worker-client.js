// The page's side of the worker protocol (documented in static/worker.js): one request, one
// promise; progress, readiness and run frames arrive as callbacks.

/** Decode the files that standalone.html carries inline (gzip, then base64) into ArrayBuffers. */
async function inlineFiles(elements) {
  const decode = async (el) => {
    // fetch() of a data: URL decodes base64 natively, far faster than atob in a loop.
    const response = await fetch("data:application/octet-stream;base64," + el.textContent.trim());
    const stream = el.dataset.encoding === "gzip" ? response.body.pipeThrough(new DecompressionStream("gzip")) : response.body;
    return [el.dataset.name, await new Response(stream).arrayBuffer()];
  };
  return Object.fromEntries(await Promise.all([...elements].map(decode)));
}

// Python cannot be interrupted mid-call (that needs cross-origin isolation, which static hosts
// such as GitHub Pages do not give), so a call that runs away (an endless loop in a custom
// target) is detected by silence instead, and the worker can be replaced.
const STALL_MS = 12000;

export class PythonWorker {
  /** A worker for standalone.html: its script and the whole runtime come from the page itself. */
  static async fromInlineAssets(elements, callbacks) {
    const worker = new PythonWorker(null, callbacks, null);
    worker.inline = elements;
    await worker.start();
    return worker;
  }

  /** runtime: {mode: "vendored"} or {mode: "cdn", index_url, integrity, vi_core_wheel}.
   * callbacks: onProgress, onReady, onFatal, and onStall (work outstanding, no word for a while). */
  constructor(url, callbacks, runtime = { mode: "vendored" }) {
    this.url = url;
    this.callbacks = callbacks;
    this.runtime = runtime;
    this.pending = new Map();
    this.nextId = 1;
    this.lastHeard = performance.now();
    this.stallReported = false;
    if (url) this.start();
    setInterval(() => this.watch(), 1000);
  }

  async start() {
    let url = this.url;
    let files = null;
    if (this.inline) {
      this.callbacks.onProgress({ stage: "runtime", label: "Unpacking the Python runtime" });
      files = await inlineFiles(this.inline);
      url = URL.createObjectURL(new Blob([files["worker.js"]], { type: "text/javascript" }));
      delete files["worker.js"];
    }
    this.worker = new Worker(url, { name: "vi-python" });
    this.worker.onmessage = (event) => this.receive(event.data, this.callbacks);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.callbacks.onFatal({ stage: "worker", error: { name: "WorkerError", message: event.message || "the Python worker could not start" } });
    };
    this.lastHeard = performance.now();
    if (files) this.worker.postMessage({ type: "boot", runtime: { mode: "inline" }, files }, Object.values(files));
    else this.worker.postMessage({ type: "boot", runtime: this.runtime });
  }

  /** Throw the worker away (whatever it was doing) and start a fresh one; pending calls fail. */
  async restart() {
    this.worker.terminate();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const entry of pending) {
      const err = new Error("Python was restarted");
      err.name = "Restarted";
      entry.reject(err);
    }
    this.stallReported = false;
    await this.start();
  }

  watch() {
    const silent = performance.now() - this.lastHeard;
    if (this.pending.size && silent > STALL_MS && !this.stallReported) {
      this.stallReported = true;
      if (this.callbacks.onStall) this.callbacks.onStall(silent);
    }
  }

  receive(msg, { onProgress, onReady, onFatal }) {
    this.lastHeard = performance.now();
    this.stallReported = false;
    if (msg.type === "progress") return onProgress(msg);
    if (msg.type === "ready") return onReady(msg.versions);
    if (msg.type === "fatal") return onFatal(msg);
    const entry = this.pending.get(msg.id);
    if (!entry) return;
    if (msg.type === "frame") return entry.onFrame && entry.onFrame(msg.frame);
    this.pending.delete(msg.id);
    if (msg.type === "result") entry.resolve(msg.result);
    else {
      const err = new Error(msg.error.message);
      err.name = msg.error.name;
      entry.reject(err);
    }
  }

  send(message, onFrame) {
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, onFrame }));
    if (this.pending.size === 1) this.lastHeard = performance.now(); // the silence clock starts
    this.worker.postMessage({ ...message, id });
    return { id, promise };
  }

  call(method, params = {}) {
    return this.send({ type: "call", method, params }).promise;
  }

  /** Start an optimization run; returns {id, promise}. Frames go to onFrame; stop(id) ends it. */
  run(params, onFrame) {
    return this.send({ type: "run", params }, onFrame);
  }

  stop(id) {
    this.worker.postMessage({ type: "stop", id });
  }
}

/** Coalesce requests: while one is in flight, keep only the newest; the UI never queues stale work. */
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
