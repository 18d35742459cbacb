// The page's one store: the whole state, declared once, and the only functions that change it
// (the actions below). The state object is frozen and replaced on every change, so nothing
// else can write it; subscribers (the renderers, the URL) are told once per batch of changes.
//
// Data flows one way: an event (a click, a drag, a reply from vi_core) calls an action ->
// the state changes -> subscribers render it. Rendering never writes state.

/**
 * The whole state of the page. Every field is here, with what it means.
 * @param {{target: string, family: string, k: number|null, optimizer: string,
 *          customSource: string|null, linkCode?: string|null, data?: Array|null,
 *          notice?: {text: string, kind: string}}} start
 */
export function initialState(start) {
  return {
    // ---- what q is fitted to, and how
    target: start.target, // id of the target on show: a catalog id, or "custom"
    family: start.family, // id of q's family
    k: start.k ?? null, // chosen K for a family with a K range; null: the family's default
    optimizer: start.optimizer, // id of the optimizer Optimize and Step use
    customSource: start.customSource ?? null, // Python source of the custom target (it travels in the link), or null
    customTarget: null, // the custom target's entry (catalog shape, with ranges) once vi_core accepted it, or null
    data: start.data ?? null, // the data of the posterior on show, if the visitor (or the link) changed
    //                           them: numbers, or [input, label] pairs; null: its built-in data
    dataTarget: null, // vi_core's entry for the posterior given `data` (extent, log Z, ranges), once computed
    linkCode: start.linkCode ?? null, // Python source that came in the link and waits for the visitor's consent
    //                                  (shown, not run; "Run" makes it the custom target), or null

    // ---- what is shown
    targetGrid: null, // {target, extent, nx, ny, log_density} of the target on show, or null
    view: null, // the latest view of q from vi_core (see vi_core/protocol.py), or null
    selected: 0, // index of the selected component: its scale handles and fields show
    dragging: null, // the handle being dragged: {key, x, y} (it follows the pointer, data coordinates), or null
    showSamples: false, // is "Show samples from q" on
    samples: null, // {theta, points, mc: {elbo, error, n}} drawn from q with that theta, or null
    forces: null, // the ELBO's two terms as q is scaled (vi_core's `forces`) around the q whose
    //               theta it carries: {target, data, family, k, theta, natural, factors, expected_log_density, entropy, elbo}
    forcesError: "", // why there is no such sweep for the q on show (vi_core's message), or ""
    diagnostics: null, // {theta, khat, ess, n, iw_elbo, iw_se, iw_k, iw_n, log_z, reading, caveat}:
    //                    vi_core's k-hat and IW-ELBO of q at that theta (with the samples), or null
    compare: false, // is "Compare: reverse vs forward KL" on
    compareWith: null, // the id of the catalog's comparison set beside the reverse-KL fit (null: the first)
    comparison: null, // vi_core's compare of the target and family on show: {target, family, k,
    //                   reverse: fit, forward: fit, note} (protocol.py), or null (none yet, or left)

    // ---- the ELBO trace: the current run's segment, and earlier runs on the same target
    trace: [], // [[iteration, elbo]] of the current segment: q's ELBO where it started (a Reset,
    //            a drag, a new target...), then each iteration of the run from there
    traceOf: null, // the segment's q: {target, family, k} (a run belongs to one of each)
    iteration: 0, // iterations of the current run
    traceOptimizer: null, // id of the optimizer that drew `trace`; null before any step
    traceMode: "elbo", // "elbo", or "gap": log Z - ELBO on a log scale
    trail: [], // the optimizer's path in this segment: q's means at its start and at every frame
    //            of its runs, [[[x, y] per component], ...] (drawn faintly on the plot)
    ghosts: [], // earlier runs on this target, greyed: [{label, trace, target}], newest last

    // ---- optimization runs (runs.js)
    run: null, // the run in flight: {id (the worker's request id), kind: "optimize"|"step",
    //            runId (vi_core's run id, once known), optState (its latest optimizer state)}
    pausedRun: null, // an open, paused run that Optimize or Step continue:
    //                  {runId (null after a Python restart: start anew from optState), optState}
    resumeWhenVisible: false, // an Optimize run was paused because the frame left the screen:
    //                           it goes on when the frame is back

    // ---- Python
    python: "loading", // "loading" | "starting" (up; the page restores its view) | "ready" | "failed"
    progress: null, // the start-up stage under way: {stage, label}, or null
    versions: null, // {python, numpy, scipy, vi_core} once Python is up
    failure: null, // why Python could not start ("(stage): message"), or null
    pending: 0, // calls to Python in flight
    stalled: false, // Python silent too long (busy, or idle and not answering): the restart button shows
    restarts: 0, // times Python was restarted
    restartWhy: "", // why the restart under way happened (the notice once Python is back), or ""
    restartLost: "", // what the restart under way could not keep (said with it), or ""
    workerRan: null, // code beyond vi_core that this Python has run: null, "typed" (the visitor's
    //                  own), or "link" (code from the link, after consent; leaving its target
    //                  replaces the worker, so its timers and changes die with it)

    // ---- the one-line message
    notice: start.notice ?? { text: "", kind: "warning" }, // {text, kind: "warning"|"info"|"error"}; "" hides it
  };
}

