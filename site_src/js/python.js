// The page's Python: starts the worker (served, inline in standalone.html, or not at all from a
// file:// page), turns its start-up news into store actions, counts calls in flight, and
// replaces a stuck worker.

import { PythonWorker } from "./worker-client.js";

const STALL_NOTICE = "Python has been busy for a while without answering (an endless loop in your target?). Restart it: the view is kept.";

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {import("./messages.js").Runtime} deps.runtime  how the worker gets Pyodide
 * @param {string} deps.scriptUrl  the page's script (the worker sits next to it, in assets/)
 * @param {() => Promise<void>} deps.onUp  once Python is up: the page restores its view
 */
export function createPython({ store, runtime, scriptUrl, onUp }) {
  let worker = null;
  let loadingNotice = null; // the notice that says packages are loading, while it shows

  const callbacks = {
    onProgress: ({ stage, label }) => store.pythonLoading({ stage, label }),
    onStall: () => store.pythonStalled(STALL_NOTICE),
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

  return {
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
    /** Replace a stuck worker; the store keeps the view (see pythonRestarting). */
    async restart(fallbackTarget) {
      store.pythonRestarting(fallbackTarget);
      await worker.restart();
    },
  };
}
