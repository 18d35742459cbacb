import { test } from "node:test";
import assert from "node:assert/strict";
import { readUrlState, resolveUrlState, writeUrlState, familyAlias, echo, readTheme } from "../../site_src/js/url-state.js";
import { catalog } from "./fixtures.js";

const K = { min: 1, max: 10 };
const START = { target: "banana", family: "gaussian-full", optimizer: "lbfgs" };

test("a written link reads back to the same state, numbers to 7 significant figures, near-zeros as 0", () => {
  const natural = {
    means: [[0.1, -2.5e-7], [1 / 3, 1e21]],
    scales: [[0.3, 0.7], [Math.PI, 2 ** -20]],
    correlations: [0, -0.987654321],
    weights: [0.25, 0.75],
  };
  const search = writeUrlState({ target: "ring", family: "mixture-full", optimizer: "adam", k: 2, natural, source: null }, "");
  assert.equal(search.includes("%2C"), false); // commas and semicolons stay readable
  assert.equal(search.includes("%3B"), false);
  const back = readUrlState(search, K);
  assert.deepEqual(back.problems, []);
  assert.equal(back.target, "ring");
  assert.equal(back.family, "mixture-full");
  assert.equal(back.optimizer, "adam");
  assert.equal(back.k, 2);
  assert.deepEqual(back.natural, {
    means: [[0.1, -2.5e-7], [0.3333333, 1e21]],
    scales: [[0.3, 0.7], [3.141593, 9.536743e-7]],
    correlations: [0, -0.9876543],
    weights: [0.25, 0.75],
  });
  // What an optimizer leaves behind does not lengthen the link.
  const tiny = writeUrlState({ target: "ring", family: "gaussian-full", optimizer: "lbfgs", k: null,
    natural: { means: [[1.5987746879424919e-18, 0.30000056063846]], scales: [[0.1, 0.1]], correlations: [-2e-17], weights: [1] }, source: null }, "");
  assert.equal(tiny, "?target=ring&family=gaussian-full&optimizer=lbfgs&mean=0,0.3000006&scale=0.1,0.1");
});

test("writing keeps other parameters and drops q's old ones", () => {
  const natural = { means: [[1, 2]], scales: [[0.5, 0.5]], correlations: [0], weights: [1] };
  const search = writeUrlState({ target: "banana", family: "gaussian-isotropic", optimizer: "lbfgs", k: null, natural, source: null },
    "?embed=1&corr=0.5&weight=0.1;0.9&k=4&controls=trace");
  const params = new URLSearchParams(search);
  assert.equal(params.get("embed"), "1");
  assert.equal(params.get("controls"), "trace");
  assert.equal(params.has("corr"), false); // all zero: left out
  assert.equal(params.has("weight"), false); // one component: left out
  assert.equal(params.has("k"), false);
  assert.equal(params.get("mean"), "1,2");
  assert.equal(params.get("scale"), "0.5,0.5");
});

test("a custom target travels as its source, and only with target=custom", () => {
  const source = "def log_density(x, y):\n    return -(x**2 + y**2) / 2  # a; b, c & d\n";
  const search = writeUrlState({ target: "custom", family: "gaussian-full", optimizer: "lbfgs", k: null, natural: null, source }, "");
  assert.equal(readUrlState(search, K).source, source);
  const other = writeUrlState({ target: "banana", family: "gaussian-full", optimizer: "lbfgs", k: null, natural: null, source }, search);
  assert.equal(new URLSearchParams(other).has("source"), false);
});

test("garbled q is dropped with a problem that names the bad part", () => {
  for (const [query, bad] of [
    ["mean=1,x", "mean"], ["mean=NaN,1", "mean"], ["mean=1,2,3", "mean"], ["mean=1e999,0", "mean"],
    ["mean=0,0&scale=1", "scale"], ["mean=0,0&corr=a", "corr"], ["mean=0,0;1,1&weight=0.5;", "weight"],
    ["mean=", "mean"],
  ]) {
    const state = readUrlState("?" + query, K);
    assert.equal(state.natural, null, query);
    assert.equal(state.problems.length, 1, query);
    assert.match(state.problems[0], new RegExp(`could not read q from the link \\(${bad}`), query);
  }
});

