import { test } from "node:test";
import assert from "node:assert/strict";
import { createStore, initialState } from "../../site_src/js/store.js";
import { compareLines, compareData, diagnosticsLines } from "../../site_src/js/compare.js";
import { catalog, gaussianView } from "./fixtures.js";

const sync = { schedule: (fn) => fn() };
const START = { target: "bimodal", family: "gaussian-full", k: null, optimizer: "lbfgs", customSource: null };
const make = () => createStore(catalog, initialState(START), sync);

const fit = (elbo, forwardKl, theta) => {
  const view = gaussianView();
  view.theta = theta;
  return { ...view, elbo, kl: -elbo, forward_kl: forwardKl, divergence: forwardKl, converged: true, iterations: 9 };
};
const COMPARISON = {
  target: "bimodal", family: "gaussian-full", k: 1, objective: "forward-kl", alpha: null,
  reverse: fit(-0.2592, 0.9072, [1]), forward: fit(-0.3408, 0.2445, [2]),
  note: "Only reverse KL (maximising the ELBO) gives the bound ELBO ≤ log Z as its optimum; …",
};

test("a comparison arrives only while the toggle is on and for the target and family on show", () => {
  const store = make();
  assert.equal(store.comparisonArrived({ target: "bimodal", family: "gaussian-full", k: null }, COMPARISON), false);
  store.setCompare(true);
  assert.equal(store.comparisonArrived({ target: "banana", family: "gaussian-full", k: null }, COMPARISON), false);
  assert.equal(store.comparisonArrived({ target: "bimodal", family: "gaussian-full", k: null }, COMPARISON), true);
  assert.equal(store.state.comparison, COMPARISON);
});

test("another comparison (forward KL, α) forgets the fits of the old one, and their late answer", () => {
  const store = make();
  store.setCompare(true);
  store.comparisonArrived({ target: "bimodal", family: "gaussian-full", k: null, compareWith: null }, COMPARISON);
  store.chooseComparison("alpha-0.5");
  assert.equal(store.state.compare, true);
  assert.equal(store.state.comparison, null);
  assert.equal(store.comparisonArrived({ target: "bimodal", family: "gaussian-full", k: null, compareWith: null }, COMPARISON), false);
  const alpha = { ...COMPARISON, objective: "alpha", alpha: 0.5 };
  assert.equal(store.comparisonArrived({ target: "bimodal", family: "gaussian-full", k: null, compareWith: "alpha-0.5" }, alpha), true);
  assert.match(compareLines(store.state.comparison)[1], /^Rényi α = 0.5 fit, D_α\(p‖q\)/);
  // The choice outlives a target: it is what the visitor wants compared.
  store.chooseTarget("ring");
  assert.equal(store.state.compareWith, "alpha-0.5");
  assert.deepEqual(catalog.comparisons.map((c) => c.id), ["forward-kl", "alpha-0.5"]);
  assert.equal(catalog.comparison(null).id, "forward-kl"); // none chosen: the first
  assert.equal(catalog.comparison("alpha-0.5").alpha, 0.5);
});

test("leaving the target, family or K ends the comparison; turning it off forgets it", () => {
  for (const leave of [(s) => s.chooseTarget("ring"), (s) => s.chooseFamily("mixture-3"), (s) => s.chooseK(4),
    (s) => s.setCompare(false)]) {
    const store = make();
    store.setCompare(true);
    store.comparisonArrived({ target: "bimodal", family: "gaussian-full", k: null }, COMPARISON);
    leave(store);
    assert.equal(store.state.compare, false);
    assert.equal(store.state.comparison, null);
  }
});

test("diagnostics belong to the theta they were computed for", () => {
  const store = make();
  const view = gaussianView();
  store.resetView(view);
  assert.equal(store.diagnosticsArrived([9, 9], { khat: 0.1 }), false);
  assert.equal(store.diagnosticsArrived(view.theta, { khat: 0.1, reading: "r" }), true);
  assert.equal(store.state.diagnostics.khat, 0.1);
  assert.equal(store.state.diagnostics.theta, view.theta);
});

test("the legend states both fits' ELBOs and forward KLs and vi_core's note, and its data has both thetas", () => {
  const [reverse, forward, note] = compareLines(COMPARISON);
  assert.match(reverse, /Reverse KL\(q‖p\).*ELBO −0\.2592.*KL\(p‖q\) 0\.9072/);
  assert.match(forward, /Forward KL\(p‖q\).*ELBO −0\.3408.*KL\(p‖q\) 0\.2445/);
  assert.equal(note, COMPARISON.note);
  const data = compareData(COMPARISON);
  assert.deepEqual(data.reverse.theta, [1]);
  assert.deepEqual(data.forward.theta, [2]);
  assert.equal(data.forward.elbo, -0.3408);
  assert.match(compareLines({ ...COMPARISON, objective: "alpha", alpha: 0.5 })[1], /Rényi α = 0\.5/);
});

test("the diagnostics lines restate vi_core's reading and caveat, not a threshold of their own", () => {
  const d = { khat: 0.8, ess: 120.4, n: 4000, iw_elbo: -0.7, iw_se: 0.01, iw_k: 100, iw_n: 50, log_z: 0,
    reading: "k̂ = 0.80 > 0.7: q misses tail mass; importance sampling unreliable", caveat: "k̂ and ESS only see where q's draws land" };
  const lines = diagnosticsLines(d);
  assert.ok(lines.khat.includes(d.reading) && lines.khat.includes("of 4000 draws"));
  assert.match(lines.iw, /K = 100, 50 groups\): −0\.7 ± 0\.01; log Z − IW-ELBO = 0\.7/);
  assert.ok(lines.caveat.includes(d.caveat));
  assert.doesNotThrow(() => diagnosticsLines({ ...d, ess: null, iw_elbo: null }));
});
