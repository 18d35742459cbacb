// The data panel under the plot, for a posterior from data (its catalog entry has `data`):
// observations on a number line, or labelled points (input, label 0/1) on two rows. Click in
// the panel adds a point, drag moves one, double-click or Delete (on a focused point) removes
// one; the arrow keys move a focused point. Every change asks the session for the posterior
// given the new data (one request to vi_core); the points drawn are the state's `data` (or
// the built-in data), so a drag shows at once and vi_core's answer follows. The spec (kind,
// range, limits, rounding) comes from the catalog: the page restates none of its numbers.

import { ticks } from "d3-array";
import { targetEntry } from "./catalog.js";
import { followPointer } from "./drag.js";

const $ = (id) => document.getElementById(id);

/** The data on show: the visitor's (state.data) or the built-in ones; null for a shape. */
export function dataOnShow(state, catalog) {
  const entry = targetEntry(catalog, state.target, state.customTarget, state.dataTarget);
  const spec = entry && entry.data;
  if (!spec) return null;
  return { spec, points: state.data ?? spec.default };
}

/** A value placed at fraction `f` (0..1) of the spec's range, rounded to its decimals. Pure. */
export function valueAt(f, spec) {
  const [lo, hi] = spec.range;
  const v = lo + Math.min(1, Math.max(0, f)) * (hi - lo);
  return Number(v.toFixed(spec.decimals));
}

/** Where a value sits along the range, 0..1. */
const fraction = (v, [lo, hi]) => (v - lo) / (hi - lo);

/** The points after adding, moving (index, to) or removing one. Pure. */
export function withPoint(points, index, point) {
  const out = points.slice();
  if (point === null) out.splice(index, 1);
  else if (index === null) out.push(point);
  else out[index] = point;
  return out;
}

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {ReturnType<import("./catalog.js").makeCatalog>} deps.catalog
 * @param {{setData: (points: Array|null) => Promise<void>}} deps.session
 */
