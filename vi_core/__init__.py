"""vi_core: variational inference in two dimensions.

Targets p~ (unnormalised log densities), approximating families q, the ELBO
E_q[log p~] + H[q] with exact gradients, optimizers, and log Z for reference.
Pure Python over numpy and scipy, so it runs unchanged on CPython and in Pyodide.
"""

__version__ = "0.1.0"
