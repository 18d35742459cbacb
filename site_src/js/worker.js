/* The Python side of the page: a classic Web Worker that runs Pyodide + vi_core.
 *
 * Protocol (page <-> worker), every message a plain object dispatched on `type`:
 *   page -> worker
 *     {type: "call", id, method, params}   one vi_core.protocol method (see its docstring)
 *     {type: "run",  id, params}           start an optimization run; frames follow
 *     {type: "stop", id}                   stop run `id` after its current step
 *     {type: "boot", runtime, files?}      first message: where the runtime is (see below);
 *                                          files: {name: ArrayBuffer} for standalone.html
 *   worker -> page
 *     {type: "progress", stage, label}     start-up stages: runtime, packages, vi_core
 *     {type: "ready", versions}            Python is up; calls are welcome
 *     {type: "result", id, result}         reply to call/run `id`
 *     {type: "error", id, error}           reply to call/run `id` that failed: {name, message}
 *     {type: "frame", id, frame}           one animation frame of run `id`
 *     {type: "fatal", stage, error}        start-up failed: nothing will work
 * Calls are answered in order; unknown types get an error reply.
 */
"use strict";

// Where the runtime comes from is the page's choice, sent in the "boot" message:
//   vendored  next to this script, in ../pyodide/ (the default build)
//   cdn       Pyodide and numpy/scipy from the official CDN, every file checked by Subresource
//             Integrity; only vi_core's wheel comes from the site
//   inline    standalone.html: the page sends every file as an ArrayBuffer, and a fetch() shim
//             answers requests under a virtual address from those buffers (no network at all)
const VIRTUAL_INDEX = "https://standalone.invalid/pyodide/";
let status = "none"; // none | loading | loaded | failed
let handle = null; // vi_core.protocol.handle_json
const stopped = new Set();
const queue = [];
let draining = false;

function errorObject(err) {
  // Python exceptions arrive as PythonError with the traceback in .message; keep the last line.
  const text = String((err && err.message) || err);
  const lines = text.trim().split("\n");
  return { name: (err && err.name) || "Error", message: lines[lines.length - 1] };
}

