import { test } from "node:test";
import assert from "node:assert/strict";
import { createRuns, runParams, endNotice } from "../../site_src/js/runs.js";
import { createStore, initialState } from "../../site_src/js/store.js";
import { catalog, gaussianView } from "./fixtures.js";

const sync = { schedule: (fn) => fn() };

function setup(extra = {}) {
  const store = createStore(catalog, initialState({ target: "banana", family: "gaussian-full", k: null, optimizer: "lbfgs", customSource: null, ...extra }), sync);
  store.resetView(gaussianView());
  return store;
}

/** A worker stand-in: records what it is sent; the test answers runs by hand. */
function fakeWorker() {
  const w = { runs: [], calls: [], stops: [], nextId: 1 };
  w.run = (params, onFrame) => {
    const id = w.nextId++;
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    w.runs.push({ id, params, onFrame, resolve, reject });
    return { id, promise };
  };
  w.call = (method, params) => { w.calls.push([method, params]); return Promise.resolve({}); };
  w.stop = (id) => w.stops.push(id);
  return w;
}

const frame = (run_id, trace, kl, state) => {
  const view = gaussianView();
  view.readouts = { ...view.readouts, kl, elbo: 1.2 - kl };
  return { run_id, done: false, converged: false, iteration: trace.at(-1)?.[0] ?? 0, trace, view, state };
};
const tick = () => new Promise((r) => setTimeout(r, 0));

test("Optimize and Step send the same run message; Step asks for one iteration", () => {
  const store = setup({ family: "mixture-full", k: 4 });
  const optimize = runParams(store.state, catalog, "optimize");
  const step = runParams(store.state, catalog, "step");
  assert.deepEqual(optimize, {
    target: "banana", family: "mixture-full", k: 4, optimizer: "lbfgs", theta: store.state.view.theta,
    pacing: catalog.pacing("lbfgs"),
  });
  assert.deepEqual(step, { ...optimize, max_steps: 1 });
  assert.equal(runParams(setup().state, catalog, "step").k, null);
});

test("a paused run is continued by its id; after a restart, from its optimizer state", () => {
  const store = setup();
  store.runStarted(1, "step");
  store.runFrame(1, frame(7, [[1, -1]], 2, { memory: [1] }));
  store.runEnded(1, { done: false });
  assert.equal(runParams(store.state, catalog, "optimize").run_id, 7);
  assert.equal(runParams(store.state, catalog, "optimize").resume, undefined);
  store.pythonRestarting("banana");
  const params = runParams(store.state, catalog, "optimize");
  assert.equal(params.run_id, undefined);
  assert.deepEqual(params.resume, { memory: [1] });
});

test("Optimize runs, records frames, and a second press stops it; the run stays paused", async () => {
  const store = setup();
  const worker = fakeWorker();
  const views = [];
  const runs = createRuns({ store, catalog, worker: () => worker, onView: (v) => views.push(v) });
  const done = runs.optimize();
  assert.equal(store.state.run.kind, "optimize");
  const [run] = worker.runs;
  run.onFrame(frame(3, [[1, -1.5], [2, -1.2]], 2.4, { m: 1 }));
  assert.deepEqual(store.state.trace.map(([i]) => i), [0, 1, 2]);
  assert.equal(views.length, 1);
  runs.optimize(); // the Stop button
  assert.deepEqual(worker.stops, [run.id]);
  run.resolve({ ...frame(3, [], 2.4, { m: 1 }) });
  await done;
  assert.equal(store.state.run, null);
  assert.deepEqual(store.state.pausedRun, { runId: 3, optState: { m: 1 } });
  assert.equal(store.state.notice.text, "");
});

test("a run that converges says so and leaves nothing open", async () => {
  const store = setup();
  const worker = fakeWorker();
  const runs = createRuns({ store, catalog, worker: () => worker, onView: () => {} });
  const done = runs.step();
  worker.runs[0].resolve({ ...frame(4, [[1, -0.1]], 0.1, null), done: true, converged: true });
  await done;
  assert.equal(store.state.pausedRun, null);
  assert.deepEqual([store.state.notice.text, store.state.notice.kind], ["Converged after 1 iterations.", "info"]);
  assert.equal(endNotice(false, 30), "Stopped after the iteration limit (30); press Optimize to continue.");
  assert.equal(endNotice(false, 30, "max_iter reached"), "Stopped after the iteration limit (30); press Optimize to continue.");
  assert.equal(endNotice(false, 0, "ELBO is not finite at the start"),
    "Stopped after 0 iterations without converging: ELBO is not finite at the start.");
});

test("cancel: q changed under the run, which is stopped and then closed in vi_core", async () => {
  const store = setup();
  const worker = fakeWorker();
  const runs = createRuns({ store, catalog, worker: () => worker, onView: () => {} });
  const done = runs.optimize();
  const [run] = worker.runs;
  runs.cancel();
  assert.equal(store.state.run, null);
  assert.deepEqual(worker.stops, [run.id]);
  run.onFrame(frame(5, [[1, -1]], 2, null)); // a late frame: ignored
  assert.deepEqual(store.state.trace.length, 1);
  run.resolve(frame(5, [], 2, null));
  await done;
  assert.deepEqual(worker.calls, [["finish_run", { run_id: 5, reason: "discarded" }]]);
  assert.equal(store.state.pausedRun, null);
});

test("a paused run is closed when discarded", async () => {
  const store = setup();
  const worker = fakeWorker();
  const runs = createRuns({ store, catalog, worker: () => worker, onView: () => {} });
  const done = runs.step();
  worker.runs[0].resolve(frame(8, [[1, -1]], 2, { m: 2 }));
  await done;
  assert.deepEqual(store.state.pausedRun, { runId: 8, optState: { m: 2 } });
  runs.discardPaused();
  assert.equal(store.state.pausedRun, null);
  assert.deepEqual(worker.calls, [["finish_run", { run_id: 8, reason: "discarded" }]]);
});

test("a failing run says so; a run cut by a restart says nothing", async () => {
  let store = setup();
  let worker = fakeWorker();
  let runs = createRuns({ store, catalog, worker: () => worker, onView: () => {} });
  let done = runs.optimize();
  worker.runs[0].reject(Object.assign(new Error("boom"), { name: "VIError" }));
  await done;
  assert.deepEqual([store.state.notice.text, store.state.run], ["Optimization failed: boom", null]);

  store = setup();
  worker = fakeWorker();
  runs = createRuns({ store, catalog, worker: () => worker, onView: () => {} });
  done = runs.optimize();
  store.pythonRestarting("banana");
  worker.runs[0].reject(Object.assign(new Error("Python was restarted"), { name: "Restarted" }));
  await done;
  await tick();
  assert.match(store.state.notice.text, /Restarting/);
});

test("Step does nothing while a run is in flight", () => {
  const store = setup();
  const worker = fakeWorker();
  const runs = createRuns({ store, catalog, worker: () => worker, onView: () => {} });
  runs.optimize();
  runs.step();
  assert.equal(worker.runs.length, 1);
});
