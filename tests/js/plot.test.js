import { test } from "node:test";
import assert from "node:assert/strict";
import { densityGrid } from "../../site_src/js/plot.js";

test("a grid's density is relative to its peak, from whole units of log density", () => {
  const grid = { nx: 2, ny: 2, unit: 1e-4, log_density: [-10000, 0, null, -23026] };
  const d = densityGrid(grid);
  assert.equal(d[1], 1); // the peak
  assert.ok(Math.abs(d[0] - Math.exp(-1)) < 1e-12);
  assert.equal(d[2], 0); // null: zero density
  assert.ok(Math.abs(d[3] - Math.exp(-2.3026)) < 1e-12);
});

test("a grid whose peak is far below zero still peaks at 1", () => {
  const d = densityGrid({ nx: 3, ny: 1, unit: 1e-4, log_density: [-9000000, -9010000, null] });
  assert.equal(d[0], 1);
  assert.ok(Math.abs(d[1] - Math.exp(-1)) < 1e-12);
  assert.equal(d[2], 0);
});
