"""Posteriors from data (vi_core.targets.with_data and the protocol's set_data), checked
against independent computations: μ integrated out in closed form then QUADPACK over log σ for
the normal model, a tensor Gauss–Legendre rule for the logistic regression."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate

import vi_core as vi
from vi_core.protocol import Session
from vi_core.targets import DATA_SPECS, logistic_regression, normal_posterior, with_data


def normal_log_evidence(data) -> float:
    """log p(D) = log ∫ p(D | μ, σ) N(μ; 0, 5²) N(log σ; 0, 2²) dμ dlog σ, μ out analytically."""
    y = np.asarray(data, dtype=float)
    n, mean = len(y), float(np.mean(y))
    ss = float(np.sum((y - mean) ** 2))
    tau, omega = 5.0, 2.0

    def log_marginal(s: float) -> float:
        var = math.exp(2 * s)
        return (-0.5 * n * math.log(2 * math.pi * var) - ss / (2 * var)
                + 0.5 * math.log(2 * math.pi * var / n)
                - 0.5 * math.log(2 * math.pi * (tau**2 + var / n))
                - mean**2 / (2 * (tau**2 + var / n))
                - 0.5 * math.log(2 * math.pi * omega**2) - s**2 / (2 * omega**2))

    grid = np.linspace(-12, 6, 721)
    peak = grid[int(np.argmax([log_marginal(s) for s in grid]))]
    shift = log_marginal(peak)
    value, _ = integrate.quad(lambda s: math.exp(log_marginal(s) - shift), -40, 30,
                              points=[peak - 1, peak, peak + 1], epsabs=0, epsrel=1e-12, limit=400)
    return shift + math.log(value)


def logistic_log_evidence(inputs, labels) -> float:
    """Gauss–Legendre on [-16, 16]² (8 prior sds), 12 panels of 20 nodes per axis."""
    u = np.asarray(inputs, dtype=float)
    sign = 2.0 * np.asarray(labels, dtype=float) - 1.0
    nodes, weights = np.polynomial.legendre.leggauss(20)
    edges = np.linspace(-16, 16, 33)
    pts = np.concatenate([0.5 * (b - a) * nodes + 0.5 * (a + b)
                          for a, b in itertools.pairwise(edges)])
    wts = np.concatenate([0.5 * (b - a) * weights for a, b in itertools.pairwise(edges)])
    w0, w1 = np.meshgrid(pts, pts, indexing="ij")
    z = (w0[..., None] + w1[..., None] * u) * sign
    logf = -np.logaddexp(0, -z).sum(-1) - 0.5 * (w0**2 + w1**2) / 4 - math.log(2 * math.pi * 4)
    top = logf.max()
    return float(top + math.log(np.sum(np.exp(logf - top) * np.outer(wts, wts))))


def test_builtin_data_give_the_builtin_targets() -> None:
    for tid, spec in DATA_SPECS.items():
        builtin = vi.get_target(tid)
        assert with_data(tid, None) is builtin
        assert with_data(tid, [list(p) if isinstance(p, tuple) else p
                               for p in spec.default]) is builtin
        assert builtin.data == spec.default
    assert vi.get_target("banana").data is None and vi.get_target("banana").axes == ("x", "y")
    assert vi.get_target("normal-posterior").axes == ("μ", "log σ")
    assert vi.get_target("logistic-regression").axes == ("intercept", "slope")


def test_builtin_data_agree_with_the_independent_evidence() -> None:
    t = vi.get_target("normal-posterior")
    assert abs(normal_log_evidence(t.data) - t.log_z) < 1e-7
    lr = vi.get_target("logistic-regression")
    u, lab = zip(*lr.data, strict=True)
    assert abs(logistic_log_evidence(u, lab) - lr.log_z) < 1e-7


@pytest.mark.parametrize("data", [
    [0.3, 1.9, 0.8, 2.4, 1.1, -0.2, 1.4, 3.0],
    [-4.0, 4.5],
    [1.0, 1.05, 0.98, 1.02],
    list(np.round(np.linspace(-5, 5, 200), 2)),
])
def test_normal_posterior_log_z(data) -> None:
    t = normal_posterior(data)
    ref = normal_log_evidence(data)
    assert t.log_z_method == "quadrature"
    assert abs(t.log_z - ref) <= max(10 * t.log_z_error, 1e-6), (t.log_z, ref, t.log_z_error)


@pytest.mark.parametrize("pairs", [
    [(0.0, 0), (1.0, 1)],
    [(2.5, 1)],
    [(u, int(u > 2)) for u in np.arange(0, 5, 0.25)],  # separable: the prior holds the slope
    [(-1.0, 1), (6.0, 0), (3.0, 1), (3.0, 0)],
])
def test_logistic_regression_log_z(pairs) -> None:
    u, lab = zip(*pairs, strict=True)
    t = logistic_regression(list(u), list(lab))
    ref = logistic_log_evidence(u, lab)
    assert abs(t.log_z - ref) <= max(10 * t.log_z_error, 1e-6), (t.log_z, ref, t.log_z_error)


@pytest.mark.parametrize("tid, data", [
    ("normal-posterior", [0.1, 2.0, 2.2, -1.0]),
    ("logistic-regression", [[0.0, 0], [0.5, 1], [4.0, 1], [3.0, 0]]),
])
def test_extent_holds_the_posterior_and_gradients_are_right(tid, data) -> None:
    t = with_data(tid, data)
    xmin, xmax, ymin, ymax = t.extent
    assert abs((xmax - xmin) / (ymax - ymin) - 4 / 3) < 1e-9
    # the peak is inside, well away from the edges; the edges are far below it
    x, y = np.meshgrid(np.linspace(xmin, xmax, 81), np.linspace(ymin, ymax, 61))
    v = t.log_density(x, y)
    edge = np.concatenate([v[0], v[-1], v[:, 0], v[:, -1]])
    assert edge.max() < v.max() - 4
    # analytic gradients against central differences
    rng = np.random.default_rng(0)
    px = rng.uniform(xmin, xmax, 20)
    py = rng.uniform(ymin, ymax, 20)
    _, gx, gy = t.value_and_grad(px, py)
    h = 1e-6
    fx = (t.log_density(px + h, py) - t.log_density(px - h, py)) / (2 * h)
    fy = (t.log_density(px, py + h) - t.log_density(px, py - h)) / (2 * h)
    assert np.allclose(gx, fx, rtol=1e-5, atol=1e-5) and np.allclose(gy, fy, rtol=1e-5, atol=1e-5)
    # the ELBO stays below log Z for a fitted q
    fit = vi.fit(t, vi.get_family("gaussian-full"))
    assert fit.elbo <= t.log_z + 1e-6 and fit.kl < 0.5


@pytest.mark.parametrize("tid, data, says", [
    ("normal-posterior", [1.0], "takes 2 to 200 observations, got 1"),
    ("normal-posterior", list(range(-5, 5)) * 21, "got 210"),
    ("normal-posterior", [1.0, float("nan")], "observation 2 must be a finite number"),
    ("normal-posterior", [1.0, "2"], "observation 2 must be a number"),
    ("normal-posterior", [1.0, 7.0], "observation 2 = 7 is outside [-5, 5]"),
    ("normal-posterior", [2.0, 2.0, 2.0], "must not all be equal"),
    ("normal-posterior", "1,2", "must be a list"),
    ("logistic-regression", [], "takes 1 to 100"),
    ("logistic-regression", [[1.0, 0.5]], "label 1 must be 0 or 1"),
    ("logistic-regression", [[9.0, 1]], "input 1 = 9 is outside [-1, 6]"),
    ("logistic-regression", [[1.0]], "must be [input, label]"),
    ("logistic-regression", [[float("inf"), 1]], "input 1 must be a finite number"),
    ("banana", [1.0, 2.0], "banana is not a posterior from data"),
    ("nope", [1.0, 2.0], "Unknown target"),
])
def test_bad_data_is_refused_with_a_clear_message(tid, data, says) -> None:
    with pytest.raises(vi.TargetError, match=None) as info:
        with_data(tid, data)
    assert says in str(info.value)


def test_set_data_is_atomic_and_reversible() -> None:
    s = Session()
    base = {"family": "gaussian-full"}
    before = s.handle({"method": "evaluate",
                       "params": {"target": "normal-posterior", **base}})["result"]
    data = [0.3, 1.9, 0.8, 2.4, 1.1, -0.2, 1.4, 3.0]
    out = s.handle({"method": "set_data",
                    "params": {"target": "normal-posterior", "data": data, **base}})
    assert out["ok"], out
    res = out["result"]
    assert res["target"]["data"]["points"] == data
    assert (res["target"]["group"] == "Posteriors from data"
            and res["target"]["axes"] == ["μ", "log σ"])
    assert abs(res["target"]["log_z"] - normal_log_evidence(data)) < 1e-6
    assert res["view"]["readouts"]["log_z"] == res["target"]["log_z"]
    assert res["grid"]["extent"] == res["target"]["extent"]
    again = s.handle({"method": "evaluate",
                      "params": {"target": "normal-posterior", **base}})["result"]
    assert again["readouts"]["log_z"] == res["target"]["log_z"]
    # a refusal changes nothing
    bad = s.handle({"method": "set_data",
                    "params": {"target": "normal-posterior", "data": [9.0, 1.0], **base}})
    assert not bad["ok"] and "outside" in bad["error"]["message"]
    assert s.handle({"method": "evaluate",
                     "params": {"target": "normal-posterior", **base}})["result"] == again
    # null: the built-in data again
    back = s.handle({"method": "set_data",
                     "params": {"target": "normal-posterior", "data": None, **base}})
    assert back["result"]["view"]["readouts"] == before["readouts"]
    assert s.data_targets == {}


def test_catalog_entries_name_axes_groups_and_data() -> None:
    entries = {t["id"]: t for t in Session().catalog({})["targets"]}
    assert entries["banana"]["axes"] == ["x", "y"] and entries["banana"]["group"] == "Shapes"
    assert entries["banana"]["data"] is None
    lr = entries["logistic-regression"]
    assert lr["group"] == "Posteriors from data" and lr["axes"] == ["intercept", "slope"]
    assert lr["data"]["kind"] == "labelled" and len(lr["data"]["points"]) == 20
    assert lr["data"]["points"] == lr["data"]["default"]
    assert entries["normal-posterior"]["data"]["kind"] == "values"
