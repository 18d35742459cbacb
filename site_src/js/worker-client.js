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

export class PythonWorker {
  /** A worker for standalone.html: its script and the whole runtime come from the page itself. */
  static async fromInlineAssets(elements, callbacks) {
    callbacks.onProgress({ stage: "runtime", label: "Unpacking the Python runtime" });
    const files = await inlineFiles(elements);
    const source = new Blob([files["worker.js"]], { type: "text/javascript" });
    delete files["worker.js"];
    const worker = new PythonWorker(URL.createObjectURL(source), callbacks, null);
    worker.worker.postMessage({ type: "boot", runtime: { mode: "inline" }, files }, Object.values(files));
    return worker;
  }

  /** runtime: {mode: "vendored"} or {mode: "cdn", index_url, integrity, vi_core_wheel}; null
   * when the caller sends the boot message itself. */
  constructor(url, { onProgress, onReady, onFatal }, runtime = { mode: "vendored" }) {
    this.pending = new Map();
    this.nextId = 1;
    this.worker = new Worker(url, { name: "vi-python" });
    this.worker.onmessage = (event) => this.receive(event.data, { onProgress, onReady, onFatal });
    this.worker.onerror = (event) => {
      event.preventDefault();
      onFatal({ stage: "worker", error: { name: "WorkerError", message: event.message || "the Python worker could not start" } });
    };
    if (runtime) this.worker.postMessage({ type: "boot", runtime });
  }

  receive(msg, { onProgress, onReady, onFatal }) {
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
