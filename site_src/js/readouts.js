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

/**
 * Whether the readouts contradict each other, which true numbers never do: the ELBO above
 * log Z (ELBO ≤ log Z always), E_q[log p̃] + H[q] not the ELBO, or KL not log Z − ELBO, each
 * beyond their errors (and a rounding margin). A sentence that says which, or null.
 * @param {object|null} r  the view's readouts
 */
export function contradiction(r) {
  if (!r) return null;
  const { elbo, expected_log_density: e, entropy: h, log_z: logZ, kl } = r;
  const finite = (...xs) => xs.every((x) => typeof x === "number" && Number.isFinite(x));
  const elboError = finite(r.elbo_error) ? r.elbo_error : 0;
  const logZError = finite(r.log_z_error) ? r.log_z_error : 0;
  const margin = (...xs) => 5e-5 + 1e-9 * Math.max(...xs.map(Math.abs));
  const found = [];
  if (finite(elbo, logZ) && elbo - logZ > elboError + logZError + margin(elbo, logZ)) {
    found.push(`the ELBO (${fmt(elbo)}) is above log Z (${fmt(logZ)}), which no q can do`);
  }
  if (finite(elbo, e, h) && Math.abs(e + h - elbo) > elboError + margin(e, h, elbo)) {
    found.push(`E_q[log p\u0303] + H[q] = ${fmt(e + h)} is not the ELBO (${fmt(elbo)})`);
  }
  if (finite(elbo, logZ, kl) && Math.abs(kl - (logZ - elbo)) > elboError + logZError + margin(kl, logZ, elbo)) {
    found.push(`KL (${fmt(kl)}) is not log Z \u2212 ELBO (${fmt(logZ - elbo)})`);
  }
  return found.length ? `These numbers contradict each other: ${found.join("; ")}. Do not trust them.` : null;
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
  // The bound is an invariant of the display: numbers that break it are said to, never
  // smoothed into "KL ≈ 0".
  const contradicts = contradiction(r);
  $("inconsistent").hidden = contradicts === null;
  if ($("inconsistent").textContent !== (contradicts ?? "")) $("inconsistent").textContent = contradicts ?? "";
  for (const key of READOUTS) {
    const el = document.querySelector(`[data-readout="${key}"]`);
    const value = r ? r[key] : null;
    el.textContent = key !== "kl" ? fmt(value) : contradicts ? "?" : klText(value, r && r.elbo_error);
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
    $("bound").setAttribute("aria-valuetext", contradicts ? contradicts
      : `ELBO ${fmt(r.elbo)} is ${klText(gap, r.elbo_error)} nats below log Z`);
    $("bound-label").textContent = contradicts
      ? "KL(q‖p) = log Z − ELBO: not shown, the numbers contradict each other"
      : `KL(q‖p) = log Z − ELBO = ${klText(gap, r.elbo_error)} nats (the gap, on a log scale)`;
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