test("q's other parameters without mean= are dropped with a notice that says so", () => {
  for (const [query, named] of [
    ["layers=0.1,0.2,0.3,0.4,0.5", "layers="], ["scale=1,1", "scale="],
    ["scale=1,1&corr=0.5&weight=1&layers=0,0,0,0,0", "scale=, corr=, weight=, layers="],
  ]) {
    const state = readUrlState("?target=banana&" + query, K);
    assert.equal(state.natural, null, query);
    assert.equal(state.problems.length, 1, query);
    assert.ok(state.problems[0].startsWith(`${named} ignored without mean=`), state.problems[0]);
  }
  assert.deepEqual(readUrlState("?target=banana&family=flow", K).problems, []);
});

test("q from means alone: scales left to the family, correlations 0, equal weights", () => {
  const state = readUrlState("?mean=0,0;1,1;2,2", K);
  assert.deepEqual(state.problems, []);
  assert.deepEqual(state.natural, { means: [[0, 0], [1, 1], [2, 2]], scales: null, correlations: [0, 0, 0], weights: [1 / 3, 1 / 3, 1 / 3] });
});

test("k must be a whole number within the limits it is given", () => {
  assert.equal(readUrlState("?k=10", K).k, 10);
  assert.equal(readUrlState("?k=1", K).k, 1);
  for (const bad of ["0", "11", "2.5", "x", "", "-3"]) {
    const state = readUrlState(`?k=${bad}`, K);
    assert.equal(state.k, null, bad);
    assert.deepEqual(state.problems, [`k="${bad}" is not a whole number from 1 to 10`]);
  }
  // The limits are the caller's (the catalog's), not the module's.
  assert.equal(readUrlState("?k=12", { min: 2, max: 12 }).k, 12);
  assert.equal(readUrlState("?k=1", { min: 2, max: 12 }).k, null);
  assert.match(readUrlState("?k=3", null).problems[0], /not used/);
});

test("parsing never throws, whatever the query", () => {
  for (const query of ["?target=%ZZ&family=&optimizer=%00", "?%%%", "?mean=;;;", "?scale=1,1", "?k=1e400", "?&&&="]) {
    const state = readUrlState(query, K);
    assert.ok(Array.isArray(state.problems));
  }
});

test("resolving: unknown ids fall back to the defaults, naming what is shown", () => {
  const url = readUrlState("?target=nope&family=gaussian-diagonal&optimizer=sgd&mean=1,x", K);
  const out = resolveUrlState(url, catalog, START);
  assert.equal(out.target, "banana");
  assert.equal(out.family, "gaussian-diagonal");
  assert.equal(out.optimizer, "lbfgs");
  assert.equal(out.problems.length, 3);
  assert.match(out.problems.join("; "), /unknown target "nope", showing Banana/);
  assert.match(out.problems.join("; "), /unknown optimizer "sgd", using L-BFGS/);
  const empty = resolveUrlState(readUrlState("?family=", K), catalog, START);
  assert.deepEqual(empty.problems, ['unknown family "", showing Full Gaussian']);
});

test("resolving: family-K aliases and k= apply to the family with a K range only", () => {
  let out = resolveUrlState(readUrlState("?family=mixture-full-4", K), catalog, START);
  assert.deepEqual([out.family, out.k, out.problems], ["mixture-full", 4, []]);
  out = resolveUrlState(readUrlState("?family=mixture-full&k=7", K), catalog, START);
  assert.deepEqual([out.family, out.k], ["mixture-full", 7]);
  out = resolveUrlState(readUrlState("?family=gaussian-full&k=7", K), catalog, START);
  assert.deepEqual([out.family, out.k], ["gaussian-full", null]);
  out = resolveUrlState(readUrlState("?family=mixture-full-11", K), catalog, START);
  assert.equal(out.family, "gaussian-full");
  assert.match(out.problems[0], /unknown family "mixture-full-11"/);
  assert.equal(familyAlias(catalog, "mixture-3"), null);
  assert.equal(familyAlias(catalog, "mixture-fullx-2"), null);
});

test("resolving: target=custom needs its source", () => {
  let out = resolveUrlState(readUrlState("?target=custom", K), catalog, START);
  assert.equal(out.target, "banana");
  assert.match(out.problems[0], /needs its source/);
  out = resolveUrlState(readUrlState("?target=custom&source=x", K), catalog, START);
  assert.deepEqual([out.target, out.source, out.problems], ["custom", "x", []]);
});

