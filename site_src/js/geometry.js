// The geometry of q's handles, in data coordinates: where each handle sits, and what q becomes
// when one is moved. Pure: no DOM, no state; the rules (family kind, shared scale, the target's
// ranges) come from the catalog (catalog.js, qRules).

import { clamp } from "./catalog.js";

/** Principal axes of a 2x2 covariance: [{length, angle}] (angle of the axis in data space),
 * the major axis first. */
export function principalAxes(cov) {
  const [[a, b], [, d]] = cov;
  const half = (a + d) / 2;
  const root = Math.sqrt(((a - d) / 2) ** 2 + b * b);
  const l1 = half + root;
  const l2 = Math.max(half - root, 1e-300);
  const theta = root < 1e-15 * half ? 0 : 0.5 * Math.atan2(2 * b, a - d);
  return [
    { length: Math.sqrt(l1), angle: theta },
    { length: Math.sqrt(l2), angle: theta + Math.PI / 2 },
  ];
}

/** A Gaussian's density is `fraction` of its peak on the ellipse of Mahalanobis radius
 * sqrt(-2 ln fraction) (its principal axes scaled by that radius). */
export function contourRadius(fraction) {
  return Math.sqrt(-2 * Math.log(fraction));
}

/** Scales and correlation of Cov = R diag(a², b²) Rᵀ, R the rotation by `angle`. */
export function fromAxes(a, b, angle) {
  const c = Math.cos(angle), s = Math.sin(angle);
  const vxx = a * a * c * c + b * b * s * s;
  const vyy = a * a * s * s + b * b * c * c;
  const vxy = (a * a - b * b) * c * s;
  const sx = Math.sqrt(vxx), sy = Math.sqrt(vyy);
  return { sx, sy, rho: vxy / (sx * sy) };
}

/** Handle kinds by family kind, besides every component's "mean". */
export const SCALE_HANDLES = { isotropic: ["radius"], diagonal: ["sx", "sy"], full: ["major", "minor"] };

/**
 * The handles of a view, in data coordinates: a mean handle per component, and the selected
 * component's scale handles. Returns [{kind, k, x, y}].
 * @param {object} view  a vi_core view (components.means, components.covs, natural.scales)
 * @param {"isotropic"|"diagonal"|"full"} kind  the family's kind
 * @param {number} selected  the selected component
 */
export function handleSpecs(view, kind, selected) {
  if (!view) return [];
  const { means, covs } = view.components;
  const specs = means.map((m, k) => ({ kind: "mean", k, x: m[0], y: m[1] }));
  const k = Math.min(selected, means.length - 1);
  const [mx, my] = means[k];
  const s = view.natural.scales[k];
  if (kind === "isotropic") {
    specs.push({ kind: "radius", k, x: mx + s[0], y: my });
  } else if (kind === "diagonal") {
    specs.push({ kind: "sx", k, x: mx + s[0], y: my }, { kind: "sy", k, x: mx, y: my + s[1] });
  } else {
    const [major, minor] = principalAxes(covs[k]);
    for (const [name, axis] of [["major", major], ["minor", minor]]) {
      specs.push({ kind: name, k, x: mx + axis.length * Math.cos(axis.angle), y: my + axis.length * Math.sin(axis.angle) });
    }
  }
  return specs;
}

/**
 * q's natural parameters after moving handle `handle` of component k to the data point (x, y),
 * kept within the target's ranges.
 * @param {object} view  the current view (natural parameters and component covariances)
 * @param {import("./catalog.js").QRules} rules
 */
export function naturalAfterMove(view, rules, handle, k, x, y) {
  const nat = structuredClone(view.natural);
  const { ranges } = rules;
  // The handles sit at the component's centre: its mean, or for a flow T(0), which moving the
  // base's mean m translates with it (natural.means holds m).
  const [mx, my] = view.components.means[k];
  const scale = (s) => clamp(s, ranges.scale);
  if (handle === "mean") {
    const [bx, by] = nat.means[k];
    nat.means[k] = [clamp(bx + x - mx, ranges.mean_x), clamp(by + y - my, ranges.mean_y)];
  } else if (handle === "radius") {
    const s = scale(Math.hypot(x - mx, y - my));
    if (rules.sharedScale) nat.scales = nat.scales.map(() => [s, s]);
    else nat.scales[k] = [s, s];
  } else if (handle === "sx") {
    nat.scales[k] = [scale(Math.abs(x - mx)), nat.scales[k][1]];
  } else if (handle === "sy") {
    nat.scales[k] = [nat.scales[k][0], scale(Math.abs(y - my))];
  } else if (handle === "major" || handle === "minor") {
    // Full covariance: the dragged axis takes the pointer's direction and length; the other
    // axis keeps its length and stays perpendicular.
    const [major, minor] = principalAxes(view.components.covs[k]);
    const len = scale(Math.hypot(x - mx, y - my));
    const dir = Math.atan2(y - my, x - mx);
    const a = handle === "major" ? len : major.length;
    const b = handle === "major" ? minor.length : len;
    const { sx, sy, rho } = fromAxes(a, b, handle === "major" ? dir : dir - Math.PI / 2);
    nat.scales[k] = [scale(sx), scale(sy)];
    nat.correlations[k] = clamp(rho, ranges.correlation);
  } else {
    throw new Error(`unknown handle ${handle}`);
  }
  return nat;
}

/** Handles never sit closer than this many pixels to their component's mean (on a small q the
 * scale handles would cover the mean's): a scale handle is drawn pushed out along its own
 * direction, and a drag moves it by the pointer's motion, not to the pointer. */
export const MIN_HANDLE_PX = 22;

/** Where a handle is drawn, in pixels: at `px` unless that is within `min` px of its mean `mean`,
 * then `min` px from the mean in the same direction (`fallback` radians when they coincide). */
export function keepApart(px, mean, min = MIN_HANDLE_PX, fallback = 0) {
  const dx = px[0] - mean[0], dy = px[1] - mean[1];
  const d = Math.hypot(dx, dy);
  if (d >= min) return px;
  const [ux, uy] = d > 1e-9 ? [dx / d, dy / d] : [Math.cos(fallback), -Math.sin(fallback)];
  return [mean[0] + ux * min, mean[1] + uy * min];
}

/** Arrow keys: where a handle goes, a small step (Shift: a big one) of the extent's width. */
export const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
export function keyTarget(spec, key, shift, extent) {
  const step = (shift ? 0.1 : 0.02) * (extent[1] - extent[0]);
  const [dx, dy] = ARROWS[key];
  return [spec.x + dx * step, spec.y + dy * step];
}
