// The numbers: ELBO and its parts, log Z, KL, their errors; the bound gauge (a fixed scale of
// the KL gap, the same for every target and q); the Monte Carlo ELBO of the samples; q's
// parameters as data attributes of the plot (for links and tests). A function of the state.

const $ = (id) => document.getElementById(id);

export const READOUTS = ["elbo", "expected_log_density", "entropy", "log_z", "kl"];

/** A number as shown: 4 significant figures (never in e-notation), values within 5e-5 of 0
 * shown as 0 (no "-0.0000"). `digits`: significant figures. The exact value is in data-value. */
export function fmt(value, digits = 4) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (Math.abs(value) < 5e-5) return "0";
  return new Intl.NumberFormat("en-US", { maximumSignificantDigits: digits, useGrouping: false }).format(value)
    .replace("-", "\u2212");
}

/** KL as shown: "≈ 0" when it is within the ELBO's error (or 5e-5) of 0, else fmt. */
export function klText(kl, error = 0) {
  if (kl === null || kl === undefined || !Number.isFinite(kl)) return "—";
  return kl <= Math.max(5e-5, error ?? 0) ? "\u2248 0" : fmt(kl);
}

// The gauge's scale: the KL gap on a log scale from 0 (q exact: full) to GAUGE_MAX_KL nats
// (empty), the same for every target and q, so a worse q always looks worse. Ticks mark 0.01,
// 0.1, 1, 10 and 100 nats of gap.
const GAUGE_KNEE = 0.01; // nats: below this the scale is nearly linear
export const GAUGE_MAX_KL = 100;
export const GAUGE_TICKS = [0.01, 0.1, 1, 10, 100];

/** How full the gauge is for a KL gap: 1 at 0, 0 at GAUGE_MAX_KL nats or more; log-scaled. */
export function gaugeFill(kl) {
  const gap = Math.max(kl ?? 0, 0);
  return 1 - Math.min(1, Math.log1p(gap / GAUGE_KNEE) / Math.log1p(GAUGE_MAX_KL / GAUGE_KNEE));
}

/** The ELBO's error as shown: "<1e-6" below a micro-nat. */
export function elboErrorText(error) {
  if (error === null || error === undefined) return "± ?"; // not finite: no estimate to show
  return `± ${error < 1e-6 ? "<1e-6" : error.toExponential(0)}`;
}

export function mcText(mc, exactElbo) {
  return `From ${mc.n} draws of q, a Monte Carlo ELBO: ${fmt(mc.elbo, 3)} ± ${fmt(mc.error, 3)} (exact: ${fmt(exactElbo, 3)}). Sampling is what makes q tractable; stochastic VI climbs such noisy estimates.`;
}

/** The gauge's tick marks: gaps of 0.01 ... 100 nats, from the right end (log Z). Static. */
function drawTicks() {
  const track = document.querySelector(".bound-track");
  if (!track || track.querySelector(".bound-tick")) return;
  for (const kl of GAUGE_TICKS) {
    const tick = document.createElement("span");
    tick.className = "bound-tick";
    tick.style.left = `${(gaugeFill(kl) * 100).toFixed(2)}%`;
    tick.dataset.label = String(kl); // shown by CSS under the bar (not in an embed)
    tick.setAttribute("aria-hidden", "true");
    track.append(tick);
  }
}

export function renderReadouts(state) {
  const r = state.view ? state.view.readouts : null;
  for (const key of READOUTS) {
    const el = document.querySelector(`[data-readout="${key}"]`);
    const value = r ? r[key] : null;
    el.textContent = key === "kl" ? klText(value, r && r.elbo_error) : fmt(value);
    el.dataset.value = value === null || value === undefined ? "" : String(value);
  }
  if (r) {
    $("elbo-error").textContent = elboErrorText(r.elbo_error);
    $("log-z-error").textContent = r.log_z_error > 0 ? `± ${r.log_z_error.toExponential(0)}` : "exact";
    // The bound: the bar fills up to the ELBO; what is left before log Z is the KL gap, on the
    // fixed log scale that the ticks label.
    const gap = Math.max(r.kl ?? 0, 0);
    drawTicks();
    const fill = gaugeFill(r.kl);
    $("bound-fill").style.width = `${(fill * 100).toFixed(2)}%`;
    $("bound").dataset.fill = String(fill);
    $("bound").setAttribute("aria-valuenow", String(fill));
    $("bound").setAttribute("aria-valuetext", `ELBO ${fmt(r.elbo)} is ${klText(gap, r.elbo_error)} nats below log Z`);
    $("bound-label").textContent = `KL(q‖p) = log Z − ELBO = ${klText(gap, r.elbo_error)} nats (the gap, on a log scale)`;
  }
  // A flow's ELBO at rest is checked on fresh draws: vi_core's sentence on what the check found.
  const check = r && r.check ? r.check : null;
  $("flow-check").hidden = !check;
  $("flow-check").textContent = check ? check.reading : "";
  $("flow-check").dataset.exact = check ? String(check.exact) : "";
  const plot = $("plot");
  plot.dataset.natural = state.view ? JSON.stringify(state.view.natural) : "";
  plot.dataset.theta = state.view ? JSON.stringify(state.view.theta) : "";

  const mcEl = $("mc-elbo");
  const mc = state.showSamples && state.samples ? state.samples.mc : null;
  mcEl.hidden = !mc || mc.elbo === null;
  mcEl.dataset.value = mc && mc.elbo !== null ? String(mc.elbo) : "";
  if (mc && r) mcEl.textContent = mcText(mc, r.elbo);
}
