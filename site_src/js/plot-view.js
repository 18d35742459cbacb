// The two canvases: their layout (size from the page and the target's aspect) and their
// drawing from the state (plot.js and trace.js do the drawing itself). It keeps the current
// Frame (data <-> pixels) for the handles; it never writes state.

import { Frame, renderTarget, drawQ, drawFits, drawAxes } from "./plot.js";
import { drawTrace, TRACE_LIGHT } from "./trace.js";
import { targetEntry } from "./catalog.js";
import { traceSeries } from "./store.js";

const $ = (id) => document.getElementById(id);

/** The seed article's iframe: 100% wide, this tall, and no script to resize it. An embed lays
 * itself out to fit it at every width (style.css has the layouts). */
export const EMBED_HEIGHT = 700;
/** From this width an embed puts the panel beside the plot (style.css' 900 px breakpoint). */
export const EMBED_SIDE_MIN = 900;

/** The plot may be as wide as its column, but no taller than this. In an iframe the height must
 * not follow the window's: the host resizes the iframe to our reported height, and a plot that
 * grew with it would never settle. An embed's cap depends on its width alone. */
function maxPlotHeight() {
  if (document.documentElement.dataset.embed === "1") return embedPlotHeight();
  const stacked = window.matchMedia("(max-width: 760px)").matches;
  return Math.max(180, stacked ? 0.6 * window.innerHeight : window.innerHeight - 110);
}

/** An embed's plot is as tall as EMBED_HEIGHT leaves it: everything but the plot is measured
 * (its height depends on the width only: messages lie over the plot, see style.css), the rest
 * is the plot's. */
function embedPlotHeight() {
  const app = document.querySelector(".app");
  const side = window.matchMedia(`(min-width: ${EMBED_SIDE_MIN}px)`).matches;
  const plotBox = side ? document.querySelector(".layout") : $("plot");
  let rest = app.getBoundingClientRect().height - plotBox.getBoundingClientRect().height;
  // Beside the panel, the plot shares its column with the data panel (a posterior from data).
  const data = $("data");
  if (side && data && !data.hidden) rest += data.getBoundingClientRect().height + parseFloat(getComputedStyle(data).marginTop || "0");
  return Math.max(160, Math.floor(EMBED_HEIGHT - rest - 2));
}

/** The canvases' colours, from the style sheet's custom properties (light or dark theme). */
export const LIGHT_PALETTE = { plotEmpty: "#f1f1f1", ...TRACE_LIGHT };
function readPalette() {
  const style = getComputedStyle(document.documentElement);
  const out = {};
  for (const [key, fallback] of Object.entries(LIGHT_PALETTE)) {
    const name = "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    out[key] = style.getPropertyValue(name).trim() || fallback;
  }
  return out;
}

/** With prefers-reduced-motion, a running Optimize is not animated: the plot, its handles and
 * the trace keep the view from before the run until it ends, then show its end state. */
