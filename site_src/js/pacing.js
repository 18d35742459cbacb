// How much work one frame of a run does, from the pacing table vi_core sends (see messages.js,
// Pacing). Pure: the worker's run loop asks it once per frame.
//
// The first frames are for watching (few steps, a short budget); long runs speed up as they
// go, doubling steps and budget every `speedup_every` frames up to `max_speedup` (and the budget
// up to `max_budget_ms`), so that they still arrive.

const FIELDS = ["frame_ms", "steps_per_frame", "budget_ms", "speedup_every", "max_speedup", "max_budget_ms"];

/** The pacing table, checked: a run without one (or with a broken one) must not start. */
export function checkPacing(pacing) {
  if (!pacing || typeof pacing !== "object") throw new Error("a run needs its pacing (the catalog's optimizers[].pacing)");
  for (const key of FIELDS) {
    if (!(Number.isFinite(pacing[key]) && pacing[key] > 0)) {
      throw new Error(`pacing.${key} must be a positive number, not ${JSON.stringify(pacing[key])}`);
    }
  }
  return pacing;
}

/** The speed-up factor of frame `index` (0, 1, ...). */
export function speedUp(pacing, index) {
  return Math.min(pacing.max_speedup, 2 ** Math.floor(index / pacing.speedup_every));
}

/** Work for frame `index`: {steps, budget_ms}, at most `stepsLeft` steps. */
export function frameWork(pacing, index, stepsLeft = Infinity) {
  const factor = speedUp(pacing, index);
  return {
    steps: Math.max(1, Math.min(stepsLeft, pacing.steps_per_frame * factor)),
    budget_ms: Math.min(pacing.max_budget_ms, pacing.budget_ms * factor),
  };
}

/** How long to wait after a frame that took `elapsedMs`, to keep `frame_ms` between frames. */
export function pauseAfter(pacing, elapsedMs) {
  return Math.max(0, pacing.frame_ms - elapsedMs);
}
