import { test } from "node:test";
import assert from "node:assert/strict";
import { traceTicks, tickLabel, series, traceDomain, drawTrace, TRACE_LIGHT } from "../../site_src/js/trace.js";

test("ELBO ticks are round numbers inside the axis", () => {
  assert.deepEqual(traceTicks(-3.2, -0.7, "elbo"), [-3, -2.5, -2, -1.5, -1]);
  assert.deepEqual(traceTicks(0.03, 0.97, "elbo"), [0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(traceTicks(-105, 5, "elbo"), [-100, -80, -60, -40, -20, 0]);
  for (const [lo, hi] of [[-3.2, -0.7], [1e-3, 2e-3], [-1e4, 3e4]]) {
    for (const t of traceTicks(lo, hi, "elbo")) assert.ok(t >= lo && t <= hi);
  }
});

test("gap ticks are whole powers of ten", () => {
  assert.deepEqual(traceTicks(-6.3, 0.4, "gap"), [-6, -4, -2, 0]);
  assert.deepEqual(traceTicks(-2.2, -0.1, "gap"), [-2, -1]);
  assert.deepEqual(traceTicks(-0.5, 0.5, "gap").map((t) => t + 0), [0]); // -0 and 0 both label as 1e0
  assert.deepEqual(traceTicks(-0.6, -0.2, "gap"), []); // no power of ten in sight: none
  for (const t of traceTicks(-12.3, 3.9, "gap")) assert.ok(Number.isInteger(t) && t >= -12.3 && t <= 3.9);
});

test("tick labels carry the decimals the span needs, and no minus zero", () => {
  assert.equal(tickLabel(-2.5, -3.2, -0.7), "-2.5");
  assert.equal(tickLabel(0.0015, 0.001, 0.002), "0.0015");
  assert.equal(tickLabel(-0, -1, 1), "0.0");
  assert.equal(tickLabel(-1e-17, -1, 1), "0.0");
  assert.equal(tickLabel(-100, -105, 5), "-100");
});

test("series: the gap view is log10(log Z - ELBO), dropping non-positive gaps and gaps in the data", () => {
  const trace = [[0, -2], [1, 0], [2, 1], [3, null], [4, 0.99]];
  assert.deepEqual(series(trace, 1, "elbo"), [[0, -2], [1, 0], [2, 1], [4, 0.99]]);
  const gap = series(trace, 1, "gap");
  assert.deepEqual(gap.map(([i]) => i), [0, 1, 4]);
  assert.ok(Math.abs(gap[0][1] - Math.log10(3)) < 1e-15);
  assert.ok(Math.abs(gap[2][1] - -2) < 1e-12);
});

test("the domain keeps log Z in sight in the ELBO view, with a margin", () => {
  const d = traceDomain([[0, -3], [10, -1]], 0, "elbo");
  assert.equal(d.n, 10);
  assert.ok(Math.abs(d.lo - -3.24) < 1e-12 && Math.abs(d.hi - 0.24) < 1e-12);
  const g = traceDomain([[0, -1], [5, -1]], 0, "gap");
  assert.deepEqual([g.n, g.lo, g.hi], [5, -1.2, -0.8]);
  assert.deepEqual(traceDomain([], null, "elbo"), { n: 1, lo: -0.08, hi: 1.08 });
});

/** A 2D context that records the colours things are drawn in. */
function recordingContext() {
  const used = { fill: new Set(), stroke: new Set() };
  const ctx = {
    set fillStyle(v) { used.fill.add(v); }, set strokeStyle(v) { used.stroke.add(v); },
    font: "", lineWidth: 1, textAlign: "", textBaseline: "",
  };
  for (const name of ["clearRect", "beginPath", "moveTo", "lineTo", "stroke", "fill", "fillText", "arc", "save", "restore", "setLineDash"]) {
    ctx[name] = () => {};
  }
  return { ctx, used };
}

test("drawTrace draws in the palette it is given (dark theme), light by default", () => {
  const trace = [[0, -2], [1, -1], [2, -0.5]];
  const ghosts = [{ label: "Adam", trace: [[0, -2], [5, -0.6]] }];
  const light = recordingContext();
  drawTrace(light.ctx, 300, 100, trace, 0, { ghosts });
  for (const c of [TRACE_LIGHT.traceText, TRACE_LIGHT.traceBound, TRACE_LIGHT.traceGhost]) assert.ok(light.used.fill.has(c), c);
  assert.ok(light.used.stroke.has(TRACE_LIGHT.traceGrid));
  const dark = { traceText: "#b9bfc7", traceGrid: "#30353c", traceBound: "#8cbcf0", traceGhost: "rgba(185, 191, 199, 0.5)" };
  const d = recordingContext();
  drawTrace(d.ctx, 300, 100, trace, 0, { ghosts, palette: dark });
  for (const c of Object.values(TRACE_LIGHT)) {
    assert.ok(!d.used.fill.has(c) && !d.used.stroke.has(c), `light colour ${c} in a dark trace`);
  }
  for (const c of [dark.traceText, dark.traceBound, dark.traceGhost]) assert.ok(d.used.fill.has(c), c);
  assert.ok(d.used.stroke.has(dark.traceGrid) && d.used.stroke.has(dark.traceBound));
});