export function holdsStill(state) {
  return state.run !== null && state.run.kind === "optimize"
    && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

/** The extent on show: the grid's once loaded, else the target's entry, else the default's. */
const MIN_PLOT_PX = 96;

function extentOf(state, catalog, fallbackTarget) {
  if (state.targetGrid) return state.targetGrid.extent;
  const entry = targetEntry(catalog, state.target, state.customTarget, state.dataTarget) || catalog.target(fallbackTarget);
  return entry.extent;
}

/**
 * @param {ReturnType<import("./catalog.js").makeCatalog>} catalog
 * @param {string} fallbackTarget  the page's default target
 */
export function createPlotView(catalog, fallbackTarget) {
  let frame = null;
  let targetLayer = null; // the target's colour map at the frame's size, drawn once per grid
  let layerGrid = null;
  const drawn = {}; // what the plot and the trace last showed: skip redrawing the same

  // The room the page gives the canvases, measured when it may have changed (resized()), not
  // on every render: reading it forces the browser to lay the page out, several ms per drag step.
  let room = null;
  const measure = () => {
    const trace = $("elbo-trace");
    return {
      plotWidth: $("plot").parentElement.clientWidth,
      plotMaxHeight: maxPlotHeight(),
      traceWidth: trace.parentElement.clientWidth,
      traceHeight: trace.clientHeight || 120,
      palette: readPalette(),
    };
  };

  function layout(state) {
    const wrap = $("plot");
    const extent = extentOf(state, catalog, fallbackTarget);
    const aspect = (extent[3] - extent[2]) / (extent[1] - extent[0]);
    if (!room) room = measure();
    // Never a zero-sized canvas (drawImage throws on one): at worst a small plot that overflows.
    const width = Math.max(MIN_PLOT_PX, Math.floor(Math.min(room.plotWidth, room.plotMaxHeight / aspect)));
    const height = Math.max(MIN_PLOT_PX / 4, Math.floor(width * aspect));
    const ratio = window.devicePixelRatio || 1;
    const sameExtent = frame && frame.extent.every((v, i) => v === extent[i]);
    if (!frame || frame.width !== width || frame.height !== height || !sameExtent) {
      const canvas = $("plot-canvas");
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
    const tw = room.traceWidth;
    const th = room.traceHeight;
    if (trace.width !== Math.round(tw * ratio) || trace.height !== Math.round(th * ratio)) {
      trace.width = Math.round(tw * ratio);
      trace.height = Math.round(th * ratio);
      trace.style.width = tw + "px";
    }
  }

  function drawPlot(state, ratio) {
    const samples = state.showSamples && state.samples ? state.samples.points : null;
    const entry = targetEntry(catalog, state.target, state.customTarget, state.dataTarget);
    const axes = (entry && entry.axes) || ["x", "y"];
    const comparison = state.compare && state.comparison && state.comparison.target === state.target ? state.comparison : null;
    const inputs = { frame, grid: state.targetGrid, view: state.view, samples, selected: state.selected, trail: state.trail, comparison, axes: axes.join("\u0000") };
    if (Object.keys(inputs).every((key) => drawn.plot && drawn.plot[key] === inputs[key]) && targetLayer) return;
    drawn.plot = inputs;
    const ctx = $("plot-canvas").getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, frame.width, frame.height);
    if (state.targetGrid) {
      if (!targetLayer || layerGrid !== state.targetGrid) {
        targetLayer = renderTarget(state.targetGrid, frame, ratio);
        layerGrid = state.targetGrid;
      }
      ctx.drawImage(targetLayer, 0, 0, frame.width, frame.height);
    } else {
      targetLayer = null;
      ctx.fillStyle = room.palette.plotEmpty;
      ctx.fillRect(0, 0, frame.width, frame.height);
    }
    if (state.view) drawQ(ctx, frame, state.view, { samples, selected: state.selected, trail: state.trail });
    if (comparison) drawFits(ctx, frame, comparison);
    $("plot").dataset.trail = String(state.trail.length); // frames in the optimizer's trail (tests)
    drawAxes(ctx, frame, axes);
    $("plot-canvas").setAttribute("aria-label", `Target density (colour map) over ${axes[0]} (across) and ${axes[1]} (up), and the approximation q (orange contours)`);
    // What the plot shows, for tests and benchmarks: the target of its colours ("" for none)
    // and the target of q's contours.
    const plot = $("plot");
    plot.dataset.paintedTarget = state.targetGrid ? state.targetGrid.target : "";
    plot.dataset.paintedQ = state.view ? state.view.target : "";
  }

  function drawTraceCanvas(state, ratio) {
    const canvas = $("elbo-trace");
    const logZ = state.view ? state.view.readouts.log_z : null;
    const inputs = { width: canvas.width, height: canvas.height, trace: state.trace, logZ, mode: state.traceMode, ghosts: state.ghosts, palette: room.palette };
    if (Object.keys(inputs).every((key) => drawn.trace && drawn.trace[key] === inputs[key])) return;
    drawn.trace = inputs;
    // What the trace draws, for tests: [{label, points: [[iteration, elbo], ...]}], oldest first.
    canvas.dataset.series = JSON.stringify(traceSeries(state, catalog));
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    drawTrace(ctx, canvas.width / ratio, canvas.height / ratio, state.trace, logZ, { mode: state.traceMode, ghosts: state.ghosts, palette: room.palette });
  }

  return {
    /** Lay out and draw both canvases for this state. */
    render(state) {
      const resizedNow = room === null;
      layout(state);
      // Reduced motion: keep what is drawn while Optimize runs (unless the size changed).
      if (holdsStill(state) && drawn.plot && !resizedNow) return;
      const ratio = window.devicePixelRatio || 1;
      drawPlot(state, ratio);
      drawTraceCanvas(state, ratio);
    },
    /** The page's size may have changed: measure the room again at the next render. */
    resized() {
      room = null;
    },
    /** Does the view on show stay as it is for now (reduced motion, see holdsStill)? */
    holdsStill,
    /** The plot's Frame (data <-> pixels), null before the first render. */
    frame: () => frame,
  };
}
