// The page's start-up and wiring; each job lives in its own module:
//
//   store.js      the whole state and the only functions that change it
//   catalog.js    vi_core's catalog and q's rules (ranges, kind, K, pacing)
//   session.js    requests to vi_core outside runs (q, grids, samples, custom target, start-up)
//   runs.js       Optimize, Step, Stop, cancel, and pacing
//   python.js     the worker's life; worker-client.js and messages.js its protocol
//   plot-view.js, handles.js, editor.js, readouts.js, terms.js, controls.js, status.js   rendering
//   compare.js    reverse vs forward KL fits (toggle, legend) and k-hat next to the samples
//   url-state.js, embed.js   the link and the iframe; consent.js   code that came in the link
//
// Data flows one way: an event calls an action -> the state changes -> render(state). The
// first view is computed at build time on CPython and embedded in the HTML (#vi-initial), so
// the first paint does not wait for Python.

import { createStore, initialState } from "./store.js";
import { makeCatalog, componentCount, requestK, CUSTOM } from "./catalog.js";
import { readUrlState, resolveUrlState, writeUrlState, readTheme } from "./url-state.js";
import { readEmbedding, applyEmbedding, applyTheme, reportHeight, reportReady, startWhenNear, unknownControlsNotice } from "./embed.js";
import { createPython } from "./python.js";
import { createRuns } from "./runs.js";
import { createSession, LINK_DATA_WAIT } from "./session.js";
import { createPlotView } from "./plot-view.js";
import { createHandles } from "./handles.js";
import { createEditor } from "./editor.js";
import { createDataPanel } from "./data-panel.js";
import { createControls } from "./controls.js";
import { renderReadouts } from "./readouts.js";
import { renderBoundFigure, renderForces } from "./terms.js";
import { renderStatus } from "./status.js";
import { renderConsent, wireConsent } from "./consent.js";
import { createCompare } from "./compare.js";

// The link's theme first of all, before anything is painted (a bad value is reported below).
applyTheme(readTheme(location.search).theme);

const $ = (id) => document.getElementById(id);
// The bundle is a classic script (see build.py): find the worker next to it, in assets/.
const SCRIPT_URL = document.currentScript ? document.currentScript.src : location.href;

const initial = JSON.parse($("vi-initial").textContent);
const catalog = makeCatalog(initial.catalog);

// ---- what the link asks for
const embedding = readEmbedding(location.search);
applyEmbedding(embedding);
if (window.parent !== window) {
  reportHeight();
  reportReady();
}
const url = resolveUrlState(readUrlState(location.search, catalog.kLimits()), catalog, initial.defaults);
const noticeText = [url.problems.length ? `The link had problems: ${url.problems.join("; ")}.` : "",
  unknownControlsNotice(embedding.unknown, embedding.fellBack),
  url.data ? LINK_DATA_WAIT : ""].filter(Boolean).join(" ");

// Code in the link waits for the visitor's consent (consent.js); meanwhile a built-in target
// shows, and q from the link (which belongs to that code's target) waits with it.
const linkCode = url.target === CUSTOM ? url.source : null;
const ownNatural = linkCode === null ? url.natural : null;
const store = createStore(catalog, initialState({
  target: linkCode === null ? url.target : initial.defaults.target, family: url.family, k: url.k,
  optimizer: url.optimizer, customSource: null, linkCode, data: linkCode === null ? url.data : null,
  notice: { text: noticeText, kind: url.problems.length || embedding.unknown.length ? "warning" : "info" },
}));

// ---- the first paint: the build's view, if the link asks for it (inlined for the page's own
// defaults; fetched from views/ for the other built-in links, see session.paintPrecomputed)
const s0 = store.state;
const firstPaint = s0.target === initial.defaults.target && s0.family === initial.defaults.family && !ownNatural
  && componentCount(catalog, s0.family, s0.k) === initial.view.k && s0.data === null;
if (firstPaint) store.firstView(initial.view, initial.target_grid);
else if (s0.target === initial.view.target && s0.data === null) store.setTargetGrid(initial.target_grid);

// ---- the parts
let session = null;
const python = createPython({
  store, runtime: initial.runtime, scriptUrl: SCRIPT_URL, defaultTarget: initial.defaults.target,
  onUp: () => session.pythonUp({ firstPaint, urlNatural: ownNatural }),
});
const runs = createRuns({ store, catalog, worker: python.worker, onView: () => { if (store.state.showSamples) session.refreshSamples(); } });
session = createSession({ store, catalog, initial, python, runs });
// Python first (a direct visit starts it now, an embedded page when the reader gets near):
// the worker's downloads then overlap the first paint below.
startWhenNear({ lazy: embedding.embed || window.parent !== window, start: () => python.start(), onVisible: visibilityChanged });
const plotView = createPlotView(catalog, initial.defaults.target);
const handles = createHandles({ store, catalog, session, plotView });
const editor = createEditor({ store, catalog, session });
const dataPanel = createDataPanel({ store, catalog, session });
const controls = createControls({ store, catalog, session, runs });
const compare = createCompare({ store, catalog, session });
if (!firstPaint) session.paintPrecomputed(ownNatural);

