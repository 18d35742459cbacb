"""vi_core: variational inference in two dimensions.

Targets p~ (unnormalised log densities), approximating families q, the ELBO
E_q[log p~] + H[q] with exact gradients, optimizers, and log Z for reference.
Pure Python over numpy and scipy, so it runs unchanged on CPython and in Pyodide.
"""

__version__ = "0.1.0"

from vi_core.elbo import ElboResult, elbo, elbo_mc
from vi_core.families import Family, family_ids, get_family
from vi_core.optimize import OPTIMIZERS, FitResult, Step, fit, optimize, optimizer_ids

__all__ = ["OPTIMIZERS", "ElboResult", "Family", "FitResult", "Step", "__version__", "elbo",
           "elbo_mc", "family_ids", "fit", "get_family", "optimize", "optimizer_ids"]
