// The page's state in the URL: ?target=&family=&optimizer=&k= and q's natural parameters, and
// the look: ?theme=light|dark (without it the page follows the system's preference).
//
// q is written per component, components separated by ";":
//   mean=x,y;x,y   scale=sx,sy;sx,sy   corr=r;r   weight=w;w
// Numbers are rounded to LINK_DIGITS significant figures, and means and correlations within
// 1e-9 of 0 are written as 0: links stay short and stable (an optimizer's 1.59877e-18 is 0),
// and a copied link restores q to far better than the 4 figures the page shows.
// Parsing never throws: what cannot be read is dropped and reported in `problems`.

import { CUSTOM, kInRange } from "./catalog.js";

const Q_KEYS = ["mean", "scale", "corr", "weight", "layers"]; // layers: a flow's, "u1,u2,w1,w2,b;..."
const LINK_DIGITS = 7;

/** A number as a link writes it (see above); `snap`: whether a value near 0 becomes 0 (not for
 * scales and weights, which must stay positive). */
export function linkNumber(value, snap = true) {
  if (snap && Math.abs(value) < 1e-9) return "0";
  return String(Number(value.toPrecision(LINK_DIGITS)));
}
const ECHO_CHARS = 32; // a notice quotes at most this much of a bad value
export const THEMES = ["light", "dark"];

/** A bad value as a notice quotes it: in quotes, cut short (with "…") if long. */
export function echo(value) {
  const text = String(value);
  return `"${text.length > ECHO_CHARS ? text.slice(0, ECHO_CHARS - 1) + "…" : text}"`;
}

/** ?theme=: {theme: "light"|"dark"|null (follow the system), problem: string|null}. Pure. */
export function readTheme(search) {
  const params = new URLSearchParams(search);
  if (!params.has("theme")) return { theme: null, problem: null };
  const theme = params.get("theme");
  if (THEMES.includes(theme)) return { theme, problem: null };
  return { theme: null, problem: `unknown theme ${echo(theme)}, following the system's (${THEMES.join(" or ")})` };
}

function parseNumbers(text, perComponent) {
  const parts = text.split(";").map((c) => c.split(",").map((s) => (s.trim() === "" ? NaN : Number(s))));
  if (parts.some((p) => p.length !== perComponent || p.some((v) => !Number.isFinite(v)))) return null;
  return parts;
}

// ---- data= : a posterior's data (the catalog entry's `data` spec says their kind and limits)
//   values:    data=0.3,1.9,-0.2            (observations)
//   labelled:  data=0:0,0.25:1,4.75:1       (input:label pairs, label 0 or 1)
// Numbers are rounded to the spec's decimals. Parsing never throws.

/** The data as a link writes them. */
export function dataText(points, kind) {
  const num = (v) => String(Number(v.toFixed(12)));
  return kind === "labelled" ? points.map(([u, t]) => `${num(u)}:${t}`).join(",") : points.map(num).join(",");
}

/** A link's data= text read against a target's data spec: {points} or {problem}. Pure. */
export function parseData(text, spec) {
  const round = (v) => Number(v.toFixed(spec.decimals));
  const parts = String(text).split(",");
  const bad = (why) => ({ problem: `could not read data=${echo(text)} (${why}); showing the built-in data` });
  if (parts.length < spec.min_points || parts.length > spec.max_points) {
    return bad(`it takes ${spec.min_points} to ${spec.max_points} ${spec.noun}s`);
  }
  const [lo, hi] = spec.range;
  const number = (s) => (s.trim() === "" ? NaN : Number(s));
  const points = [];
  for (const part of parts) {
    const pieces = part.split(":");
    if (pieces.length !== (spec.kind === "labelled" ? 2 : 1)) {
      return bad(spec.kind === "labelled" ? "each point is input:label" : "each value is one number");
    }
    const v = number(pieces[0]);
    if (!Number.isFinite(v) || v < lo || v > hi) return bad(`values are numbers from ${lo} to ${hi}`);
    if (spec.kind === "labelled") {
      if (pieces[1] !== "0" && pieces[1] !== "1") return bad("labels are 0 or 1");
      points.push([round(v), Number(pieces[1])]);
    } else points.push(round(v));
  }
  return { points };
}

