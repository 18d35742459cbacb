// The ELBO's two terms, drawn (the article's argument in two small figures; functions of the state):
//
//   the bound:  E_q[log p̃] (the cross-entropy term) + H[q] (the entropy) = ELBO <= log Z, with the
//               gap KL(q||p), on a scale fixed per target (a worse q always looks worse);
//   the forces: both terms and their sum as q is shrunk and grown (x0.2 ... x5, vi_core's sweep,
//               see vi_core/forces.py), with the current q as a dot on each curve.
//
// Drawn as SVG built with createElementNS (no markup from data); colours come from style.css.

import { ticks } from "d3-array";
import { fmt, klText } from "./readouts.js";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

// ---- the bound figure

/** Nats within ±KNEE are drawn linearly, beyond on a log scale (a symmetric log). */
export const KNEE = 1;

/** The symmetric log of a value in nats: sign(v) ln(1 + |v| / KNEE). Strictly increasing. */
export function symlog(v, knee = KNEE) {
  return Math.sign(v) * Math.log1p(Math.abs(v) / knee);
}

const decade = (v) => 10 ** Math.ceil(Math.log10(Math.max(v, 1)));

/** The bound figure's range in nats, [lo, hi]: fixed for a target (it depends on log Z only),
 * so moving q never rescales it. At least -100 ... 10 nats; wider for a target whose log Z
 * is far from 0. Values outside are drawn at the edge, marked as cut. */
export function boundScale(logZ) {
  const z = Number.isFinite(logZ) ? logZ : 0;
  return { knee: KNEE, lo: -Math.max(100, 10 * decade(Math.abs(z))), hi: Math.max(10, 2 * decade(Math.max(z, 0) * 10)) };
}

const BOUND = { label: 70, right: 34, row: 18, bar: 11, top: 14 };
export const BOUND_HEIGHT = BOUND.top + 3 * BOUND.row + 20;

/** The figure's layout (pure): the three bars (the first term from 0, the entropy from there,
 * the ELBO from 0), log Z's position, the gap and the axis ticks, for readouts `r` on `scale` in
 * a figure `width` px wide. */
export function boundLayout(r, scale, width) {
  const x0 = BOUND.label;
  const x1 = Math.max(x0 + 40, width - BOUND.right);
  const [a, b] = [symlog(scale.lo, scale.knee), symlog(scale.hi, scale.knee)];
  const clamp = (v) => Math.min(scale.hi, Math.max(scale.lo, v));
  const x = (v) => x0 + ((symlog(clamp(v), scale.knee) - a) / (b - a)) * (x1 - x0);
  const cut = (v) => v < scale.lo || v > scale.hi;
  const e = r.expected_log_density;
  const bars = [
    { key: "expected", from: 0, to: e },
    { key: "entropy", from: e, to: e + r.entropy },
    { key: "elbo", from: 0, to: r.elbo },
  ].map((bar, i) => ({
    ...bar, y: BOUND.top + i * BOUND.row, x: Math.min(x(bar.from), x(bar.to)), xTo: x(bar.to),
    w: Math.abs(x(bar.to) - x(bar.from)), cut: cut(bar.from) || cut(bar.to), up: bar.to >= bar.from,
  }));
  const marks = [];
  for (let p = 0; 10 ** p <= Math.max(-scale.lo, scale.hi); p++) {
    for (const v of [-(10 ** p), 10 ** p]) if (v >= scale.lo && v <= scale.hi) marks.push(v);
  }
  marks.push(0);
  marks.sort((u, v) => u - v);
  // Label the ticks that have room, nearest 0 first.
  const labelled = [];
  for (const v of [...marks].sort((u, w) => Math.abs(u) - Math.abs(w))) {
    if (labelled.every((u) => Math.abs(x(u) - x(v)) >= 30)) labelled.push(v);
  }
  return {
    x0, x1, bars, logZ: x(r.log_z), elbo: x(r.elbo),
    ticks: marks.map((v) => ({ v, x: x(v), label: labelled.includes(v) ? tickText(v) : "" })),
  };
}

/** A tick's label: 0, ±1, ±10, ±100, ±1k, ±10k ... */
export function tickText(v) {
  const a = Math.abs(v);
  const s = a >= 1000 ? `${a / 1000}k` : String(a);
  return v < 0 ? `\u2212${s}` : s;
}

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text) node.textContent = text;
  return node;
}

const BAR_NAMES = { expected: ["E", "q", "[log p\u0303]"], entropy: ["+ H[q]"], elbo: ["= ELBO"] };
const BAR_TITLES = {
  expected: "E_q[log p\u0303], the cross-entropy term",
  entropy: "H[q], the entropy",
  elbo: "the ELBO, their sum",
};

function barLabel(key, y) {
  const t = el("text", { x: 4, y: y + BOUND.bar - 1, class: `bf-name bf-${key}` });
  const [head, sub, tail] = BAR_NAMES[key];
  t.append(head);
  if (sub) {
    t.append(el("tspan", { "baseline-shift": "sub", "font-size": "75%" }, sub));
    t.append(tail);
  }
  return t;
}

