import { test } from "node:test";
import assert from "node:assert/strict";
import { createStore, initialState, pageStatus, traceSeries } from "../../site_src/js/store.js";
import { catalog, gaussianView } from "./fixtures.js";

const sync = { schedule: (fn) => fn() };
const START = { target: "banana", family: "gaussian-full", k: null, optimizer: "lbfgs", customSource: null };
const make = (extra = {}) => createStore(catalog, initialState({ ...START, ...extra }), sync);
const withKl = (kl, elbo = 1.2 - kl) => {
  const view = gaussianView();
  view.readouts = { ...view.readouts, kl, elbo };
  view.theta = [kl]; // a distinct theta per view
  return view;
};

test("the state is declared whole and cannot be written from outside", () => {
  const store = make();
  const fields = Object.keys(store.state);
  for (const key of ["target", "view", "trace", "traceOf", "run", "pausedRun", "customTarget", "customSource", "restarts", "notice", "dragging"]) {
    assert.ok(fields.includes(key), key);
  }
  assert.throws(() => { store.state.iteration = 3; }, TypeError);
  assert.throws(() => { store.state.newField = 1; }, TypeError);
});

test("subscribers hear once per batch, with the new state", async () => {
  const store = createStore(catalog, initialState(START)); // default: batched per microtask
  const seen = [];
  store.subscribe((s) => seen.push([s.target, s.family]));
  store.chooseTarget("ring");
  store.chooseFamily("mixture-3");
  assert.deepEqual(seen, []);
  await Promise.resolve();
  assert.deepEqual(seen, [["ring", "mixture-3"]]);
});

const finishRun = (store, id, elbos) => {
  store.runStarted(id, "optimize");
  store.runFrame(id, { run_id: id, trace: elbos.map((e, i) => [i + 1, e]), view: withKl(1.2 - elbos[elbos.length - 1]), state: null });
  store.runEnded(id, { done: true });
};
const onTarget = (target, view = withKl(4)) => ({ ...view, target });

test("Reset keeps a finished run as a labelled ghost to compare", () => {
  const store = make();
  store.resetView(withKl(4));
  store.runStarted(1, "optimize");
  store.runFrame(1, { run_id: 9, trace: [[1, -2], [2, -1.5]], view: withKl(2.7), state: { memory: [1] } });
  assert.deepEqual(store.state.trace, [[0, -2.8], [1, -2], [2, -1.5]]);
  assert.equal(store.state.iteration, 2);
  store.runEnded(1, { done: true });
  store.resetView(withKl(4));
  assert.deepEqual(store.state.ghosts, [{ label: "Full Gaussian \u00b7 L-BFGS", trace: [[0, -2.8], [1, -2], [2, -1.5]], target: "banana" }]);
  assert.deepEqual(store.state.trace, [[0, -2.8]]);
  assert.equal(store.state.traceOptimizer, null);
  store.resetView(withKl(4)); // nothing ran since: no new ghost
  assert.equal(store.state.ghosts.length, 1);
});

test("a trace never mixes targets: another target drops every earlier run; another family keeps them, labelled", () => {
  const store = make();
  store.resetView(withKl(4));
  finishRun(store, 1, [-2, -1]);
  store.chooseFamily("mixture-full");
  store.resetView({ ...withKl(4), family: "mixture-full-3", k: 3 }); // vi_core names the view by its alias
  assert.deepEqual(store.state.ghosts.map((g) => g.label), ["Full Gaussian \u00b7 L-BFGS"]);
  finishRun(store, 2, [-1.9, -0.9]);
  store.resetView({ ...withKl(4), family: "mixture-full-3", k: 3 }); // vi_core names the view by its alias
  assert.deepEqual(store.state.ghosts.map((g) => g.label), ["Full Gaussian \u00b7 L-BFGS", "Mixture of K full Gaussians (K = 3) \u00b7 L-BFGS"]);
  store.chooseTarget("ring");
  store.resetView(onTarget("ring"));
  assert.deepEqual([store.state.ghosts, store.state.trace], [[], [[0, -2.8]]]);
});

test("a drag ends the run: its notice goes, and the next segment starts at the dragged ELBO", () => {
  const store = make();
  store.resetView(withKl(4));
  finishRun(store, 1, [-2, -1]);
  store.setNotice("Converged after 2 iterations.", "info");
  store.qMoved(withKl(20)); // dragged far away
  assert.deepEqual([store.state.trace, store.state.iteration, store.state.notice.text], [[[0, -18.8]], 0, ""]);
  assert.deepEqual(store.state.ghosts.map((g) => g.trace), [[[0, -2.8], [1, -2], [2, -1]]]);
  store.qMoved(withKl(21)); // the drag goes on: the start moves, no new ghost
  assert.deepEqual([store.state.trace, store.state.ghosts.length], [[[0, -19.8]], 1]);
  store.runStarted(2, "optimize");
  store.runFrame(2, { run_id: 2, trace: [[1, -5]], view: withKl(6.2), state: null });
  assert.deepEqual(store.state.trace, [[0, -19.8], [1, -5]]);
  assert.equal(store.state.iteration, 1);
  store.setNotice("The link had problems", "warning");
  store.qMoved(withKl(3));
  assert.equal(store.state.notice.text, "The link had problems"); // only a run's news goes
});

