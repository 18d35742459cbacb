"""vi_core as a library: one-way layers (no import cycles, counting function-level imports),
one public API, and the hand-written pieces checked against the library they stand in for."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize as sp_optimize
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax

import vi_core as vi
from tests.reference import reset_theta
from vi_core._numeric import logsumexp, logsumexp_softmax
from vi_core.optimize import Objective, get_optimizer, state_from_json, state_to_json

PACKAGE = Path(vi.__file__).parent


def _imports() -> dict[str, set[str]]:
    """Module -> vi_core modules it imports anywhere in its body (functions included)."""
    graph: dict[str, set[str]] = {}
    names = {p.stem for p in PACKAGE.glob("*.py")}
    for path in PACKAGE.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] == "vi_core":
                    if len(parts) > 1:
                        deps.add(parts[1])
                    else:  # from vi_core import x: a submodule or the package
                        deps |= {a.name for a in node.names if a.name in names} or {"__init__"}
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "vi_core":
                        deps.add(parts[1] if len(parts) > 1 else "__init__")
        deps.discard(path.stem)
        graph[path.stem] = deps
    return graph


def test_no_import_cycles() -> None:
    graph = _imports()
    # ``import vi_core`` runs __init__, which imports the public modules: count that edge too.
    graph = {m: deps | (graph["__init__"] if "__init__" in deps else set())
             for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path, node, dep]))
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_layers_point_one_way() -> None:
    """The documented order: a module imports only modules before it."""
    order = ["_numeric", "errors", "target", "log_z", "targets", "custom_target", "families",
             "flow_family", "diagnostics", "elbo", "optimize", "starts", "fit", "flows", "forces",
             "objectives", "__init__", "protocol", "cli", "__main__"]
    graph = _imports()
    assert set(graph) == set(order), set(graph) ^ set(order)
    for module, deps in graph.items():
        later = {d for d in deps if order.index(d) > order.index(module)}
        assert not later, f"{module} imports later layer(s) {later}"


def test_public_api() -> None:
    for name in ("get_target", "target_ids", "target_from_source", "Target", "get_family",
                 "family_ids", "Family", "elbo", "elbo_mc", "entropy", "optimize", "fit",
                 "FitResult", "initial_params", "random_params", "get_optimizer", "VIError",
                 "psis_khat", "iw_elbo", "diagnose",
                 "TargetError", "FamilyError", "OptimizerError", "__version__"):
        assert hasattr(vi, name), name
    assert set(vi.__all__) <= set(dir(vi))
    r = vi.fit(vi.get_target("correlated-gaussian"), vi.get_family("gaussian-full"))
    assert r.converged and abs(r.kl) < 1e-6


@pytest.mark.parametrize("shape, axis", [((7,), None), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), -1)])
def test_logsumexp_matches_scipy(shape, axis) -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(scale=300.0, size=shape)
    a.flat[0] = -np.inf
    np.testing.assert_allclose(logsumexp(a, axis=axis), sp_logsumexp(a, axis=axis), rtol=1e-14)
    every = np.full(shape, -np.inf)
    assert np.all(logsumexp(every, axis=axis) == -np.inf)
    if axis is not None:
        value, weights = logsumexp_softmax(a, axis=axis)
        np.testing.assert_allclose(value, sp_logsumexp(a, axis=axis), rtol=1e-14)
        np.testing.assert_allclose(weights, sp_softmax(a, axis=axis), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("tid, fid", [
    ("banana", "gaussian-full"),
    ("bimodal", "gaussian-diagonal"),
    ("logistic-regression", "gaussian-full"),
    ("normal-posterior", "gaussian-isotropic"),
    ("nessie", "gaussian-full"),
    ("funnel", "mixture-full-2"),
])
def test_lbfgs_reaches_scipy_lbfgsb_optimum(tid: str, fid: str) -> None:
    """The hand-written L-BFGS (kept because the page needs a step-wise, pausable run) reaches
    the optimum that scipy's L-BFGS-B finds on the same ELBO, gradient and bounds."""
    target, family = vi.get_target(tid), vi.get_family(fid)
    theta0 = reset_theta(target, family)
    ours = vi.fit(target, family, theta0=theta0)
    obj = Objective(target, family)

    def f(theta):
        r = obj(theta)
        return -r.elbo, -r.grad

    ref = sp_optimize.minimize(f, theta0, jac=True, method="L-BFGS-B",
                               bounds=list(zip(obj.lo, obj.hi, strict=True)),
                               options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000})
    assert ours.converged
    # Both optima evaluated afresh by the same adaptive cubature (a fit reports the ELBO on the
    # rule its last line search used, which can differ in the last digits).
    mine = vi.elbo(target, family, ours.theta, with_grad=False).elbo
    theirs = vi.elbo(target, family, ref.x, with_grad=False).elbo
    assert mine == pytest.approx(theirs, abs=1e-6)
    np.testing.assert_allclose(ours.theta, ref.x, atol=1e-3)


