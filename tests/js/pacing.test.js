import { test } from "node:test";
import assert from "node:assert/strict";
import { checkPacing, frameWork, speedUp, pauseAfter } from "../../site_src/js/pacing.js";
import { catalog } from "./fixtures.js";

const lbfgs = catalog.pacing("lbfgs");
const adam = catalog.pacing("adam");

test("the first frames are for watching: the table's steps and budget", () => {
  for (let i = 0; i < 40; i++) assert.deepEqual(frameWork(lbfgs, i), { steps: 1, budget_ms: 25 });
  assert.deepEqual(frameWork(adam, 0), { steps: 2, budget_ms: 25 });
});

test("long runs double steps and budget every speedup_every frames, up to the caps", () => {
  assert.equal(speedUp(adam, 39), 1);
  assert.equal(speedUp(adam, 40), 2);
  assert.equal(speedUp(adam, 80), 4);
  assert.deepEqual(frameWork(adam, 80), { steps: 8, budget_ms: 100 });
  assert.deepEqual(frameWork(adam, 120), { steps: 16, budget_ms: 200 }); // budget capped
  assert.equal(speedUp(adam, 40 * 10), 1024);
  assert.equal(speedUp(adam, 40 * 30), 1024); // speed-up capped
  assert.deepEqual(frameWork(adam, 40 * 30), { steps: 2048, budget_ms: 200 });
});

test("a Step asks for no more than the steps it has left", () => {
  assert.equal(frameWork(adam, 0, 1).steps, 1);
  assert.equal(frameWork(adam, 200, 3).steps, 3);
});

test("frames keep their distance: frame_ms minus the time the frame took", () => {
  assert.equal(pauseAfter(lbfgs, 20), 30);
  assert.equal(pauseAfter(lbfgs, 80), 0);
});

test("a run without a complete pacing table is refused, naming the field", () => {
  assert.throws(() => checkPacing(undefined), /needs its pacing/);
  const { frame_ms: _dropped, ...rest } = lbfgs;
  assert.throws(() => checkPacing(rest), /pacing.frame_ms must be a positive number/);
  assert.throws(() => checkPacing({ ...lbfgs, budget_ms: 0 }), /pacing.budget_ms/);
  assert.equal(checkPacing(lbfgs), lbfgs);
});
