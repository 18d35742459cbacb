// The Python side of the page: a classic Web Worker that runs Pyodide + vi_core. Bundled by
// esbuild into one classic script (assets/worker.js), so it can import the protocol's one
// definition (messages.js) and keep importScripts, which module workers lack.
//
// Python starts with numpy and vi_core only: a package that a custom target imports (scipy,
// say) is loaded when that source arrives (loadPackagesFromImports), with news to the page.
//
// Its protocol is messages.js. Where the runtime comes from is the page's choice, sent in the
// boot message:
//   vendored  next to this script, in ../pyodide/ (the default build)
//   cdn       Pyodide and its packages from the official CDN, every file checked by Subresource
//             Integrity; only vi_core's wheel comes from the site
//   inline    standalone.html: the page sends the files Python starts with as ArrayBuffers, and
//             a fetch() shim answers requests under a virtual address from those buffers, or
//             asks the page for one it did not send (scipy...: need-file); no network at all

import { TO_WORKER, FROM_WORKER, MEMORY_LIMIT_BYTES, errorObject, toError } from "./messages.js";
import { checkPacing, frameWork, pauseAfter } from "./pacing.js";

// Taken before any other code runs here. A custom target's code (after the visitor's consent,
// for code from a link) can reach this worker's globals through Pyodide's `js` module and
// replace them (JSON, setTimeout, postMessage...); these references stay ours. The page hears
// this worker only through `port`, a MessageChannel port sent with the boot message and kept
// in this closure, where no other code can reach it: what such code posts with self.postMessage
// the page ignores.
const apply = Reflect.apply;
const portPost = MessagePort.prototype.postMessage;
const parse = JSON.parse;
const stringify = JSON.stringify;
const later = setTimeout.bind(globalThis);
const now = performance.now.bind(performance);
let port = null;

const VIRTUAL_INDEX = "https://standalone.invalid/pyodide/";
let status = "none"; // none | loading | loaded | failed
let handle = null; // the vi_core session's handle_json(text) -> text
let pyodide = null; // the running Pyodide, once loaded
const stopped = new Set(); // ids of runs asked to stop
const queue = []; // call and run messages waiting their turn
let draining = false;

const post = (message, transfer) => {
  if (port) apply(portPost, port, [message, transfer || []]);
};

function call(method, params) {
  const reply = parse(handle(stringify({ method, params: params || {} })));
  if (!reply.ok) throw toError(reply.error);
  return reply.result;
}

const sleep = (ms) => new Promise((resolve) => later(resolve, ms));

let heap = null; // Pyodide's Emscripten module, once it runs (its HEAP8 follows the memory as it grows)

/** Python's memory beyond the limit (code that hoards memory): the worker stops serving and
 * says so; the page replaces it. Returns whether it is over. */
function overMemory() {
  const bytes = heap ? heap.HEAP8.buffer.byteLength : 0;
  if (bytes <= MEMORY_LIMIT_BYTES) return false;
  status = "failed";
  queue.length = 0;
  post({ type: FROM_WORKER.MEMORY, bytes, limit: MEMORY_LIMIT_BYTES });
  return true;
}

/** fetch() takes a string, a URL or a Request. */
const requestUrl = (input) => (input instanceof Request ? input.url : String(input));

const CONTENT_TYPES = { wasm: "application/wasm", json: "application/json", js: "text/javascript" };

const contentType = (name) => CONTENT_TYPES[name.split(".").pop()] || "application/octet-stream";

// standalone.html: files the page did not send at boot, asked for when Python needs them.
const asked = new Map(); // name -> {promise, resolve}: the page's answer, ArrayBuffer or null

function askPage(name) {
  if (!asked.has(name)) {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    asked.set(name, { promise, resolve });
    post({ type: FROM_WORKER.NEED_FILE, name });
  }
  return asked.get(name).promise;
}

function installInlineAssets(files) {
  const assets = {};
  for (const [name, buffer] of Object.entries(files)) {
    const type = contentType(name);
    assets[name] = { buffer, type, blob: URL.createObjectURL(new Blob([buffer], { type })) };
  }
  const realFetch = self.fetch.bind(self);
  self.fetch = async (input, init) => {
    const url = requestUrl(input);
    if (url.startsWith(VIRTUAL_INDEX)) {
      const name = url.slice(VIRTUAL_INDEX.length).split("?")[0];
      const buffer = Object.hasOwn(assets, name) ? assets[name].buffer : await askPage(name);
      if (!buffer) return new Response("not in standalone.html", { status: 404 });
      return new Response(buffer.slice(0), { status: 200, headers: { "Content-Type": contentType(name) } });
    }
    return realFetch(input, init);
  };
  // pyodide.js looks for _createPyodideModule before loading pyodide.asm.js itself.
  importScripts(assets["pyodide.js"].blob);
  importScripts(assets["pyodide.asm.js"].blob);
}

