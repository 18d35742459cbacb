// The controls: target, family, K (or a flow's layers) and optimizer selects, the buttons, the trace's view, the
// samples toggle, the custom target's editor and the restart button. Events call the session,
// the runs or store actions; render() sets the controls from the state.

import { CUSTOM, kChoices, requestK, targetEntry } from "./catalog.js";
import { codeLink, isFramed, openOnItsOwn } from "./framing.js";
import { normaliseSource } from "./source-text.js";

const $ = (id) => document.getElementById(id);

/** The options of a select, rebuilt only when the list changes; items with a `group` go
 * into <optgroup>s of that label, in the order the groups first come. */
function setOptions(select, items) {
  const key = items.map((item) => `${item.id}\u0000${item.name}\u0000${item.group ?? ""}`).join("\u0001");
  if (select.dataset.options === key) return;
  const groups = new Map();
  const children = [];
  for (const item of items) {
    const option = new Option(item.name, item.id);
    if (!item.group) { children.push(option); continue; }
    if (!groups.has(item.group)) {
      const group = document.createElement("optgroup");
      group.label = item.group;
      groups.set(item.group, group);
      children.push(group);
    }
    groups.get(item.group).append(option);
  }
  select.replaceChildren(...children);
  select.dataset.options = key;
}

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {ReturnType<import("./catalog.js").makeCatalog>} deps.catalog
 * @param {ReturnType<import("./session.js").createSession>} deps.session
 * @param {ReturnType<import("./runs.js").createRuns>} deps.runs
 */
export function createControls({ store, catalog, session, runs }) {
  /** Run an async reaction to an event; its failure becomes the notice. */
  async function guarded(action) {
    try {
      await action();
    } catch (err) {
      if (err.name === "Restarted") return; // the restart says so itself
      store.setNotice(err.message, "error");
    }
  }

  function wire() {
    $("k-select").replaceChildren(...kChoices(catalog.kLimits()).map((k) => new Option(String(k), String(k))));
    if (catalog.flow) $("layers-select").replaceChildren(...kChoices(catalog.flow.layers_range).map((n) => new Option(String(n), String(n))));
    setOptions($("family-select"), catalog.families);
    setOptions($("optimizer-select"), catalog.optimizers);

    $("target-select").addEventListener("change", (e) => guarded(() => session.chooseTarget(e.target.value)));
    $("family-select").addEventListener("change", (e) => guarded(async () => {
      runs.cancel();
      store.chooseFamily(e.target.value);
      store.setNotice("");
      await session.startOver();
    }));
    $("k-select").addEventListener("change", (e) => guarded(async () => {
      runs.cancel();
      store.chooseK(Number(e.target.value));
      await session.startOver();
    }));
    // A flow's depth is part of its id (flow-N, as in vi_core): another depth is another family.
    $("layers-select").addEventListener("change", (e) => guarded(async () => {
      runs.cancel();
      store.chooseFamily(catalog.flowId(Number(e.target.value)));
      store.setNotice("");
      await session.startOver();
    }));
    $("optimizer-select").addEventListener("change", (e) => {
      runs.discardPaused();
      store.chooseOptimizer(e.target.value);
    });
    if (isFramed()) $("custom-apply").textContent = "Use this target (opens a new tab)";
    $("custom-apply").addEventListener("click", () => {
      // In a frame the code goes to a page of its own, where it waits for consent.
      if (isFramed()) openOnItsOwn(codeLink(normaliseSource($("custom-source").value), location.href));
      else guarded(() => session.applyTypedSource($("custom-source").value));
    });
    $("optimize-button").addEventListener("click", () => guarded(runs.optimize));
    $("step-button").addEventListener("click", () => guarded(runs.step));
    $("reset-button").addEventListener("click", () => guarded(async () => {
      store.setNotice("");
      await session.resetQ();
    }));
    for (const button of document.querySelectorAll("[data-trace-mode]")) {
      button.addEventListener("click", () => store.setTraceMode(button.dataset.traceMode));
    }
    $("show-samples").addEventListener("change", (e) => {
      store.setShowSamples(e.target.checked);
      if (e.target.checked) session.refreshSamples();
    });
    $("restart-python").addEventListener("click", () => guarded(session.restart));
  }

  function render(state) {
    const targets = state.customTarget ? [...catalog.targets, { id: CUSTOM, name: state.customTarget.name, group: state.customTarget.group }] : catalog.targets;
    setOptions($("target-select"), targets);
    $("target-select").value = state.target;
    $("family-select").value = catalog.listedFamily(state.family);
    $("optimizer-select").value = state.optimizer;
    const range = catalog.kRange(state.family);
    $("k-field").hidden = !range;
    if (range) $("k-select").value = String(requestK(catalog, state.family, state.k));
    const layers = catalog.layers(state.family);
    $("layers-field").hidden = layers === null;
    if (layers !== null) $("layers-select").value = String(layers);

    const target = targetEntry(catalog, state.target, state.customTarget, state.dataTarget);
    $("target-text").textContent = target ? target.description : "";
    $("family-text").textContent = catalog.family(state.family).description;
    $("optimizer-text").textContent = catalog.optimizer(state.optimizer).description;

    const optimizing = state.run !== null && state.run.kind === "optimize";
    $("optimize-button").textContent = optimizing ? "Stop" : "Optimize";
    $("optimize-button").setAttribute("aria-pressed", optimizing ? "true" : "false");
    for (const b of document.querySelectorAll("[data-trace-mode]")) {
      b.setAttribute("aria-pressed", String(b.dataset.traceMode === state.traceMode));
    }
    $("show-samples").checked = state.showSamples;
    for (const el of document.querySelectorAll("[data-needs-python]")) el.disabled = state.python !== "ready";
    $("restart-python").hidden = !state.stalled;
  }

  return { wire, render };
}
