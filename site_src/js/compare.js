// "Compare: reverse vs forward KL" (its toggle and its legend) and, next to the samples, when to
// distrust q (k-hat, the IW-ELBO and what they cannot see). Both come from vi_core whole: the
// fits from the protocol's `compare`, the reading of k-hat and its caveat from `diagnostics`;
// nothing here computes or judges a number. The plot draws the fits (plot.js drawFits).

import { fmt } from "./readouts.js";

const $ = (id) => document.getElementById(id);

/** The legend's lines for a comparison (pure): [reverse, forward, note]. */
export function compareLines(comparison) {
  const { reverse, forward } = comparison;
  const what = comparison.objective === "alpha" ? `Rényi α = ${comparison.alpha} fit, D_α(p‖q) ${fmt(forward.divergence)}`
    : "Forward KL(p‖q) fit (mass-covering)";
  return [
    `Reverse KL(q‖p) fit (mode-seeking, the ELBO's optimum): ELBO ${fmt(reverse.elbo)} · KL(p‖q) ${fmt(reverse.forward_kl)}`,
    `${what}: ELBO ${fmt(forward.elbo)} · KL(p‖q) ${fmt(forward.forward_kl)}`,
    comparison.note,
  ];
}

/** What tests and links read of a comparison: both fits' theta and numbers, as data. */
export function compareData(comparison) {
  const side = (fit) => ({ theta: fit.theta, elbo: fit.elbo, kl: fit.kl, forward_kl: fit.forward_kl,
    divergence: fit.divergence, converged: fit.converged });
  return { target: comparison.target, family: comparison.family, k: comparison.k, objective: comparison.objective,
    alpha: comparison.alpha, reverse: side(comparison.reverse), forward: side(comparison.forward) };
}

/** The lines under the samples (pure): {khat, iw, caveat} texts from vi_core's diagnostics. */
export function diagnosticsLines(d) {
  const ess = d.ess === null ? "" : ` (ESS ${fmt(d.ess, 3)} of ${d.n} draws)`;
  const gap = d.iw_elbo === null || d.log_z === null ? "" : `; log Z − IW-ELBO = ${fmt(d.log_z - d.iw_elbo, 3)}`;
  return {
    khat: `Pareto ${d.reading}${ess}`,
    iw: `IW-ELBO (K = ${d.iw_k}, ${d.iw_n} groups): ${fmt(d.iw_elbo)} ± ${fmt(d.iw_se, 2)}${gap}`,
    caveat: `The limit: ${d.caveat}.`,
  };
}

/**
 * @param {object} deps
 * @param {ReturnType<import("./store.js").createStore>} deps.store
 * @param {ReturnType<import("./catalog.js").makeCatalog>} deps.catalog
 * @param {ReturnType<import("./session.js").createSession>} deps.session
 */
export function createCompare({ store, catalog, session }) {
  function wire() {
    $("compare-toggle").addEventListener("change", (e) => {
      store.setCompare(e.target.checked);
      if (e.target.checked) session.refreshCompare();
    });
    $("compare-with").replaceChildren(...catalog.comparisons.map((c) => new Option(c.name, c.id)));
    $("compare-with").addEventListener("change", (e) => {
      store.chooseComparison(e.target.value);
      session.refreshCompare();
    });
  }

  function render(state) {
    $("compare-toggle").checked = state.compare;
    $("compare-with-field").hidden = !state.compare || catalog.comparisons.length < 2;
    $("compare-with").value = catalog.comparison(state.compareWith)?.id ?? "";
    const legend = $("compare-legend");
    const comparison = state.compare && state.comparison && state.comparison.target === state.target ? state.comparison : null;
    legend.hidden = !state.compare;
    legend.dataset.fits = comparison ? JSON.stringify(compareData(comparison)) : "";
    const [reverse, forward, note] = comparison ? compareLines(comparison)
      : ["Fitting q both ways (reverse and forward KL)…", "", ""];
    $("compare-reverse").textContent = reverse;
    $("compare-forward").textContent = forward;
    $("compare-note").textContent = note;
    legend.querySelector(".fit.forward").hidden = !comparison;

    const diag = $("diagnostics");
    const d = state.showSamples && state.diagnostics && state.view && state.diagnostics.theta === state.view.theta
      ? state.diagnostics : null;
    diag.hidden = !d;
    $("khat").dataset.value = d && d.khat !== null ? String(d.khat) : "";
    $("iw-elbo").dataset.value = d && d.iw_elbo !== null ? String(d.iw_elbo) : "";
    if (d) {
      const lines = diagnosticsLines(d);
      $("khat").textContent = lines.khat;
      $("khat").title = lines.caveat; // an embed shows the reading alone (style.css)
      $("iw-elbo").textContent = lines.iw;
      $("khat-caveat").textContent = lines.caveat;
    }
  }

  return { wire, render };
}
