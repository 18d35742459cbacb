// The page's Python: starts the worker (served, inline in standalone.html, or not at all from a
// file:// page), turns its start-up news into store actions, counts calls in flight, and
// replaces a stuck worker.

import { PythonWorker } from "./worker-client.js";

/** Why Python went silent, as far as the page can tell: `busy` (a call not answered for a
 * while) or `idle` (no work outstanding, and no answer to "are you there?"). The likely cause
 * depends on what ran in this worker: only a custom target's code can loop or keep timers. */
export function silenceNotice(kind, state) {
  const own = state.workerRan === "link" ? "the code from the link" : "your target's code";
  if (kind === "busy") {
    return state.workerRan
      ? `Python has been busy for a while without answering: ${own} may be in an endless loop. Restart it: the view is kept.`
      : "Python has been busy for a while without answering (a slow device, or the browser stopped it). Restart it: the view is kept.";
  }
  return state.workerRan
    ? `Python stopped answering while idle: ${own} may still be running in the background (a timer?), or the browser stopped it. Restart it: the view is kept.`
    : "Python stopped answering while idle: the browser stopped it (out of memory, or a crash). Restart it: the view is kept.";
}

const megabytes = (bytes) => `${Math.round(bytes / 2 ** 20)} MB`;

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {import("./messages.js").Runtime} deps.runtime  how the worker gets Pyodide
 * @param {string} deps.scriptUrl  the page's script (the worker sits next to it, in assets/)
 * @param {() => Promise<void>} deps.onUp  once Python is up: the page restores its view
 * @param {string} deps.defaultTarget  what a restart shows in place of a custom target
 */
export function createPython({ store, runtime, scriptUrl, onUp, defaultTarget }) {
  let worker = null;
  let loadingNotice = null; // the notice that says packages are loading, while it shows

  const callbacks = {
    onProgress: ({ stage, label }) => store.pythonLoading({ stage, label }),
    onStall: () => store.pythonStalled(silenceNotice("busy", store.state)),
    onHeard: () => store.pythonHeard(),
    onDead: () => store.pythonStalled(silenceNotice("idle", store.state)),
    onMemory: ({ bytes, limit }) => {
      const what = store.state.workerRan === "link" ? "The code from the link" : store.state.workerRan ? "Your target's code" : "Python";
      api.restart(defaultTarget, `${what} took ${megabytes(bytes)} of memory (the limit is ${megabytes(limit)}), so Python was restarted without it`);
    },
    onPackages: ({ label, versions }) => {
      if (label) {
        loadingNotice = `${label} (your target imports it)…`;
        store.setNotice(loadingNotice, "info");
      }
      if (versions) {
        window.viVersions = versions;
        store.versionsChanged(versions);
        // Loaded: the news is over (unless something else has been said since).
        if (store.state.notice.text === loadingNotice) store.setNotice("");
        loadingNotice = null;
      }
    },
    onReady: (versions) => {
      window.viVersions = versions;
      store.pythonUp(versions);
      onUp();
    },
    onFatal: ({ stage, error }) => {
      const standalone = document.querySelector("script[data-vi-asset]") !== null;
      store.pythonFailed(`Python could not start (${stage}): ${error.message}`,
        location.protocol === "file:" && !standalone
          ? "This page cannot load its Python runtime from a file:// address. Open standalone.html instead, or serve this folder (make serve)."
          : `Python could not start (${stage}): ${error.message}. Reload the page to try again.`);
    },
  };

  function startWorker() {
    const inline = document.querySelectorAll("script[data-vi-asset]");
    if (inline.length) return PythonWorker.fromInlineAssets(inline, callbacks);
    if (location.protocol === "file:") {
      // A page opened from disk may not load the runtime beside it (its origin is null).
      callbacks.onFatal({ stage: "runtime", error: { message: "this page was opened from a file" } });
      return null;
    }
    return new PythonWorker(new URL("worker.js", scriptUrl), callbacks, runtime || { mode: "vendored" });
  }

  const api = {
    start() {
      Promise.resolve(startWorker())
        .then((w) => { worker = w; window.viPython = w; })
        .catch((err) => callbacks.onFatal({ stage: "runtime", error: { message: err.message } }));
    },
    /** The worker, once there (null before, or from a file:// page). */
    worker: () => worker,
    /** One vi_core.protocol method; the page shows itself busy meanwhile. */
    async call(method, params) {
      store.callStarted();
      try {
        return await worker.call(method, params);
      } finally {
        store.callEnded();
      }
    },
    /** One vi_core.protocol method the page does not wait for (the two forces' sweep): the
     * page stays ready meanwhile; what the visitor does next queues behind it. */
    background(method, params) {
      return worker.call(method, params, { background: true });
    },
    /** Replace the worker (stuck, over its memory, or running code the visitor has left);
     * the store keeps the view (see pythonRestarting). `why`: what the page will say. */
    async restart(fallbackTarget, why) {
      store.pythonRestarting(fallbackTarget, why);
      await worker.restart();
    },
  };
  return api;
}
