import { test } from "node:test";
import assert from "node:assert/strict";
import { symlog, boundScale, boundLayout, tickText, forcesLayout, qSize, forcesFor } from "../../site_src/js/terms.js";

test("symlog is odd, linear near 0 and strictly increasing", () => {
  assert.equal(symlog(0), 0);
  assert.equal(symlog(-3), -symlog(3));
  const xs = [-1e4, -100, -10, -1, -0.1, 0, 0.1, 1, 10, 100, 1e4];
  for (let i = 1; i < xs.length; i++) assert.ok(symlog(xs[i]) > symlog(xs[i - 1]));
  assert.ok(Math.abs(symlog(1e-6) - 1e-6) < 1e-12);
});

test("the bound figure's scale depends on log Z only, and covers it", () => {
  assert.deepEqual(boundScale(-1.15), boundScale(-1.15));
  for (const z of [-1.15, 0.5, -14, 37, -4000]) {
    const s = boundScale(z);
    assert.ok(s.lo <= -100 && s.hi >= 10);
    assert.ok(s.lo < z && z < s.hi, z);
  }
});

const r = (e, h, z) => ({ expected_log_density: e, entropy: h, elbo: e + h, log_z: z, kl: z - e - h });

test("the bars add up: the entropy starts where the first term ends, the ELBO from 0", () => {
  const g = boundLayout(r(-2.9, 1.7, -1.15), boundScale(-1.15), 320);
  const [e, h, elbo] = g.bars;
  assert.equal(e.from, 0);
  assert.equal(h.from, -2.9);
  assert.ok(Math.abs(h.to - -1.2) < 1e-12 && Math.abs(elbo.to - -1.2) < 1e-12);
  assert.ok(Math.abs(h.xTo - elbo.xTo) < 1e-9); // the parts end where the ELBO does
  assert.ok(Math.abs(e.xTo - h.x) < 1e-9);
  assert.ok(g.elbo < g.logZ); // the ELBO left of (below) log Z
});

test("on one target a worse q always looks worse: the gap grows with the KL", () => {
  const scale = boundScale(-1.15);
  let last = -1;
  for (const elbo of [-1.16, -1.3, -2, -5, -20, -60, -99]) {
    const g = boundLayout(r(elbo - 1, 1, -1.15), scale, 320);
    const gap = g.logZ - g.elbo;
    assert.ok(gap > last, elbo);
    last = gap;
  }
});

test("values beyond the scale are drawn at its edge and marked cut", () => {
  const g = boundLayout(r(-5000, 2, -1.15), boundScale(-1.15), 320);
  assert.ok(g.bars[0].cut && g.bars[1].cut && g.bars[2].cut);
  assert.ok(g.bars[0].x >= g.x0 - 1e-9);
});

test("tick labels", () => {
  assert.equal(tickText(0), "0");
  assert.equal(tickText(-1000), "\u22121k");
  assert.equal(tickText(10), "10");
  const g = boundLayout(r(-3, 1, -1), boundScale(-1), 320);
  const labelled = g.ticks.filter((t) => t.label);
  assert.ok(labelled.some((t) => t.v === 0));
  for (let i = 1; i < labelled.length; i++) assert.ok(labelled[i].x - labelled[i - 1].x >= 30);
});

test("the forces chart: the current q's factor, its dots and curves cut at the chart's edge", () => {
  const factors = [0.2, 0.5, 1, 2, 5];
  const forces = { factors, expected_log_density: [-0.6, -0.8, -1.9, -15, -259], entropy: [-2.3, -0.4, 1, 2.4, 4.2], elbo: [-2.9, -1.2, -0.9, -12.6, -255] };
  const g = forcesLayout(forces, { factor: 2, expected_log_density: -15, entropy: 2.4, elbo: -12.6 }, 300);
  assert.ok(Math.abs(g.marker.x - g.x(2)) < 1e-9);
  assert.ok(g.lo <= -15 && g.hi >= 2.4);
  assert.equal(g.curves.length, 3);
  // the first term's far end (-259) is off the chart: its line stops at the bottom edge
  const last = g.curves[0].at(-1).at(-1);
  assert.ok(Math.abs(last[1] - g.y(g.lo)) < 1e-9);
  const none = forcesLayout({ ...forces, elbo: [null, -1.2, -0.9, null, null] }, null, 300);
  assert.equal(none.curves[2].length, 1);
  assert.equal(none.marker, null);
});

test("q's size and whether a sweep is for the q on show", () => {
  assert.ok(Math.abs(qSize({ scales: [[0.5, 2]] }) - 1) < 1e-12);
  const state = { family: "gaussian-full", view: { target: "banana", k: 1 }, forces: { target: "banana", family: "gaussian-full", k: 1 } };
  assert.equal(forcesFor(state), state.forces);
  assert.equal(forcesFor({ ...state, family: "gaussian-diagonal" }), null);
  assert.equal(forcesFor({ ...state, view: { target: "bimodal", k: 1 } }), null);
});
