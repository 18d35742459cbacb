/* The Python side of the page: a classic Web Worker that runs Pyodide + vi_core.
 *
 * Protocol (page <-> worker), every message a plain object dispatched on `type`:
 *   page -> worker
 *     {type: "call", id, method, params}   one vi_core.protocol method (see its docstring)
 *     {type: "run",  id, params}           start an optimization run; frames follow
 *     {type: "stop", id}                   stop run `id` after its current step
 *     {type: "assets", files}              standalone.html only: {file name: ArrayBuffer}
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

// Served normally, the runtime sits next to this script. In standalone.html (one file, opened
// from file://) there is nothing to fetch: the page sends every file as an ArrayBuffer first,
// and a fetch() shim answers requests under a virtual address from those buffers.
const STANDALONE = self.name === "vi-standalone";
const INDEX_URL = STANDALONE
  ? "https://standalone.invalid/pyodide/"
  : new URL("../pyodide/", self.location.href).href;
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

const CONTENT_TYPES = { wasm: "application/wasm", json: "application/json", js: "text/javascript" };

function installAssets(files) {
  const urls = {};
  for (const [name, buffer] of Object.entries(files)) {
    const type = CONTENT_TYPES[name.split(".").pop()] || "application/octet-stream";
    urls[name] = { buffer, type, blob: URL.createObjectURL(new Blob([buffer], { type })) };
  }
  const realFetch = self.fetch.bind(self);
  self.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    if (url.startsWith(INDEX_URL)) {
      const asset = urls[url.slice(INDEX_URL.length).split("?")[0]];
      if (!asset) return new Response("not in standalone.html", { status: 404 });
      return new Response(asset.buffer.slice(0), { status: 200, headers: { "Content-Type": asset.type } });
    }
    return realFetch(input, init);
  };
  // pyodide.js looks for _createPyodideModule before loading pyodide.asm.js itself.
  importScripts(urls["pyodide.js"].blob);
  importScripts(urls["pyodide.asm.js"].blob);
}

async function boot(files) {
  status = "loading";
  let stage = "runtime";
  try {
    self.postMessage({ type: "progress", stage, label: "Starting Python (Pyodide runtime)" });
    if (files) installAssets(files);
    else importScripts(INDEX_URL + "pyodide.js");
    const pyodide = await self.loadPyodide({ indexURL: INDEX_URL });
    stage = "packages";
    self.postMessage({ type: "progress", stage, label: "Loading numpy and scipy" });
    await pyodide.loadPackage(["numpy", "scipy"], { messageCallback: () => {} });
    stage = "vi_core";
    self.postMessage({ type: "progress", stage, label: "Loading vi_core" });
    await pyodide.loadPackage(["vi-core"], { messageCallback: () => {} });
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
  try {
    for (;;) {
      if (stopped.has(id)) {
        stopped.delete(id);
        return { run_id, done: false, converged: false, trace: [], view: last && last.view };
      }
      const t0 = performance.now();
      const frame = call("advance_run", { run_id, steps: params.steps_per_frame ?? 1, budget_ms: params.budget_ms ?? 25 });
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
  if (msg.type === "assets" && STANDALONE && status === "none") {
    boot(msg.files).then(drain);
  } else if (msg.type === "stop") {
    stopped.add(msg.id);
  } else if (msg.type === "call" || msg.type === "run") {
    queue.push(msg);
    if (status === "loaded") drain();
  } else {
    self.postMessage({ type: "error", id: msg.id, error: { name: "ProtocolError", message: `unknown message type ${msg.type}` } });
  }
};

if (!STANDALONE) boot().then(drain);