test("a new Optimize after a finished run is a new run: iterations count from 1 again", () => {
  const store = make();
  store.resetView(withKl(4));
  finishRun(store, 1, [-2, -1]);
  store.runStarted(2, "optimize");
  store.runFrame(2, { run_id: 2, trace: [[1, -0.5]], view: withKl(1.7), state: null });
  assert.deepEqual([store.state.trace.map((p) => p[0]), store.state.trace[1][1], store.state.iteration, store.state.ghosts.length],
    [[0, 1], -0.5, 1, 1]);
});

test("the series the trace draws, labelled", () => {
  const store = make();
  store.resetView(withKl(4));
  assert.deepEqual(traceSeries(store.state, catalog), [{ label: "q now", points: [[0, -2.8]] }]);
  finishRun(store, 1, [-2]);
  assert.deepEqual(traceSeries(store.state, catalog), [{ label: "Full Gaussian \u00b7 L-BFGS", points: [[0, -2.8], [1, -2]] }]);
  store.chooseOptimizer("adam");
  store.resetView(withKl(4));
  assert.deepEqual(traceSeries(store.state, catalog).map((x) => x.label), ["Full Gaussian \u00b7 L-BFGS", "q now"]);
});

test("at most three ghosts, the newest kept", () => {
  const store = make();
  for (let i = 0; i < 5; i++) {
    store.resetView(withKl(4));
    store.chooseOptimizer(i % 2 ? "adam" : "lbfgs");
    store.runStarted(i, "optimize");
    store.runFrame(i, { run_id: i, trace: [[1, -i]], view: withKl(3), state: null });
    store.runEnded(i, { done: true });
  }
  store.resetView(withKl(4));
  assert.deepEqual(store.state.ghosts.map((g) => g.label), ["Full Gaussian \u00b7 L-BFGS", "Full Gaussian \u00b7 Adam", "Full Gaussian \u00b7 L-BFGS"]);
  assert.deepEqual(store.state.ghosts.map((g) => g.trace[1][1]), [-2, -3, -4]);
});

test("a run: frames of a cancelled run are ignored; a stopped run stays open with its state", () => {
  const store = make();
  store.resetView(withKl(4));
  store.runStarted(5, "optimize");
  assert.equal(pageStatus({ ...store.state, python: "ready" }), "busy");
  assert.equal(store.runFrame(5, { run_id: 11, trace: [[1, -2]], view: withKl(3), state: { s: 1 } }), true);
  store.runEnded(5, { done: false });
  assert.deepEqual(store.state.pausedRun, { runId: 11, optState: { s: 1 } });
  assert.equal(store.state.run, null);
  // The next run takes the paused one over.
  store.runStarted(6, "step");
  assert.deepEqual(store.state.run, { id: 6, kind: "step", runId: 11, optState: { s: 1 } });
  assert.equal(store.state.pausedRun, null);
  store.runCancelled();
  assert.equal(store.runFrame(6, { run_id: 11, trace: [[2, -1]], view: withKl(2), state: { s: 2 } }), false);
  assert.equal(store.state.view.readouts.kl, 3);
  assert.equal(store.state.iteration, 1);
  store.runEnded(6, { done: false }); // too late: nothing changes
  assert.equal(store.state.pausedRun, null);
});

test("another optimizer ends a paused run", () => {
  const store = make();
  store.resetView(withKl(4));
  store.runStarted(1, "step");
  store.runFrame(1, { run_id: 3, trace: [[1, -2]], view: withKl(3), state: { s: 1 } });
  store.runEnded(1, { done: false });
  store.chooseOptimizer("adam");
  assert.equal(store.state.pausedRun, null);
});

test("a Python restart keeps the view and the paused run's state, without its vi_core id", () => {
  const store = make();
  store.resetView(withKl(4));
  store.runStarted(1, "optimize");
  store.runFrame(1, { run_id: 3, trace: [[1, -2]], view: withKl(3), state: { memory: [1, 2] } });
  store.pythonReady();
  store.pythonRestarting("banana");
  const s = store.state;
  assert.equal(s.run, null);
  assert.deepEqual(s.pausedRun, { runId: null, optState: { memory: [1, 2] } });
  assert.equal(s.view.readouts.kl, 3);
  assert.equal(s.restarts, 1);
  assert.equal(s.python, "loading");
  assert.equal(pageStatus(s), "loading");
  assert.match(s.notice.text, /Restarting/);
});

test("a custom target is applied at once: target, grid and view together", () => {
  const store = make();
  const grid = { target: "custom", extent: [0, 1, 0, 1], nx: 1, ny: 1, log_density: [0] };
  store.resetView(withKl(4));
  store.customTargetApplied({ id: "custom", name: "x", extent: [0, 1, 0, 1], ranges: {} }, "def log_density(x, y): ...", grid, withKl(2));
  const s = store.state;
  assert.deepEqual([s.target, s.customTarget.name, s.targetGrid, s.view.readouts.kl, s.trace.length],
    ["custom", "Custom (your log_density)", grid, 2, 1]);
});

