// Pure drawing: the target as a colour map with contour lines, q as contours and ellipses,
// samples as dots. Every function draws from its arguments alone; nothing here computes VI math
// (densities come from vi_core as grids; contours are traced by d3-contour).

import { contours } from "d3-contour";
import { ticks } from "d3-array";
import { interpolateViridis } from "d3-scale-chromatic";
import { contourRadius, principalAxes } from "./geometry.js";

export const COLORS = {
  q: "#ff7f0e", // orange against viridis' blues and greens; also distinct for colour-blind readers
  qOutline: "rgba(0,0,0,0.55)",
  targetContour: "rgba(255,255,255,0.45)",
  handle: "#ffffff",
  handleSelected: "#ff7f0e",
  sample: "rgba(255,255,255,0.9)",
  // "Compare: reverse vs forward KL": the two fits, dashed over q. The reverse fit in q's own
  // orange, the forward fit in magenta: apart from viridis and from orange, in either theme
  // (the colour map does not change with the theme).
  fitReverse: "#ff7f0e",
  fitForward: "#ff3fd4",
};
export const FIT_DASH = { reverse: [7, 4], forward: [3, 3] };

// 256 colours of viridis as [r, g, b] (interpolateViridis returns "#rrggbb").
const VIRIDIS = Array.from({ length: 256 }, (_, i) => {
  const hex = interpolateViridis(i / 255);
  return [1, 3, 5].map((o) => parseInt(hex.slice(o, o + 2), 16));
});

/** Maps data coordinates (y up) to canvas pixels and back, equal scale on both axes. */
export class Frame {
  constructor(extent, width, height) {
    this.extent = extent;
    this.width = width;
    this.height = height;
    const [xmin, xmax, ymin, ymax] = extent;
    this.sx = width / (xmax - xmin);
    this.sy = height / (ymax - ymin);
  }
  toPx(x, y) {
    const [xmin, , , ymax] = this.extent;
    return [(x - xmin) * this.sx, (ymax - y) * this.sy];
  }
  toData(px, py) {
    const [xmin, , , ymax] = this.extent;
    return [xmin + px / this.sx, ymax - py / this.sy];
  }
}

/** A grid's density relative to its peak, from its log-density values (whole numbers of
 * `unit` nats; null where the density is 0). */
export function densityGrid({ log_density: values, unit }) {
  let max = -Infinity;
  for (const v of values) if (v !== null && v > max) max = v;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v === null ? 0 : Math.exp((v - max) * unit);
  }
  return out;
}

/** Trace contour rings of a grid (rows along y from ymin) as pixel paths. */
function contourPaths(grid, nx, ny, thresholds, frame) {
  const [xmin, xmax, ymin, ymax] = frame.extent;
  const dx = (xmax - xmin) / (nx - 1);
  const dy = (ymax - ymin) / (ny - 1);
  const paths = [];
  for (const geometry of contours().size([nx, ny]).thresholds(thresholds)(grid)) {
    const path = new Path2D();
    for (const polygon of geometry.coordinates) {
      for (const ring of polygon) {
        ring.forEach(([cx, cy], i) => {
          // d3-contour puts grid value i at coordinate i + 0.5.
          const [px, py] = frame.toPx(xmin + (cx - 0.5) * dx, ymin + (cy - 0.5) * dy);
          if (i === 0) path.moveTo(px, py); else path.lineTo(px, py);
        });
        path.closePath();
      }
    }
    paths.push(path);
  }
  return paths;
}