// Presentation choices of the trace (not q's rules: those come from the catalog).
const GHOSTS_KEPT = 3;
const TRAIL_KEPT = 600; // frames of the optimizer's trail
// Leaving a target or family (or K) ends the comparison of its fits.
const noComparison = Object.freeze({ compare: false, comparison: null });

/**
 * @param {{optimizer: (id: string) => {name: string}}} catalog  for the ghosts' labels
 * @param {ReturnType<typeof initialState>} init
 * @param {{schedule?: (fn: () => void) => void}} [options]  how to batch notifications
 *   (default: once per microtask; tests pass a synchronous one)
 */
export function createStore(catalog, init, { schedule = queueMicrotask } = {}) {
  let state = Object.freeze({ ...init });
  const subscribers = new Set();
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    for (const fn of subscribers) fn(state);
  };
  const set = (patch) => {
    state = Object.freeze({ ...state, ...patch });
    if (!scheduled) {
      scheduled = true;
      schedule(flush);
    }
  };
  /** A new view: the selection stays valid. */
  const viewPatch = (view, s = state) => ({
    view,
    selected: Math.min(s.selected, view.components.means.length - 1),
  });
  /** A new segment of the trace that starts at `view`'s ELBO. The segment that ends, if a run
   * drew it, stays as a ghost while its target is on show (a trace never mixes targets: their
   * log Z differ). */
  const newSegment = (view, s = state) => {
    let ghosts = s.ghosts;
    if (s.trace.length > 1 && s.traceOptimizer && s.traceOf) {
      ghosts = [...ghosts, { label: runLabel(catalog, s.traceOf, s.traceOptimizer), trace: s.trace, target: s.traceOf.target }];
    }
    return {
      ghosts: ghosts.filter((g) => g.target === view.target).slice(-GHOSTS_KEPT),
      trace: [[0, view.readouts.elbo]], traceOf: { target: view.target, family: s.family, k: view.k }, // (view.family may be an alias: "mixture-full-3")
      iteration: 0, traceOptimizer: null, trail: [],
    };
  };

  const actions = {
    // ---- messages and Python
    setNotice(text, kind = "warning") {
      set({ notice: { text, kind } });
    },
    callStarted() {
      set({ pending: state.pending + 1 });
    },
    callEnded() {
      set({ pending: Math.max(0, state.pending - 1) });
    },
    pythonLoading(progress) {
      set({ python: "loading", progress });
    },
    /** Python is up; the page now restores its view (controls wait for pythonReady). */
    pythonUp(versions) {
      set({ python: "starting", versions, progress: null, stalled: false });
    },
    /** Python loaded more packages (a custom target imported them). */
    versionsChanged(versions) {
      set({ versions });
    },
    pythonReady() {
      set({ python: "ready" });
    },
    pythonFailed(failure, noticeText) {
      set({ python: "failed", failure, notice: { text: noticeText, kind: "error" } });
    },
    pythonStalled(noticeText) {
      set({ stalled: true, notice: { text: noticeText, kind: "error" } });
    },
    /** Python answered after all: the restart button goes, and the notice that offered it. */
    pythonHeard() {
      if (!state.stalled) return;
      set({ stalled: false, notice: state.notice.kind === "error" ? { text: "", kind: "warning" } : state.notice });
    },
    /** This Python is about to run code beyond vi_core (a custom target's). */
    codeRan(kind) {
      set({ workerRan: state.workerRan === "link" ? "link" : kind });
    },
    /**
     * A new Python replaces this one (stuck, over its memory, or leaving code from a link
     * behind; `why` says which). The view stays; a run in flight or paused becomes a paused run
     * without a vi_core id (it restarts from its optimizer state). The new Python has no custom
     * target: one on show, which may be what went wrong, is not run again (its source stays in
     * the editor) and the page falls back to `fallbackTarget`.
     */
    pythonRestarting(fallbackTarget, why = "Python was restarted") {
      const optState = state.run?.optState ?? state.pausedRun?.optState ?? null;
      const patch = {
        python: "loading", progress: null, stalled: false, restarts: state.restarts + 1, run: null,
        pausedRun: state.run || state.pausedRun ? { runId: null, optState } : null,
        notice: { text: "Restarting Python…", kind: "info" }, customTarget: null, workerRan: null,
        restartWhy: why, restartLost: "",
      };
      if (state.target === "custom") {
        Object.assign(patch, { target: fallbackTarget, targetGrid: null, pausedRun: null,
          restartLost: "Your custom target was not run again (it may be what went wrong); its code is still in \u201cYour own target density\u201d." });
      }
      set(patch);
    },
    /** The restart is over: say why it happened and what it could not keep. */
    restartDone(restored) {
      const parts = [state.restartWhy + ".", restored ? "Your view is back." : "", state.restartLost];
      set({ restartWhy: "", restartLost: "", notice: { text: parts.filter(Boolean).join(" "), kind: "info" } });
    },

    // ---- choices
    /** Another target: a posterior on it shows its built-in data. */
    chooseTarget(target) {
      set({ target, ...noComparison, data: null, dataTarget: null });
    },
    /** The visitor placed the posterior's data (`null`: the built-in data); vi_core's answer
     * follows (dataApplied, or dataRefused). */
    dataEdited(data) {
      set({ data });
    },
    /** vi_core computed the posterior: its entry (`dataTarget`, null for the built-in data),
     * colour grid and q, all at once (the trace starts over: log Z changed); `data`: the data
     * placed now (newer ones, during a drag, whose answer follows). */
    dataApplied(data, dataTarget, targetGrid, view) {
      set({
        data, dataTarget, targetGrid, ...noComparison, forces: null,
        ...viewPatch(view, { ...state, selected: 0 }),
        ...newSegment(view, { ...state, trace: [], ghosts: [] }),
      });
    },
    /** vi_core refused the data: they go back to those on show. */
    dataRefused(noticeText) {
      set({ data: state.dataTarget ? state.dataTarget.data.points : null, notice: { text: noticeText, kind: "warning" } });
    },
    chooseFamily(family) {
      set({ family, ...noComparison });
    },
    chooseK(k) {
      set({ k, ...noComparison });
    },
    /** Another optimizer: a paused run (of the old one) is over. */
    chooseOptimizer(optimizer) {
      set({ optimizer, pausedRun: null });
    },
    setTargetGrid(targetGrid) {
      set({ targetGrid });
    },
    /** vi_core accepted a custom target and drew it: it becomes the target on show, with its
     * grid and first view, all at once (the trace starts over). */
    customTargetApplied(entry, source, targetGrid, view) {
      set({
        customTarget: { ...entry, name: "Custom (your log_density)" }, customSource: source, target: "custom", targetGrid,
        ...noComparison,
        data: null, dataTarget: null,
        ...viewPatch(view, { ...state, selected: 0 }),
        ...newSegment(view, { ...state, trace: [], ghosts: [] }), // an earlier custom target is another target
      });
    },
    /** The visitor ran the link's code, or declined it: it no longer waits. */
    linkCodeSettled(noticeText = "", kind = "info") {
      set({ linkCode: null, ...(noticeText ? { notice: { text: noticeText, kind } } : {}) });
    },

    // ---- q
    /** A new view of q (a drag, a field, a run's frame). */
    showView(view) {
      set(viewPatch(view));
    },
    /**
     * q starts over (Reset, a new target, family or K): a new view, the first component
     * selected and a new segment of the trace. A run's
     * segment stays, greyed, to compare with the next run, as long as its target is on show.
     */
    resetView(view) {
      set({ ...viewPatch(view, { ...state, selected: 0 }), ...newSegment(view) });
    },
    /** The visitor moved q (a drag, a field): the run is over and its "Converged" with it; the
     * trace's next segment starts at the ELBO of q where the visitor left it, so the next
     * Optimize draws the climb back. */
    qMoved(view) {
      const segment = state.trace.length > 1 || !state.traceOf || state.traceOf.target !== view.target
        ? newSegment(view) : { trace: [[0, view.readouts.elbo]], trail: [] };
      const notice = state.notice.kind === "info" ? { text: "", kind: "warning" } : state.notice;
      set({ ...viewPatch(view), ...segment, notice });
    },
    /** The first view, embedded by the build: shown before Python is up. */
    firstView(view, targetGrid) {
      set({ ...viewPatch(view, { ...state, selected: 0 }), targetGrid, ...newSegment(view) });
    },
    dragTo(key, x, y) {
      set({ dragging: { key, x, y } });
    },
    /** The drag of handle `key` is over (its last q has arrived). */
    dragEnded(key) {
      if (state.dragging && state.dragging.key === key) set({ dragging: null });
    },
    select(k) {
      if (state.view && k >= 0 && k < state.view.components.means.length) set({ selected: k });
    },
    setTraceMode(traceMode) {
      set({ traceMode });
    },
    setShowSamples(showSamples) {
      set({ showSamples });
    },
    /** vi_core's k-hat and IW-ELBO for the view whose theta is `theta`; ignored if q has moved on. */
    diagnosticsArrived(theta, diagnostics) {
      if (!state.view || state.view.theta !== theta) return false;
      set({ diagnostics: { theta, ...diagnostics } });
      return true;
    },
    /** "Compare: reverse vs forward KL" on or off (off forgets the comparison). */
    setCompare(compare) {
      set(compare ? { compare } : noComparison);
    },
    /** What the comparison sets beside the reverse-KL fit (a catalog comparison's id): the
     * fits of the old one are forgotten. */
    chooseComparison(compareWith) {
      set({ compareWith, comparison: null });
    },
    /** The reverse- and forward-KL fits of `asked` ({target, family, k, compareWith}); ignored
     * if the toggle is off or the page has left that target, family or comparison since. */
    comparisonArrived(asked, comparison) {
      const s = state;
      if (!s.compare || s.target !== asked.target || s.family !== asked.family || s.k !== asked.k
        || s.compareWith !== (asked.compareWith ?? null)) return false;
      set({ comparison });
      return true;
    },
    /** Samples drawn for the view whose theta is `theta`; ignored if q has moved on since. */
    samplesArrived(theta, points, mc) {
      if (!state.view || state.view.theta !== theta) return false;
      set({ samples: { theta, points, mc } });
      return true;
    },

    /** The two terms' sweep around q = `forces.theta` (on `forces.target` x family x K). */
    forcesArrived(forces) {
      set({ forces, forcesError: "" });
    },
    forcesFailed(message) {
      set({ forces: null, forcesError: message });
    },

    // ---- runs (runs.js calls these)
    /** A run starts: it takes over the paused run, if any. */
    runStarted(id, kind) {
      const paused = state.pausedRun;
      const fresh = !paused && state.view && state.trace.length > 1 ? newSegment(state.view) : {};
      set({ run: { id, kind, runId: paused ? paused.runId : null, optState: paused ? paused.optState : null },
        pausedRun: null, ...fresh });
    },
    /** Frame of run `id`: iterations join the trace, q moves. Ignored if that run is no
     * longer the one in flight (cancelled). Returns whether it was taken. */
    runFrame(id, frame) {
      if (!state.run || state.run.id !== id) return false;
      const trace = [...state.trace];
      let iteration = state.iteration;
      for (const [, elbo] of frame.trace) trace.push([++iteration, elbo]);
      let trail = state.trail;
      if (frame.view && frame.view.k === (state.view && state.view.k)) {
        const start = trail.length || !state.view ? [] : [state.view.components.means];
        trail = [...trail, ...start, frame.view.components.means].slice(-TRAIL_KEPT);
      }
      set({
        ...(frame.view ? viewPatch(frame.view) : {}),
        trace: frame.trace.length ? trace : state.trace, iteration, trail,
        traceOptimizer: frame.trace.length ? state.optimizer : state.traceOptimizer,
        run: { ...state.run, runId: frame.run_id ?? state.run.runId, optState: frame.state ?? state.run.optState },
      });
      return true;
    },
    /** Run `id` ended: done (its vi_core run is closed) or paused (it stays open). */
    runEnded(id, { done }) {
      if (!state.run || state.run.id !== id) return;
      const { runId, optState } = state.run;
      set({ run: null, pausedRun: done ? null : { runId, optState } });
    },
    /** q changes under the run in flight: it is dropped (runs.js closes it in vi_core). */
    runCancelled() {
      set({ run: null });
    },
    pausedRunDropped() {
      set({ pausedRun: null });
    },
    /** The page left the screen (an embedded frame scrolled away) with Optimize running: it
     * pauses, to go on when the page is back (resumedWhenVisible). */
    pausedWhileHidden() {
      set({ resumeWhenVisible: true });
    },
    resumedWhenVisible() {
      set({ resumeWhenVisible: false });
    },
  };

  return {
    get state() {
      return state;
    },
    /** Call fn(state) after every batch of changes; returns the unsubscribe function. */
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
    ...actions,
  };
}

/** A run's label: "Full Gaussian · L-BFGS" (with K for a family with a K range). */
export function runLabel(catalog, { family, k }, optimizer) {
  const f = catalog.family(family);
  const withK = catalog.kRange && catalog.kRange(family) ? `${f.name} (K = ${k})` : f.name;
  return `${withK} \u00b7 ${catalog.optimizer(optimizer).name}`;
}

/** The series the trace draws, oldest first: the ghosts, then the current segment (labelled
 * "q now" until a run draws it). Pure; the trace exposes it as data-series for tests. */
export function traceSeries(state, catalog) {
  const current = state.traceOptimizer && state.traceOf ? runLabel(catalog, state.traceOf, state.traceOptimizer) : "q now";
  return [...state.ghosts.map((g) => ({ label: g.label, points: g.trace })), { label: current, points: state.trace }];
}

/** What the page tells about itself (`data-vi-status`): loading | busy | ready | error. */
export function pageStatus(state) {
  if (state.python === "failed") return "error";
  if (state.python === "loading") return "loading";
  if (state.python === "starting") return "busy";
  return state.pending > 0 || state.run !== null ? "busy" : "ready";
}
