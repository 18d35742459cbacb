// The catalog vi_core sends (protocol `catalog`, embedded in the page as #vi-initial's
// `catalog`) and the rules for q that it carries. The page states none of its own numbers for
// q, K, pacing, grid sizes or sample counts: they all come from here.
//
// Shapes (vi_core/protocol.py):
//   targets:    [{id, name, description, extent, log_z, log_z_error, log_z_method,
//                 ranges: {mean_x, mean_y, scale, correlation},     each range [lo, hi]
//                 axes: [x name, y name], group, data: null | {kind, points, default,
//                 min_points, max_points, range, decimals, noun}}]  (a posterior from data)
//   families:   [{id, name, description, kind: "isotropic"|"diagonal"|"full"|"flow", shared_scale,
//                 learns_weights, k, n_params, k_range: null | {min, max, default},
//                 layers_range: null | {min, max, default, name, description}}]
//               A family with a layers_range (the flow) also stands for `${id}-${N}`, N layers
//               (vi_core's flow-N; `${id}` itself is N = default): `family(id)` gives each
//               depth's entry, named by formatting name and description with {n} = N.
//   optimizers: [{id, name, description, pacing}]                     pacing: see messages.js
//   defaults:   {samples, target_grid: [nx, ny]}
//   comparisons: [{id, objective, alpha, name}]   what Compare sets beside the reverse-KL fit

/** @typedef {{mean_x: number[], mean_y: number[], scale: number[], correlation: number[]}} Ranges */
/** @typedef {{kind: "isotropic"|"diagonal"|"full", sharedScale: boolean, ranges: Ranges}} QRules */

export const CUSTOM = "custom"; // the id of a target typed in by the visitor

/** Lookups over the raw catalog. Throws if the catalog lacks what the page needs. */
export function makeCatalog(raw) {
  const index = (list, what) => {
    if (!Array.isArray(list) || !list.length) throw new Error(`the catalog has no ${what}`);
    return new Map(list.map((item) => [item.id, item]));
  };
  const targets = index(raw.targets, "targets");
  const families = index(raw.families, "families");
  const optimizers = index(raw.optimizers, "optimizers");
  for (const t of targets.values()) checkRanges(t);
  const withK = raw.families.filter((f) => f.k_range);
  const flow = raw.families.find((f) => f.layers_range) || null;
  const get = (map, what) => (id) => {
    const item = map.get(id);
    if (!item) throw new Error(`unknown ${what} ${JSON.stringify(id)}`);
    return item;
  };
  /** A flow id's depth: `${flow.id}` -> default, `${flow.id}-${N}` -> N in range; else null. */
  const layersOf = (id) => {
    if (!flow || typeof id !== "string") return null;
    const range = flow.layers_range;
    if (id === flow.id) return range.default;
    const match = id.startsWith(`${flow.id}-`) ? id.slice(flow.id.length + 1).match(/^[1-9]\d*$/) : null;
    const n = match ? Number(match[0]) : NaN;
    return n >= range.min && n <= range.max ? n : null;
  };
  const depths = new Map(); // flow entries by id, made once
  const familyEntry = (id) => {
    const n = layersOf(id);
    if (n === null) return get(families, "family")(id);
    const canonical = flowId(flow, n);
    if (!depths.has(canonical)) {
      const fill = (text) => text.replaceAll("{n}", String(n));
      depths.set(canonical, Object.freeze({ ...flow, id: canonical, name: fill(flow.layers_range.name),
        description: fill(flow.layers_range.description), n_params: null, layers: n }));
    }
    return depths.get(canonical);
  };
  return Object.freeze({
    targets: raw.targets,
    families: raw.families,
    optimizers: raw.optimizers,
    /** What Compare can set beside the reverse-KL fit: [{id, objective, alpha, name}]. */
    comparisons: raw.comparisons || [],
    /** The comparison of an id; for null (or an id not listed) the first, or null if none. */
    comparison: (id) => (raw.comparisons || []).find((c) => c.id === id) || (raw.comparisons || [])[0] || null,
    /** The listed flow family (its layers_range gives the depths), or null. */
    flow,
    /** Samples drawn from q for the Monte Carlo ELBO. */
    samples: raw.defaults.samples,
    hasTarget: (id) => targets.has(id),
    hasFamily: (id) => families.has(id) || layersOf(id) !== null,
    /** Is the id one of the listed families (the family select's options; the build
     * precomputed their views)? A flow of another depth is a family but not listed. */
    listed: (id) => families.has(id),
    hasOptimizer: (id) => optimizers.has(id),
    target: get(targets, "target"),
    family: familyEntry,
    optimizer: get(optimizers, "optimizer"),
    /** The pacing table of an optimizer's runs. */
    pacing: (optimizerId) => get(optimizers, "optimizer")(optimizerId).pacing,
    /** {min, max, default} if the family's K is chosen by the visitor, else null. */
    kRange: (familyId) => familyEntry(familyId).k_range || null,
    /** K's limits for a link's k= (the one family with a K range), or null. */
    kLimits: () => (withK.length ? withK[0].k_range : null),
    /** Families whose K is chosen: their ids (a link may say `${id}-${K}`). */
    familiesWithK: () => withK.map((f) => f.id),
    /** {min, max, default} of layers if the id is a flow (any depth), else null. */
    layersRange: (id) => (layersOf(id) !== null ? flow.layers_range : null),
    /** A flow id's layers, or null. */
    layers: layersOf,
    /** The listed family an id belongs to: the flow's id for every depth, else the id. */
    listedFamily: (id) => (layersOf(id) !== null ? flow.id : id),
    /** The flow's id for N layers (the default depth is the plain id, as in vi_core). */
    flowId: (n) => flowId(flow, n),
  });
}