/** Render the target (a log-density grid) into an offscreen canvas of the frame's size. */
export function renderTarget(targetGrid, frame, pixelRatio) {
  const { nx, ny } = targetGrid;
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(frame.width * pixelRatio);
  canvas.height = Math.round(frame.height * pixelRatio);
  const ctx = canvas.getContext("2d");
  ctx.scale(pixelRatio, pixelRatio);

  const density = densityGrid(targetGrid);
  // Colour by density relative to the peak, through a perceptually uniform map (viridis).
  const image = new ImageData(nx, ny);
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const t = Math.sqrt(density[j * nx + i]); // sqrt lifts the tails into view
      const c = VIRIDIS[Math.min(255, Math.round(t * 255))];
      const o = ((ny - 1 - j) * nx + i) * 4; // image rows run top-down, grid rows bottom-up
      image.data[o] = c[0];
      image.data[o + 1] = c[1];
      image.data[o + 2] = c[2];
      image.data[o + 3] = 255;
    }
  }
  const small = document.createElement("canvas");
  small.width = nx;
  small.height = ny;
  small.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  // Grid points are cell centres: stretch so the first and last sit on the extent's edges.
  const cw = frame.width / (nx - 1);
  const ch = frame.height / (ny - 1);
  ctx.drawImage(small, -cw / 2, -ch / 2, frame.width + cw, frame.height + ch);

  ctx.strokeStyle = COLORS.targetContour;
  ctx.lineWidth = 1;
  for (const path of contourPaths(density, nx, ny, [0.05, 0.2, 0.4, 0.6, 0.8], frame)) {
    ctx.stroke(path);
  }
  return canvas;
}

const Q_LEVELS = [0.1, 0.3, 0.5, 0.7, 0.9]; // q's contours, as fractions of its peak density

/** A single Gaussian's contours at `fractions` of its peak: ellipses (see contourRadius). */
function gaussianContours(mean, cov, fractions, frame) {
  const [major, minor] = principalAxes(cov);
  const [cx, cy] = frame.toPx(mean[0], mean[1]);
  return fractions.map((f) => {
    const r = contourRadius(f);
    const path = new Path2D();
    // The canvas y axis points down, so a data-space angle turns the other way.
    path.ellipse(cx, cy, r * major.length * frame.sx, r * minor.length * frame.sy, -major.angle, 0, 2 * Math.PI);
    return path;
  });
}

const FIT_LEVELS = [0.1, 0.5, 0.9]; // a fit's contours: fewer than q's, so both fits stay legible

/** Draw the comparison's two fits (protocol ``compare``: {reverse: view, forward: view})
 * as dashed contours over the plot, each in its colour, the forward fit on top. */
export function drawFits(ctx, frame, comparison) {
  for (const [side, color] of [["reverse", COLORS.fitReverse], ["forward", COLORS.fitForward]]) {
    const view = comparison[side];
    const paths = view.q_grid
      ? contourPaths(densityGrid(view.q_grid), view.q_grid.nx, view.q_grid.ny, FIT_LEVELS, frame)
      : gaussianContours(view.components.means[0], view.components.covs[0], FIT_LEVELS, frame);
    ctx.save();
    ctx.setLineDash(FIT_DASH[side]);
    for (const [width, stroke] of [[3.2, COLORS.qOutline], [1.6, color]]) {
      ctx.strokeStyle = stroke;
      ctx.lineWidth = width;
      for (const path of paths) ctx.stroke(path);
    }
    ctx.restore();
  }
}

/** Draw q: its density contours (traced on its grid; for a single Gaussian, which has no grid,
 * its ellipses), plus each component's 1- and 2-sigma ellipse. */
