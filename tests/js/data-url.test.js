import { test } from "node:test";
import assert from "node:assert/strict";
import { readUrlState, resolveUrlState, writeUrlState, parseData, dataText, isDefaultData } from "../../site_src/js/url-state.js";
import { valueAt, withPoint } from "../../site_src/js/data-panel.js";
import { makeCatalog, targetEntry } from "../../site_src/js/catalog.js";
import { RAW_CATALOG } from "./fixtures.js";

const VALUES = { kind: "values", default: [0.3, 1.9, -0.2], min_points: 2, max_points: 5, range: [-5, 5], decimals: 2, noun: "observation" };
const LABELLED = { kind: "labelled", default: [[0, 0], [1, 1]], min_points: 1, max_points: 4, range: [-1, 6], decimals: 2, noun: "labelled point" };
const posterior = (id, data) => ({ ...RAW_CATALOG.targets[0], id, name: id, axes: ["μ", "log σ"], group: "Posteriors from data", data: { ...data, points: data.default } });
const catalog = makeCatalog({ ...RAW_CATALOG, targets: [...RAW_CATALOG.targets, posterior("normal", VALUES), posterior("logistic", LABELLED)] });
const START = { target: "banana", family: "gaussian-full", optimizer: "lbfgs" };
const resolve = (query) => resolveUrlState(readUrlState(query, null), catalog, START);

test("data= reads numbers or input:label pairs, rounded to the spec's decimals", () => {
  assert.deepEqual(parseData("1,2.3456,-0.5", VALUES), { points: [1, 2.35, -0.5] });
  assert.deepEqual(parseData("0:0,4.751:1", LABELLED), { points: [[0, 0], [4.75, 1]] });
  assert.equal(dataText([1, 2.35, -0.5], "values"), "1,2.35,-0.5");
  assert.equal(dataText([[0, 0], [4.75, 1]], "labelled"), "0:0,4.75:1");
});

test("garbled data= is a problem, never a throw; the built-in data stay", () => {
  for (const [text, spec, why] of [
    ["1,x", VALUES, "values are numbers"], ["1", VALUES, "2 to 5"], ["1,2,3,4,5,6", VALUES, "2 to 5"],
    ["1,9", VALUES, "from -5 to 5"], ["1,NaN", VALUES, "values are numbers"], ["1,,2", VALUES, "values are numbers"],
    ["1:0,2", LABELLED, "input:label"], ["1:2", LABELLED, "labels are 0 or 1"], ["1:0:1", LABELLED, "input:label"],
    ["", VALUES, "2 to 5"], ["1e999,1", VALUES, "values are numbers"], ["<b>x</b>,1", VALUES, "values are numbers"],
  ]) {
    const out = parseData(text, spec);
    assert.equal(out.points, undefined, text);
    assert.match(out.problem, new RegExp(why), text);
    assert.match(out.problem, /showing the built-in data/, text);
  }
});

test("a link's data resolve against the target's spec; built-in data and shapes are not data", () => {
  assert.deepEqual(resolve("?target=normal&data=1,2").data, [1, 2]);
  assert.deepEqual(resolve("?target=logistic&data=1:1").data, [[1, 1]]);
  assert.equal(resolve("?target=normal&data=0.3,1.9,-0.2").data, null); // the built-in ones
  const shape = resolve("?target=banana&data=1,2");
  assert.equal(shape.data, null);
  assert.match(shape.problems[0], /data= is only for a posterior from data/);
  const bad = resolve("?target=normal&data=1,zz");
  assert.equal(bad.data, null);
  assert.equal(bad.problems.length, 1);
  assert.equal(bad.target, "normal");
});

test("the link writes data= compactly, and drops it for the built-in data", () => {
  const base = { target: "normal", family: "gaussian-full", optimizer: "lbfgs", k: null, natural: null, source: null };
  const search = writeUrlState({ ...base, data: { points: [[0.5, 1], [2, 0]], kind: "labelled" } }, "?embed=1");
  assert.match(search, /data=0\.5:1,2:0/);
  assert.deepEqual(resolve(search.replace("normal", "logistic")).data, [[0.5, 1], [2, 0]]);
  assert.equal(new URLSearchParams(writeUrlState(base, search)).has("data"), false);
  assert.equal(isDefaultData([0.3, 1.9, -0.2], VALUES), true);
  assert.equal(isDefaultData([0.3, 1.9], VALUES), false);
});

test("the panel places values in the range, rounded; points are added, moved, removed", () => {
  assert.equal(valueAt(0.5, VALUES), 0);
  assert.equal(valueAt(0.123456, VALUES), -3.77);
  assert.equal(valueAt(2, VALUES), 5);
  assert.equal(valueAt(-1, VALUES), -5);
  assert.deepEqual(withPoint([1, 2], null, 3), [1, 2, 3]);
  assert.deepEqual(withPoint([1, 2], 0, 5), [5, 2]);
  assert.deepEqual(withPoint([1, 2], 1, null), [1]);
});

test("a posterior given other data is its own entry", () => {
  const entry = { ...catalog.target("normal"), log_z: -3 };
  assert.equal(targetEntry(catalog, "normal", null, entry), entry);
  assert.equal(targetEntry(catalog, "banana", null, entry), catalog.target("banana"));
});

test("the store: data placed, applied with their entry, refused, and dropped with the target", async () => {
  const { createStore, initialState } = await import("../../site_src/js/store.js");
  const { gaussianView } = await import("./fixtures.js");
  const store = createStore(catalog, initialState({ target: "normal", family: "gaussian-full", k: null, optimizer: "lbfgs", customSource: null, data: [1, 2] }), { schedule: (fn) => fn() });
  assert.deepEqual(store.state.data, [1, 2]);
  assert.equal(store.state.dataTarget, null);
  const entry = { ...catalog.target("normal"), data: { ...VALUES, points: [1, 2] }, log_z: -4 };
  const view = { ...gaussianView(), target: "normal" };
  store.dataApplied([1, 2], entry, { target: "normal" }, view);
  assert.equal(store.state.dataTarget, entry);
  assert.equal(store.state.view, view);
  assert.deepEqual(store.state.trace, [[0, view.readouts.elbo]]);
  store.dataEdited([1, 2, 3]);
  store.dataRefused("no");
  assert.deepEqual(store.state.data, [1, 2]); // back to the data on show
  assert.equal(store.state.notice.text, "no");
  store.chooseTarget("banana");
  assert.equal(store.state.data, null);
  assert.equal(store.state.dataTarget, null);
});
