"""The two forces: the ELBO's terms along q scaled by c, against closed forms and the protocol."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import vi_core as vi
from tests.reference import reset_theta
from vi_core.protocol import Session

# correlated-gaussian: log p~ = -1/2 (z-m)^T S^-1 (z-m) (see vi_core/targets.py)
M = np.array([0.5, 0.25])
S = np.array([[1.0, 0.9 * 0.6], [0.9 * 0.6, 0.36]])


def test_terms_match_the_closed_form_on_a_gaussian_target() -> None:
    """E_q[log p~] = -1/2 (tr(S^-1 C) + (mu-m)^T S^-1 (mu-m)) and H[q] = 1 + ln 2pi + 1/2 ln det C
    for q = N(mu, C), C = c^2 C0: computed here with numpy alone, from the natural parameters."""
    target = vi.get_target("correlated-gaussian")
    family = vi.get_family("gaussian-full")
    natural = {"means": [[-0.7, 0.9]], "scales": [[0.4, 0.3]], "correlations": [-0.5]}
    theta = family.from_natural(natural)
    sweep = vi.scale_sweep(target, family, theta, target.extent)
    assert (len(sweep.factors) == 13 and math.isclose(sweep.factors[0], 0.2)
            and math.isclose(sweep.factors[-1], 5.0))
    assert any(math.isclose(c, 1.0) for c in sweep.factors)
    sx, sy, rho = 0.4, 0.3, -0.5
    c0 = np.array([[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]])
    mu = np.array([-0.7, 0.9])
    inv = np.linalg.inv(S)
    for c, e, h, total, err in zip(sweep.factors, sweep.expected_log_density, sweep.entropy,
                                   sweep.elbo, sweep.error, strict=True):
        cov = c * c * c0
        want_e = -0.5 * (np.trace(inv @ cov) + (mu - M) @ inv @ (mu - M))
        want_h = 1 + math.log(2 * math.pi) + 0.5 * math.log(np.linalg.det(cov))
        assert e is not None and h is not None and total is not None and err is not None
        assert abs(e - want_e) <= max(err, 1e-9) + 1e-9, (c, e, want_e)
        assert abs(h - want_h) < 1e-10
        assert abs(total - (e + h)) < 1e-10


@pytest.mark.parametrize("target_id", vi.target_ids())
@pytest.mark.parametrize("family_id, k", [("gaussian-full", None), ("mixture-full", 3)])
def test_entropy_grows_with_the_scale_and_c1_is_q(target_id: str, family_id: str,
                                                  k: int | None) -> None:
    """What the page's caption says: H[q] rewards spread, on every built-in target (at the
    family's starting q); and the sweep's c = 1 is q itself, as the readouts show it."""
    target = vi.get_target(target_id)
    family = vi.get_family(family_id, k)
    theta = reset_theta(target, family)
    sweep = vi.scale_sweep(target, family, theta, target.extent)
    hs = [h for h in sweep.entropy if h is not None]
    assert len(hs) >= 9
    assert all(b > a for a, b in itertools.pairwise(hs)), hs
    one = sweep.factors.index(min(sweep.factors, key=lambda c: abs(c - 1)))
    direct = vi.elbo(target, family, theta, with_grad=False)
    assert sweep.elbo[one] == pytest.approx(direct.elbo, abs=1e-12)


def test_scaled_keeps_means_weights_and_correlations() -> None:
    family = vi.get_family("mixture-full", 3)
    natural = {"weights": [0.2, 0.3, 0.5], "means": [[0, 1], [1, 0], [-1, -1]],
               "scales": [[0.5, 0.2], [0.3, 0.3], [1.0, 0.4]], "correlations": [0.3, 0.0, -0.6]}
    out = family.to_natural(vi.scaled(family, family.from_natural(natural), 2.5))
    np.testing.assert_allclose(out["weights"], natural["weights"], rtol=1e-12)
    np.testing.assert_allclose(out["means"], natural["means"], atol=1e-12)
    np.testing.assert_allclose(out["correlations"], natural["correlations"], atol=1e-12)
    np.testing.assert_allclose(out["scales"], 2.5 * np.array(natural["scales"]), rtol=1e-12)
    with pytest.raises(vi.FamilyError):
        vi.scaled(family, family.from_natural(natural), 0.0)


def test_out_of_range_factors_are_null_and_the_protocol_sends_the_sweep() -> None:
    target = vi.get_target("banana")
    family = vi.get_family("gaussian-diagonal")
    _lo, hi = family.natural_ranges(target.extent)["scale"]
    natural = {"means": [[0, 0]], "scales": [[hi * 0.5, 0.3]]}
    session = Session()
    reply = session.handle({"method": "forces",
                            "params": {"target": "banana", "family": "gaussian-diagonal",
                                       "natural": natural}})
    assert reply["ok"], reply
    out = reply["result"]
    assert set(out) >= {"theta", "factors", "expected_log_density", "entropy", "elbo", "error",
                        "log_z"}
    grown = [c for c, v in zip(out["factors"], out["elbo"], strict=True) if v is None]
    assert grown and min(grown) > 2.0  # x2.2 and beyond leave the box
    view = session.handle({"method": "evaluate",
                           "params": {"target": "banana", "family": "gaussian-diagonal",
                                      "natural": natural}})["result"]
    i = out["factors"].index(1.0) if 1.0 in out["factors"] else 8
    assert out["elbo"][i] == pytest.approx(view["readouts"]["elbo"], abs=1e-12)
    bad = session.handle({"method": "forces", "params": {"target": "banana", "family": "no-such"}})
    assert not bad["ok"]
    flow = session.handle({"method": "forces", "params": {"target": "banana", "family": "flow"}})
    assert flow["ok"] and None not in flow["result"]["elbo"][:9]