test("a notice quotes at most a short, elided part of a bad value", () => {
  const long = "x".repeat(120);
  const out = resolveUrlState(readUrlState(`?target=${long}&family=${long}`, null), catalog, START);
  for (const problem of out.problems) assert.ok(problem.length < 80, problem);
  assert.match(out.problems[0], /unknown target "x{31}…"/);
  assert.equal(echo("short"), '"short"');
});

test("theme=light|dark is read; anything else is a problem quoted (cut short) and ignored", () => {
  assert.deepEqual(readTheme(""), { theme: null, problem: null });
  assert.deepEqual(readTheme("?theme=dark"), { theme: "dark", problem: null });
  assert.deepEqual(readTheme("?embed=1&theme=light"), { theme: "light", problem: null });
  for (const bad of ["Dark", "", "auto", "<img src=x onerror=alert(1)>", "x".repeat(200)]) {
    const out = readTheme(`?theme=${encodeURIComponent(bad)}`);
    assert.equal(out.theme, null);
    assert.ok(out.problem.startsWith(`unknown theme ${echo(bad)}`), out.problem);
    assert.ok(out.problem.length < 100);
  }
  // readUrlState reports it with the link's other problems, and the theme travels on.
  const read = readUrlState("?theme=purple&family=nope", K);
  assert.equal(read.theme, null);
  assert.equal(read.problems.length, 1);
  const resolved = resolveUrlState(readUrlState("?theme=dark&family=nope", K), catalog, START);
  assert.equal(resolved.theme, "dark");
  assert.equal(resolved.problems.length, 1); // the family's
  // Writing the link back keeps the theme (other params are kept).
  const search = writeUrlState({ target: "banana", family: "gaussian-full", optimizer: "lbfgs", k: null, natural: null, source: null }, "?theme=dark&embed=1");
  assert.match(search, /theme=dark/);
  assert.match(search, /embed=1/);
});

test("a flow's layers travel in the link and read back", () => {
  const natural = { means: [[0.1, 0.2]], scales: [[0.5, 0.4]], correlations: [0.3], weights: [1],
    layers: [{ u: [0.1234567891, -1e-12], w: [1, 0], b: 0.5 }, { u: [0, 0.2], w: [0.6, -0.8], b: -1 }] };
  const search = writeUrlState({ target: "banana", family: "flow", optimizer: "lbfgs", k: null, natural, source: null }, "");
  assert.ok(search.includes("layers=0.1234568,0,1,0,0.5;0,0.2,0.6,-0.8,-1"), search);
  const back = readUrlState(search, K);
  assert.deepEqual(back.problems, []);
  assert.deepEqual(back.natural.layers, [{ u: [0.1234568, 0], w: [1, 0], b: 0.5 }, { u: [0, 0.2], w: [0.6, -0.8], b: -1 }]);
  const bad = readUrlState("?target=banana&family=flow&mean=0,0&layers=1,2,3", K);
  assert.equal(bad.natural, null);
  assert.match(bad.problems[0], /layers/);
  // A family without layers drops the old ones from the link.
  const plain = writeUrlState({ target: "banana", family: "gaussian-full", optimizer: "lbfgs", k: null,
    natural: { means: [[0, 0]], scales: [[1, 1]], correlations: [0], weights: [1] }, source: null }, search);
  assert.equal(plain.includes("layers"), false);
});

test("family=flow-N in a link: any depth in range; the default depth is flow; others say the range", () => {
  const at = (search) => resolveUrlState(readUrlState(search, K), catalog, START);
  assert.equal(at("?family=flow-16").family, "flow-16");
  assert.deepEqual(at("?family=flow-16").problems, []);
  assert.equal(at("?family=flow-8").family, "flow");
  assert.equal(at("?family=flow").family, "flow");
  const far = at("?family=flow-40");
  assert.equal(far.family, START.family);
  assert.match(far.problems[0], /flow-N takes N = 1 to 32 layers/);
  // A flow's k= means nothing (its depth is in the id).
  assert.equal(at("?family=flow-4&k=3").k, null);
  // The link written for a deeper flow names it.
  const search = writeUrlState({ target: "banana", family: "flow-16", optimizer: "lbfgs", k: null, natural: null, source: null }, "");
  assert.match(search, /family=flow-16/);
  assert.doesNotMatch(search, /k=/);
});