@pytest.mark.parametrize("optimizer", ["gradient-ascent", "adam", "lbfgs"])
def test_a_run_is_a_value_that_resumes_exactly(optimizer: str) -> None:
    """Pause after a few steps, send the state as JSON, resume in a fresh objective: the run
    continues exactly as if it had never stopped."""
    target, family = vi.get_target("banana"), vi.get_family("mixture-full-2")
    theta0 = reset_theta(target, family)
    opt = get_optimizer(optimizer, max_iter=25)
    obj = Objective(target, family)
    straight = opt.init(obj, theta0)
    for _ in range(25):
        straight = opt.step(obj, straight)
    paused = opt.init(obj, theta0)
    for _ in range(7):
        paused = opt.step(obj, paused)
    sent = json.loads(json.dumps(state_to_json(opt, paused), allow_nan=False))
    resumed = state_from_json(opt, family, sent)
    obj2 = Objective(target, family)
    for _ in range(18):
        resumed = opt.step(obj2, resumed)
    assert resumed.iteration == straight.iteration
    np.testing.assert_array_equal(resumed.theta, straight.theta)
    assert resumed.result.elbo == straight.result.elbo
    assert resumed.n_evals == straight.n_evals and resumed.done == straight.done


def test_a_saved_state_is_checked() -> None:
    family = vi.get_family("gaussian-full")
    opt = get_optimizer("lbfgs")
    with pytest.raises(vi.OptimizerError):
        state_from_json(opt, family, {"optimizer": "adam"})
    with pytest.raises(vi.OptimizerError):
        state_from_json(opt, family, {"optimizer": "lbfgs", "theta": [1, 2]})
    good = state_to_json(opt, opt.init(Objective(vi.get_target("banana"), family),
                                       np.zeros(family.n_params)))
    bad = {**good, "memory": {"s": [[1.0, 2.0]], "y": [[1.0, 2.0]]}}
    with pytest.raises(vi.OptimizerError):
        state_from_json(opt, vi.get_family("gaussian-full"), bad)


@pytest.mark.parametrize("n", [6, 16, 64, 181, 362])
def test_gauss_hermite_rule_matches_scipy(n: int) -> None:
    """The ELBO's product rule (numpy's hermegauss) against scipy's roots_hermitenorm: same
    nodes and weights, and the same nodes kept after pruning products below 1e-16."""
    from scipy.special import roots_hermitenorm

    from vi_core.elbo import _PRUNE, _rule

    z, w = _rule(n)
    t, v = roots_hermitenorm(n)
    v = v / v.sum()
    ww = np.outer(v, v).ravel()
    keep = ww > _PRUNE
    zz1, zz2 = np.meshgrid(t, t, indexing="ij")
    assert len(w) == keep.sum()
    np.testing.assert_allclose(z, np.column_stack([zz1.ravel()[keep], zz2.ravel()[keep]]),
                               atol=1e-12)
    np.testing.assert_allclose(w, ww[keep] / ww[keep].sum(), rtol=1e-8, atol=1e-17)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
