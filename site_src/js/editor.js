// The number fields: the selected component's mean, scales and correlation, typed in (the
// accessible alternative to dragging). Values are checked against the target's ranges from
// the catalog before vi_core is asked.

import { inRange, qRules, targetEntry } from "./catalog.js";

const $ = (id) => document.getElementById(id);

export const EDITOR_FIELDS = ["mean-x", "mean-y", "scale-x", "scale-y", "corr"];

/** A limit shown to six digits, rounded towards the inside of its range (`up` for a lower
 * limit), so that typing the limit shown is accepted. */
export function shownLimit(v, up) {
  const p = Number(v.toPrecision(6));
  if (up ? p >= v : p <= v) return p;
  const unit = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 5);
  return Number((up ? p + unit : p - unit).toPrecision(6));
}
const span = ([lo, hi]) => `[${shownLimit(lo, true)}, ${shownLimit(hi, false)}]`;

/**
 * q after typing `text` into field `field` for component k. Pure.
 * @param {object} natural  q's natural parameters now
 * @param {import("./catalog.js").QRules} rules
 * @returns {{natural: object} | {error: string}}
 */
export function editNatural(natural, k, field, text, rules) {
  const value = Number(text);
  if (String(text).trim() === "" || !Number.isFinite(value)) return { error: `${field.replace("-", " ")} must be a number` };
  const { ranges } = rules;
  const nat = structuredClone(natural);
  if (field === "mean-x" || field === "mean-y") {
    const range = field === "mean-x" ? ranges.mean_x : ranges.mean_y;
    if (!inRange(value, range)) return { error: `${field.replace("-", " ")} must lie within ${span(range)} for this target` };
    nat.means[k][field === "mean-x" ? 0 : 1] = value;
  } else if (field === "scale-x" || field === "scale-y") {
    if (!(value > 0)) return { error: "A scale must be positive" };
    if (!inRange(value, ranges.scale)) return { error: `A scale must lie within ${span(ranges.scale)} for this target` };
    if (rules.kind === "isotropic") {
      if (rules.sharedScale) nat.scales = nat.scales.map(() => [value, value]);
      else nat.scales[k] = [value, value];
    } else nat.scales[k][field === "scale-x" ? 0 : 1] = value;
  } else if (field === "corr") {
    if (!(Math.abs(value) < 1)) return { error: "A correlation must be strictly between -1 and 1" };
    if (!inRange(value, ranges.correlation)) return { error: `A correlation must lie within ${span(ranges.correlation)}` };
    nat.correlations[k] = value;
  } else {
    throw new Error(`unknown field ${field}`);
  }
  return { natural: nat };
}

/** What a field shows: four significant figures, and 0 for anything within 5e-6 of it (never
 * "4.15e-9"). An edit changes only its own field: the others keep q's exact values (which live
 * in data-natural and the URL). */
export function fieldValue(v) {
  return Math.abs(v) < 5e-6 ? 0 : Number(v.toPrecision(4));
}

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {ReturnType<import("./catalog.js").makeCatalog>} deps.catalog
 * @param {{setNatural: (natural: object) => void}} deps.session
 */
export function createEditor({ store, catalog, session }) {
  const rules = (state) => qRules(catalog, state.family, targetEntry(catalog, state.target, state.customTarget, state.dataTarget));

  function changed(event) {
    const state = store.state;
    if (!state.view) return;
    const field = event.target.id.replace("edit-", "");
    const out = editNatural(state.view.natural, state.selected, field, event.target.value, rules(state));
    if (out.error) {
      store.setNotice(out.error);
      render(state, { force: true });
      return;
    }
    store.setNotice("");
    session.setNatural(out.natural);
  }

  /** Fields show the selected component (unless being typed in; `force`: even then). */
  function render(state, { force = false } = {}) {
    const nat = state.view && state.view.natural;
    const k = state.selected;
    $("editor-title").textContent = nat && nat.means.length > 1 ? `Component ${k + 1} of ${nat.means.length} (weight ${nat.weights[k].toFixed(3)})` : "q";
    const values = nat ? [nat.means[k][0], nat.means[k][1], nat.scales[k][0], nat.scales[k][1], nat.correlations[k]] : [];
    EDITOR_FIELDS.forEach((name, i) => {
      const input = $(`edit-${name}`);
      if (force || document.activeElement !== input) input.value = nat ? fieldValue(values[i]) : "";
    });
    const kind = catalog.family(state.family).kind;
    const target = targetEntry(catalog, state.target, state.customTarget, state.dataTarget);
    // The fields name the target's parameters ("mean μ", "scale of log σ"; a shape's x and y).
    const [ax, ay] = (target && target.axes) || ["x", "y"];
    const of = ax === "x" && ay === "y" ? "" : "of ";
    $("edit-mean-x").previousElementSibling.textContent = `mean ${ax}`;
    $("edit-mean-y").previousElementSibling.textContent = `mean ${ay}`;
    $("edit-scale-y").closest("label").hidden = kind === "isotropic";
    $("edit-scale-x").previousElementSibling.textContent = kind === "isotropic" ? "scale" : `scale ${of}${ax}`;
    $("edit-scale-y").previousElementSibling.textContent = `scale ${of}${ay}`;
    $("edit-corr").closest("label").hidden = kind !== "full";
    // The inputs' own limits: the target's ranges.
    if (target) {
      const r = target.ranges;
      for (const [name, range] of [["mean-x", r.mean_x], ["mean-y", r.mean_y], ["scale-x", r.scale], ["scale-y", r.scale], ["corr", r.correlation]]) {
        $(`edit-${name}`).min = String(shownLimit(range[0], true));
        $(`edit-${name}`).max = String(shownLimit(range[1], false));
      }
    }
  }

  return {
    wire() {
      for (const name of EDITOR_FIELDS) $(`edit-${name}`).addEventListener("change", changed);
    },
    render,
  };
}
