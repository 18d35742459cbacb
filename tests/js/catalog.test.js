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

test("a flow of any depth: flow-N is a family named for its N, listed once as the flow", () => {
  assert.equal(catalog.hasFamily("flow-16"), true);
  assert.equal(catalog.listed("flow-16"), false);
  assert.equal(catalog.listed("flow"), true);
  assert.equal(catalog.family("flow-16").name, "Planar flow, 16 layers");
  assert.equal(catalog.family("flow-16").description, "bent by 16 planar layers");
  assert.equal(catalog.family("flow-16").kind, "flow");
  assert.equal(catalog.family("flow-16").k, 1); // one base Gaussian: one handle
  assert.equal(catalog.family("flow").name, "Planar flow, 8 layers"); // the default depth
  assert.equal(catalog.family("flow-8").id, "flow"); // as in vi_core: the default depth is "flow"
  assert.equal(catalog.family("flow-1").layers, 1);
  assert.equal(catalog.family("flow-32").layers, 32);
  for (const bad of ["flow-0", "flow-33", "flow-08", "flow-2.5", "flow-", "flow-x", "flowy", "gaussian-full-2"]) {
    assert.equal(catalog.hasFamily(bad), false, bad);
    assert.throws(() => catalog.family(bad), /unknown family/, bad);
  }
  assert.equal(catalog.layers("flow-3"), 3);
  assert.equal(catalog.layers("gaussian-full"), null);
  assert.deepEqual(catalog.layersRange("flow-3"), RAW_CATALOG.families.at(-1).layers_range);
  assert.equal(catalog.layersRange("mixture-full"), null);
  assert.equal(catalog.listedFamily("flow-3"), "flow");
  assert.equal(catalog.listedFamily("mixture-full"), "mixture-full");
  assert.equal(catalog.flowId(8), "flow");
  assert.equal(catalog.flowId(12), "flow-12");
  assert.equal(requestK(catalog, "flow-12", 4), null); // K is the mixture's; layers are in the id
  assert.equal(componentCount(catalog, "flow-12", null), 1);
});