/**
 * Vendored runtime: request early the files Pyodide will ask for one after the other, so that
 * downloads overlap start-up work: the wasm and the standard library at once (Pyodide asks for
 * them only after pyodide.asm.js has run), the packages (numpy, vi_core) once the standard
 * library is in (Python needs them only once it is up; started with the wasm, they would share
 * the link with it and delay the start). Each early response answers Pyodide's first request for
 * that URL, and only if the request asks for the same integrity (the lock's sha256 for
 * packages), so nothing goes unchecked; any other request goes to the network as usual.
 * (A <link rel="preload"> in the page would not help: the worker does not share its cache.)
 * @param {string} indexURL
 * @param {Object<string, string>} prefetch  file name -> integrity ("" for none)
 */
function prefetchRuntime(indexURL, prefetch) {
  const realFetch = self.fetch.bind(self);
  const early = new Map();
  const request = (name) => realFetch(indexURL + name, prefetch[name] ? { integrity: prefetch[name] } : {});
  const has = (name) => Object.hasOwn(prefetch || {}, name);
  const core = ["pyodide.asm.wasm", "python_stdlib.zip"].filter(has);
  const later = Object.keys(prefetch || {}).filter((name) => !core.includes(name));
  if (has("pyodide.asm.wasm")) early.set(indexURL + "pyodide.asm.wasm", { integrity: prefetch["pyodide.asm.wasm"], promise: request("pyodide.asm.wasm") });
  // The standard library is read whole here (the wasm must stream to Pyodide's compiler, so
  // its end cannot be seen): when it is in, the link is nearly free, and the packages go.
  let coreArrived = Promise.resolve();
  if (has("python_stdlib.zip")) {
    const stdlib = request("python_stdlib.zip").then(async (response) =>
      response.ok ? new Response(await response.arrayBuffer(), { status: response.status, headers: response.headers }) : response);
    early.set(indexURL + "python_stdlib.zip", { integrity: prefetch["python_stdlib.zip"], promise: stdlib });
    coreArrived = stdlib.then(() => {}, () => {});
  }
  for (const name of later) early.set(indexURL + name, { integrity: prefetch[name], promise: coreArrived.then(() => request(name)) });
  for (const { promise } of early.values()) promise.catch(() => {}); // a failure shows when Pyodide asks (and fetches again)
  self.fetch = (input, init) => {
    const url = requestUrl(input);
    const hit = early.get(url);
    if (hit && hit.integrity === ((init && init.integrity) || "")) {
      early.delete(url);
      return hit.promise.catch(() => realFetch(input, init));
    }
    return realFetch(input, init);
  };
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

/** The protocol's entry point: one vi_core session per worker (it owns the custom target, the
 * runs and the caches), spoken to in JSON text. */
function protocolHandle(pyodide) {
  return pyodide.pyimport("vi_core.protocol").Session().handle_json;
}

/** Where this script was served from: the page starts it from a blob: bootstrap (so that the
 * page's Content-Security-Policy binds the worker too) and says where the script itself is. */
const scriptUrl = (runtime) => runtime.script_url || self.location.href;

async function boot(runtime, files) {
  status = "loading";
  let stage = "runtime";
  try {
    post({ type: FROM_WORKER.PROGRESS, stage, label: "Starting Python (Pyodide runtime)" });
    let indexURL;
    if (runtime.mode === "inline") {
      installInlineAssets(files);
      indexURL = VIRTUAL_INDEX;
    } else if (runtime.mode === "cdn") {
      await installCdnRuntime(runtime);
      indexURL = runtime.index_url;
    } else {
      indexURL = new URL("../pyodide/", scriptUrl(runtime)).href;
      prefetchRuntime(indexURL, runtime.prefetch);
      importScripts(indexURL + "pyodide.js");
    }
    pyodide = await self.loadPyodide({ indexURL });
    heap = pyodide._module;
    stage = "packages";
    post({ type: FROM_WORKER.PROGRESS, stage, label: "Loading numpy" });
    await pyodide.loadPackage(["numpy"], { messageCallback: () => {} });
    stage = "vi_core";
    post({ type: FROM_WORKER.PROGRESS, stage, label: "Loading vi_core" });
    // From the CDN, the official lock does not know vi_core: load its wheel by URL (its
    // dependencies are loaded above). Otherwise the site's lock lists it with its sha256.
    const viCore = runtime.mode === "cdn" ? new URL("../pyodide/" + runtime.vi_core_wheel, scriptUrl(runtime)).href : "vi-core";
    await pyodide.loadPackage([viCore], { messageCallback: () => {}, errorCallback: (m) => { throw new Error(m); } });
    handle = protocolHandle(pyodide);
    const versions = call("versions");
    status = "loaded";
    post({ type: FROM_WORKER.READY, versions });
  } catch (err) {
    status = "failed";
    post({ type: FROM_WORKER.FATAL, stage, error: errorObject(err) });
  }
}

/**
 * An optimization run (messages.js, RunMessage): steps in frames paced by params.pacing;
 * awaiting between frames lets a stop message in. A stopped run, or one that has done its
 * max_steps, stays open in Python (paused) so that Optimize or Step can continue it.
 * @param {number} id
 * @param {import("./messages.js").RunParams} params
 */
async function run(id, params) {
  const pacing = checkPacing(params.pacing);
  const { target, family, k, optimizer, theta, resume } = params;
  const run_id = params.run_id ?? call("start_run", { target, family, k, optimizer, theta, resume }).run_id;
  let left = params.max_steps ?? Infinity;
  let last = null;
  let frames = 0;
  try {
    for (;;) {
      if (stopped.has(id)) {
        stopped.delete(id);
        if (!last) return { run_id, done: false, converged: false, iteration: 0, trace: [], view: null, state: null };
        // Paused: its q at rest (a flow's ELBO checked on fresh draws), the run kept.
        return { run_id, ...call("pause_run", { run_id }), done: false, trace: [] };
      }
      const t0 = now();
      const { steps, budget_ms } = frameWork(pacing, frames++, left);
      // The frame that ends a Step leaves q at rest: its view is checked like a Stop's.
      const frame = { run_id, ...call("advance_run", { run_id, steps, budget_ms, at_rest: steps >= left }) };
      left -= frame.trace.length;
      if (frame.done) {
        call("finish_run", { run_id, reason: frame.converged ? "converged" : "max_iter" });
        return frame;
      }
      if (left <= 0) return frame; // a Step: paused after its iterations, its view at rest
      last = frame;
      if (overMemory()) return new Promise(() => {}); // never answered: the page replaces this worker
      post({ type: FROM_WORKER.FRAME, id, frame });
      await sleep(pauseAfter(pacing, now() - t0));
    }
  } catch (err) {
    try { call("finish_run", { run_id, reason: "error" }); } catch { /* already gone */ }
    throw err;
  }
}

// While packages download no Python runs and no reply is due: say so now and then, so that
// the page does not take the silence for a stuck Python.
const HEARTBEAT_MS = 2000;

/** Load the packages that a custom target's source imports (scipy, ...), before vi_core runs it;
 * the page hears what is loading, and the new versions after. */
async function loadImports(id, source) {
  if (typeof source !== "string") return;
  let label = null;
  const beat = setInterval(() => { if (label) post({ type: FROM_WORKER.PACKAGES, id, label }); }, HEARTBEAT_MS);
  try {
    await pyodide.loadPackagesFromImports(source, {
      messageCallback: (text) => {
        if (/^Loading /.test(text)) {
          label = text;
          post({ type: FROM_WORKER.PACKAGES, id, label });
        }
      },
      errorCallback: () => {}, // a module that cannot be loaded: running the source says so
    });
  } catch {
    // The source's imports could not be read (a syntax error): vi_core reports it.
  } finally {
    clearInterval(beat);
  }
  if (label) post({ type: FROM_WORKER.PACKAGES, id, label: null, versions: call("versions") });
}

async function serve(msg) {
  try {
    if (status !== "loaded") throw new Error("Python is not ready yet");
    if (msg.type === TO_WORKER.CALL && msg.method === "set_custom_target") await loadImports(msg.id, msg.params && msg.params.source);
    const result = msg.type === TO_WORKER.RUN ? await run(msg.id, msg.params) : call(msg.method, msg.params);
    if (!overMemory()) post({ type: FROM_WORKER.RESULT, id: msg.id, result });
  } catch (err) {
    if (!overMemory()) post({ type: FROM_WORKER.ERROR, id: msg.id, error: errorObject(err) });
  }
}

async function drain() {
  if (draining) return;
  draining = true;
  while (queue.length) await serve(queue.shift());
  draining = false;
}

/** A message from the page, over the private port. */
function receive(event) {
  /** @type {import("./messages.js").ToWorker} */
  const msg = event.data || {};
  if (msg.type === TO_WORKER.PING) {
    post({ type: FROM_WORKER.PONG, n: msg.n });
  } else if (msg.type === TO_WORKER.STOP) {
    stopped.add(msg.id);
  } else if (msg.type === TO_WORKER.FILE) {
    const entry = asked.get(msg.name);
    asked.delete(msg.name); // one answer per request: a later fetch asks again
    if (entry) entry.resolve(msg.buffer instanceof ArrayBuffer ? msg.buffer : null);
  } else if (msg.type === TO_WORKER.CALL || msg.type === TO_WORKER.RUN) {
    if (status === "failed" && heap) return; // over the memory limit: the page is replacing us
    queue.push(msg);
    if (status === "loaded") drain();
  } else {
    post({ type: FROM_WORKER.ERROR, id: msg.id, error: { name: "ProtocolError", message: `unknown message type ${msg.type}` } });
  }
}

// The boot message is the one message that comes through the worker's own channel: it brings
// the private port, and everything after goes through that port.
self.onmessage = (event) => {
  const msg = event.data || {};
  if (msg.type !== TO_WORKER.BOOT || status !== "none" || !(msg.port instanceof MessagePort)) return;
  self.onmessage = null;
  port = msg.port;
  port.onmessage = receive;
  boot(msg.runtime || { mode: "vendored" }, msg.files).then(drain);
};