export function createDataPanel({ store, catalog, session }) {
  const panel = $("data-panel");
  const usable = () => store.state.python === "ready";

  /** The point (value, or [input, label]) at a pointer position in the panel. */
  function pointAt(event, spec) {
    const rect = panel.getBoundingClientRect();
    const v = valueAt((event.clientX - rect.left) / rect.width, spec);
    if (spec.kind !== "labelled") return v;
    return [v, event.clientY - rect.top < rect.height / 2 ? 1 : 0];
  }

  function change(points) {
    const shown = dataOnShow(store.state, catalog);
    if (!shown) return;
    const { spec } = shown;
    if (points.length < spec.min_points || points.length > spec.max_points) {
      store.setNotice(`This posterior takes ${spec.min_points} to ${spec.max_points} ${spec.noun}s.`);
      return;
    }
    session.setData(points);
  }

  function wire() {
    panel.addEventListener("pointerdown", (event) => {
      const shown = dataOnShow(store.state, catalog);
      if (!shown || !usable() || event.button !== 0) return;
      const el = event.target.closest(".data-point");
      if (!el) { // a click on the panel itself: a new point
        event.preventDefault();
        change(withPoint(shown.points, null, pointAt(event, shown.spec)));
        return;
      }
      event.preventDefault();
      el.focus();
      el.setPointerCapture(event.pointerId);
      const index = Number(el.dataset.index);
      const start = event.clientX;
      let moved = false;
      const move = (ev) => {
        if (!moved && Math.abs(ev.clientX - start) < 3) return;
        moved = true;
        el.classList.add("dragging");
        change(withPoint(dataOnShow(store.state, catalog).points, index, pointAt(ev, shown.spec)));
      };
      followPointer(el, move, () => el.classList.remove("dragging"));
    });
    panel.addEventListener("dblclick", (event) => {
      const el = event.target.closest(".data-point");
      const shown = dataOnShow(store.state, catalog);
      if (!el || !shown || !usable()) return;
      change(withPoint(shown.points, Number(el.dataset.index), null));
    });
    panel.addEventListener("keydown", (event) => {
      const el = event.target.closest(".data-point");
      const shown = dataOnShow(store.state, catalog);
      if (!el || !shown || !usable()) return;
      const index = Number(el.dataset.index);
      const point = shown.points[index];
      const { spec } = shown;
      const step = (event.shiftKey ? 10 : 1) * 10 ** -(spec.decimals - 1);
      const value = spec.kind === "labelled" ? point[0] : point;
      const at = (v) => { // the same point at another value (kept in range), or label
        const clamped = Number(Math.min(spec.range[1], Math.max(spec.range[0], v)).toFixed(spec.decimals));
        return spec.kind === "labelled" ? [clamped, point[1]] : clamped;
      };
      let next;
      if (event.key === "Delete" || event.key === "Backspace") next = withPoint(shown.points, index, null);
      else if (event.key === "ArrowLeft") next = withPoint(shown.points, index, at(value - step));
      else if (event.key === "ArrowRight") next = withPoint(shown.points, index, at(value + step));
      else if (spec.kind === "labelled" && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
        next = withPoint(shown.points, index, [value, event.key === "ArrowUp" ? 1 : 0]);
      } else return;
      event.preventDefault();
      change(next);
    });
    $("data-reset").addEventListener("click", () => {
      if (usable() && store.state.data !== null) session.setData(null);
    });
  }

  /** The axis under the points: ticks of the range (d3's nice steps). */
  function drawAxis(spec) {
    const key = spec.range.join(",");
    const axis = $("data-axis");
    if (axis.dataset.range === key) return;
    axis.dataset.range = key;
    axis.replaceChildren(...ticks(spec.range[0], spec.range[1], 8).map((t) => {
      const tick = document.createElement("span");
      tick.className = "data-tick";
      tick.style.left = `${(fraction(t, spec.range) * 100).toFixed(3)}%`;
      tick.textContent = String(t).replace("-", "\u2212");
      return tick;
    }));
  }

  function render(state) {
    const shown = dataOnShow(state, catalog);
    $("data").hidden = !shown;
    // For a posterior, log Z is the model's evidence: the readout says so.
    const label = $("log-z-label");
    if (label) {
      label.textContent = shown ? "log evidence, log p(D)" : "log Z";
      label.classList.toggle("evidence", Boolean(shown));
    }
    if (!shown) return;
    const { spec } = shown;
    const { points } = shown;
    const labelled = spec.kind === "labelled";
    panel.classList.toggle("labelled", labelled);
    drawAxis(spec);
    const entry = targetEntry(catalog, state.target, state.customTarget, state.dataTarget);
    $("data-title").textContent = labelled
      ? `Data: ${points.length} ${spec.noun}s (input, label 1 above, 0 below)`
      : `Data: ${points.length} ${spec.noun}s`;
    panel.setAttribute("aria-label", `${entry.name}: data panel; click to add ${spec.noun === "observation" ? "an" : "a"} ${spec.noun}`);
    $("data-reset").disabled = state.data === null || state.python !== "ready";
    // One button per point, reused (focus survives a redraw).
    const box = $("data-points");
    while (box.children.length > points.length) box.lastChild.remove();
    while (box.children.length < points.length) {
      const el = document.createElement("button");
      el.type = "button";
      el.className = "data-point";
      el.dataset.testid = "data-point";
      box.append(el);
    }
    // Equal values stack upwards, so that each can be grabbed.
    const seen = new Map();
    points.forEach((p, i) => {
      const el = box.children[i];
      const v = labelled ? p[0] : p;
      const key = labelled ? `${v}:${p[1]}` : String(v);
      const level = seen.get(key) ?? 0;
      seen.set(key, level + 1);
      el.dataset.index = String(i);
      el.dataset.value = JSON.stringify(p);
      el.style.left = `${(fraction(v, spec.range) * 100).toFixed(3)}%`;
      el.style.setProperty("--stack", String(Math.min(level, 3)));
      el.classList.toggle("label-1", labelled && p[1] === 1);
      el.classList.toggle("label-0", labelled && p[1] === 0);
      el.setAttribute("aria-label", labelled ? `${spec.noun} ${i + 1}: input ${v}, label ${p[1]}` : `${spec.noun} ${i + 1}: ${v}`);
      el.disabled = state.python !== "ready";
    });
  }

  return { wire, render };
}
