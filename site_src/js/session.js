// What the page asks vi_core for, outside optimization runs: q from a drag, a field, a link or
// Reset; the target's colour grid; samples; the visitor's own target; and what happens when
// Python comes up (or back after a restart). Each request's answer goes to the store.

import { latestOnly } from "./worker-client.js";
import { CUSTOM, componentCount, requestK, targetEntry } from "./catalog.js";
import { isDefaultData } from "./url-state.js";
import { normaliseSource } from "./source-text.js";
import { isFramed } from "./framing.js";

const RESTING_MS = 300; // q at rest this long: the two forces' sweep follows it (it costs up to ~0.5 s of Python)
/** What the page says while a link's data wait for Python (the build drew the built-in data only). */
export const LINK_DATA_WAIT = "The posterior for the link's data is drawn once Python is ready.";
const SAMPLE_SEED = 1; // the same draws for the same q: the Monte Carlo ELBO is reproducible

/** The defaults' q applies when Reset is pressed on the defaults' target and family (a scene
 * returns to its own q); otherwise the build's precomputed Reset theta, if it is for this K. */
export function resetStart(state, catalog, initial) {
  const d = initial.defaults;
  if (state.data) return { natural: null, theta: null }; // the build's starts are for the built-in data
  if (d.natural && state.target === d.target && state.family === d.family) return { natural: d.natural, theta: null };
  const precomputed = initial.initial_thetas?.[state.target]?.[state.family];
  const defaultK = componentCount(catalog, state.family, state.k) === catalog.family(state.family).k;
  return { natural: null, theta: precomputed && defaultK ? precomputed : null };
}

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {ReturnType<import("./catalog.js").makeCatalog>} deps.catalog
 * @param {object} deps.initial  the page's #vi-initial data (defaults, initial_thetas, ...)
 * @param {ReturnType<import("./python.js").createPython>} deps.python
 * @param {ReturnType<import("./runs.js").createRuns>} deps.runs
 */
