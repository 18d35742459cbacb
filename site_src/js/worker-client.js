// The page's side of the worker protocol (documented in static/worker.js): one request, one
// promise; progress, readiness and run frames arrive as callbacks.

export class PythonWorker {
  constructor(url, { onProgress, onReady, onFatal }) {
    this.pending = new Map();
    this.nextId = 1;
    this.worker = new Worker(url);
    this.worker.onmessage = (event) => this.receive(event.data, { onProgress, onReady, onFatal });
    this.worker.onerror = (event) => {
      event.preventDefault();
      onFatal({ stage: "worker", error: { name: "WorkerError", message: event.message || "the Python worker could not start" } });
    };
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