/** Are these the spec's own data (the built-in ones)? */
export function isDefaultData(points, spec) {
  return JSON.stringify(points) === JSON.stringify(spec.default);
}

/**
 * Read the state from a query string.
 * @param {string} search
 * @param {{min: number, max: number}|null} kLimits  K's limits (the catalog's k_range)
 * @returns {{target, family, optimizer, k, natural, source, theme, problems: string[]}}
 */
export function readUrlState(search, kLimits) {
  const params = new URLSearchParams(search);
  const problems = [];
  const state = {
    target: params.get("target"),
    family: params.get("family"),
    optimizer: params.get("optimizer"),
    k: null,
    natural: null,
    source: params.get("source"),
    data: params.get("data"), // the text; read against the target's spec in resolveUrlState
    theme: null,
    problems,
  };
  const look = readTheme(search);
  state.theme = look.theme;
  if (look.problem) problems.push(look.problem);
  if (params.has("k")) {
    const k = Number(params.get("k"));
    if (kInRange(kLimits, k)) state.k = k;
    else if (kLimits) problems.push(`k=${echo(params.get("k"))} is not a whole number from ${kLimits.min} to ${kLimits.max}`);
    else problems.push(`k=${echo(params.get("k"))} is not used by any family`);
  }
  if (params.has("mean")) {
    const means = parseNumbers(params.get("mean"), 2);
    const scales = params.has("scale") ? parseNumbers(params.get("scale"), 2) : null;
    const corrs = params.has("corr") ? parseNumbers(params.get("corr"), 1) : null;
    const weights = params.has("weight") ? parseNumbers(params.get("weight"), 1) : null;
    const layers = params.has("layers") ? parseNumbers(params.get("layers"), 5) : null;
    const bad = [
      [means, "mean"], [scales, "scale"], [corrs, "corr"], [weights, "weight"], [layers, "layers"],
    ].filter(([v, key]) => v === null && params.has(key)).map(([, key]) => key);
    if (bad.length || !means) {
      problems.push(`could not read q from the link (${bad.join(", ") || "mean"}); using the default q`);
    } else {
      const n = means.length;
      state.natural = {
        means,
        scales: scales ? scales : null,
        correlations: corrs ? corrs.map((c) => c[0]) : Array(n).fill(0),
        weights: weights ? weights.map((w) => w[0]) : Array(n).fill(1 / n),
      };
      if (layers) state.natural.layers = layers.map(([u1, u2, w1, w2, b]) => ({ u: [u1, u2], w: [w1, w2], b }));
    }
  } else {
    // q's other parameters mean nothing without its means: say they were dropped.
    const orphans = Q_KEYS.filter((key) => key !== "mean" && params.has(key));
    if (orphans.length) {
      problems.push(`${orphans.map((key) => `${key}=`).join(", ")} ignored without mean= (q in a link starts with its means); using the default q`);
    }
  }
  return state;
}

/**
 * What the link asks for, checked against the catalog: unknown ids fall back to `start`'s
 * (the page's defaults) with a problem that names the fallback.
 * @param {ReturnType<typeof readUrlState>} url
 * @param {ReturnType<import("./catalog.js").makeCatalog>} catalog
 * @param {{target: string, family: string, optimizer: string}} start
 * @returns {{target, family, k, optimizer, source, natural, theme, data, problems: string[]}}
 *   data: the posterior's data from the link (null: none, or the built-in ones)
 */