export function drawQ(ctx, frame, view, { samples, selected, trail = [] }) {
  drawTrail(ctx, frame, trail);
  const paths = view.q_grid
    ? contourPaths(densityGrid(view.q_grid), view.q_grid.nx, view.q_grid.ny, Q_LEVELS, frame)
    : gaussianContours(view.components.means[0], view.components.covs[0], Q_LEVELS, frame);
  for (const [width, color] of [[3.5, COLORS.qOutline], [1.8, COLORS.q]]) {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    for (const path of paths) ctx.stroke(path);
  }

  const { means, covs } = view.components;
  means.forEach((mean, k) => {
    const [major, minor] = principalAxes(covs[k]);
    const [cx, cy] = frame.toPx(mean[0], mean[1]);
    ctx.save();
    ctx.setLineDash([4, 4]);
    ctx.lineWidth = k === selected ? 1.6 : 1;
    ctx.strokeStyle = "rgba(255,255,255,0.8)";
    ctx.beginPath();
    // The canvas y axis points down, so a data-space angle turns the other way.
    ctx.ellipse(cx, cy, major.length * frame.sx, minor.length * frame.sy, -major.angle, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.restore();
  });

  if (samples) {
    ctx.fillStyle = COLORS.sample;
    ctx.strokeStyle = "rgba(0,0,0,0.6)";
    ctx.lineWidth = 0.8;
    for (const [x, y] of samples) {
      const [px, py] = frame.toPx(x, y);
      ctx.beginPath();
      ctx.arc(px, py, 2.2, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }
}

/** The optimizer's path: each component's mean at every frame of the run so far, as a faint
 * line with a dot per frame. `trail`: [[[x, y] per component], ...], oldest first. */
export function drawTrail(ctx, frame, trail) {
  if (trail.length < 2) return;
  ctx.save();
  ctx.strokeStyle = "rgba(255, 255, 255, 0.55)";
  ctx.fillStyle = "rgba(255, 127, 14, 0.75)";
  ctx.lineWidth = 1.2;
  for (let k = 0; k < trail[0].length; k++) {
    ctx.beginPath();
    trail.forEach((means, i) => {
      const [px, py] = frame.toPx(means[k][0], means[k][1]);
      if (i === 0) ctx.moveTo(px, py);
      else ctx.lineTo(px, py);
    });
    ctx.stroke();
    for (const means of trail) {
      const [px, py] = frame.toPx(means[k][0], means[k][1]);
      ctx.beginPath();
      ctx.arc(px, py, 1.8, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  ctx.restore();
}

/** The axes, drawn inside the plot's edges: numeric ticks along the bottom and the left (d3's
 * nice steps) and the parameters' names (`axes`: [x name, y name]) at the ends. */
export function drawAxes(ctx, frame, axes) {
  const [xmin, xmax, ymin, ymax] = frame.extent;
  const count = (px) => Math.max(2, Math.floor(px / 70));
  ctx.save();
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  const label = (text, x, y, align, baseline) => {
    ctx.textAlign = align;
    ctx.textBaseline = baseline;
    ctx.strokeStyle = "rgba(0,0,0,0.75)";
    ctx.lineWidth = 3;
    ctx.strokeText(text, x, y);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x, y);
  };
  const num = (v) => String(Number(v.toPrecision(6))).replace("-", "\u2212");
  ctx.strokeStyle = "rgba(255,255,255,0.8)";
  for (const t of ticks(xmin, xmax, count(frame.width))) {
    const [px] = frame.toPx(t, ymin);
    if (px < 12 || px > frame.width - 12) continue;
    ctx.strokeStyle = "rgba(255,255,255,0.8)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(px, frame.height);
    ctx.lineTo(px, frame.height - 5);
    ctx.stroke();
    label(num(t), px, frame.height - 7, "center", "bottom");
  }
  for (const t of ticks(ymin, ymax, count(frame.height))) {
    const [, py] = frame.toPx(xmin, t);
    if (py < 26 || py > frame.height - 24) continue; // clear of the name at the top
    ctx.strokeStyle = "rgba(255,255,255,0.8)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, py);
    ctx.lineTo(5, py);
    ctx.stroke();
    label(num(t), 7, py, "left", "middle");
  }
  ctx.font = "600 12px system-ui, sans-serif";
  label(`${axes[0]} \u2192`, frame.width - 6, frame.height - 20, "right", "bottom");
  label(`\u2191 ${axes[1]}`, 6, 6, "left", "top");
  ctx.restore();
}