test("a restart drops a custom target (it may be what hung) and says so, keeping its source", () => {
  const store = make();
  const grid = { target: "custom", extent: [0, 1, 0, 1], nx: 1, ny: 1, log_density: [0] };
  store.customTargetApplied({ id: "custom", name: "x", extent: [0, 1, 0, 1], ranges: {} }, "def log_density(x, y): ...", grid, withKl(2));
  store.codeRan("link");
  store.pythonRestarting("banana", "Python was restarted");
  assert.deepEqual([store.state.target, store.state.customTarget, store.state.targetGrid, store.state.workerRan],
    ["banana", null, null, null]);
  assert.equal(store.state.customSource, "def log_density(x, y): ...");
  store.restartDone(false);
  assert.match(store.state.notice.text, /^Python was restarted\. Your custom target was not run again/);
  assert.doesNotMatch(store.state.notice.text, /view is back/);
});

test("a restart on a built-in target says the view is back; an answer after a stall takes the restart offer away", () => {
  const store = make();
  store.resetView(withKl(4));
  store.pythonStalled("Python has been busy");
  assert.equal(store.state.stalled, true);
  store.pythonHeard();
  assert.deepEqual([store.state.stalled, store.state.notice.text], [false, ""]);
  store.pythonRestarting("banana", "Python was restarted");
  store.restartDone(true);
  assert.equal(store.state.notice.text, "Python was restarted. Your view is back.");
});

test("code from a link marks the worker for good; typed code does not override it", () => {
  const store = make();
  assert.equal(store.state.workerRan, null);
  store.codeRan("typed");
  assert.equal(store.state.workerRan, "typed");
  store.codeRan("link");
  store.codeRan("typed");
  assert.equal(store.state.workerRan, "link");
});

test("samples count only for the q they were drawn from", () => {
  const store = make();
  const view = withKl(2);
  store.showView(view);
  assert.equal(store.samplesArrived([9, 9], [[0, 0]], { elbo: 1, error: 0.1, n: 1 }), false);
  assert.equal(store.state.samples, null);
  assert.equal(store.samplesArrived(view.theta, [[0, 0]], { elbo: 1, error: 0.1, n: 1 }), true);
  assert.deepEqual(store.state.samples.points, [[0, 0]]);
});

test("the selection stays within q's components", () => {
  const store = make();
  const view = gaussianView();
  store.showView(view);
  store.select(3);
  assert.equal(store.state.selected, 0);
  const two = gaussianView();
  two.components = { ...two.components, means: [[0, 0], [1, 1]] };
  store.showView(two);
  store.select(1);
  assert.equal(store.state.selected, 1);
  store.showView(view);
  assert.equal(store.state.selected, 0);
});

test("the page's status: loading, busy, ready, error", () => {
  const base = initialState(START);
  assert.equal(pageStatus(base), "loading");
  assert.equal(pageStatus({ ...base, python: "starting" }), "busy");
  assert.equal(pageStatus({ ...base, python: "ready" }), "ready");
  assert.equal(pageStatus({ ...base, python: "ready", pending: 1 }), "busy");
  assert.equal(pageStatus({ ...base, python: "failed", pending: 1 }), "error");
});

test("a drag: the handle follows the pointer until its drag ends", () => {
  const store = make();
  store.dragTo("mean-0", 1, 2);
  assert.deepEqual(store.state.dragging, { key: "mean-0", x: 1, y: 2 });
  store.dragEnded("major-0");
  assert.notEqual(store.state.dragging, null);
  store.dragEnded("mean-0");
  assert.equal(store.state.dragging, null);
});

test("loaded packages update the versions and nothing else", () => {
  const store = make();
  store.pythonUp({ python: "3.12.7", numpy: "2.0.2", scipy: null, vi_core: "0.1.0" });
  const before = store.state;
  store.versionsChanged({ ...before.versions, scipy: "1.14.1" });
  assert.equal(store.state.versions.scipy, "1.14.1");
  assert.equal(store.state.python, before.python);
  assert.equal(store.state.notice, before.notice);
});

test("a run paused off screen is marked to go on when the page is back", () => {
  const store = make();
  assert.equal(store.state.resumeWhenVisible, false);
  store.pausedWhileHidden();
  assert.equal(store.state.resumeWhenVisible, true);
  store.resumedWhenVisible();
  assert.equal(store.state.resumeWhenVisible, false);
});

test("code from a link waits, shown, until the visitor settles it", () => {
  const store = createStore(catalog, initialState({ target: "banana", family: "gaussian-full", optimizer: "lbfgs",
    linkCode: "def log_density(x, y): ..." }), { schedule: (fn) => fn() });
  assert.equal(store.state.linkCode, "def log_density(x, y): ...");
  assert.equal(store.state.target, "banana");
  store.linkCodeSettled("not run");
  assert.equal(store.state.linkCode, null);
  assert.equal(store.state.notice.text, "not run");
});
