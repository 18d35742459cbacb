// The ELBO trace: ELBO per iteration with the bound log Z as a dashed line above it, or the gap
// log Z - ELBO (= KL) on a log scale, where optimizers' convergence rates show as slopes.
// Earlier runs on the same target and family stay as grey "ghosts" to compare optimizers.

import { ticks } from "d3-array";
import { COLORS } from "./plot.js";

const PAD = { left: 46, right: 10, top: 10, bottom: 22 };

/** The trace's colours on a light page; a dark page passes its own (plot-view.js reads them
 * from the style sheet). q's line keeps q's orange in both. */
export const TRACE_LIGHT = { traceText: "#555", traceGrid: "#e3e3e3", traceBound: "#0b5394", traceGhost: "rgba(95, 99, 104, 0.55)" };

/** The value axis' ticks: about four round values in the ELBO view; in the gap view (log10 of
 * the gap) whole powers of ten only. */
export function traceTicks(lo, hi, mode) {
  if (mode === "gap") {
    const [first, last] = [Math.ceil(lo), Math.floor(hi)];
    return first <= last ? ticks(first, last, 4).filter(Number.isInteger) : [];
  }
  return ticks(lo, hi, 4);
}

/** A tick's label, with as many decimals as the axis' span needs. */
export function tickLabel(t, lo, hi) {
  const label = t.toFixed(Math.max(0, -Math.floor(Math.log10(hi - lo)) + 1));
  return /^-0(\.0*)?$/.test(label) ? label.slice(1) : label;
}

/** Points [[iteration, y]] of a trace in the chosen mode; gap mode drops non-positive gaps. */
export function series(trace, logZ, mode) {
  const out = [];
  for (const [i, elbo] of trace) {
    if (!Number.isFinite(elbo)) continue;
    if (mode === "gap") {
      const gap = logZ - elbo;
      if (gap > 0) out.push([i, Math.log10(gap)]);
    } else out.push([i, elbo]);
  }
  return out;
}

/** The axes' domain for points [[iteration, y]]: iterations 0..n, values lo..hi with a margin
 * (the ELBO view keeps log Z in sight). */
export function traceDomain(points, logZ, mode) {
  const values = points.map(([, v]) => v);
  if (mode === "elbo" && Number.isFinite(logZ)) values.push(logZ);
  let n = 1;
  for (const [i] of points) n = Math.max(n, i);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const margin = Math.max((hi - lo) * 0.08, mode === "gap" ? 0.2 : 0.05);
  return { n, lo: lo - margin, hi: hi + margin };
}

/**
 * Draw into a canvas of css size w x h.
 * trace: [[iteration, elbo], ...]; logZ: the bound; options.mode: "elbo" | "gap";
 * options.ghosts: [{label, trace}] of earlier runs; options.palette: colours (TRACE_LIGHT's keys).
 */
export function drawTrace(ctx, w, h, trace, logZ, { mode = "elbo", ghosts = [], palette = TRACE_LIGHT } = {}) {
  const colors = { ...TRACE_LIGHT, ...palette };
  const ghostColor = colors.traceGhost;
  ctx.clearRect(0, 0, w, h);
  if (mode === "gap" && !Number.isFinite(logZ)) mode = "elbo";
  const main = series(trace, logZ, mode);
  const others = ghosts.map((g) => ({ label: g.label, points: series(g.trace, logZ, mode) }));
  const { n, lo, hi } = traceDomain([main, ...others.map((g) => g.points)].flat(), logZ, mode);
  const X = (i) => PAD.left + (i / n) * (w - PAD.left - PAD.right);
  const Y = (v) => PAD.top + ((hi - v) / (hi - lo)) * (h - PAD.top - PAD.bottom);

  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = colors.traceText;
  ctx.strokeStyle = colors.traceGrid;
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of traceTicks(lo, hi, mode)) {
    ctx.beginPath();
    ctx.moveTo(PAD.left, Y(t));
    ctx.lineTo(w - PAD.right, Y(t));
    ctx.stroke();
    ctx.fillText(mode === "gap" ? `1e${t}` : tickLabel(t, lo, hi), PAD.left - 4, Y(t));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const caption = main.length > 1
    ? `iteration ${main[main.length - 1][0]}${mode === "gap" ? " · KL = log Z − ELBO, log scale" : ""}`
    : (mode === "gap" ? "KL = log Z − ELBO per iteration (log scale)" : "ELBO per iteration: press Optimize or Step");
  ctx.fillText(caption, (PAD.left + w - PAD.right) / 2, h - PAD.bottom + 6);

  if (mode === "elbo" && Number.isFinite(logZ)) {
    ctx.save();
    ctx.setLineDash([5, 4]);
    ctx.strokeStyle = colors.traceBound;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(PAD.left, Y(logZ));
    ctx.lineTo(w - PAD.right, Y(logZ));
    ctx.stroke();
    ctx.restore();
    ctx.fillStyle = colors.traceBound;
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    ctx.fillText("log Z", PAD.left + 4, Y(logZ) - 2);
  }

  const line = (points, color, width) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    points.forEach(([i, v], idx) => (idx ? ctx.lineTo(X(i), Y(v)) : ctx.moveTo(X(i), Y(v))));
    ctx.stroke();
  };
  ctx.textAlign = "right";
  ctx.textBaseline = "bottom";
  for (const ghost of others) {
    if (ghost.points.length < 2) continue;
    line(ghost.points, ghostColor, 1.5);
    const [li, lv] = ghost.points[ghost.points.length - 1];
    ctx.fillStyle = ghostColor;
    ctx.fillText(ghost.label, Math.max(PAD.left + 60, X(li)), Y(lv) - 2);
  }
  if (main.length) {
    line(main, COLORS.q, 2);
    const [li, lv] = main[main.length - 1];
    ctx.fillStyle = COLORS.q;
    ctx.beginPath();
    ctx.arc(X(li), Y(lv), 3, 0, 2 * Math.PI);
    ctx.fill();
  }
}
