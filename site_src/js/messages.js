// The page <-> worker protocol: ONE definition, imported by both sides (worker-client.js in
// the page, worker.js in the worker; esbuild bundles it into each).
//
// The boot message goes through the worker's own channel and brings a MessagePort; every other
// message, both ways, goes through that private port (see worker.js: code in a custom target
// can post on the worker's own channel, and the page does not listen there).
//
// Every message is a plain object dispatched on `type`. Requests carry an `id`; the worker
// answers each with exactly one `result` or `error` of the same id (a run also sends `frame`s
// before its answer). Calls are served in order; an unknown type gets an `error` reply.
// Errors cross the boundary as plain {name, message} objects.

/** Message types the page sends. */
export const TO_WORKER = Object.freeze({
  BOOT: "boot",
  CALL: "call",
  RUN: "run",
  STOP: "stop",
  FILE: "file",
  PING: "ping",
});

/** Message types the worker sends. */
export const FROM_WORKER = Object.freeze({
  PROGRESS: "progress",
  READY: "ready",
  RESULT: "result",
  ERROR: "error",
  FRAME: "frame",
  FATAL: "fatal",
  PACKAGES: "packages",
  NEED_FILE: "need-file",
  PONG: "pong",
  MEMORY: "memory",
});

/** Python's memory (the wasm heap) may grow to this much; beyond it the worker stops and the
 * page replaces it. vi_core's own work stays far below (tens of MB); a custom target that
 * hoards memory does not take the visitor's machine with it. */
export const MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024;

/**
 * Where the runtime comes from (chosen by build.py, sent in the boot message).
 * (`script_url`: where the worker's script is, added by worker-client.js; the worker itself runs
 * from a blob: bootstrap)
 * @typedef {{mode: "vendored", prefetch?: Object<string, string>, script_url?: string}
 *   | {mode: "cdn", index_url: string, integrity: Object<string, string>, vi_core_wheel: string}
 *   | {mode: "inline"}} Runtime
 */

/**
 * How a run is paced: one row of the catalog's optimizers[].pacing table (vi_core sends it).
 * @typedef {object} Pacing
 * @property {number} frame_ms        time from one frame to the next
 * @property {number} steps_per_frame iterations per frame at the start
 * @property {number} budget_ms       time Python may spend on one frame at the start
 * @property {number} speedup_every   frames after which steps and budget double
 * @property {number} max_speedup     the largest factor that doubling reaches
 * @property {number} max_budget_ms   the largest budget per frame
 */

/**
 * What the page asks for with a `run` message. Without run_id a new run starts (from theta, or
 * from `resume`, an optimizer state kept from an earlier run); with run_id a paused run goes on.
 * @typedef {object} RunParams
 * @property {string} target
 * @property {string} family
 * @property {number|null} k          components, for a family with a K range
 * @property {string} optimizer
 * @property {number[]} theta
 * @property {number} [run_id]        continue this paused run
 * @property {object} [resume]        an optimizer state (advance_run's `state`) to start from
 * @property {number} [max_steps]     stop after this many iterations (Step: 1)
 * @property {Pacing} pacing
 */

/**
 * One frame of a run: vi_core's advance_run reply, plus the run it belongs to.
 * @typedef {object} RunFrame
 * @property {number} run_id
 * @property {boolean} done
 * @property {boolean} converged
 * @property {number} iteration
 * @property {Array<[number, number|null]>} trace  [[iteration, elbo], ...] of this frame
 * @property {object|null} view
 * @property {object|null} state     the optimizer's state (plain JSON): resumable
 */

/**
 * Messages the page sends.
 * @typedef {{type: "boot", runtime: Runtime, port: MessagePort, files?: Object<string, ArrayBuffer>}} BootMessage
 *   first message, on the worker's own channel; `port`: the private channel for all the rest;
 *   `files` for standalone.html (the files Python starts with, as buffers)
 * @typedef {{type: "call", id: number, method: string, params: object}} CallMessage
 *   one vi_core.protocol method (see its docstring)
 * @typedef {{type: "run", id: number, params: RunParams}} RunMessage
 *   an optimization run: frames follow, then a result with the last RunFrame (done or paused)
 * @typedef {{type: "stop", id: number}} StopMessage
 *   pause run `id` after its current frame (it stays open in Python)
 * @typedef {{type: "file", name: string, buffer: ArrayBuffer|null}} FileMessage
 *   standalone.html: the file the worker asked for (need-file), or null if the page has none
 * @typedef {{type: "ping", n: number}} PingMessage
 *   are you there? (sent while no work is outstanding; answered at once with a pong)
 * @typedef {BootMessage | CallMessage | RunMessage | StopMessage | FileMessage | PingMessage} ToWorker
 */

/**
 * Messages the worker sends.
 * @typedef {{type: "progress", stage: "runtime"|"packages"|"vi_core", label: string}} ProgressMessage
 * @typedef {{python: string, numpy: string, scipy: string|null, vi_core: string}} Versions
 *   scipy is null until something imports it
 * @typedef {{type: "ready", versions: Versions}} ReadyMessage
 * @typedef {{type: "result", id: number, result: any}} ResultMessage
 * @typedef {{type: "error", id: number, error: ErrorObject}} ErrorMessage
 * @typedef {{type: "frame", id: number, frame: RunFrame}} FrameMessage
 * @typedef {{type: "fatal", stage: string, error: ErrorObject}} FatalMessage
 * @typedef {{type: "packages", id: number, label: string|null, versions?: Versions}} PackagesMessage
 *   during call `id`, packages its source imports are loading (`label`, e.g. "Loading scipy,
 *   openblas"; repeated while they load), or have loaded (label null, the new versions)
 * @typedef {{type: "need-file", name: string}} NeedFileMessage
 *   standalone.html: Python asks for a file the page did not send at boot (scipy, say)
 * @typedef {{type: "pong", n: number}} PongMessage  the answer to ping n
 * @typedef {{type: "memory", bytes: number, limit: number}} MemoryMessage
 *   Python's memory grew past the limit: the worker has stopped serving (the call that did it
 *   gets no answer) and waits to be replaced
 * @typedef {ProgressMessage | ReadyMessage | ResultMessage | ErrorMessage | FrameMessage | FatalMessage
 *   | PackagesMessage | NeedFileMessage | PongMessage | MemoryMessage} FromWorker
 */

/** @typedef {{name: string, message: string}} ErrorObject */

/** An exception as it crosses the boundary. Python errors arrive with the traceback in their
 * message: keep its last line, which names the error. */
export function errorObject(err) {
  const text = String((err && err.message) || err);
  const lines = text.trim().split("\n");
  return { name: (err && err.name) || "Error", message: lines[lines.length - 1] };
}

/** And back into an Error on the other side. */
export function toError({ name, message }) {
  const err = new Error(message);
  err.name = name;
  return err;
}
