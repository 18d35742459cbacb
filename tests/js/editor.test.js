import { test } from "node:test";
import assert from "node:assert/strict";
import { editNatural, fieldValue, shownLimit } from "../../site_src/js/editor.js";
import { BANANA_RANGES } from "./fixtures.js";

const natural = () => ({ means: [[0, 0], [1, 1]], scales: [[0.5, 0.5], [0.7, 0.7]], correlations: [0, 0.2], weights: [0.5, 0.5] });
const full = { kind: "full", sharedScale: false, ranges: BANANA_RANGES };
const sharedIso = { kind: "isotropic", sharedScale: true, ranges: BANANA_RANGES };

test("a typed value changes that parameter of the selected component", () => {
  assert.deepEqual(editNatural(natural(), 1, "mean-x", "2.5", full).natural.means, [[0, 0], [2.5, 1]]);
  assert.deepEqual(editNatural(natural(), 0, "mean-y", "-1", full).natural.means, [[0, -1], [1, 1]]);
  assert.deepEqual(editNatural(natural(), 1, "scale-y", "0.3", full).natural.scales, [[0.5, 0.5], [0.7, 0.3]]);
  assert.deepEqual(editNatural(natural(), 1, "corr", "-0.9", full).natural.correlations, [0, -0.9]);
});

test("an isotropic scale sets both axes; a shared one every component", () => {
  const own = { ...sharedIso, sharedScale: false };
  assert.deepEqual(editNatural(natural(), 0, "scale-x", "2", own).natural.scales, [[2, 2], [0.7, 0.7]]);
  assert.deepEqual(editNatural(natural(), 0, "scale-x", "2", sharedIso).natural.scales, [[2, 2], [2, 2]]);
});

test("bad values get a message, q is unchanged", () => {
  const cases = [
    ["mean-x", "", "mean x must be a number"],
    ["mean-y", "abc", "mean y must be a number"],
    ["scale-x", "0", "A scale must be positive"],
    ["scale-x", "-1", "A scale must be positive"],
    ["corr", "1", "A correlation must be strictly between -1 and 1"],
    ["corr", "0.9999999", "A correlation must lie within [-0.999987, 0.999987]"],
    ["scale-y", "1e6", "A scale must lie within"],
    ["mean-x", "100", "mean x must lie within [-21, 21] for this target"],
  ];
  for (const [field, text, message] of cases) {
    const nat = natural();
    const out = editNatural(nat, 0, field, text, full);
    assert.ok(out.error && out.error.startsWith(message), `${field}=${text}: ${out.error}`);
    assert.deepEqual(nat, natural());
  }
});

test("limits are shown rounded inwards, so the limit shown is accepted when typed", () => {
  const [lo, hi] = BANANA_RANGES.correlation;
  assert.equal(shownLimit(hi, false), 0.999987);
  assert.equal(shownLimit(lo, true), -0.999987);
  assert.equal(shownLimit(0.5, true), 0.5);
  assert.equal(shownLimit(80.34214769, false), 80.3421);
  assert.equal(shownLimit(0.00018159971, true), 0.0001816);
  for (const text of [String(shownLimit(hi, false)), String(shownLimit(lo, true))]) {
    assert.ok(editNatural(natural(), 0, "corr", text, full).natural, text);
  }
  const scale = String(shownLimit(BANANA_RANGES.scale[0], true));
  assert.ok(editNatural(natural(), 0, "scale-x", scale, full).natural, scale);
});

test("fields show six digits, and no -0 or 1e-17 noise", () => {
  assert.equal(fieldValue(1 / 3), 0.3333);
  assert.equal(fieldValue(-1e-12), 0);
  assert.equal(fieldValue(4.15072e-9), 0); // never "4.15072e-9" in a field
  assert.equal(String(fieldValue(-0.0004567)), "-0.0004567");
  assert.equal(fieldValue(123456789), 123500000);
});
