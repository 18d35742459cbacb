// The ELBO trace: ELBO per iteration, with the bound log Z as a dashed line above it.

import { COLORS } from "./plot.js";

const PAD = { left: 46, right: 10, top: 10, bottom: 22 };

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) ticks.push(t);
  return ticks;
}

/** Draw `trace` ([[iteration, elbo], ...]) and the `logZ` line into a canvas of css size w x h. */
export function drawTrace(ctx, w, h, trace, logZ) {
  ctx.clearRect(0, 0, w, h);
  const finite = trace.filter(([, e]) => Number.isFinite(e));
  const values = finite.map(([, e]) => e);
  if (Number.isFinite(logZ)) values.push(logZ);
  const n = Math.max(1, finite.length ? finite[finite.length - 1][0] : 1);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!values.length) { lo = 0; hi = 1; }
  const margin = Math.max((hi - lo) * 0.08, 0.05);
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
  for (const t of niceTicks(lo, hi, 4)) {
    ctx.beginPath();
    ctx.moveTo(PAD.left, Y(t));
    ctx.lineTo(w - PAD.right, Y(t));
    ctx.stroke();
    const label = t.toFixed(Math.max(0, -Math.floor(Math.log10(hi - lo)) + 1));
    ctx.fillText(/^-0(\.0*)?$/.test(label) ? label.slice(1) : label, PAD.left - 4, Y(t));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText(finite.length > 1 ? `iteration ${n}` : "ELBO per iteration: press Optimize or Step", (PAD.left + w - PAD.right) / 2, h - PAD.bottom + 6);

  if (Number.isFinite(logZ)) {
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
  if (finite.length) {
    ctx.strokeStyle = COLORS.q;
    ctx.lineWidth = 2;
    ctx.beginPath();
    finite.forEach(([i, e], idx) => (idx ? ctx.lineTo(X(i), Y(e)) : ctx.moveTo(X(i), Y(e))));
    ctx.stroke();
    const [li, le] = finite[finite.length - 1];
    ctx.fillStyle = COLORS.q;
    ctx.beginPath();
    ctx.arc(X(li), Y(le), 3, 0, 2 * Math.PI);
    ctx.fill();
  }
}
