// q's handles on the plot: buttons placed from the state (geometry.js says where), dragged with
// a pointer or moved with the arrow keys. A drag or a key asks the session for the new q; the
// handle under the pointer follows it (state.dragging) until vi_core's view arrives.

import { handleSpecs, naturalAfterMove, keyTarget, keepApart, ARROWS } from "./geometry.js";
import { qRules, targetEntry } from "./catalog.js";
import { followPointer } from "./drag.js";

const $ = (id) => document.getElementById(id);

const LABELS = { radius: "Scale", sx: "Scale along x", sy: "Scale along y", major: "Major axis", minor: "Minor axis" };

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {ReturnType<import("./catalog.js").makeCatalog>} deps.catalog
 * @param {{setNatural: (natural: object) => void}} deps.session
 * @param {{frame: () => import("./plot.js").Frame|null, holdsStill: (state: object) => boolean}} deps.plotView
 */
export function createHandles({ store, catalog, session, plotView }) {
  const box = $("handles");
  const usable = () => store.state.view && store.state.python === "ready";
  const rules = (state) => qRules(catalog, state.family, targetEntry(catalog, state.target, state.customTarget, state.dataTarget));
  const specsOf = (state) => handleSpecs(state.view, catalog.family(state.family).kind, state.selected);

  /** Where handle `el` may go: a mean stays on the plot (a q dragged or keyed off it could not
   * be seen or grabbed again); scale handles may reach past the edge. */
  const onPlot = (el, x, y) => {
    if (el.dataset.kind !== "mean") return [x, y];
    const [x0, x1, y0, y1] = plotView.frame().extent;
    return [Math.min(x1, Math.max(x0, x)), Math.min(y1, Math.max(y0, y))];
  };

  /** q after moving handle `el` to data point (x, y). */
  const moved = (el, x, y) => {
    const state = store.state;
    return naturalAfterMove(state.view, rules(state), el.dataset.kind, Number(el.dataset.k), x, y);
  };

  function attach(el) {
    el.addEventListener("pointerdown", (event) => {
      if (!usable()) return;
      event.preventDefault();
      el.setPointerCapture(event.pointerId);
      el.focus();
      const k = Number(el.dataset.k);
      if (el.dataset.kind === "mean") store.select(k);
      const rect = $("plot").getBoundingClientRect();
      // The handle moves by the pointer's motion from where it was grabbed (a handle drawn
      // pushed away from a small q's mean does not jump to the pointer).
      const spec = specsOf(store.state).find((s) => `${s.kind}-${s.k}` === el.dataset.key);
      const grabbed = plotView.frame().toData(event.clientX - rect.left, event.clientY - rect.top);
      const offset = spec ? [spec.x - grabbed[0], spec.y - grabbed[1]] : [0, 0];
      let last = null; // the latest request for q
      const move = (ev) => {
        const frame = plotView.frame();
        const [px, py] = frame.toData(ev.clientX - rect.left, ev.clientY - rect.top);
        const [x, y] = onPlot(el, px + offset[0], py + offset[1]);
        store.dragTo(el.dataset.key, x, y);
        last = session.setNatural(moved(el, x, y));
      };
      // The handle stays under the pointer until q catches up with it.
      followPointer(el, move, () => Promise.resolve(last).finally(() => store.dragEnded(el.dataset.key)));
    });
    el.addEventListener("keydown", (event) => {
      if (!(event.key in ARROWS) || !usable()) return;
      event.preventDefault();
      const spec = specsOf(store.state).find((s) => `${s.kind}-${s.k}` === el.dataset.key);
      if (!spec) return;
      const [x, y] = onPlot(el, ...keyTarget(spec, event.key, event.shiftKey, plotView.frame().extent));
      session.setNatural(moved(el, x, y));
    });
    el.addEventListener("focus", () => {
      if (el.dataset.kind === "mean") store.select(Number(el.dataset.k));
    });
  }

  return {
    render(state) {
      const frame = plotView.frame();
      if (!frame) return;
      // Reduced motion: the handles wait for the end of Optimize with the plot (plot-view.js).
      if (plotView.holdsStill(state) && box.children.length) return;
      const specs = state.view ? specsOf(state) : [];
      const meanPx = new Map(specs.filter((s) => s.kind === "mean").map((s) => {
        const dragged = state.dragging && state.dragging.key === `mean-${s.k}`;
        return [s.k, dragged ? frame.toPx(state.dragging.x, state.dragging.y) : frame.toPx(s.x, s.y)];
      }));
      const existing = new Map([...box.children].map((el) => [el.dataset.key, el]));
      const keep = new Set();
      for (const spec of specs) {
        const key = `${spec.kind}-${spec.k}`;
        keep.add(key);
        let el = existing.get(key);
        if (!el) {
          el = document.createElement("button");
          el.type = "button";
          el.dataset.key = key;
          el.dataset.kind = spec.kind;
          el.dataset.k = String(spec.k);
          el.className = `handle handle-${spec.kind === "mean" ? "mean" : "scale"}`;
          el.dataset.testid = spec.kind === "mean" ? `handle-${spec.k}` : `scale-handle-${spec.kind}`;
          attach(el);
          box.appendChild(el);
        }
        const dragged = state.dragging && state.dragging.key === key;
        let at = dragged ? frame.toPx(state.dragging.x, state.dragging.y) : frame.toPx(spec.x, spec.y);
        if (spec.kind !== "mean") at = keepApart(at, meanPx.get(spec.k), undefined, spec.kind === "sy" || spec.kind === "minor" ? Math.PI / 2 : 0);
        const [px, py] = at;
        el.style.transform = `translate(${px}px, ${py}px)`;
        el.classList.toggle("dragging", Boolean(dragged));
        el.classList.toggle("selected", spec.kind === "mean" && spec.k === state.selected);
        el.setAttribute("aria-label", spec.kind === "mean"
          ? `Mean of component ${spec.k + 1}: x ${spec.x.toFixed(3)}, y ${spec.y.toFixed(3)}. Arrow keys move it.`
          : `${LABELS[spec.kind]} of component ${spec.k + 1}. Arrow keys change it.`);
      }
      for (const [key, el] of existing) if (!keep.has(key)) el.remove();
    },
  };
}