// While q moves (a drag, a run) the link follows it at most this often: history.replaceState
// costs the browser several ms, and Safari refuses more than 100 calls in 10 s. At rest it
// follows at once, so the link is right as soon as the view is.
const URL_EVERY_MS = 200;
let urlWanted = null; // the search string the link should get
let urlTimer = null;
let urlWritten = -Infinity;

function writeUrl() {
  urlTimer = null;
  urlWritten = performance.now();
  if (urlWanted !== location.search) history.replaceState(null, "", urlWanted + location.hash);
}

/** The link always shows the view on screen (once there is one for the target on show). */
function syncUrl(state) {
  // Code waiting for consent: the link stays as it came (it still carries the code).
  if (state.linkCode !== null || !state.view || state.view.target !== state.target) return;
  urlWanted = writeUrlState({
    target: state.target, family: state.family, optimizer: state.optimizer,
    k: requestK(catalog, state.family, state.k), natural: state.view.natural, source: state.customSource,
    data: state.dataTarget && state.dataTarget.id === state.target ? { points: state.dataTarget.data.points, kind: state.dataTarget.data.kind } : null,
  }, location.search);
  if (urlWanted === location.search) return;
  const moving = state.dragging !== null || state.run !== null;
  if (!moving) {
    clearTimeout(urlTimer);
    writeUrl();
  } else if (urlTimer === null) {
    urlTimer = setTimeout(writeUrl, Math.max(0, urlWritten + URL_EVERY_MS - performance.now()));
  }
}

const renderers = [plotView.render, handles.render, renderReadouts, renderBoundFigure, renderForces, editor.render,
  controls.render, compare.render, dataPanel.render, renderStatus, renderConsent, syncUrl];

/** Draw the state. A part that fails to draw (a canvas the browser refuses, say) does not take
 * the others with it: the status, controls and link still follow the state, and the notice
 * says what failed (an action, scheduled after this render, not a write from it). */
let drawFailure = ""; // the notice about a part that could not be drawn, while it shows
function render(state) {
  let failed = "";
  for (const part of renderers) {
    try {
      part(state);
    } catch (err) {
      failed = failed || `Part of the page could not be drawn (${String(err && err.message).slice(0, 120)}); the rest works.`;
    }
  }
  if (failed && state.notice.text !== failed) {
    drawFailure = failed;
    queueMicrotask(() => store.setNotice(failed, "error"));
  } else if (!failed && drawFailure && state.notice.text === drawFailure) {
    drawFailure = ""; // drawn after all: the notice goes
    queueMicrotask(() => { if (store.state.notice.text === state.notice.text) store.setNotice(""); });
  }
}

controls.wire();
compare.wire();
editor.wire();
dataPanel.wire();
wireConsent({ store, session, natural: url.natural });
store.subscribe(render);
// The two forces' sweep follows q at rest, while its chart shows (not in an embed by default).
const termsShown = () => embedding.shown.includes("terms") && $("terms").open;
store.subscribe((state) => session.followForces(state, termsShown()));
$("terms").addEventListener("toggle", () => {
  session.followForces(store.state, termsShown());
  render(store.state);
});
const resized = () => {
  plotView.resized();
  render(store.state);
};
const sizes = new ResizeObserver(resized);
sizes.observe($("stage"));
sizes.observe($("elbo-trace").parentElement);
sizes.observe($("data")); // shown for a posterior from data: the plot's room changes
// An embed's plot gets the height the rest leaves in its frame: measure again when the rest changes.
if (embedding.embed) sizes.observe(document.querySelector(".panel"));
window.addEventListener("resize", resized);
// The canvases take their colours from the style sheet, and hold still for reduced motion.
for (const query of ["(prefers-color-scheme: dark)", "(prefers-reduced-motion: reduce)"]) {
  window.matchMedia(query).addEventListener("change", resized);
}
$("notice-close").addEventListener("click", () => store.setNotice(""));

// Room to spare (a tall window, not an article's iframe): show the explanations at once.
if (window.innerHeight >= 860 && window.innerWidth >= 1000) { $("about").open = true; $("editor").open = true; }
render(store.state);
// Laid out, in its theme and drawn: now the page may show (style.css hides it until the script ran).
delete document.documentElement.dataset.viBeforeScript;

/** An embedded page off the screen pauses Optimize, and goes on when it is back. */
function visibilityChanged(visible) {
  const s = store.state;
  if (!visible && s.run && s.run.kind === "optimize") {
    store.pausedWhileHidden();
    runs.stop();
  } else if (visible && s.resumeWhenVisible) {
    store.resumedWhenVisible();
    if (s.pausedRun && !s.run) runs.optimize();
  }
}
