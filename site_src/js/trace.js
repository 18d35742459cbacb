// The ELBO trace: ELBO per iteration with the bound log Z as a dashed line above it, or the gap
// log Z - ELBO (= KL) on a log scale, where optimizers' convergence rates show as slopes.
// Earlier runs on the same target and family stay as grey "ghosts" to compare optimizers.

import { COLORS } from "./plot.js";

const PAD = { left: 46, right: 10, top: 10, bottom: 22 };
const GHOST = "rgba(95, 99, 104, 0.55)";

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) ticks.push(t);
  return ticks;
}

function tickLabel(t, lo, hi) {
  const label = t.toFixed(Math.max(0, -Math.floor(Math.log10(hi - lo)) + 1));
  return /^-0(\.0*)?$/.test(label) ? label.slice(1) : label;
}

/** Points [[iteration, y]] of a trace in the chosen mode; gap mode drops non-positive gaps. */
function series(trace, logZ, mode) {
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

/**
 * Draw into a canvas of css size w x h.
 * trace: [[iteration, elbo], ...]; logZ: the bound; options.mode: "elbo" | "gap";
 * options.ghosts: [{label, trace}] of earlier runs.
 */
export function drawTrace(ctx, w, h, trace, logZ, { mode = "elbo", ghosts = [] } = {}) {
  ctx.clearRect(0, 0, w, h);
  if (mode === "gap" && !Number.isFinite(logZ)) mode = "elbo";
  const main = series(trace, logZ, mode);
  const others = ghosts.map((g) => ({ label: g.label, points: series(g.trace, logZ, mode) }));
  const all = [main, ...others.map((g) => g.points)].flat();
  const values = all.map(([, v]) => v);
  if (mode === "elbo" && Number.isFinite(logZ)) values.push(logZ);
  let n = 1;
  for (const [i] of all) n = Math.max(n, i);
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  const margin = Math.max((hi - lo) * 0.08, mode === "gap" ? 0.2 : 0.05);
  lo -= margin;
  hi += margin;
  const X = (i) => PAD.left + (i / n) * (w - PAD.left - PAD.right);
  const Y = (v) => PAD.top + ((hi - v) / (hi - lo)) * (h - PAD.top - PAD.bottom);

  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#555";
  ctx.strokeStyle = "#e3e3e3";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const ticks = mode === "gap"
    ? niceTicks(Math.ceil(lo), Math.floor(hi), 4).filter(Number.isInteger)
    : niceTicks(lo, hi, 4);
  for (const t of ticks) {
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
    ctx.strokeStyle = "#0b5394";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(PAD.left, Y(logZ));
    ctx.lineTo(w - PAD.right, Y(logZ));
    ctx.stroke();
    ctx.restore();
    ctx.fillStyle = "#0b5394";
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
    line(ghost.points, GHOST, 1.5);
    const [li, lv] = ghost.points[ghost.points.length - 1];
    ctx.fillStyle = GHOST;
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
