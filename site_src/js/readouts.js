// The numbers: ELBO and its parts, log Z, KL, their errors; the bound gauge (its span is the
// store's gaugeSpan); the Monte Carlo ELBO of the samples; q's parameters as data attributes
// of the plot (for links and tests). A function of the state.

const $ = (id) => document.getElementById(id);

export const READOUTS = ["elbo", "expected_log_density", "entropy", "log_z", "kl"];

export function fmt(value, digits = 4) {
  if (value === null || value === undefined) return "—";
  return value.toFixed(digits);
}

/** How full the gauge is: 1 when the KL gap is 0, empty when it spans the whole scale. */
export function gaugeFill(kl, span) {
  const gap = Math.max(kl ?? 0, 0);
  return span > 0 ? Math.max(0, Math.min(1, 1 - gap / span)) : 1;
}

/** The ELBO's error as shown: "<1e-6" below a micro-nat. */
export function elboErrorText(error) {
  if (error === null || error === undefined) return "± ?"; // not finite: no estimate to show
  return `± ${error < 1e-6 ? "<1e-6" : error.toExponential(0)}`;
}

export function mcText(mc, exactElbo) {
  return `From ${mc.n} draws of q, a Monte Carlo ELBO: ${fmt(mc.elbo, 3)} ± ${fmt(mc.error, 3)} (exact: ${fmt(exactElbo, 3)}). Sampling is what makes q tractable; stochastic VI climbs such noisy estimates.`;
}

export function renderReadouts(state) {
  const r = state.view ? state.view.readouts : null;
  for (const key of READOUTS) {
    const el = document.querySelector(`[data-readout="${key}"]`);
    const value = r ? r[key] : null;
    el.textContent = fmt(value);
    el.dataset.value = value === null || value === undefined ? "" : String(value);
  }
  if (r) {
    $("elbo-error").textContent = elboErrorText(r.elbo_error);
    $("log-z-error").textContent = r.log_z_error > 0 ? `± ${r.log_z_error.toExponential(0)}` : "exact";
    // The bound: the bar fills up to the ELBO on a scale that ends at log Z.
    const gap = Math.max(r.kl ?? 0, 0);
    $("bound-fill").style.width = `${(gaugeFill(r.kl, state.gaugeSpan) * 100).toFixed(2)}%`;
    $("bound").setAttribute("aria-valuenow", String(r.elbo));
    $("bound").setAttribute("aria-valuetext", `ELBO ${fmt(r.elbo)} is ${fmt(gap)} nats below log Z`);
    $("bound-label").textContent = `KL(q‖p) = log Z − ELBO = ${fmt(gap)} nats`;
  }
  const plot = $("plot");
  plot.dataset.natural = state.view ? JSON.stringify(state.view.natural) : "";
  plot.dataset.theta = state.view ? JSON.stringify(state.view.theta) : "";

  const mcEl = $("mc-elbo");
  const mc = state.showSamples && state.samples ? state.samples.mc : null;
  mcEl.hidden = !mc || mc.elbo === null;
  mcEl.dataset.value = mc && mc.elbo !== null ? String(mc.elbo) : "";
  if (mc && r) mcEl.textContent = mcText(mc, r.elbo);
}
