"""vi_core: variational inference in two dimensions.

Targets p~ (unnormalised log densities, known up to their normaliser Z), approximating
families q, the ELBO E_q[log p~] + H[q] <= log Z with exact gradients and error estimates,
optimizers, and log Z for reference. Pure Python over numpy, so it runs unchanged on CPython
and in Pyodide::

    import vi_core as vi
    result = vi.fit(vi.get_target("banana"), vi.get_family("gaussian-full"))
    print(result.elbo, result.log_z, result.kl)

The modules form one-way layers (each imports only those before it): errors -> target ->
targets, log_z, custom_target -> families -> flow_family -> diagnostics -> elbo -> optimize ->
starts -> fit -> flows -> objectives -> protocol, cli. ``vi_core.protocol`` (the page's JSON door)
is not imported here. Flow families (``flow``, ``flow-N``: planar layers inside an affine map) have
their own ELBO and fit in ``vi_core.flows`` (``fit_flow``); importing this package registers
them with ``get_family``. ``vi_core.objectives`` has the other objectives: forward KL(p‖q)
and the Rényi D_α(p‖q) (``fit_objective``), with E_p by log Z's plane-wide cubature; for a
single Gaussian the forward-KL optimum is moment matching (``moment_match``).
"""

__version__ = "0.1.0"

from vi_core.custom_target import target_from_source
from vi_core.diagnostics import (
    DEFAULT_DRAWS,
    DEFAULT_IW_K,
    DEFAULT_IW_N,
    KHAT_CAVEAT,
    Diagnostics,
    IwElboResult,
    PsisResult,
    diagnose,
    gpd_fit,
    iw_elbo,
    khat_reading,
    khat_threshold,
    psis_khat,
)
from vi_core.elbo import ElboResult, EntropyResult, elbo, elbo_mc, entropy
from vi_core.errors import FamilyError, OptimizerError, TargetError, VIError
from vi_core.families import MAX_COMPONENTS, Family, family_ids, get_family
from vi_core.fit import FitResult, fit
from vi_core.flow_family import FlowFamily
from vi_core.flows import (
    FlowCheck,
    check_flow,
    fit_flow,
    flow_elbo,
    flow_elbo_mc,
    initial_flow_params,
)
from vi_core.forces import ScaleSweep, scale_sweep, scaled
from vi_core.log_z import compute_log_z
from vi_core.objectives import (
    BOUND_NOTE,
    OBJECTIVES,
    DivergenceResult,
    ObjectiveFitResult,
    TargetQuadrature,
    divergence,
    fit_objective,
    moment_match,
    target_moments,
    target_quadrature,
)
from vi_core.optimize import (
    OPTIMIZERS,
    Objective,
    Optimizer,
    OptState,
    Step,
    get_optimizer,
    optimize,
    optimizer_ids,
)
from vi_core.starts import initial_params, random_params
from vi_core.target import Target
from vi_core.targets import get_target, target_ids

__all__ = [
    "BOUND_NOTE",
    "DEFAULT_DRAWS",
    "DEFAULT_IW_K",
    "DEFAULT_IW_N",
    "KHAT_CAVEAT",
    "MAX_COMPONENTS",
    "OBJECTIVES",
    "OPTIMIZERS",
    "Diagnostics",
    "DivergenceResult",
    "ElboResult",
    "EntropyResult",
    "Family",
    "FamilyError",
    "FitResult",
    "FlowCheck",
    "FlowFamily",
    "IwElboResult",
    "Objective",
    "ObjectiveFitResult",
    "OptState",
    "Optimizer",
    "OptimizerError",
    "PsisResult",
    "ScaleSweep",
    "Step",
    "Target",
    "TargetError",
    "TargetQuadrature",
    "VIError",
    "__version__",
    "check_flow",
    "compute_log_z",
    "diagnose",
    "divergence",
    "elbo",
    "elbo_mc",
    "entropy",
    "family_ids",
    "fit",
    "fit_flow",
    "fit_objective",
    "flow_elbo",
    "flow_elbo_mc",
    "get_family",
    "get_optimizer",
    "get_target",
    "gpd_fit",
    "initial_flow_params",
    "initial_params",
    "iw_elbo",
    "khat_reading",
    "khat_threshold",
    "moment_match",
    "optimize",
    "optimizer_ids",
    "psis_khat",
    "random_params",
    "scale_sweep",
    "scaled",
    "target_from_source",
    "target_ids",
    "target_moments",
    "target_quadrature",
]