export function resolveUrlState(url, catalog, start) {
  const out = { target: start.target, family: start.family, k: null, optimizer: start.optimizer,
    source: null, natural: url.natural, theme: url.theme ?? null, problems: [...url.problems] };
  if (url.target === CUSTOM) {
    if (url.source) { out.target = CUSTOM; out.source = url.source; }
    else out.problems.push(`target=custom needs its source in the link, showing ${catalog.target(out.target).name}`);
  } else if (url.target !== null) {
    if (catalog.hasTarget(url.target)) out.target = url.target;
    else out.problems.push(`unknown target ${echo(url.target)}, showing ${catalog.target(out.target).name}`);
  }
  if (url.family !== null) {
    const alias = familyAlias(catalog, url.family);
    if (alias) { out.family = alias.family; out.k = alias.k; }
    else if (catalog.hasFamily(url.family)) out.family = catalog.family(url.family).id; // flow-8 is flow
    else {
      const flow = catalog.flow && url.family.startsWith(`${catalog.flow.id}-`) ? catalog.flow : null;
      const why = flow ? `: ${flow.id}-N takes N = ${flow.layers_range.min} to ${flow.layers_range.max} layers` : "";
      out.problems.push(`unknown family ${echo(url.family)}${why}, showing ${catalog.family(out.family).name}`);
    }
  }
  if (url.optimizer !== null) {
    if (catalog.hasOptimizer(url.optimizer)) out.optimizer = url.optimizer;
    else out.problems.push(`unknown optimizer ${echo(url.optimizer)}, using ${catalog.optimizer(out.optimizer).name}`);
  }
  if (url.k !== null && catalog.kRange(out.family)) out.k = url.k;
  out.data = null;
  if (url.data !== null && url.data !== undefined) {
    const spec = out.target !== CUSTOM ? catalog.target(out.target).data : null;
    if (!spec) out.problems.push(`data= is only for a posterior from data, not ${out.target === CUSTOM ? "your own target" : catalog.target(out.target).name}; ignored`);
    else {
      const read = parseData(url.data, spec);
      if (read.problem) out.problems.push(read.problem);
      else if (!isDefaultData(read.points, spec)) out.data = read.points;
    }
  }
  return out;
}

/** `${family}-${K}` for a family whose K is chosen (mixture-full-4): {family, k}, else null. */
export function familyAlias(catalog, text) {
  for (const id of catalog.familiesWithK()) {
    const match = text.match(new RegExp(`^${id.replace(/[-.]/g, "\\$&")}-(\\d+)$`));
    if (match && kInRange(catalog.kRange(id), Number(match[1]))) return { family: id, k: Number(match[1]) };
  }
  return null;
}

/** Write the state back: the link a visitor copies reproduces the view. Other params are kept. */
export function writeUrlState({ target, family, optimizer, k, natural, source, data = null }, base) {
  const params = new URLSearchParams(base);
  // A posterior's data, unless they are the built-in ones: {points, kind}.
  if (data) params.set("data", dataText(data.points, data.kind)); else params.delete("data");
  params.set("target", target);
  // A custom target travels in the link as its source code.
  if (target === CUSTOM && source) params.set("source", source); else params.delete("source");
  params.set("family", family);
  params.set("optimizer", optimizer);
  if (k) params.set("k", String(k)); else params.delete("k");
  for (const key of Q_KEYS) params.delete(key);
  if (natural) {
    const list = (values, snap) => values.map((v) => linkNumber(v, snap));
    params.set("mean", natural.means.map((m) => list(m, true).join(",")).join(";"));
    params.set("scale", natural.scales.map((s) => list(s, false).join(",")).join(";"));
    const corr = list(natural.correlations, true);
    if (corr.some((c) => c !== "0")) params.set("corr", corr.join(";"));
    if (natural.weights.length > 1) params.set("weight", list(natural.weights, false).join(";"));
    // A flow's planar layers (its base is the mean, scale and corr above).
    if (natural.layers) params.set("layers", natural.layers.map((l) => list([...l.u, ...l.w, l.b], true).join(",")).join(";"));
  }
  return "?" + params.toString().replace(/%2C/g, ",").replace(/%3B/g, ";").replace(/%3A/g, ":");
}
