// A small catalog of the shape vi_core's protocol sends (vi_core/protocol.py, `catalog`).
import { makeCatalog } from "../../site_src/js/catalog.js";

const PACING = { frame_ms: 50, budget_ms: 25, speedup_every: 40, max_speedup: 1024, max_budget_ms: 200 };

export const RAW_CATALOG = {
  targets: [
    { id: "banana", name: "Banana", description: "a curved density", extent: [-3, 3, -2.5, 2.5],
      log_z: 1.2, log_z_error: 0, log_z_method: "exact",
      ranges: { mean_x: [-21, 21], mean_y: [-17.5, 17.5], scale: [6 * Math.exp(-10), 6 * Math.exp(3)],
        correlation: [-Math.tanh(6), Math.tanh(6)] } },
    { id: "ring", name: "Ring", description: "a ring", extent: [-4, 4, -4, 4],
      log_z: 0.5, log_z_error: 1e-9, log_z_method: "quadrature",
      ranges: { mean_x: [-28, 28], mean_y: [-28, 28], scale: [8 * Math.exp(-10), 8 * Math.exp(3)],
        correlation: [-Math.tanh(6), Math.tanh(6)] } },
  ],
  families: [
    { id: "gaussian-isotropic", name: "Isotropic Gaussian", description: "iso", kind: "isotropic",
      shared_scale: false, learns_weights: false, k: 1, n_params: 3, k_range: null },
    { id: "gaussian-diagonal", name: "Diagonal Gaussian", description: "diag", kind: "diagonal",
      shared_scale: false, learns_weights: false, k: 1, n_params: 4, k_range: null },
    { id: "gaussian-full", name: "Full Gaussian", description: "full", kind: "full",
      shared_scale: false, learns_weights: false, k: 1, n_params: 5, k_range: null },
    { id: "mixture-3", name: "Mixture of 3", description: "mix3", kind: "isotropic",
      shared_scale: true, learns_weights: false, k: 3, n_params: 7, k_range: null },
    { id: "mixture-full", name: "Mixture of K full Gaussians", description: "mixK", kind: "full",
      shared_scale: false, learns_weights: true, k: 3, n_params: 17, k_range: { min: 1, max: 10, default: 3 } },
    { id: "flow", name: "Planar flow", description: "flowN", kind: "flow",
      shared_scale: false, learns_weights: false, k: 1, n_params: 45, k_range: null,
      layers_range: { min: 1, max: 32, default: 8, name: "Planar flow, {n} layers", description: "bent by {n} planar layers" } },
  ],
  optimizers: [
    { id: "lbfgs", name: "L-BFGS", description: "quasi-Newton", pacing: { ...PACING, steps_per_frame: 1 } },
    { id: "adam", name: "Adam", description: "adaptive", pacing: { ...PACING, steps_per_frame: 2 } },
  ],
  defaults: { samples: 400, target_grid: [144, 108] },
  comparisons: [
    { id: "forward-kl", objective: "forward-kl", alpha: null, name: "forward KL" },
    { id: "alpha-0.5", objective: "alpha", alpha: 0.5, name: "Rényi α = 0.5" },
  ],
};

export const catalog = makeCatalog(RAW_CATALOG);
export const BANANA_RANGES = RAW_CATALOG.targets[0].ranges;

/** A view of one full Gaussian (what vi_core's evaluate returns, reduced to what JS reads). */
export function gaussianView({ mean = [0.5, -0.25], sx = 1, sy = 0.5, rho = 0 } = {}) {
  const cov = [[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]];
  return {
    target: "banana", family: "gaussian-full", k: 1, theta: [mean[0], mean[1], Math.log(sx), Math.log(sy), Math.atanh(rho)],
    natural: { means: [mean], scales: [[sx, sy]], correlations: [rho], weights: [1] },
    components: { weights: [1], means: [mean], covs: [cov] },
    readouts: { elbo: -2, expected_log_density: -3, entropy: 1, log_z: 1.2, kl: 3.2, elbo_error: 1e-8, log_z_error: 0 },
  };
}