export function createSession({ store, catalog, initial, python, runs }) {
  const evaluateLatest = latestOnly((params) => python.call("evaluate", params));
  const samplesLatest = latestOnly((params) => python.call("samples", params));
  const diagnosticsLatest = latestOnly((params) => python.call("diagnostics", params));
  const compareLatest = latestOnly((params) => python.call("compare", params));
  const setDataLatest = latestOnly((params) => python.call("set_data", params));
  // The posterior whose data this Python holds changed (set_data), or null: a fresh Python
  // has none, and leaving that target gives it back its built-in data.
  let dataInPython = null;
  const qParams = (s = store.state) => ({ target: s.target, family: s.family, k: requestK(catalog, s.family, s.k) });
  // What to do once a fresh Python is up, instead of restoring the view (a restart that clears
  // code from a link on the way to something else), or null.
  let afterRestart = null;

  /** Code from a link has run in this Python: what comes next starts in a fresh one, so that
   * nothing that code left behind (timers, callbacks, changed modules) lives on. `next` runs
   * once it is up. Returns whether a restart was needed. */
  async function leaveLinkCode(next) {
    if (store.state.workerRan !== "link") return false;
    afterRestart = next;
    await python.restart(initial.defaults.target, "A fresh Python replaced the one that ran the link's code (whatever that code left running is gone)");
    return true;
  }

  /** After q moved: samples follow it, if they are on. */
  function viewChanged() {
    if (store.state.showSamples) refreshSamples();
  }

  async function refreshSamples() {
    const s = store.state;
    if (!s.view || !(s.python === "ready" || s.python === "starting")) return;
    try {
      const theta = s.view.theta;
      const out = await samplesLatest({ ...qParams(s), theta, n: catalog.samples, seed: SAMPLE_SEED });
      if (!out) return; // superseded by a newer q
      store.samplesArrived(theta, out.points, out.mc);
      // When to distrust q, next to its samples: k-hat and the IW-ELBO (vi_core's defaults).
      const diag = await diagnosticsLatest({ ...qParams(s), theta, seed: SAMPLE_SEED });
      if (diag) store.diagnosticsArrived(theta, diag);
    } catch (err) {
      if (err.name !== "Restarted") store.setNotice(`Could not draw samples: ${err.message}`);
    }
  }

  /** "Compare: reverse vs forward KL": vi_core fits the target and family on show both ways. */
  async function refreshCompare() {
    const s = store.state;
    if (!s.compare || s.python !== "ready") return;
    const asked = { target: s.target, family: s.family, k: s.k, compareWith: s.compareWith };
    const against = catalog.comparison(s.compareWith);
    try {
      const out = await compareLatest({ ...qParams(s), ...(against ? { objective: against.objective, alpha: against.alpha } : {}) });
      if (out) store.comparisonArrived(asked, out);
    } catch (err) {
      if (err.name === "Restarted") return;
      store.setCompare(false);
      store.setNotice(`Could not compare the fits: ${err.message}`);
    }
  }

  /** q as the visitor set it (a handle, a field). */
  async function setNatural(natural) {
    runs.cancel();
    try {
      const view = await evaluateLatest({ ...qParams(), natural });
      if (view) {
        store.qMoved(view);
        viewChanged();
      }
    } catch (err) {
      if (err.name !== "Restarted") store.setNotice(`Those parameters were not accepted: ${err.message}`);
    }
  }

  async function loadTarget() {
    const target = store.state.target;
    store.setTargetGrid(await python.call("target_grid", { target }));
  }

  /** q starts over: from `natural` (a link's), else the Reset q (the trace starts a new
   * segment; earlier runs on the same target stay to compare). */
  async function resetQ(natural = null) {
    runs.cancel();
    const start = natural ? { natural, theta: null } : resetStart(store.state, catalog, initial);
    const view = await python.call("evaluate", { ...qParams(), ...start });
    store.resetView(view);
    viewChanged();
  }

  const startOver = () => resetQ(null);

  /**
   * The posterior on show given `points` (null: its built-in data), atomically: vi_core
   * computes the target, its grid and q (where q is now, if it fits the new plot, else the
   * Reset q) in one request, and only then does the page show them; a refusal puts the data
   * back and says why. A run in flight ends, as for a new target. Drags send many: only the
   * newest waits.
   */
  async function setData(points, { natural = undefined } = {}) {
    runs.cancel();
    const s = store.state;
    const spec = catalog.target(s.target).data;
    const data = points === null || isDefaultData(points, spec) ? null : points;
    store.dataEdited(data);
    const here = natural !== undefined ? natural : (s.view && s.view.target === s.target ? s.view.natural : null);
    const request = (q) => setDataLatest({ ...qParams(s), data, ...(q ? { natural: q } : {}) });
    let out;
    try {
      try {
        out = await request(here);
      } catch (err) {
        if (!here || err.name === "TargetError" || err.name === "Restarted") throw err;
        out = await request(null); // q does not fit the new plot: the Reset q
      }
    } catch (err) {
      if (err.name !== "Restarted") store.dataRefused(`Those data were not accepted: ${err.message}`);
      return;
    }
    if (!out || store.state.target !== s.target) return;
    dataInPython = data === null ? null : s.target;
    // During a drag newer data may already be placed: they stay, and their answer follows.
    const newer = JSON.stringify(store.state.data) !== JSON.stringify(data);
    store.dataApplied(newer ? store.state.data : data, data === null ? null : out.target, out.grid, out.view);
    viewChanged();
  }

  /** Another target from the list: its grid and Reset q (in a fresh Python if code from a
   * link ran in this one; its precomputed view paints meanwhile). */
  async function chooseTarget(target) {
    runs.cancel();
    store.chooseTarget(target);
    store.setNotice("");
    if (dataInPython !== null) {
      // The posterior left behind gets its built-in data back (for when it is chosen again).
      await python.call("set_data", { target: dataInPython, data: null, family: store.state.family, k: requestK(catalog, store.state.family, store.state.k) });
      dataInPython = null;
    }
    if (await leaveLinkCode(async () => { await loadTarget(); await startOver(); })) {
      await paintPrecomputed(null);
      return;
    }
    await loadTarget();
    await startOver();
  }

  /**
   * Make `source` the custom target, atomically: vi_core accepts it, draws its grid and its
   * first q, and only then does the page switch to it (a refusal at any step leaves the page,
   * and vi_core's previous custom target, as they were). Throws the refusal.
   * @param {string} source
   * @param {"typed"|"link"} origin  who wrote it: the visitor, or a link (after consent)
   */
  async function useCustomTarget(raw, origin = "typed") {
    // The one door for code: its line breaks normalised here, as the consent panel shows them.
    const source = normaliseSource(raw);
    // Code runs only on a top-level page (framing.js); the buttons say so, this door holds.
    if (isFramed()) throw new Error("code runs only on a page of its own, not inside a frame: open the link in a new tab");
    runs.cancel();
    const previous = store.state.customTarget ? store.state.customSource : null;
    store.codeRan(origin);
    let accepted = false;
    try {
      const entry = await python.call("set_custom_target", { source });
      accepted = true;
      const params = { ...qParams(), target: CUSTOM };
      const grid = await python.call("target_grid", { target: CUSTOM });
      const view = await python.call("evaluate", { ...params, natural: null, theta: null });
      store.customTargetApplied(entry, source, grid, view);
      viewChanged();
      return entry;
    } catch (err) {
      if (accepted && previous !== null && err.name !== "Restarted") {
        try { await python.call("set_custom_target", { source: previous }); } catch { /* the page no longer offers it */ }
      }
      throw err;
    }
  }

  /** The visitor's own source, from the editor ("Use this target"); says how it went. */
  async function applyTypedSource(source) {
    store.setNotice("");
    const apply = async () => {
      try {
        const t = await useCustomTarget(source, "typed");
        store.setNotice(`Custom target ready: log Z = ${t.log_z.toFixed(4)} (± ${t.log_z_error.toExponential(0)}).`, "info");
      } catch (err) {
        if (err.name !== "Restarted") store.setNotice(`Your target was not accepted: ${err.message}`, "error");
      }
    };
    if (!(await leaveLinkCode(apply))) await apply();
  }

  /** Before Python is ready, a built-in link paints the build's own numbers: the target's
   * colour grid and, unless the link sets q (`natural`) or a K other than the family's own,
   * the Reset view, fetched from the precomputed views (sitegen/render.py). Whatever comes
   * later wins: nothing is painted once Python is up or the visitor has moved on. */
  async function paintPrecomputed(natural) {
    const s = store.state;
    if (s.data !== null) return; // the build computed the built-in data only: Python draws these
    if (!initial.views_url || !catalog.hasTarget(s.target) || !catalog.listed(s.family)) return;
    const dir = `${initial.views_url}${encodeURIComponent(s.target)}/`;
    const wanted = componentCount(catalog, s.family, s.k) === catalog.family(s.family).k && !natural;
    const [grid, view] = await Promise.all([
      fetchJson(`${dir}grid.json`),
      wanted ? fetchJson(`${dir}${encodeURIComponent(s.family)}.json`) : null,
    ]);
    const now = store.state;
    if (now.python !== "loading" || now.target !== s.target || now.family !== s.family || now.k !== s.k) return;
    const usable = (data, target) => data && data.target === target;
    const qShown = now.view && now.view.target === s.target;
    if (usable(view, s.target) && usable(grid, s.target) && view.family === s.family && !qShown) {
      store.firstView(view, grid);
    } else if (usable(grid, s.target) && !(now.targetGrid && now.targetGrid.target === s.target)) {
      store.setTargetGrid(grid);
    }
  }

  /** The visitor consented to the link's code: it becomes the custom target (with the link's
   * q, if any), or, refused by vi_core, the page stays as it is and says why. */
  async function useLinkCode(source, natural) {
    try {
      await useCustomTarget(source, "link");
    } catch (err) {
      if (err.name !== "Restarted") store.setNotice(`The link's code was not accepted: ${err.message}`);
      return;
    }
    if (!natural) return;
    try {
      await resetQ(natural);
    } catch (err) {
      if (err.name !== "Restarted") store.setNotice(`The link's q was not accepted (${err.message}); showing the default q.`);
    }
  }

  /** Python is up (the first time, or after a restart): bring the page to where the visitor
   * is, then open the controls. */
  async function pythonUp({ firstPaint, urlNatural }) {
    const restarted = store.state.restarts > 0;
    dataInPython = null; // a fresh Python: every posterior has its built-in data
    try {
      const s = store.state;
      if (s.data !== null && !(restarted && afterRestart)) {
        // A posterior given other data (the link's, or the visitor's before a restart): one
        // request draws it with q (the link's, or where q was).
        const q = restarted ? (s.view && s.view.target === s.target ? s.view.natural : null) : urlNatural;
        await setData(s.data, { natural: q && q.scales ? q : null });
        const n = store.state.notice;
        if (n.text.includes(LINK_DATA_WAIT)) store.setNotice(n.text.replace(LINK_DATA_WAIT, "").trim(), n.kind);
        if (store.state.dataTarget !== null) {
          if (restarted) store.restartDone(true);
          store.pythonReady();
          return;
        } // refused (the notice says why): the built-in data, as below
      }
      if (!s.targetGrid || s.targetGrid.target !== s.target) await loadTarget();
      if (restarted && afterRestart) {
        const next = afterRestart;
        afterRestart = null;
        store.restartDone(false);
        await next();
      } else if (restarted) {
        await restoreView();
      } else if (!firstPaint) {
        let natural = urlNatural;
        if (natural && !natural.scales) {
          // A link with means only: the family's default scales fill in.
          const defaults = await python.call("evaluate", qParams());
          const [have, want] = [natural.means.length, defaults.natural.means.length];
          if (have === want) natural = { ...natural, scales: defaults.natural.scales };
          else {
            natural = null;
            store.setNotice(`The link's q has ${have} component${have === 1 ? "" : "s"} and ${catalog.family(store.state.family).name} has ${want}; showing its default q.`);
          }
        }
        try {
          await resetQ(natural);
        } catch (err) {
          store.setNotice(`The link's q was not accepted (${err.message}); showing the default q.`);
          await resetQ();
        }
      }
    } catch (err) {
      if (err.name === "Restarted") return; // a new Python is coming up: its own pythonUp follows
      store.setNotice(err.message, "error");
    }
    store.pythonReady();
  }

  /** After a restart: the same target, family and q (and a paused run keeps its memory), and
   * a notice that says why the restart happened and what it could not keep. */
  async function restoreView() {
    const s = store.state;
    let restored = false;
    if (s.view && s.view.target === s.target && targetEntry(catalog, s.target, s.customTarget, s.dataTarget)) {
      const view = await python.call("evaluate", { ...qParams(s), theta: s.view.theta });
      store.showView(view);
      viewChanged();
      restored = true;
    } else {
      await startOver();
    }
    store.restartDone(restored);
  }

  /** Replace a stuck Python (the visitor pressed Restart); the page keeps its state. A custom
   * target that may be the cause is not run again (its source stays in the editor). */
  async function restart() {
    afterRestart = null;
    await python.restart(initial.defaults.target, "Python was restarted");
  }

  // ---- the two forces: the ELBO's terms as q is scaled, around q once it is at rest
  const forcesLatest = latestOnly((params) => python.background("forces", params));
  let forcesTimer = null;
  let forcesAsked = ""; // the q whose sweep was last asked for (asked once, whatever the answer)

  /**
   * Keep the two-forces sweep on the q on show, once q is at rest: after a drag, a run, a new
   * target. `wanted`: whether the chart shows at all (no work for a hidden chart). Called with
   * every new state (main.js); asks at most once per q, RESTING_MS after q stopped.
   */
  function followForces(s, wanted) {
    clearTimeout(forcesTimer);
    if (!wanted || !s.view || s.python !== "ready" || s.dragging !== null || s.run !== null || s.view.target !== s.target) return;
    const params = { ...qParams(s), theta: s.view.theta };
    const key = JSON.stringify([params, s.data]); // a posterior's data change its terms too
    if (key === forcesAsked) return;
    forcesTimer = setTimeout(async () => {
      forcesAsked = key;
      try {
        const out = await forcesLatest(params);
        if (out) store.forcesArrived({ ...out, target: params.target, family: params.family, k: s.view.k, natural: s.view.natural, data: s.data });
      } catch (err) {
        if (err.name !== "Restarted") store.forcesFailed(err.message);
        else forcesAsked = "";
      }
    }, RESTING_MS);
  }

  return { setNatural, setData, refreshSamples, refreshCompare, loadTarget, resetQ, startOver, chooseTarget, useCustomTarget, applyTypedSource, useLinkCode,
    pythonUp, restart, paintPrecomputed, followForces };
}

/** A precomputed file, or null if it cannot be had (Python paints it later). */
async function fetchJson(url) {
  try {
    const response = await fetch(url);
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}
