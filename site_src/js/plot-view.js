// The two canvases: their layout (size from the page and the target's aspect) and their
// drawing from the state (plot.js and trace.js do the drawing itself). It keeps the current
// Frame (data <-> pixels) for the handles; it never writes state.

import { Frame, renderTarget, drawQ } from "./plot.js";
import { drawTrace } from "./trace.js";
import { targetEntry } from "./catalog.js";

const $ = (id) => document.getElementById(id);

/** The plot may be as wide as its column, but no taller than this. In an iframe the height must
 * not follow the window's: the host resizes the iframe to our reported height, and a plot that
 * grew with it would never settle. */
function maxPlotHeight() {
  const stacked = window.matchMedia("(max-width: 760px)").matches;
  // Embedded and stacked, the panel sits under the plot: leave it room in a 700 px frame.
  if (document.documentElement.dataset.embed === "1") return stacked ? 260 : 520;
  return Math.max(180, stacked ? 0.6 * window.innerHeight : window.innerHeight - 110);
}

/** The extent on show: the grid's once loaded, else the target's entry, else the default's. */
function extentOf(state, catalog, fallbackTarget) {
  if (state.targetGrid) return state.targetGrid.extent;
  const entry = targetEntry(catalog, state.target, state.customTarget) || catalog.target(fallbackTarget);
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
    };
  };

  function layout(state) {
    const wrap = $("plot");
    const extent = extentOf(state, catalog, fallbackTarget);
    const aspect = (extent[3] - extent[2]) / (extent[1] - extent[0]);
    if (!room) room = measure();
    const width = Math.floor(Math.min(room.plotWidth, room.plotMaxHeight / aspect));
    const height = Math.floor(width * aspect);
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
    if (trace.width !== Math.round(tw * ratio)) {
      trace.width = Math.round(tw * ratio);
      trace.height = Math.round(th * ratio);
      trace.style.width = tw + "px";
    }
  }

  function drawPlot(state, ratio) {
    const samples = state.showSamples && state.samples ? state.samples.points : null;
    const inputs = { frame, grid: state.targetGrid, view: state.view, samples, selected: state.selected };
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
      ctx.fillStyle = "#f1f1f1";
      ctx.fillRect(0, 0, frame.width, frame.height);
    }
    if (state.view) drawQ(ctx, frame, state.view, { samples, selected: state.selected });
    // What the plot shows, for tests and benchmarks: the target of its colours ("" for none)
    // and the target of q's contours.
    const plot = $("plot");
    plot.dataset.paintedTarget = state.targetGrid ? state.targetGrid.target : "";
    plot.dataset.paintedQ = state.view ? state.view.target : "";
  }

  function drawTraceCanvas(state, ratio) {
    const canvas = $("elbo-trace");
    const logZ = state.view ? state.view.readouts.log_z : null;
    const inputs = { width: canvas.width, height: canvas.height, trace: state.trace, logZ, mode: state.traceMode, ghosts: state.ghosts };
    if (Object.keys(inputs).every((key) => drawn.trace && drawn.trace[key] === inputs[key])) return;
    drawn.trace = inputs;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    drawTrace(ctx, canvas.width / ratio, canvas.height / ratio, state.trace, logZ, { mode: state.traceMode, ghosts: state.ghosts });
  }

  return {
    /** Lay out and draw both canvases for this state. */
    render(state) {
      layout(state);
      const ratio = window.devicePixelRatio || 1;
      drawPlot(state, ratio);
      drawTraceCanvas(state, ratio);
    },
    /** The page's size may have changed: measure the room again at the next render. */
    resized() {
      room = null;
    },
    /** The plot's Frame (data <-> pixels), null before the first render. */
    frame: () => frame,
  };
}