function flowId(flow, n) {
  return n === flow.layers_range.default ? flow.id : `${flow.id}-${n}`;
}

function checkRanges(target) {
  const r = target.ranges;
  for (const key of ["mean_x", "mean_y", "scale", "correlation"]) {
    if (!r || !Array.isArray(r[key]) || r[key].length !== 2 || !(r[key][0] < r[key][1])) {
      throw new Error(`target ${target.id}: ranges.${key} must be [lo, hi]`);
    }
  }
}

// ------------------------------------------------------------------------------- q's rules

/** K as the protocol takes it: for a family with a K range, the chosen K (or its default);
 * for the others null (their K is fixed). */
export function requestK(catalog, familyId, k) {
  const range = catalog.kRange(familyId);
  return range ? (k ?? range.default) : null;
}

/** Components of q: the chosen K, or the family's own. */
export function componentCount(catalog, familyId, k) {
  return requestK(catalog, familyId, k) ?? catalog.family(familyId).k;
}

/** Is K a whole number within the range? */
export function kInRange(range, k) {
  return range !== null && Number.isInteger(k) && k >= range.min && k <= range.max;
}

/** The K choices for the K select, from the range. */
export function kChoices(range) {
  if (!range) return [];
  return Array.from({ length: range.max - range.min + 1 }, (_, i) => range.min + i);
}

/** The target entry: built-in from the catalog, or the custom one (an entry of the same shape,
 * kept in the store), or a posterior given the visitor's data (`dataTarget`, vi_core's entry
 * for them, kept in the store). */
export function targetEntry(catalog, targetId, customTarget, dataTarget = null) {
  if (targetId === CUSTOM) return customTarget;
  if (dataTarget && dataTarget.id === targetId) return dataTarget;
  return catalog.hasTarget(targetId) ? catalog.target(targetId) : null;
}

/** What a handle or a field may do to q: the family's kind and the target's ranges. */
export function qRules(catalog, familyId, target) {
  const family = catalog.family(familyId);
  return { kind: family.kind, sharedScale: Boolean(family.shared_scale), ranges: target.ranges };
}

export const clamp = (value, [lo, hi]) => Math.min(hi, Math.max(lo, value));
export const inRange = (value, [lo, hi]) => value >= lo && value <= hi;
