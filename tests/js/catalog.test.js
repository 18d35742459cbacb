import { test } from "node:test";
import assert from "node:assert/strict";
import { makeCatalog, requestK, componentCount, kInRange, kChoices, qRules, targetEntry, clamp } from "../../site_src/js/catalog.js";
import { RAW_CATALOG, catalog } from "./fixtures.js";

test("lookups by id, with a clear error for an unknown one", () => {
  assert.equal(catalog.target("ring").name, "Ring");
  assert.equal(catalog.family("mixture-3").kind, "isotropic");
  assert.equal(catalog.optimizer("adam").pacing.steps_per_frame, 2);
  assert.equal(catalog.hasTarget("custom"), false);
  assert.throws(() => catalog.family("nope"), /unknown family "nope"/);
  assert.equal(catalog.samples, 400);
});

test("K: only the family with a K range takes one, defaulting to the range's default", () => {
  assert.deepEqual(catalog.kLimits(), { min: 1, max: 10, default: 3 });
  assert.deepEqual(catalog.familiesWithK(), ["mixture-full"]);
  assert.equal(requestK(catalog, "mixture-full", null), 3);
  assert.equal(requestK(catalog, "mixture-full", 7), 7);
  assert.equal(requestK(catalog, "mixture-3", 7), null);
  assert.equal(componentCount(catalog, "mixture-3", null), 3);
  assert.equal(componentCount(catalog, "gaussian-full", 5), 1);
  assert.equal(componentCount(catalog, "mixture-full", 5), 5);
  assert.deepEqual(kChoices(catalog.kRange("mixture-full")), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(kChoices(null), []);
  assert.equal(kInRange({ min: 2, max: 4 }, 4), true);
  assert.equal(kInRange({ min: 2, max: 4 }, 5), false);
  assert.equal(kInRange({ min: 2, max: 4 }, 2.5), false);
  assert.equal(kInRange(null, 2), false);
});

test("q's rules: the family's kind and shared scale, the target's ranges", () => {
  const rules = qRules(catalog, "mixture-3", catalog.target("ring"));
  assert.deepEqual(rules, { kind: "isotropic", sharedScale: true, ranges: RAW_CATALOG.targets[1].ranges });
  const custom = { id: "custom", ranges: { mean_x: [0, 1], mean_y: [0, 1], scale: [1, 2], correlation: [-0.5, 0.5] } };
  assert.equal(targetEntry(catalog, "custom", custom), custom);
  assert.equal(targetEntry(catalog, "custom", null), null);
  assert.equal(targetEntry(catalog, "banana", custom).name, "Banana");
  assert.equal(clamp(5, [0, 1]), 1);
  assert.equal(clamp(-5, [0, 1]), 0);
  assert.equal(clamp(0.5, [0, 1]), 0.5);
});

test("a catalog without what the page needs is refused", () => {
  assert.throws(() => makeCatalog({ ...RAW_CATALOG, targets: [] }), /no targets/);
  const noRanges = { ...RAW_CATALOG, targets: [{ ...RAW_CATALOG.targets[0], ranges: undefined }] };
  assert.throws(() => makeCatalog(noRanges), /banana: ranges.mean_x/);
  const badScale = { ...RAW_CATALOG, targets: [{ ...RAW_CATALOG.targets[0], ranges: { ...RAW_CATALOG.targets[0].ranges, scale: [2, 1] } }] };
  assert.throws(() => makeCatalog(badScale), /ranges.scale/);
});
