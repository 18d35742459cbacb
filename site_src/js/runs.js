// Optimization runs: the one owner of Optimize, Step, Stop and cancel, and of their pacing.
//
// Optimize and Step take the same path: the worker's `run` message (messages.js, RunParams),
// paced by the optimizer's row of the catalog's pacing table; a Step is a run of one
// iteration. A run that stops before the end stays open in vi_core, paused, and the next
// Optimize or Step continues it with the optimizer's memory (L-BFGS's history); its latest
// optimizer state is kept too, so that after a Python restart it starts again from there.

import { requestK } from "./catalog.js";

/** Which run params a press of Optimize (kind "optimize") or Step ("step") sends. Pure.
 * @returns {import("./messages.js").RunParams} */
export function runParams(state, catalog, kind) {
  const params = {
    target: state.target,
    family: state.family,
    k: requestK(catalog, state.family, state.k),
    optimizer: state.optimizer,
    theta: state.view.theta,
    pacing: catalog.pacing(state.optimizer),
  };
  const paused = state.pausedRun;
  if (paused && paused.runId !== null) params.run_id = paused.runId;
  else if (paused && paused.optState) params.resume = paused.optState;
  if (kind === "step") params.max_steps = 1;
  return params;
}

/** The notice at the end of a run; `message` is the optimizer's reason for stopping
 * (vi_core's state.message), which says whether pressing Optimize again can help. */
export function endNotice(converged, iteration, message = "max_iter reached") {
  if (converged) return `Converged after ${iteration} iterations.`;
  if (message === "max_iter reached") return `Stopped after the iteration limit (${iteration}); press Optimize to continue.`;
  return `Stopped after ${iteration} iterations without converging: ${message}.`;
}

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {ReturnType<import("./catalog.js").makeCatalog>} deps.catalog
 * @param {() => import("./worker-client.js").PythonWorker|null} deps.worker  the worker, once there
 * @param {(view: object) => void} deps.onView  after a run moved q (e.g. to redraw samples)
 */
export function createRuns({ store, catalog, worker, onView }) {
  /** Close a run in vi_core that no one will continue. */
  const close = (runId) => {
    if (runId !== null && runId !== undefined && worker()) {
      worker().call("finish_run", { run_id: runId, reason: "discarded" }).catch(() => {});
    }
  };

  async function go(kind) {
    const py = worker();
    const params = runParams(store.state, catalog, kind);
    const { id, promise } = py.run(params, (frame) => {
      if (store.runFrame(id, frame) && frame.view) onView(frame.view);
    });
    store.runStarted(id, kind);
    try {
      const result = await promise;
      if (!store.state.run || store.state.run.id !== id) {
        // Cancelled while it ran (q changed under it): nobody continues it.
        if (!result.done) close(result.run_id);
        return;
      }
      if (store.runFrame(id, result) && result.view) onView(result.view);
      store.runEnded(id, { done: result.done });
      if (result.done) {
        store.setNotice(endNotice(result.converged, store.state.iteration, result.state?.message), "info");
      }
    } catch (err) {
      const current = store.state.run && store.state.run.id === id;
      if (current) {
        store.runEnded(id, { done: true });
        store.setNotice(`Optimization failed: ${err.message}`, "error");
      }
    }
  }

  /** Stop: the run pauses after its current frame and its last q stays. */
  function stop() {
    const run = store.state.run;
    if (run) worker().stop(run.id);
  }

  /** Forget the paused run (its q, or its optimizer, is no longer the visitor's). */
  function discardPaused() {
    const paused = store.state.pausedRun;
    if (paused) {
      close(paused.runId);
      store.pausedRunDropped();
    }
  }

  return {
    stop,
    discardPaused,
    /** The Optimize button: start (or continue) a run, or, while one runs, stop it. */
    async optimize() {
      const run = store.state.run;
      if (run && run.kind === "optimize") return stop();
      if (run || !store.state.view) return;
      store.setNotice("");
      await go("optimize");
    },
    /** The Step button: one iteration, on the same path. */
    async step() {
      if (store.state.run || !store.state.view) return;
      await go("step");
    },
    /** q is about to change under the run (a drag, Reset, another target): drop the run in
     * flight and any paused one. */
    cancel() {
      const run = store.state.run;
      if (run) {
        worker().stop(run.id);
        store.runCancelled();
      }
      discardPaused();
    },
  };
}
