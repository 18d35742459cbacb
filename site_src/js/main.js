// The page's controller: state in, Python calls out, views back, drawing by pure functions.
//
// Data flows one way: a user action changes `state` -> the worker (vi_core) returns a view ->
// render(). The first view is computed at build time on CPython and embedded in the HTML, so
// the first paint does not wait for Python.

import { PythonWorker, latestOnly } from "./worker-client.js";
import { Frame, renderTarget, drawQ, principalAxes } from "./plot.js";
import { drawTrace } from "./trace.js";
import { readUrlState, writeUrlState } from "./url-state.js";

const $ = (id) => document.getElementById(id);
// The bundle is a classic script (see build.py): find the worker next to it, in assets/.
const SCRIPT_URL = document.currentScript ? document.currentScript.src : location.href;
const root = document.documentElement;
const initial = JSON.parse($("vi-initial").textContent);
const catalog = initial.catalog;
const targetsById = Object.fromEntries(catalog.targets.map((t) => [t.id, t]));
const familiesById = Object.fromEntries(catalog.families.map((f) => [f.id, f]));
const optimizersById = Object.fromEntries(catalog.optimizers.map((o) => [o.id, o]));

// Animation pacing: L-BFGS takes few, big steps (one per frame, to watch each); the first-order
// optimizers take hundreds of small ones (two per frame). Long runs speed up (worker.js).
const STEPS_PER_FRAME = { lbfgs: 1, adam: 2, "gradient-ascent": 2 };
const FRAME_MS = 50;
const SAMPLE_COUNT = 400;

const state = {
  target: initial.defaults.target,
  family: initial.defaults.family,
  optimizer: initial.defaults.optimizer,
  k: null,
  view: null, // the latest view of q from vi_core (see vi_core/protocol.py)
  targetGrid: null,
  trace: [], // [[iteration, elbo]]
  traceMode: "elbo", // or "gap": log Z - ELBO on a log scale
  traceOptimizer: null, // who made the current trace
  ghosts: [], // earlier runs on this target and family: [{label, trace}]
  iteration: 0,
  selected: 0,
  showSamples: false,
  samples: null,
  openRun: null, // a paused optimization run (L-BFGS keeps its memory between Step presses)
  running: null, // {id} of the run being animated
  pythonReady: false,
  pending: 0,
};

// ---------------------------------------------------------------- status and messages

function refreshStatus() {
  if (root.dataset.viStatus === "error" && !state.pythonReady) return;
  if (!state.pythonReady) return;
  const busy = state.pending > 0 || state.running !== null;
  root.dataset.viStatus = busy ? "busy" : "ready";
  $("status").textContent = busy ? (state.running ? "Optimizing…" : "Computing…") : "Ready";
  $("optimize-button").textContent = state.running ? "Stop" : "Optimize";
  $("optimize-button").setAttribute("aria-pressed", state.running ? "true" : "false");
}

function notice(text, kind = "warning") {
  const el = $("notice");
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

async function python(method, params) {
  state.pending++;
  refreshStatus();
  try {
    return await py.call(method, params);
  } finally {
    state.pending--;
    refreshStatus();
  }
}

// ---------------------------------------------------------------- URL

function familyK() {
  return state.family === "mixture-full" ? state.k || familiesById[state.family].n_components : null;
}

function syncUrl() {
  const search = writeUrlState(
    { target: state.target, family: state.family, optimizer: state.optimizer, k: state.family === "mixture-full" ? familyK() : null,
      natural: state.view && state.view.natural, source: state.customSource },
    location.search,
  );
  history.replaceState(null, "", search + location.hash);
}

// ---------------------------------------------------------------- rendering

let frame = null;
let targetLayer = null;

/** The plot may be as wide as its column, but no taller than this. In an iframe the height must
 * not follow the window's: the host resizes the iframe to our reported height, and a plot that
 * grew with it would never settle. */
function maxPlotHeight() {
  const stacked = window.matchMedia("(max-width: 760px)").matches;
  // Embedded and stacked, the panel sits under the plot: leave it room in a 700 px frame.
  if (root.dataset.embed === "1") return stacked ? 260 : 520;
  return Math.max(180, stacked ? 0.6 * window.innerHeight : window.innerHeight - 110);
}

function layout() {
  const wrap = $("plot");
  const extent = (state.targetGrid || targetsById[state.target] || targetsById[initial.defaults.target]).extent;
  const aspect = (extent[3] - extent[2]) / (extent[1] - extent[0]);
  const avail = wrap.parentElement.clientWidth;
  const maxH = maxPlotHeight();
  const width = Math.floor(Math.min(avail, maxH / aspect));
  const height = Math.floor(width * aspect);
  const canvas = $("plot-canvas");
  const ratio = window.devicePixelRatio || 1;
  if (!frame || frame.width !== width || frame.height !== height || frame.extent !== extent) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    wrap.style.width = width + "px";
    wrap.style.height = height + "px";
    frame = new Frame(extent, width, height);
    targetLayer = null;
  }
  const trace = $("elbo-trace");
  const tw = trace.parentElement.clientWidth;
  const th = trace.clientHeight || 120;
  if (trace.width !== Math.round(tw * ratio)) {
    trace.width = Math.round(tw * ratio);
    trace.height = Math.round(th * ratio);
    trace.style.width = tw + "px";
  }
}

