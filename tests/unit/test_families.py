"""Families: ids, parameter maps, natural round trips, densities, sampling, entropy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from vi_core.elbo import elbo, entropy
from vi_core.errors import FamilyError
from vi_core.families import MAX_COMPONENTS, Family, family_ids, get_family
from vi_core.starts import initial_params, random_params
from vi_core.targets import get_target

BASE = ["gaussian-isotropic", "gaussian-diagonal", "gaussian-full", "mixture-3", "mixture-10",
        "mixture-full"]
ALL = BASE + ["mixture-full-1", "mixture-full-4", "mixture-full-10"]
N_PARAMS = {"gaussian-isotropic": 3, "gaussian-diagonal": 4, "gaussian-full": 5,
            "mixture-3": 9, "mixture-10": 21, "mixture-full": 17, "mixture-full-1": 5,
            "mixture-full-4": 23, "mixture-full-10": 59}


def test_family_ids_in_order() -> None:
    assert family_ids() == BASE + ["flow"]  # flows: tests/unit/test_flows.py


@pytest.mark.parametrize("fid", ALL)
def test_shape_attributes(fid: str) -> None:
    f = get_family(fid)
    assert isinstance(f, Family)
    assert f.n_params == N_PARAMS[fid]
    assert isinstance(f.name, str) and f.name and isinstance(f.description, str)
    assert get_family(f.id).n_params == f.n_params  # the id round-trips


def test_mixture_full_k_forms() -> None:
    assert get_family("mixture-full").n_components == 3
    assert get_family("mixture-full", n_components=4).n_components == 4
    assert get_family("mixture-full-4").n_components == 4
    assert get_family("mixture-full-4").id == get_family("mixture-full", 4).id
    for bad in ("mixture-full-0", "mixture-full-11", "mixture-full-x"):
        with pytest.raises(FamilyError):
            get_family(bad)
    with pytest.raises(FamilyError):
        get_family("mixture-full", n_components=MAX_COMPONENTS + 1)
    with pytest.raises(FamilyError):
        get_family("mixture-3", n_components=4)


def test_unknown_family_lists_valid_ids() -> None:
    with pytest.raises(FamilyError) as info:
        get_family("gaussian")
    msg = str(info.value)
    assert "\n" not in msg
    assert all(fid in msg for fid in BASE)


def _random(fid: str, seed: int = 0) -> tuple[Family, np.ndarray]:
    f = get_family(fid)
    return f, random_params(get_target("banana"), f, np.random.default_rng(seed))


@pytest.mark.parametrize("fid", ALL)
def test_natural_round_trip(fid: str) -> None:
    for seed in range(5):
        f, theta = _random(fid, seed)
        natural = f.to_natural(theta)
        json.dumps(natural)  # JSON-able
        assert len(natural["weights"]) == f.n_components
        assert np.isclose(sum(natural["weights"]), 1.0)
        np.testing.assert_allclose(f.from_natural(natural), theta, rtol=1e-12, atol=1e-12)
        # And through JSON text, as the page and CLI send it.
        np.testing.assert_allclose(f.from_natural(json.loads(json.dumps(natural))), theta,
                                   rtol=1e-12, atol=1e-12)


def test_natural_defaults_for_optional_keys() -> None:
    f = get_family("mixture-3")
    theta = f.from_natural({"means": [[0, 0], [1, 0], [0, 1]], "scales": [[1, 1]] * 3})
    assert f.to_natural(theta)["weights"] == pytest.approx([1 / 3] * 3)


GOOD = {"means": [[0.0, 0.0]], "scales": [[1.0, 1.0]], "weights": [1.0], "correlations": [0.0]}


@pytest.mark.parametrize("fid, change, words", [
    ("gaussian-full", {"means": [[0.0, 0.0], [1.0, 1.0]]}, "shape"),
    ("gaussian-full", {"means": [[0.0, float("nan")]]}, "finite"),
    ("gaussian-full", {"scales": [[0.0, 1.0]]}, "> 0"),
    ("gaussian-full", {"scales": [[-1.0, 1.0]]}, "> 0"),
    ("gaussian-full", {"correlations": [1.0]}, "(-1, 1)"),
    ("gaussian-full", {"weights": [0.9]}, "sum to 1"),
    ("gaussian-isotropic", {"scales": [[1.0, 2.0]]}, "sx == sy"),
    ("gaussian-diagonal", {"correlations": [0.5]}, "correlations must be 0"),
    ("gaussian-full", {"scales": "big"}, "numbers"),
])
def test_from_natural_errors(fid: str, change: dict, words: str) -> None:
    with pytest.raises(FamilyError) as info:
        get_family(fid).from_natural({**GOOD, **change})
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_from_natural_family_constraints() -> None:
    m10 = get_family("mixture-10")
    nat = m10.to_natural(_random("mixture-10")[1])
    nat["scales"][3] = [nat["scales"][3][0] * 1.5] * 2
    with pytest.raises(FamilyError, match="share one scale"):
        m10.from_natural(nat)
    m3 = get_family("mixture-3")
    nat = m3.to_natural(_random("mixture-3")[1])
    nat["weights"] = [0.5, 0.25, 0.25]
    with pytest.raises(FamilyError, match="fixed"):
        m3.from_natural(nat)
    with pytest.raises(FamilyError, match="need 'means'"):
        m3.from_natural({"scales": [[1, 1]] * 3})
    with pytest.raises(FamilyError, match="mapping"):
        m3.from_natural([1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.parametrize("fid", ["gaussian-full", "mixture-10"])
def test_theta_validation(fid: str) -> None:
    f, theta = _random(fid)
    with pytest.raises(FamilyError, match="expected"):
        f.log_density(theta[:-1], 0.0, 0.0)
    bad = theta.copy()
    bad[0] = np.nan
    with pytest.raises(FamilyError, match="finite"):
        f.to_natural(bad)
    with pytest.raises(FamilyError):
        elbo(get_target("banana"), f, bad)


@pytest.mark.parametrize("fid", ALL)
def test_components_and_log_density_agree_with_scipy(fid: str) -> None:
    f, theta = _random(fid, 3)
    w, m, cov = f.components(theta)
    assert w.shape == (f.n_components,) and m.shape == (f.n_components, 2)
    assert cov.shape == (f.n_components, 2, 2)
    assert np.isclose(w.sum(), 1.0)
    nat = f.to_natural(theta)
    for k in range(f.n_components):
        sx, sy = nat["scales"][k]
        r = nat["correlations"][k]
        np.testing.assert_allclose(cov[k], [[sx * sx, r * sx * sy], [r * sx * sy, sy * sy]],
                                   rtol=1e-12, atol=1e-14)
    xy = np.random.default_rng(1).normal(size=(50, 2)) * 1.5
    ref = np.log(sum(w[k] * stats.multivariate_normal(m[k], cov[k]).pdf(xy)
                     for k in range(f.n_components)))
    np.testing.assert_allclose(f.log_density(theta, xy[:, 0], xy[:, 1]), ref, rtol=1e-10)
    # Broadcasting: a row of x against a column of y.
    grid = f.log_density(theta, xy[:5, 0][None, :], xy[:4, 1][:, None])
    assert grid.shape == (4, 5)


@pytest.mark.parametrize("fid", ["gaussian-full", "mixture-3", "mixture-full-4"])
def test_sample_matches_components(fid: str) -> None:
    f, theta = _random(fid, 5)
    w, m, cov = f.components(theta)
    n = 200_000
    x = f.sample(theta, n, np.random.default_rng(0))
    assert x.shape == (n, 2)
    mean = w @ m
    d = m - mean
    total_cov = np.einsum("k,kij->ij", w, cov) + np.einsum("k,ki,kj->ij", w, d, d)
    se = np.sqrt(np.diag(total_cov) / n)
    assert np.all(np.abs(x.mean(axis=0) - mean) < 5 * se)
    np.testing.assert_allclose(np.cov(x.T), total_cov, rtol=0.03, atol=0.03 * total_cov.max())
    # Seeded: identical draws.
    np.testing.assert_array_equal(x[:10], f.sample(theta, n, np.random.default_rng(0))[:10])


@pytest.mark.parametrize("fid", ["gaussian-isotropic", "gaussian-diagonal", "gaussian-full"])
def test_gaussian_entropy_closed_form(fid: str) -> None:
    f, theta = _random(fid, 7)
    _, _, cov = f.components(theta)
    assert f.entropy(theta) == pytest.approx(stats.multivariate_normal(cov=cov[0]).entropy(),
                                             rel=1e-12)


@pytest.mark.parametrize("fid", ["mixture-3", "mixture-10", "mixture-full", "mixture-full-4"])
def test_mixture_entropy_against_monte_carlo(fid: str) -> None:
    f, theta = _random(fid, 11)
    x = f.sample(theta, 400_000, np.random.default_rng(2))
    lq = f.log_density(theta, x[:, 0], x[:, 1])
    mc, se = -lq.mean(), lq.std() / np.sqrt(len(lq))
    assert abs(entropy(f, theta).value - mc) < 5 * se + 1e-6


def test_one_component_mixture_is_a_gaussian() -> None:
    g, m1 = get_family("gaussian-full"), get_family("mixture-full-1")
    theta = random_params(get_target("banana"), g, np.random.default_rng(4))
    nat = g.to_natural(theta)
    t1 = m1.from_natural(nat)
    np.testing.assert_allclose(t1, theta)
    xy = np.random.default_rng(0).normal(size=(20, 2))
    np.testing.assert_allclose(m1.log_density(t1, xy[:, 0], xy[:, 1]),
                               g.log_density(theta, xy[:, 0], xy[:, 1]), rtol=1e-13)
    assert m1.entropy(t1) == pytest.approx(g.entropy(theta), rel=1e-13)
    for tid in ("banana", "ring"):
        a, b = elbo(get_target(tid), g, theta), elbo(get_target(tid), m1, t1)
        assert a.elbo == pytest.approx(b.elbo, abs=1e-12)
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fid", ALL)
def test_initial_params_deterministic_in_bounds(fid: str) -> None:
    target = get_target("bimodal")
    f = get_family(fid)
    cache = {}
    a = initial_params(target, f, cache=cache)
    np.testing.assert_array_equal(initial_params(target, f, cache=cache), a)  # cached
    b = initial_params(target, f)  # recomputed from scratch, not from the cache
    np.testing.assert_array_equal(a, b)
    lo, hi = f.bounds(target.extent)
    assert np.all((lo <= a) & (a <= hi))
    assert np.isfinite(elbo(target, f, a).elbo)
    r = random_params(target, f, np.random.default_rng(0))
    assert np.all((lo <= r) & (r <= hi))