function call(method, params) {
  const reply = JSON.parse(handle(JSON.stringify({ method, params: params || {} })));
  if (!reply.ok) {
    const e = new Error(reply.error.message);
    e.name = reply.error.name;
    throw e;
  }
  return reply.result;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** fetch() takes a string, a URL or a Request. */
const requestUrl = (input) => (input instanceof Request ? input.url : String(input));

const CONTENT_TYPES = { wasm: "application/wasm", json: "application/json", js: "text/javascript" };

function installInlineAssets(files) {
  const assets = {};
  for (const [name, buffer] of Object.entries(files)) {
    const type = CONTENT_TYPES[name.split(".").pop()] || "application/octet-stream";
    assets[name] = { buffer, type, blob: URL.createObjectURL(new Blob([buffer], { type })) };
  }
  const realFetch = self.fetch.bind(self);
  self.fetch = async (input, init) => {
    const url = requestUrl(input);
    if (url.startsWith(VIRTUAL_INDEX)) {
      const asset = assets[url.slice(VIRTUAL_INDEX.length).split("?")[0]];
      if (!asset) return new Response("not in standalone.html", { status: 404 });
      return new Response(asset.buffer.slice(0), { status: 200, headers: { "Content-Type": asset.type } });
    }
    return realFetch(input, init);
  };
  // pyodide.js looks for _createPyodideModule before loading pyodide.asm.js itself.
  importScripts(assets["pyodide.js"].blob);
  importScripts(assets["pyodide.asm.js"].blob);
}

async function importVerified(url, integrity) {
  // importScripts cannot check integrity: fetch with SRI, then import the checked bytes.
  const response = await fetch(url, { integrity, mode: "cors", credentials: "omit" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  importScripts(URL.createObjectURL(await response.blob()));
}

async function installCdnRuntime(runtime) {
  // Pyodide fetches its own core files (wasm, stdlib, lock); add their integrity to those fetches.
  const realFetch = self.fetch.bind(self);
  self.fetch = (input, init) => {
    const url = requestUrl(input);
    const integrity = runtime.integrity[url.slice(runtime.index_url.length)];
    if (url.startsWith(runtime.index_url) && integrity) {
      return realFetch(input, { ...init, integrity, mode: "cors", credentials: "omit" });
    }
    return realFetch(input, init);
  };
  await importVerified(runtime.index_url + "pyodide.js", runtime.integrity["pyodide.js"]);
  await importVerified(runtime.index_url + "pyodide.asm.js", runtime.integrity["pyodide.asm.js"]);
}

async function boot(runtime, files) {
  status = "loading";
  let stage = "runtime";
  try {
    self.postMessage({ type: "progress", stage, label: "Starting Python (Pyodide runtime)" });
    let indexURL;
    if (runtime.mode === "inline") {
      installInlineAssets(files);
      indexURL = VIRTUAL_INDEX;
    } else if (runtime.mode === "cdn") {
      await installCdnRuntime(runtime);
      indexURL = runtime.index_url;
    } else {
      indexURL = new URL("../pyodide/", self.location.href).href;
      importScripts(indexURL + "pyodide.js");
    }
    const pyodide = await self.loadPyodide({ indexURL });
    stage = "packages";
    self.postMessage({ type: "progress", stage, label: "Loading numpy and scipy" });
    await pyodide.loadPackage(["numpy", "scipy"], { messageCallback: () => {} });
    stage = "vi_core";
    self.postMessage({ type: "progress", stage, label: "Loading vi_core" });
    // From the CDN, the official lock does not know vi_core: load its wheel by URL (its
    // dependencies are loaded above). Otherwise the site's lock lists it with its sha256.
    const viCore = runtime.mode === "cdn" ? new URL("../pyodide/" + runtime.vi_core_wheel, self.location.href).href : "vi-core";
    await pyodide.loadPackage([viCore], { messageCallback: () => {}, errorCallback: (m) => { throw new Error(m); } });
    handle = pyodide.pyimport("vi_core.protocol").handle_json;
    const versions = call("versions");
    status = "loaded";
    self.postMessage({ type: "ready", versions });
  } catch (err) {
    status = "failed";
    self.postMessage({ type: "fatal", stage, error: errorObject(err) });
  }
}

async function run(id, params) {
  // Steps run in slices; awaiting between frames lets a "stop" message in. A stopped run stays
  // open (paused) so that Optimize or Step can continue it with its optimizer memory intact.
  const run_id = params.run_id ?? call("start_run", params).run_id;
  const frameMs = params.frame_ms ?? 40;
  let last = null;
  let frames = 0;
  try {
    for (;;) {
      if (stopped.has(id)) {
        stopped.delete(id);
        return { run_id, done: false, converged: false, trace: [], view: last && last.view };
      }
      const t0 = performance.now();
      // Long runs speed up as they go: the first frames are for watching, the rest for arriving.
      const speedUp = 2 ** Math.min(10, Math.floor(frames++ / 40));
      const steps = (params.steps_per_frame ?? 1) * speedUp;
      const frame = call("advance_run", { run_id, steps, budget_ms: Math.min(200, (params.budget_ms ?? 25) * speedUp) });
      if (frame.done) {
        call("finish_run", { run_id, reason: frame.converged ? "converged" : "max_iter" });
        return { run_id, ...frame };
      }
      last = frame;
      self.postMessage({ type: "frame", id, frame });
      await sleep(Math.max(0, frameMs - (performance.now() - t0)));
    }
  } catch (err) {
    try { call("finish_run", { run_id, reason: "error" }); } catch (_) { /* already gone */ }
    throw err;
  }
}

async function serve(msg) {
  try {
    if (status !== "loaded") throw new Error("Python is not ready yet");
    const result = msg.type === "run" ? await run(msg.id, msg.params) : call(msg.method, msg.params);
    self.postMessage({ type: "result", id: msg.id, result });
  } catch (err) {
    self.postMessage({ type: "error", id: msg.id, error: errorObject(err) });
  }
}

async function drain() {
  if (draining) return;
  draining = true;
  while (queue.length) await serve(queue.shift());
  draining = false;
}

self.onmessage = (event) => {
  const msg = event.data || {};
  if (msg.type === "boot" && status === "none") {
    boot(msg.runtime || { mode: "vendored" }, msg.files).then(drain);
  } else if (msg.type === "stop") {
    stopped.add(msg.id);
  } else if (msg.type === "call" || msg.type === "run") {
    queue.push(msg);
    if (status === "loaded") drain();
  } else {
    self.postMessage({ type: "error", id: msg.id, error: { name: "ProtocolError", message: `unknown message type ${msg.type}` } });
  }
};