function render() {
  layout();
  const ratio = window.devicePixelRatio || 1;
  const ctx = $("plot-canvas").getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, frame.width, frame.height);
  if (state.targetGrid) {
    if (!targetLayer) targetLayer = renderTarget(state.targetGrid, frame, ratio);
    ctx.drawImage(targetLayer, 0, 0, frame.width, frame.height);
  } else {
    ctx.fillStyle = "#f1f1f1";
    ctx.fillRect(0, 0, frame.width, frame.height);
  }
  if (state.view) {
    drawQ(ctx, frame, state.view, { samples: state.showSamples ? state.samples : null, selected: state.selected });
  }
  renderHandles();
  renderReadouts();
  const tctx = $("elbo-trace").getContext("2d");
  tctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const logZ = state.view ? state.view.readouts.log_z : null;
  drawTrace(tctx, $("elbo-trace").width / ratio, $("elbo-trace").height / ratio, state.trace, logZ,
    { mode: state.traceMode, ghosts: state.ghosts });
}

function fmt(value, digits = 4) {
  if (value === null || value === undefined) return "—";
  return value.toFixed(digits);
}

function renderReadouts() {
  const r = state.view ? state.view.readouts : null;
  for (const key of ["elbo", "expected_log_density", "entropy", "log_z", "kl"]) {
    const el = document.querySelector(`[data-readout="${key}"]`);
    const value = r ? r[key] : null;
    el.textContent = fmt(value);
    el.dataset.value = value === null || value === undefined ? "" : String(value);
  }
  if (r) {
    $("elbo-error").textContent = `± ${r.elbo_error < 1e-6 ? "<1e-6" : r.elbo_error.toExponential(0)}`;
    $("log-z-error").textContent = r.log_z_error > 0 ? `± ${r.log_z_error.toExponential(0)}` : "exact";
    // The bound: the bar fills up to the ELBO on a scale that ends at log Z.
    const gap = Math.max(r.kl ?? 0, 0);
    // The scale is set by the worst gap since Reset (with room below), so the bar fills up as
    // the ELBO climbs and is full only when q is exact.
    const scale = Math.max(state.gaugeSpan || 0, 1.5 * gap, 0.5);
    state.gaugeSpan = scale;
    const fill = Math.max(0, Math.min(1, 1 - gap / scale));
    $("bound-fill").style.width = `${(fill * 100).toFixed(2)}%`;
    $("bound").setAttribute("aria-valuenow", String(r.elbo));
    $("bound").setAttribute("aria-valuetext", `ELBO ${fmt(r.elbo)} is ${fmt(gap)} nats below log Z`);
    $("bound-label").textContent = `KL(q‖p) = log Z − ELBO = ${fmt(gap)} nats`;
  }
  const d = state.view ? state.view.natural : null;
  $("plot").dataset.natural = d ? JSON.stringify(d) : "";
  $("plot").dataset.theta = state.view ? JSON.stringify(state.view.theta) : "";
  renderEditor();
}

// ---------------------------------------------------------------- handles (direct manipulation)

function shape() {
  return familiesById[state.family].covariance; // "isotropic" | "diagonal" | "full"
}

