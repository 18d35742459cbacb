import { test } from "node:test";
import assert from "node:assert/strict";
import { principalAxes, fromAxes, handleSpecs, naturalAfterMove, keyTarget, contourRadius } from "../../site_src/js/geometry.js";
import { gaussianView, BANANA_RANGES } from "./fixtures.js";

const near = (a, b, tol = 1e-12, what = "") => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} != ${b}`);
const RULES = { full: { kind: "full", sharedScale: false, ranges: BANANA_RANGES } };

test("principal axes of a covariance, against a hand computation", () => {
  // [[2, 1], [1, 2]]: eigenvalues 3 and 1, the major axis along 45 degrees.
  let [major, minor] = principalAxes([[2, 1], [1, 2]]);
  near(major.length, Math.sqrt(3));
  near(minor.length, 1);
  near(major.angle, Math.PI / 4);
  near(minor.angle, Math.PI / 4 + Math.PI / 2);
  // Diagonal, taller than wide: the major axis is vertical.
  [major, minor] = principalAxes([[1, 0], [0, 4]]);
  near(major.length, 2);
  near(minor.length, 1);
  near(Math.abs(Math.cos(major.angle)), 0);
  // [[5, -2], [-2, 2]]: eigenvalues 6 and 1, eigenvector (2, -1) for 6.
  [major, minor] = principalAxes([[5, -2], [-2, 2]]);
  near(major.length, Math.sqrt(6));
  near(minor.length, 1);
  near(Math.tan(major.angle), -0.5);
  // Isotropic: any angle is right; 0 is chosen.
  [major, minor] = principalAxes([[0.25, 0], [0, 0.25]]);
  assert.deepEqual([major.length, minor.length, major.angle], [0.5, 0.5, 0]);
});

test("fromAxes inverts principalAxes", () => {
  const { sx, sy, rho } = fromAxes(2, 0.5, 0.7);
  const cov = [[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]];
  const [major, minor] = principalAxes(cov);
  near(major.length, 2);
  near(minor.length, 0.5);
  near(major.angle, 0.7);
});

test("handle positions for each family kind", () => {
  const view = gaussianView({ mean: [1, 2], sx: 0.5, sy: 0.25 });
  assert.deepEqual(handleSpecs(view, "isotropic", 0), [
    { kind: "mean", k: 0, x: 1, y: 2 }, { kind: "radius", k: 0, x: 1.5, y: 2 }]);
  assert.deepEqual(handleSpecs(view, "diagonal", 0), [
    { kind: "mean", k: 0, x: 1, y: 2 }, { kind: "sx", k: 0, x: 1.5, y: 2 }, { kind: "sy", k: 0, x: 1, y: 2.25 }]);
  const full = handleSpecs(gaussianView({ mean: [0, 0], sx: 1, sy: 1, rho: 0.5 }), "full", 0);
  assert.deepEqual(full.map((s) => s.kind), ["mean", "major", "minor"]);
  // Cov [[1, .5], [.5, 1]]: major axis sqrt(1.5) along 45 degrees, minor sqrt(.5) along 135.
  near(full[1].x, Math.sqrt(1.5) / Math.SQRT2);
  near(full[1].y, Math.sqrt(1.5) / Math.SQRT2);
  near(full[2].x, -Math.sqrt(0.5) / Math.SQRT2);
  near(full[2].y, Math.sqrt(0.5) / Math.SQRT2);
  assert.deepEqual(handleSpecs(null, "full", 0), []);
});

test("moving the mean handle moves that mean only", () => {
  const view = gaussianView();
  const nat = naturalAfterMove(view, RULES.full, "mean", 0, 1.25, -0.5);
  assert.deepEqual(nat.means, [[1.25, -0.5]]);
  assert.deepEqual(nat.scales, view.natural.scales);
  assert.deepEqual(nat.correlations, view.natural.correlations);
  assert.deepEqual(view.natural.means, [[0.5, -0.25]]); // the view is not touched
});

test("radius handle: the distance to the mean is the scale; shared scales move together", () => {
  const view = gaussianView({ mean: [0, 0] });
  view.natural = { means: [[0, 0], [1, 1]], scales: [[0.5, 0.5], [0.7, 0.7]], correlations: [0, 0], weights: [0.5, 0.5] };
  const moved = naturalAfterMove(view, { kind: "isotropic", sharedScale: false, ranges: BANANA_RANGES }, "radius", 0, 0.6, 0.8);
  assert.deepEqual(moved.scales, [[1, 1], [0.7, 0.7]]);
  const shared = naturalAfterMove(view, { kind: "isotropic", sharedScale: true, ranges: BANANA_RANGES }, "radius", 0, 0.6, 0.8);
  assert.deepEqual(shared.scales, [[1, 1], [1, 1]]);
});

test("sx and sy handles set one scale each, from either side", () => {
  const view = gaussianView({ mean: [1, 1], sx: 0.5, sy: 0.25 });
  const rules = { kind: "diagonal", sharedScale: false, ranges: BANANA_RANGES };
  assert.deepEqual(naturalAfterMove(view, rules, "sx", 0, 0.25, 7).scales, [[0.75, 0.25]]);
  assert.deepEqual(naturalAfterMove(view, rules, "sy", 0, 7, 3).scales, [[0.5, 2]]);
});

test("major and minor handles: the dragged axis follows the pointer, the other keeps its length", () => {
  const view = gaussianView({ mean: [0, 0], sx: 1, sy: 0.5, rho: 0 });
  // Drag the major axis to (0, 2): a vertical major axis of length 2, minor 0.5 stays.
  let nat = naturalAfterMove(view, RULES.full, "major", 0, 0, 2);
  near(nat.scales[0][0], 0.5);
  near(nat.scales[0][1], 2);
  near(nat.correlations[0], 0, 1e-12);
  // Drag the minor axis to (1, 1): length sqrt 2 along 45 degrees; the major (1) turns to -45.
  nat = naturalAfterMove(view, RULES.full, "minor", 0, 1, 1);
  const [a, b] = [1, Math.SQRT2]; // major keeps 1; the minor axis is now the longer one
  const vxx = (a * a + b * b) / 2, vxy = (b * b - a * a) / 2;
  near(nat.scales[0][0], Math.sqrt(vxx));
  near(nat.scales[0][1], Math.sqrt(vxx));
  near(nat.correlations[0], vxy / vxx);
});

test("moves are clamped to the target's ranges", () => {
  const view = gaussianView({ mean: [0, 0], sx: 1, sy: 1 });
  const { scale, mean_x, mean_y, correlation } = BANANA_RANGES;
  const far = naturalAfterMove(view, RULES.full, "mean", 0, 1e9, -1e9);
  assert.deepEqual(far.means, [[mean_x[1], mean_y[0]]]);
  const iso = { kind: "isotropic", sharedScale: false, ranges: BANANA_RANGES };
  assert.deepEqual(naturalAfterMove(view, iso, "radius", 0, 1e6, 0).scales, [[scale[1], scale[1]]]);
  assert.deepEqual(naturalAfterMove(view, iso, "radius", 0, 0, 0).scales, [[scale[0], scale[0]]]);
  // A needle-thin ellipse along the diagonal: the correlation stops at the range's limit.
  const thin = naturalAfterMove(gaussianView({ mean: [0, 0], sx: 1e-3, sy: 1e-3 }), RULES.full, "major", 0, 100, 100);
  assert.ok(thin.correlations[0] <= correlation[1]);
  near(thin.correlations[0], correlation[1], 1e-9);
  assert.ok(thin.scales[0].every((s) => s >= scale[0] && s <= scale[1]));
});

test("arrow keys move by 2% of the extent's width, 10% with Shift", () => {
  const spec = { x: 1, y: 1 };
  let [x, y] = keyTarget(spec, "ArrowRight", false, [-3, 3, -2, 2]);
  near(x, 1.12, 1e-15);
  assert.equal(y, 1);
  [x, y] = keyTarget(spec, "ArrowDown", true, [-3, 3, -2, 2]);
  assert.equal(x, 1);
  near(y, 0.4, 1e-15);
});

test("a Gaussian's density is the given fraction of its peak at the contour radius", () => {
  // Along a principal axis of length s, Mahalanobis radius r is the point r*s from the mean.
  const cov = [[2.25, 0.9], [0.9, 1]];
  const [major] = principalAxes(cov);
  const [[a, b], [, d]] = cov;
  const det = a * d - b * b;
  for (const f of [0.1, 0.3, 0.5, 0.7, 0.9]) {
    const r = contourRadius(f);
    const x = r * major.length * Math.cos(major.angle), y = r * major.length * Math.sin(major.angle);
    const maha = (d * x * x - 2 * b * x * y + a * y * y) / det;
    assert.ok(Math.abs(Math.exp(-maha / 2) - f) < 1e-12, `fraction ${f}`);
  }
});