export function renderBoundFigure(state) {
  const fig = $("bound-figure");
  const svg = $("bound-svg");
  const r = state.view ? state.view.readouts : null;
  const ok = r && [r.elbo, r.expected_log_density, r.entropy, r.log_z].every(Number.isFinite);
  svg.replaceChildren();
  fig.dataset.parts = ok ? JSON.stringify({ expected_log_density: r.expected_log_density, entropy: r.entropy, elbo: r.elbo, log_z: r.log_z, kl: r.kl }) : "";
  if (!ok || fig.hidden || fig.closest(".control-hidden")) return;
  const width = Math.max(200, Math.round(svg.getBoundingClientRect().width) || 320);
  const scale = boundScale(r.log_z);
  fig.dataset.scale = JSON.stringify(scale);
  const g = boundLayout(r, scale, width);
  svg.setAttribute("viewBox", `0 0 ${width} ${BOUND_HEIGHT}`);
  svg.setAttribute("height", String(BOUND_HEIGHT));
  const axisY = BOUND.top + 3 * BOUND.row + 2;
  svg.append(el("line", { x1: g.x0, x2: g.x1, y1: axisY, y2: axisY, class: "bf-axis" }));
  for (const t of g.ticks) {
    svg.append(el("line", { x1: t.x, x2: t.x, y1: BOUND.top - 4, y2: axisY + 3, class: t.v === 0 ? "bf-zero" : "bf-grid" }));
    if (t.label) svg.append(el("text", { x: t.x, y: axisY + 14, class: "bf-tick" }, t.label));
  }
  for (const bar of g.bars) {
    svg.append(barLabel(bar.key, bar.y));
    // The ELBO's row: a thin line from 0 and a dot at the ELBO (the gap to log Z is drawn over it).
    const thin = bar.key === "elbo" ? 3 : BOUND.bar;
    const rect = el("rect", { x: bar.x, y: bar.y + (BOUND.bar - thin) / 2, width: Math.max(bar.w, 1), height: thin, class: `bf-bar bf-${bar.key}` });
    rect.append(el("title", {}, `${BAR_TITLES[bar.key]}: ${fmt(bar.key === "entropy" ? r.entropy : bar.to)} nats`));
    svg.append(rect);
    if (bar.cut) svg.append(el("text", { x: bar.up ? bar.x + bar.w - 2 : bar.x + 2, y: bar.y + BOUND.bar - 1, class: "bf-cut" }, bar.up ? "\u25b8" : "\u25c2"));
  }
  // log Z, the ceiling, across the rows; the gap on the ELBO's row.
  const yElbo = BOUND.top + 2 * BOUND.row;
  svg.append(el("line", { x1: g.logZ, x2: g.logZ, y1: BOUND.top - 12, y2: axisY, class: "bf-logz" }));
  svg.append(el("text", { x: g.logZ + 3, y: BOUND.top - 5, class: "bf-logz-label" }, "log Z"));
  svg.append(el("line", { x1: g.elbo, x2: g.logZ, y1: yElbo + BOUND.bar / 2, y2: yElbo + BOUND.bar / 2, class: "bf-gap" }));
  svg.append(el("circle", { cx: g.elbo, cy: yElbo + BOUND.bar / 2, r: 4.5, class: "bf-elbo-dot" }));
  svg.append(el("text", { x: g.logZ + 3, y: yElbo + BOUND.bar - 1, class: "bf-gap-label" }, `KL ${klText(r.kl, r.elbo_error)}`));
}

// ---- the two forces

const FORCE = { left: 40, right: 8, top: 8, bottom: 20, height: 132 };
export const CURVES = [
  { key: "expected_log_density", name: "E_q[log p\u0303]", cls: "fc-expected" },
  { key: "entropy", name: "H[q]", cls: "fc-entropy" },
  { key: "elbo", name: "ELBO", cls: "fc-elbo" },
];

/** The size of q as one number: the geometric mean of its components' scales (natural params). */
export function qSize(natural) {
  const logs = natural.scales.flatMap(([sx, sy]) => [Math.log(sx), Math.log(sy)]);
  return Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length);
}

/** Is a sweep for the q on show (same target, its data, family and K)? */
export function forcesFor(state) {
  const f = state.forces;
  return f && state.view && f.target === state.view.target && f.family === state.family && f.k === state.view.k
    && JSON.stringify(f.data ?? null) === JSON.stringify(state.data ?? null) ? f : null;
}

/** The chart's layout (pure): curves as pixel polylines (broken where a value is missing or
 * off the chart), the current q's factor and its three dots, the value axis' ticks.
 * The value range keeps what the sweep shows between x0.45 and x2.2 (the far ends of the
 * first term can fall by thousands of nats; they leave the chart at the bottom). */