function handleSpecs() {
  if (!state.view) return [];
  const { means, covs } = state.view.components;
  const specs = means.map((m, k) => ({ kind: "mean", k, x: m[0], y: m[1] }));
  const k = Math.min(state.selected, means.length - 1);
  const m = means[k];
  const s = state.view.natural.scales[k];
  if (shape() === "isotropic") {
    specs.push({ kind: "radius", k, x: m[0] + s[0], y: m[1] });
  } else if (shape() === "diagonal") {
    specs.push({ kind: "sx", k, x: m[0] + s[0], y: m[1] }, { kind: "sy", k, x: m[0], y: m[1] + s[1] });
  } else {
    const [major, minor] = principalAxes(covs[k]);
    for (const [kind, axis] of [["major", major], ["minor", minor]]) {
      specs.push({ kind, k, x: m[0] + axis.length * Math.cos(axis.angle), y: m[1] + axis.length * Math.sin(axis.angle) });
    }
  }
  return specs;
}

function renderHandles() {
  const box = $("handles");
  const specs = handleSpecs();
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
      if (spec.kind === "mean") el.dataset.testid = `handle-${spec.k}`;
      else el.dataset.testid = `scale-handle-${spec.kind}`;
      attachDrag(el);
      box.appendChild(el);
    }
    const [px, py] = frame.toPx(spec.x, spec.y);
    el.style.transform = `translate(${px}px, ${py}px)`;
    el.classList.toggle("selected", spec.kind === "mean" && spec.k === state.selected);
    el.setAttribute("aria-label", spec.kind === "mean"
      ? `Mean of component ${spec.k + 1}: x ${spec.x.toFixed(3)}, y ${spec.y.toFixed(3)}. Arrow keys move it.`
      : `${{ radius: "Scale", sx: "Scale along x", sy: "Scale along y", major: "Major axis", minor: "Minor axis" }[spec.kind]} of component ${spec.k + 1}. Arrow keys change it.`);
  }
  for (const [key, el] of existing) if (!keep.has(key)) el.remove();
}

/** New natural parameters after moving handle `kind` of component k to data point (x, y). */
function naturalAfterMove(kind, k, x, y) {
  const nat = structuredClone(state.view.natural);
  const fam = familiesById[state.family];
  const [mx, my] = nat.means[k];
  const ext = frame.extent;
  const minScale = 1e-3 * (ext[1] - ext[0]);
  const maxScale = 5 * (ext[1] - ext[0]);
  const clampS = (s) => Math.min(maxScale, Math.max(minScale, s));
  if (kind === "mean") {
    nat.means[k] = [x, y];
  } else if (kind === "radius") {
    const s = clampS(Math.hypot(x - mx, y - my));
    if (fam.shared_scale) nat.scales = nat.scales.map(() => [s, s]);
    else nat.scales[k] = [s, s];
  } else if (kind === "sx") {
    nat.scales[k] = [clampS(Math.abs(x - mx)), nat.scales[k][1]];
  } else if (kind === "sy") {
    nat.scales[k] = [nat.scales[k][0], clampS(Math.abs(y - my))];
  } else {
    // Full covariance: the dragged axis takes the pointer's direction and length; the other
    // axis keeps its length and stays perpendicular. Cov = R diag(a², b²) Rᵀ.
    const [major, minor] = principalAxes(state.view.components.covs[k]);
    const len = clampS(Math.hypot(x - mx, y - my));
    const dir = Math.atan2(y - my, x - mx);
    const a = kind === "major" ? len : major.length;
    const b = kind === "major" ? minor.length : len;
    const angle = kind === "major" ? dir : dir - Math.PI / 2;
    const c = Math.cos(angle), s = Math.sin(angle);
    const vxx = a * a * c * c + b * b * s * s;
    const vyy = a * a * s * s + b * b * c * c;
    const vxy = (a * a - b * b) * c * s;
    const sx = Math.sqrt(vxx), sy = Math.sqrt(vyy);
    nat.scales[k] = [sx, sy];
    nat.correlations[k] = Math.max(-0.995, Math.min(0.995, vxy / (sx * sy)));
  }
  return nat;
}

const evaluateLatest = latestOnly((params) => python("evaluate", params));

async function setNatural(natural) {
  cancelRun();
  discardOpenRun();
  try {
    const view = await evaluateLatest({ target: state.target, family: state.family, k: familyK(), natural });
    if (view) acceptView(view);
  } catch (err) {
    notice(`Those parameters were not accepted: ${err.message}`);
    render();
  }
}

function attachDrag(el) {
  el.addEventListener("pointerdown", (event) => {
    if (!state.view || !state.pythonReady) return;
    event.preventDefault();
    el.setPointerCapture(event.pointerId);
    el.focus();
    const k = Number(el.dataset.k);
    if (el.dataset.kind === "mean" && state.selected !== k) { state.selected = k; render(); }
    el.classList.add("dragging");
    const rect = $("plot").getBoundingClientRect();
    const move = (ev) => {
      const [x, y] = frame.toData(ev.clientX - rect.left, ev.clientY - rect.top);
      el.style.transform = `translate(${ev.clientX - rect.left}px, ${ev.clientY - rect.top}px)`;
      setNatural(naturalAfterMove(el.dataset.kind, k, x, y));
    };
    const up = () => {
      el.classList.remove("dragging");
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      el.removeEventListener("pointercancel", up);
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerup", up);
    el.addEventListener("pointercancel", up);
  });
  el.addEventListener("keydown", (event) => {
    const dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    if (!(event.key in dirs) || !state.view || !state.pythonReady) return;
    event.preventDefault();
    const k = Number(el.dataset.k);
    const spec = handleSpecs().find((s) => `${s.kind}-${s.k}` === el.dataset.key);
    const ext = frame.extent;
    const step = (event.shiftKey ? 0.1 : 0.02) * (ext[1] - ext[0]);
    const [dx, dy] = dirs[event.key];
    setNatural(naturalAfterMove(el.dataset.kind, k, spec.x + dx * step, spec.y + dy * step));
  });
  el.addEventListener("focus", () => {
    if (el.dataset.kind === "mean" && state.selected !== Number(el.dataset.k)) {
      state.selected = Number(el.dataset.k);
      render();
    }
  });
}

// ---------------------------------------------------------------- the number fields (accessible alternative)

const EDITOR_FIELDS = ["mean-x", "mean-y", "scale-x", "scale-y", "corr"];

function renderEditor() {
  const nat = state.view && state.view.natural;
  const k = state.selected;
  $("editor-title").textContent = nat && nat.means.length > 1 ? `Component ${k + 1} of ${nat.means.length} (weight ${nat.weights[k].toFixed(3)})` : "q";
  const values = nat ? [nat.means[k][0], nat.means[k][1], nat.scales[k][0], nat.scales[k][1], nat.correlations[k]] : [];
  EDITOR_FIELDS.forEach((name, i) => {
    const input = $(`edit-${name}`);
    // Six digits are plenty to read and type; the exact value lives in data-natural and the URL.
    if (document.activeElement !== input) input.value = nat ? (Math.abs(values[i]) < 1e-9 ? 0 : Number(values[i].toPrecision(6))) : "";
  });
  const sh = state.view ? shape() : "full";
  $("edit-scale-y").closest("label").hidden = sh === "isotropic";
  $("edit-scale-x").previousElementSibling.textContent = sh === "isotropic" ? "scale" : "scale x";
  $("edit-corr").closest("label").hidden = sh !== "full";
}

function editorChanged(event) {
  if (!state.view) return;
  const name = event.target.id.replace("edit-", "");
  const value = Number(event.target.value);
  if (event.target.value.trim() === "" || !Number.isFinite(value)) {
    notice(`${name.replace("-", " ")} must be a number`);
    renderEditor();
    return;
  }
  const nat = structuredClone(state.view.natural);
  const k = state.selected;
  const fam = familiesById[state.family];
  if (name === "mean-x") nat.means[k][0] = value;
  if (name === "mean-y") nat.means[k][1] = value;
  if (name === "scale-x" || name === "scale-y") {
    if (!(value > 0)) { notice("A scale must be positive"); renderEditor(); return; }
    if (shape() === "isotropic") {
      if (fam.shared_scale) nat.scales = nat.scales.map(() => [value, value]);
      else nat.scales[k] = [value, value];
    } else nat.scales[k][name === "scale-x" ? 0 : 1] = value;
  }
  if (name === "corr") {
    if (!(Math.abs(value) < 1)) { notice("A correlation must be strictly between -1 and 1"); renderEditor(); return; }
    nat.correlations[k] = value;
  }
  notice("");
  setNatural(nat);
}

// ---------------------------------------------------------------- actions

function acceptView(view) {
  state.view = view;
  state.selected = Math.min(state.selected, view.components.means.length - 1);
  syncUrl();
  render();
  if (state.showSamples) refreshSamples();
}

const samplesLatest = latestOnly((params) => python("samples", params));

async function refreshSamples() {
  if (!state.view || !state.pythonReady) return;
  try {
    const theta = state.view.theta;
    const out = await samplesLatest({ target: state.target, family: state.family, k: familyK(), theta, n: SAMPLE_COUNT, seed: 1 });
    if (out && state.view && state.view.theta === theta) {
      state.samples = out.points;
      const mc = out.mc;
      const el = $("mc-elbo");
      el.hidden = mc.elbo === null;
      el.dataset.value = mc.elbo === null ? "" : String(mc.elbo);
      el.textContent = `From ${mc.n} draws of q, a Monte Carlo ELBO: ${fmt(mc.elbo, 3)} ± ${fmt(mc.error, 3)} (exact: ${fmt(state.view.readouts.elbo, 3)}). Sampling is what makes q tractable; stochastic VI climbs such noisy estimates.`;
      render();
    }
  } catch (err) {
    notice(`Could not draw samples: ${err.message}`);
  }
}

function resetTrace() {
  // A finished run stays on the plot, greyed, to compare with the next (another optimizer?).
  if (state.trace.length > 1 && state.traceOptimizer) {
    const name = optimizersById[state.traceOptimizer].name;
    state.ghosts = [...state.ghosts, { label: name, trace: state.trace }].slice(-3);
  }
  state.traceOptimizer = null;
  state.trace = state.view ? [[0, state.view.readouts.elbo]] : [];
  state.iteration = 0;
  state.gaugeSpan = 0;
}

async function loadTarget() {
  const grid = await python("target_grid", { target: state.target, nx: 144, ny: 108 });
  state.targetGrid = grid;
  frame = null;
}

async function resetQ(natural = null) {
  cancelRun();
  discardOpenRun();
  // A scene's Reset returns to the scene's own q, not the family's default.
  const d = initial.defaults;
  if (!natural && d.natural && state.target === d.target && state.family === d.family) natural = d.natural;
  // Built-in targets: the build computed each family's starting q already (same as the CLI's).
  const precomputed = initial.initial_thetas?.[state.target]?.[state.family];
  const defaultK = familiesById[state.family].n_components;
  const theta = !natural && precomputed && (state.family !== "mixture-full" || familyK() === defaultK) ? precomputed : null;
  const view = await python("evaluate", { target: state.target, family: state.family, k: familyK(), natural, theta });
  state.selected = 0;
  state.view = view;
  resetTrace();
  acceptView(view);
}

async function guarded(action) {
  try {
    await action();
  } catch (err) {
    if (err.name === "Restarted") return; // the restart says so itself
    notice(err.message, "error");
    render();
  }
}

function discardOpenRun() {
  if (state.openRun !== null) {
    const runId = state.openRun;
    state.openRun = null;
    py.call("finish_run", { run_id: runId, reason: "discarded" }).catch(() => {});
  }
}

/** The Stop button: the run pauses and its last q stays (Optimize or Step continue it). */
function stopRun() {
  if (state.running) py.stop(state.running.id);
}

/** q is about to change under the run (a drag, Reset, another target): forget the run. */
function cancelRun() {
  if (state.running) {
    state.running.cancelled = true;
    py.stop(state.running.id);
    state.running = null;
    refreshStatus();
  }
}

function recordFrame(frameData) {
  state.traceOptimizer = state.optimizer;
  for (const [, elbo] of frameData.trace) {
    state.iteration += 1;
    state.trace.push([state.iteration, elbo]);
  }
  acceptView(frameData.view);
}

function announceEnd(converged) {
  notice(converged ? `Converged after ${state.iteration} iterations.`
    : `Stopped after the iteration limit (${state.iteration}); press Optimize to continue.`, "info");
}

async function optimize() {
  if (state.running) { stopRun(); return; }
  notice("");
  const params = {
    target: state.target, family: state.family, k: familyK(), optimizer: state.optimizer,
    theta: state.view.theta, run_id: state.openRun,
    steps_per_frame: STEPS_PER_FRAME[state.optimizer] || 1, frame_ms: FRAME_MS,
  };
  state.openRun = null;
  const run = { id: null, cancelled: false };
  const { id, promise } = py.run(params, (f) => { if (!run.cancelled) recordFrame(f); });
  run.id = id;
  state.running = run;
  refreshStatus();
  try {
    const result = await promise;
    if (run.cancelled) {
      if (!result.done) py.call("finish_run", { run_id: result.run_id, reason: "discarded" }).catch(() => {});
      return;
    }
    if (result.trace.length) recordFrame(result);
    else if (result.view) acceptView(result.view);
    state.openRun = result.done ? null : result.run_id;
    if (result.done) announceEnd(result.converged);
  } catch (err) {
    if (!run.cancelled) notice(`Optimization failed: ${err.message}`, "error");
  } finally {
    if (state.running === run) state.running = null;
    refreshStatus();
  }
}

async function step() {
  if (state.running) return;
  if (state.openRun === null) {
    const { run_id } = await python("start_run", { target: state.target, family: state.family, k: familyK(), optimizer: state.optimizer, theta: state.view.theta });
    state.openRun = run_id;
  }
  const out = await python("advance_run", { run_id: state.openRun, steps: 1 });
  if (out.trace.length) recordFrame(out);
  if (out.done) {
    announceEnd(out.converged);
    discardOpenRun();
  }
}

// ---------------------------------------------------------------- custom targets

/** Send the source to vi_core; on success it becomes the "custom" target everywhere. */
async function useCustomTarget(source) {
  const entry = await python("set_custom_target", { source });
  entry.name = "Custom (your log_density)";
  targetsById.custom = entry;
  const select = $("target-select");
  let option = select.querySelector('option[value="custom"]');
  if (!option) { option = new Option(entry.name, "custom"); select.add(option); }
  state.customSource = source;
  state.target = "custom";
  select.value = "custom";
  await loadTarget();
  await startOver();
}

/** A new target, family or K: earlier runs no longer compare, so the trace starts afresh. */
async function startOver() {
  state.ghosts = [];
  describe();
  await resetQ();
}

// ---------------------------------------------------------------- controls

function fillSelect(select, items, value) {
  select.replaceChildren(...items.map((item) => new Option(item.name, item.id, false, item.id === value)));
  select.value = value;
}

function describe() {
  const t = targetsById[state.target] || state.customTarget;
  const f = familiesById[state.family];
  $("target-text").textContent = t ? t.description : "";
  $("family-text").textContent = f ? f.description : "";
  $("optimizer-text").textContent = optimizersById[state.optimizer].description;
  $("k-field").hidden = state.family !== "mixture-full";
  $("k-select").value = String(familyK() || 3);
}

function controlsEnabled(enabled) {
  for (const el of document.querySelectorAll("[data-needs-python]")) el.disabled = !enabled;
}

function wireControls() {
  fillSelect($("target-select"), catalog.targets, state.target);
  fillSelect($("family-select"), catalog.families, state.family);
  fillSelect($("optimizer-select"), catalog.optimizers, state.optimizer);
  describe();
  $("target-select").addEventListener("change", (e) => guarded(async () => {
    state.target = e.target.value;
    notice("");
    await loadTarget();
    await startOver();
  }));
  $("family-select").addEventListener("change", (e) => guarded(async () => {
    state.family = e.target.value;
    notice("");
    await startOver();
  }));
  $("k-select").addEventListener("change", (e) => guarded(async () => {
    state.k = Number(e.target.value);
    await startOver();
  }));
  $("optimizer-select").addEventListener("change", (e) => {
    state.optimizer = e.target.value;
    discardOpenRun();
    describe();
    syncUrl();
  });
  $("custom-apply").addEventListener("click", () => guarded(async () => {
    notice("");
    try {
      await useCustomTarget($("custom-source").value);
      notice(`Custom target ready: log Z = ${targetsById.custom.log_z.toFixed(4)} (± ${targetsById.custom.log_z_error.toExponential(0)}).`, "info");
    } catch (err) {
      if (err.name !== "Restarted") notice(`Your target was not accepted: ${err.message}`, "error");
    }
  }));
  $("optimize-button").addEventListener("click", () => guarded(optimize));
  $("step-button").addEventListener("click", () => guarded(step));
  $("reset-button").addEventListener("click", () => guarded(async () => { notice(""); await resetQ(); }));
  for (const button of document.querySelectorAll("[data-trace-mode]")) {
    button.addEventListener("click", () => {
      state.traceMode = button.dataset.traceMode;
      for (const b of document.querySelectorAll("[data-trace-mode]")) {
        b.setAttribute("aria-pressed", String(b === button));
      }
      render();
    });
  }
  $("show-samples").addEventListener("change", (e) => {
    state.showSamples = e.target.checked;
    if (state.showSamples) refreshSamples(); else { $("mc-elbo").hidden = true; render(); }
  });
  for (const name of EDITOR_FIELDS) $(`edit-${name}`).addEventListener("change", editorChanged);
  $("restart-python").addEventListener("click", () => guarded(restartPython));
  new ResizeObserver(() => { if (frame) render(); }).observe($("stage"));
  window.addEventListener("resize", () => { if (frame) render(); });
}

// ---------------------------------------------------------------- start-up

function applyUrl() {
  const url = readUrlState(location.search);
  const problems = [...url.problems];
  if (url.target === "custom") {
    if (url.source) { state.target = "custom"; state.customSource = url.source; }
    else problems.push(`target=custom needs its source in the link, showing ${targetsById[state.target].name}`);
  } else if (url.target !== null) {
    if (targetsById[url.target]) state.target = url.target;
    else problems.push(`unknown target "${url.target}", showing ${targetsById[state.target].name}`);
  }
  if (url.family !== null) {
    const base = url.family.match(/^mixture-full-(\d+)$/);
    if (base && Number(base[1]) >= 1 && Number(base[1]) <= 10) { state.family = "mixture-full"; state.k = Number(base[1]); }
    else if (familiesById[url.family]) state.family = url.family;
    else problems.push(`unknown family "${url.family}", showing ${familiesById[state.family].name}`);
  }
  if (url.optimizer !== null) {
    if (optimizersById[url.optimizer]) state.optimizer = url.optimizer;
    else problems.push(`unknown optimizer "${url.optimizer}", using ${optimizersById[state.optimizer].name}`);
  }
  if (url.k !== null && state.family === "mixture-full") state.k = url.k;
  if (problems.length) notice(`The link had problems: ${problems.join("; ")}.`);
  return url.natural;
}

// ---------------------------------------------------------------- embedding in an article

const EMBED_CONTROLS = ["target", "family", "trace"];
const ALL_CONTROLS = ["target", "family", "optimizer", "trace", "samples", "editor", "custom", "about"];

/** ?embed=1: a compact layout; ?controls=a,b,c picks which optional parts show (any page). */
function applyEmbedding() {
  const params = new URLSearchParams(location.search);
  const embed = params.get("embed") === "1";
  if (embed) root.dataset.embed = "1";
  let shown = embed ? EMBED_CONTROLS : ALL_CONTROLS;
  if (params.has("controls")) {
    const asked = params.get("controls").split(",").map((c) => c.trim()).filter(Boolean);
    const unknown = asked.filter((c) => !ALL_CONTROLS.includes(c));
    if (unknown.length) notice(`Unknown controls ignored: ${unknown.join(", ")} (known: ${ALL_CONTROLS.join(", ")}).`);
    shown = asked.filter((c) => ALL_CONTROLS.includes(c));
  }
  for (const el of document.querySelectorAll("[data-control]")) {
    el.classList.toggle("control-hidden", !shown.includes(el.dataset.control));
  }
  if (window.parent !== window) reportHeight();
}

/** Tell the host page our height, so it can size the iframe: {type: "vi-demo:resize", height}. */
function reportHeight() {
  let last = -1;
  const send = () => {
    const height = Math.ceil(document.querySelector(".app").getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      window.parent.postMessage({ type: "vi-demo:resize", height }, "*");
    }
  };
  new ResizeObserver(send).observe(document.querySelector(".app"));
  send();
}

applyEmbedding();
const urlNatural = applyUrl();

/** Replace a stuck Python worker; the page keeps its state. A custom target that may be the
 * cause is dropped (its source stays in the editor). */
async function restartPython() {
  $("restart-python").hidden = true;
  state.restarts = (state.restarts || 0) + 1;
  cancelRun();
  state.openRun = null;
  state.running = null;
  state.pythonReady = false;
  state.restoreNatural = state.view ? state.view.natural : null;
  if (state.target === "custom") {
    state.target = initial.defaults.target;
    state.customSource = null;
    state.restoreNatural = null;
    state.targetGrid = null;
    $("target-select").value = state.target;
    describe();
  }
  controlsEnabled(false);
  root.dataset.viStatus = "loading";
  $("progress").hidden = false;
  notice("Restarting Python…", "info");
  await py.restart();
}
const firstPaintMatches = state.target === initial.defaults.target && state.family === initial.defaults.family && !urlNatural;
if (state.target === initial.view.target) state.targetGrid = initial.target_grid;
if (firstPaintMatches) {
  state.view = initial.view;
  resetTrace();
}
wireControls();
controlsEnabled(false);
// Room to spare (a tall window, not an article's iframe): show the explanations at once.
if (window.innerHeight >= 860 && window.innerWidth >= 1000) { $("about").open = true; $("editor").open = true; }
render();
if (firstPaintMatches) syncUrl();

const callbacks = {
  onProgress: ({ stage, label }) => {
    root.dataset.viStatus = "loading";
    $("status").textContent = label + "…";
    let seen = false;
    for (const li of document.querySelectorAll("#stages li")) {
      const active = li.dataset.stage === stage;
      li.classList.toggle("active", active);
      li.classList.toggle("done", !active && !seen);
      if (active) seen = true;
    }
  },
  onStall: () => {
    notice("Python has been busy for a while without answering (an endless loop in your target?). Restart it: the view is kept.", "error");
    $("restart-python").hidden = false;
  },
  onReady: async (versions) => {
    window.viVersions = versions;
    const restarted = state.restarts > 0 && state.pythonReady === false && state.view !== null;
    $("python-version").textContent = `Python ${versions.python}, numpy ${versions.numpy}, scipy ${versions.scipy}`;
    for (const li of document.querySelectorAll("#stages li")) { li.classList.remove("active"); li.classList.add("done"); }
    $("progress").hidden = true;
    state.pythonReady = true;
    state.pending++;
    try {
      if (state.target === "custom") {
        $("custom-source").value = state.customSource;
        $("custom").open = true;
        try {
          await useCustomTarget(state.customSource);
        } catch (err) {
          notice(`The link's custom target was not accepted (${err.message}); showing ${targetsById[initial.defaults.target].name}.`);
          state.target = initial.defaults.target;
          state.customSource = null;
          $("target-select").value = state.target;
          describe();
        }
      }
      if (!state.targetGrid || state.targetGrid.target !== state.target) await loadTarget();
      if (restarted) {
        // Back where the visitor was: same target, family and q (the run's memory is gone).
        await resetQ(state.restoreNatural);
        notice("Python was restarted; your view is back.", "info");
      } else if (!firstPaintMatches) {
        let natural = urlNatural;
        if (natural && !natural.scales) {
          const defaults = await py.call("evaluate", { target: state.target, family: state.family, k: familyK() });
          if (defaults.natural.means.length === natural.means.length) natural.scales = defaults.natural.scales;
          else natural = null;
        }
        try {
          await resetQ(natural);
        } catch (err) {
          notice(`The link's q was not accepted (${err.message}); showing the default q.`);
          await resetQ();
        }
      }
    } catch (err) {
      notice(err.message, "error");
    } finally {
      state.pending--;
    }
    controlsEnabled(true);
    render();
    refreshStatus();
  },
  onFatal: ({ stage, error }) => {
    root.dataset.viStatus = "error";
    $("status").textContent = `Python could not start (${stage}): ${error.message}`;
    const standalone = document.querySelector("script[data-vi-asset]") !== null;
    notice(location.protocol === "file:" && !standalone
      ? "This page cannot load its Python runtime from a file:// address. Open standalone.html instead, or serve this folder (make serve)."
      : `Python could not start (${stage}): ${error.message}. Reload the page to try again.`, "error");
  },
};

function startPython() {
  const inline = document.querySelectorAll("script[data-vi-asset]");
  if (inline.length) return PythonWorker.fromInlineAssets(inline, callbacks);
  if (location.protocol === "file:") {
    // A page opened from disk may not load the runtime beside it (its origin is null).
    callbacks.onFatal({ stage: "runtime", error: { message: "this page was opened from a file" } });
    return null;
  }
  return new PythonWorker(new URL("worker.js", SCRIPT_URL), callbacks, initial.runtime || { mode: "vendored" });
}

let py = null;
Promise.resolve(startPython()).then((worker) => { py = worker; window.viPython = worker; })
  .catch((err) => callbacks.onFatal({ stage: "runtime", error: { message: err.message } }));