export function forcesLayout(forces, current, width) {
  const f = forces.factors;
  const [la, lb] = [Math.log(f[0]), Math.log(f[f.length - 1])];
  const x = (c) => FORCE.left + ((Math.log(c) - la) / (lb - la)) * (width - FORCE.left - FORCE.right);
  const all = [];
  for (const { key } of CURVES) for (const v of forces[key]) if (Number.isFinite(v)) all.push(v);
  if (current) all.push(...[current.expected_log_density, current.entropy, current.elbo].filter(Number.isFinite));
  const elbos = forces.elbo.filter(Number.isFinite);
  let hi = all.length ? Math.max(...all) : 1;
  // Down to a few times the ELBO's distance from the top below its best: the first term's far
  // ends (it can fall by thousands of nats) leave the chart at the bottom.
  const best = elbos.length ? Math.max(...elbos) : hi;
  let lo = all.length ? Math.max(Math.min(...all), best - 3 * (hi - best) - 2) : -1;
  const pad = Math.max((hi - lo) * 0.06, 0.1);
  lo -= pad;
  hi += pad;
  const h = FORCE.height - FORCE.top - FORCE.bottom;
  const y = (v) => FORCE.top + ((hi - v) / (hi - lo)) * h;
  const curves = CURVES.map(({ key }) => {
    const runs = [];
    let cur = [];
    f.forEach((c, i) => {
      const v = forces[key][i];
      if (Number.isFinite(v) && v >= lo && v <= hi) cur.push([x(c), y(v)]);
      else if (Number.isFinite(v)) {
        // Off the chart: the line goes to the edge and stops.
        cur.push([x(c), y(Math.min(hi, Math.max(lo, v)))]);
        runs.push(cur);
        cur = [];
      } else if (cur.length) {
        runs.push(cur);
        cur = [];
      }
    });
    if (cur.length) runs.push(cur);
    return runs.filter((r) => r.length > 1);
  });
  let marker = null;
  if (current) {
    const factor = Math.min(f[f.length - 1], Math.max(f[0], current.factor));
    marker = {
      factor: current.factor, x: x(factor),
      dots: CURVES.map(({ key }) => (Number.isFinite(current[key]) ? Math.min(FORCE.top + h, Math.max(FORCE.top, y(current[key]))) : null)),
    };
  }
  return { curves, marker, lo, hi, y, x, ticks: ticks(lo, hi, 4).map((v) => ({ v, y: y(v) })) };
}

export function renderForces(state) {
  const fig = $("forces-figure");
  const svg = $("forces-svg");
  svg.replaceChildren();
  const forces = forcesFor(state);
  const r = state.view ? state.view.readouts : null;
  const current = forces && r ? {
    factor: qSize(state.view.natural) / qSize(forces.natural),
    expected_log_density: r.expected_log_density, entropy: r.entropy, elbo: r.elbo,
  } : null;
  const stale = !!forces && JSON.stringify(forces.theta) !== JSON.stringify(state.view.theta);
  fig.dataset.state = forces ? (stale ? "moved" : "current") : state.forcesError ? "unavailable" : "waiting";
  fig.dataset.sweep = forces ? JSON.stringify({ factors: forces.factors, expected_log_density: forces.expected_log_density, entropy: forces.entropy, elbo: forces.elbo }) : "";
  fig.dataset.factor = current ? String(current.factor) : "";
  $("forces-note").textContent = forces ? "" : state.forcesError || "Computing the terms around q\u2026";
  svg.setAttribute("height", "0");
  if (!forces || fig.closest(".control-hidden") || ($("terms") && !$("terms").open)) return;
  const width = Math.max(200, Math.round(svg.getBoundingClientRect().width) || 320);
  const g = forcesLayout(forces, current, width);
  svg.setAttribute("viewBox", `0 0 ${width} ${FORCE.height}`);
  svg.setAttribute("height", String(FORCE.height));
  for (const t of g.ticks) {
    svg.append(el("line", { x1: FORCE.left, x2: width - FORCE.right, y1: t.y, y2: t.y, class: "fc-grid" }));
    svg.append(el("text", { x: FORCE.left - 4, y: t.y + 3, class: "fc-tick" }, fmt(t.v, 3)));
  }
  const base = FORCE.height - FORCE.bottom;
  for (const c of [0.2, 0.5, 1, 2, 5]) {
    svg.append(el("line", { x1: g.x(c), x2: g.x(c), y1: FORCE.top, y2: base, class: c === 1 ? "fc-one" : "fc-grid" }));
    svg.append(el("text", { x: g.x(c), y: base + 13, class: "fc-xtick" }, `\u00d7${c}`));
  }
  CURVES.forEach(({ cls }, i) => {
    for (const run of g.curves[i]) {
      svg.append(el("polyline", { points: run.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "), class: `fc-line ${cls}${stale ? " fc-stale" : ""}` }));
    }
  });
  if (g.marker) {
    svg.append(el("line", { x1: g.marker.x, x2: g.marker.x, y1: FORCE.top, y2: base, class: "fc-now" }));
    CURVES.forEach(({ cls }, i) => {
      if (g.marker.dots[i] !== null) svg.append(el("circle", { cx: g.marker.x, cy: g.marker.dots[i], r: 3.5, class: `fc-dot ${cls}` }));
    });
  }
}
