"""The page's JSON protocol: replies are plain JSON, failures are error replies, never raises."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import vi_core as vi
from tests import reference
from tests.reference import reset_theta
from vi_core.elbo import elbo
from vi_core.families import get_family
from vi_core.objectives import check_objective
from vi_core.protocol import Session
from vi_core.targets import get_target


@pytest.fixture(autouse=True)
def session():
    """Each test talks to a session of its own, as each page does (no state shared between
    tests, so they pass in any order)."""
    global _session
    _session = Session()
    yield _session


_session = Session()


def call(method: str, **params):
    reply = json.loads(_session.handle_json(json.dumps({"method": method, "params": params})))
    return reply


def ok(method: str, **params):
    reply = call(method, **params)
    assert reply["ok"], reply
    return reply["result"]


def test_catalog_lists_every_id():
    catalog = ok("catalog")
    assert [t["id"] for t in catalog["targets"]][:6] == [
        "banana", "bimodal", "nessie", "mickie", "ring", "funnel"]
    assert {f["id"] for f in catalog["families"]} >= {
        "gaussian-isotropic", "gaussian-diagonal", "gaussian-full", "mixture-3", "mixture-10",
        "mixture-full"}
    assert [o["id"] for o in catalog["optimizers"]] == ["gradient-ascent", "adam", "lbfgs"]
    for family in catalog["families"]:
        assert family["kind"] in ("isotropic", "diagonal", "full", "flow")


def test_evaluate_matches_the_library():
    view = ok("evaluate", target="ring", family="mixture-3")
    target, family = get_target("ring"), get_family("mixture-3")
    theta = reset_theta(target, family)
    expected = elbo(target, family, theta, with_grad=False)
    assert view["readouts"]["elbo"] == expected.elbo
    assert view["readouts"]["kl"] == target.log_z - expected.elbo
    assert view["theta"] == theta.tolist()
    assert len(view["q_grid"]["log_density"]) == view["q_grid"]["nx"] * view["q_grid"]["ny"]


def test_a_single_gaussian_sends_no_grid_and_a_mixture_does():
    """A single Gaussian's contours are ellipses the page draws from its components."""
    for family in ("gaussian-isotropic", "gaussian-diagonal", "gaussian-full"):
        assert ok("evaluate", target="banana", family=family)["q_grid"] is None
    assert ok("evaluate", target="banana", family="mixture-full", k=1)["q_grid"] is None
    view = ok("evaluate", target="banana", family="mixture-full", k=2)
    assert len(view["q_grid"]["log_density"]) == view["q_grid"]["nx"] * view["q_grid"]["ny"]


def test_grids_are_whole_units_of_the_log_density_on_the_stated_points():
    """A grid's values times its unit are log q (log p~) on the grid's points, to half a unit;
    zero density is null."""
    view = ok("evaluate", target="banana", family="mixture-3")
    target, family = get_target("banana"), get_family("mixture-3")
    q = view["q_grid"]
    xmin, xmax, ymin, ymax = target.extent
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, q["nx"]), np.linspace(ymin, ymax, q["ny"]))
    exact = family.log_density(np.array(view["theta"]), gx, gy).ravel()
    values = np.array(q["log_density"], dtype=float)
    assert all(isinstance(v, int) for v in q["log_density"])
    np.testing.assert_allclose(values * q["unit"], exact, rtol=0, atol=q["unit"] / 2 + 1e-12)
    grid = ok("target_grid", target="banana", nx=30, ny=20)
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, 30), np.linspace(ymin, ymax, 20))
    np.testing.assert_allclose(np.array(grid["log_density"]) * grid["unit"],
                               target.log_density(gx, gy).ravel(), rtol=0,
                               atol=grid["unit"] / 2 + 1e-12)


def test_zero_density_on_a_grid_is_null():
    session = Session()
    source = ("import numpy as np\n"
              "def log_density(x, y):\n"
              "    return np.where(x > 0, -0.5 * (x**2 + y**2), -np.inf)\n")
    reply = session.handle({"method": "set_custom_target", "params": {"source": source}})
    if not reply["ok"]:
        pytest.skip(f"custom targets refuse zero-density regions: {reply['error']['message']}")
    grid = session.handle({"method": "target_grid", "params": {"target": "custom", "nx": 9,
                                                                "ny": 5}})["result"]
    values = grid["log_density"]
    assert None in values and any(isinstance(v, int) for v in values)


def test_natural_parameters_round_trip():
    view = ok("evaluate", target="banana", family="gaussian-full")
    again = ok("evaluate", target="banana", family="gaussian-full", natural=view["natural"])
    assert again["theta"] == pytest.approx(view["theta"], abs=1e-12)


@pytest.mark.parametrize(("method", "params", "words"), [
    ("nope", {}, "unknown method"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full", "n": 1}, "n must be"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full", "n": 10**9}, "n must be"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full", "n": 1.5}, "n must be"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full", "iw_k": 1000,
                     "iw_n": 1000}, "iw_k x iw_n"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full", "iw_k": 0}, "iw_k"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full", "seed": -1}, "seed"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full", "seed": "x"}, "seed"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full", "theta": [1, 2]}, "theta"),
    ("diagnostics", {"target": "banana", "family": "gaussian-full",
                     "theta": [0, 0, 50, 0, 0]}, "out of range"),
    ("evaluate", {"target": "nope", "family": "gaussian-full"}, "nope"),
    ("evaluate", {"target": "banana", "family": "nope"}, "nope"),
    ("evaluate", {"target": "banana", "family": "gaussian-full", "theta": [1, 2]}, "theta"),
    ("evaluate", {"target": "banana", "family": "gaussian-full",
                  "natural": {"means": [[0, 0]], "scales": [[-1, 1]], "correlations": [0],
                              "weights": [1]}}, "scale"),
    ("evaluate", {"family": "gaussian-full"}, "target"),
    ("evaluate", {"target": "banana", "family": "gaussian-full",
                  "natural": {"means": [[1e308, 0]], "scales": [[1, 1]], "correlations": [0],
                              "weights": [1]}}, "out of range"),
    ("evaluate", {"target": "banana", "family": "gaussian-full", "theta": [0, 0, 50, 0, 0]},
     "out of range"),
    ("target_grid", {"target": "banana", "nx": 10**6}, "grid size"),
    ("samples", {"target": "banana", "family": "gaussian-full", "n": 0}, "samples"),
    ("advance_run", {"run_id": 12345}, "no optimization run"),
    ("evaluate", {"target": "custom", "family": "gaussian-full"}, "custom"),
    ("set_custom_target", {"source": "def log_density(x, y):\n    return x +"}, "yntax"),
])
def test_bad_requests_get_clear_error_replies(method, params, words):
    reply = call(method, **params)
    assert reply["ok"] is False
    assert words.lower() in reply["error"]["message"].lower()
    assert "\n" not in reply["error"]["message"]


def test_non_json_request():
    reply = json.loads(Session().handle_json("{not json"))
    assert reply["ok"] is False and reply["error"]["name"] == "ProtocolError"


def test_a_run_steps_to_convergence_like_fit():
    from vi_core.fit import fit

    run = ok("start_run", target="banana", family="gaussian-diagonal", optimizer="lbfgs",
             theta=reset_theta("banana", "gaussian-diagonal").tolist())
    frames = []
    while True:
        frame = ok("advance_run", run_id=run["run_id"], steps=3)
        frames.append(frame)
        if frame["done"]:
            break
    final = ok("finish_run", run_id=run["run_id"], reason="converged")
    expected = fit("banana", "gaussian-diagonal")
    assert final["converged"] and final["iteration"] == expected.iterations
    assert final["view"]["readouts"]["elbo"] == pytest.approx(expected.elbo, abs=1e-12)
    trace = [e for f in frames for _, e in f["trace"]]
    assert len(trace) == expected.iterations
    assert call("advance_run", run_id=run["run_id"])["ok"] is False  # finished runs are gone


@pytest.mark.parametrize(("tid", "fid"), [(t, f) for t in vi.target_ids() for f in vi.family_ids()
                                         if not f.startswith("flow")])
def test_every_pairs_run_as_the_page_paces_it_ends_at_the_fit(tid, fid):
    """The page's Optimize (Reset's q, then frames of a few iterations until done) ends where
    ``vi_core.fit`` (``python -m vi_core fit``) ends, for every built-in target x family but
    the flows (whose fit is vi_core.flows.fit_flow: tests/unit/test_flows.py). The browser runs
    the same protocol in Pyodide (tests/e2e/test_page.py compares its first iterations)."""
    theta = reference.call("evaluate", target=tid, family=fid)["theta"]  # the page's Reset q
    run = ok("start_run", target=tid, family=fid, optimizer="lbfgs", theta=theta)
    while not ok("advance_run", run_id=run["run_id"], steps=4)["done"]:
        pass
    final = ok("finish_run", run_id=run["run_id"], reason="converged")
    expected = reference.library_fit(tid, fid)
    assert final["iteration"] == expected.iterations
    assert final["view"]["readouts"]["elbo"] == pytest.approx(expected.elbo, abs=1e-12)
    assert final["view"]["theta"] == pytest.approx(expected.theta, abs=1e-12)


def test_custom_target_is_usable_by_id():
    source = "def log_density(x, y):\n    return -0.5 * (x**2 + y**2)\n"
    entry = ok("set_custom_target", source=source)
    assert entry["log_z"] == pytest.approx(np.log(2 * np.pi), abs=1e-6)
    view = ok("evaluate", target="custom", family="gaussian-isotropic")
    assert view["target"] == "custom"


def test_replies_never_carry_nan():
    view = ok("target_grid", target="nessie", nx=50, ny=40)
    text = json.dumps(view, allow_nan=False)
    assert "NaN" not in text


def test_sessions_share_nothing():
    """A custom target, runs and cached starts belong to the session that made them."""
    a, b = Session(), Session()
    source = "def log_density(x, y):\n    return -0.5 * (x**2 + y**2)\n"
    assert a.handle({"method": "set_custom_target", "params": {"source": source}})["ok"]
    assert a.handle({"method": "evaluate",
                     "params": {"target": "custom", "family": "gaussian-full"}})["ok"]
    reply = b.handle({"method": "evaluate",
                      "params": {"target": "custom", "family": "gaussian-full"}})
    assert not reply["ok"] and "custom" in reply["error"]["message"].lower()
    run = a.handle({"method": "start_run", "params": {
        "target": "banana", "family": "gaussian-full", "optimizer": "lbfgs",
        "theta": [0, 0, 0, 0, 0]}})["result"]
    assert not b.handle({"method": "advance_run", "params": {"run_id": run["run_id"]}})["ok"]


def test_catalog_carries_q_rules_from_the_library():
    catalog = ok("catalog")
    for entry in catalog["targets"]:
        target = get_target(entry["id"])
        ranges = entry["ranges"]
        lo, hi = get_family("gaussian-full").bounds(target.extent)
        assert ranges["mean_x"] == [lo[0], hi[0]] and ranges["mean_y"] == [lo[1], hi[1]]
        assert ranges["scale"] == pytest.approx([np.exp(lo[2]), np.exp(hi[2])], rel=1e-12)
        assert ranges["correlation"] == pytest.approx([np.tanh(lo[4]), np.tanh(hi[4])],
                                                      rel=1e-12)
    by_id = {f["id"]: f for f in catalog["families"]}
    assert by_id["mixture-full"]["k_range"] == {"min": 1, "max": 10, "default": 3}
    assert by_id["gaussian-full"]["k_range"] is None
    assert by_id["mixture-10"]["shared_scale"] and by_id["mixture-10"]["k"] == 10
    # The flow stands for every depth: the page names flow-N from the templates exactly as
    # vi_core does, and every N in the range is a family the protocol takes.
    layers = by_id["flow"]["layers_range"]
    assert (layers["min"], layers["max"], layers["default"]) == (1, 32, 8)
    assert by_id["gaussian-full"]["layers_range"] is None
    for n in (1, 8, 16, 32):
        family = get_family(f"flow-{n}")
        assert layers["name"].replace("{n}", str(n)) == family.name
        assert layers["description"].replace("{n}", str(n)) == family.description
        view = ok("evaluate", target="banana", family=family.id)
        assert view["family"] == family.id and len(view["natural"]["layers"]) == n
    # Compare's choices are the protocol's own objectives, each accepted as sent.
    assert catalog["comparisons"][0]["objective"] == "forward-kl"
    for choice in catalog["comparisons"]:
        assert check_objective(choice["objective"], choice["alpha"]) == choice["alpha"]
    for opt in catalog["optimizers"]:
        pacing = opt["pacing"]
        assert pacing["frame_ms"] > 0 and pacing["steps_per_frame"] >= 1
    assert catalog["defaults"]["samples"] >= 1
    grid = ok("target_grid", target="banana")
    assert [grid["nx"], grid["ny"]] == catalog["defaults"]["target_grid"]


def test_a_paused_run_resumes_in_a_new_session_with_its_memory():
    """What the page does after a Python restart: the paused run's state goes to a fresh
    session, and the run ends exactly where an uninterrupted one does."""
    theta = reset_theta("banana", "mixture-full-2").tolist()
    params = {"target": "banana", "family": "mixture-full-2", "optimizer": "lbfgs",
              "theta": theta}
    straight = ok("start_run", **params)
    while not ok("advance_run", run_id=straight["run_id"], steps=50)["done"]:
        pass
    expected = ok("finish_run", run_id=straight["run_id"], reason="done")
    first = ok("start_run", **params)
    paused = ok("advance_run", run_id=first["run_id"], steps=4)
    assert not paused["done"] and paused["state"]["memory"]["s"]
    other = Session()
    run = other.handle({"method": "start_run",
                        "params": {**params, "resume": paused["state"]}})["result"]
    while True:
        frame = other.handle({"method": "advance_run",
                              "params": {"run_id": run["run_id"], "steps": 50}})["result"]
        if frame["done"]:
            break
    assert frame["iteration"] == expected["iteration"]
    assert frame["view"]["theta"] == expected["view"]["theta"]
    bad = other.handle({"method": "start_run", "params": {**params, "resume": {"x": 1}}})
    assert not bad["ok"] and "\n" not in bad["error"]["message"]


def test_a_resume_must_belong_to_its_target_and_family():
    theta = reset_theta("banana", "gaussian-full").tolist()
    params = {"target": "banana", "family": "gaussian-full", "optimizer": "lbfgs", "theta": theta}
    run = ok("start_run", **params)
    state = ok("advance_run", run_id=run["run_id"], steps=2)["state"]
    assert (state["target"], state["family"]) == ("banana", "gaussian-full")
    # mixture-full-1 has as many parameters as gaussian-full: the ids must still match
    for other in ({"family": "mixture-full-1"}, {"target": "correlated-gaussian"}):
        reply = call("start_run", **{**params, **other, "resume": state})
        assert not reply["ok"] and "saved run is for" in reply["error"]["message"]
    tampered = {**state, "result": {**state["result"], "elbo": state["result"]["elbo"] + 0.1}}
    reply = call("start_run", **params, resume=tampered)
    assert not reply["ok"] and "does not match" in reply["error"]["message"]
    assert call("start_run", **params, resume=state)["ok"]


def test_done_comes_with_the_last_iteration():
    theta = reset_theta("correlated-gaussian", "gaussian-full").tolist()
    run = ok("start_run", target="correlated-gaussian", family="gaussian-full",
             optimizer="lbfgs", theta=theta)
    frames = []
    while not frames or not frames[-1]["done"]:
        frames.append(ok("advance_run", run_id=run["run_id"], steps=1))
    assert frames[-1]["trace"] and frames[-1]["trace"][-1][0] == frames[-1]["iteration"]
    assert frames[-1]["state"]["message"]
    again = ok("advance_run", run_id=run["run_id"], steps=5)
    assert again["done"] and again["trace"] == []


def test_diagnostics_are_the_librarys_and_seeded():
    target, family = get_target("banana"), get_family("mixture-full", 2)
    theta = vi.fit(target, family).theta
    params = {"target": "banana", "family": "mixture-full", "k": 2, "theta": theta}
    a = ok("diagnostics", **params, seed=3, n=1000)
    assert set(a) >= {"khat", "ess", "iw_elbo", "iw_se", "reading", "caveat", "n", "iw_k",
                      "iw_n", "log_z", "seed"}
    d = vi.diagnose(target, family, theta, seed=3, n=1000)
    assert (a["khat"], a["ess"], a["iw_elbo"], a["iw_se"]) == (d.khat, d.ess, d.iw.value,
                                                               d.iw.se)
    assert a["reading"] == d.reading and "far-apart modes" in a["caveat"]
    assert a == ok("diagnostics", **params, seed=3, n=1000)
    assert a["khat"] != ok("diagnostics", **params, seed=4, n=1000)["khat"]
    default = ok("diagnostics", **params)
    assert (default["n"], default["iw_k"], default["iw_n"], default["seed"]) == (
        vi.DEFAULT_DRAWS, vi.DEFAULT_IW_K, vi.DEFAULT_IW_N, 0)
    assert a["iw_elbo"] - 3 * a["iw_se"] <= a["log_z"] == target.log_z
    # no theta: the family's starting q, as in evaluate
    assert ok("diagnostics", target="banana", family="gaussian-full")["khat"] is not None


def test_diagnostics_are_fast_enough_for_the_page():
    """n = 1000 draws plus the default IW-ELBO (5000 draws) on CPython, well under 0.25 s even
    for a 10-component mixture (measured ~2-10 ms; Pyodide is a few times slower)."""
    for family, k in (("gaussian-full", None), ("mixture-full", 3), ("mixture-10", None)):
        params = {"target": "banana", "family": family, "n": 1000, **({"k": k} if k else {})}
        ok("diagnostics", **params)
        started = time.perf_counter()
        ok("diagnostics", **params)
        assert time.perf_counter() - started < 0.25


def test_fit_carries_the_diagnostics_like_the_cli():
    reply = ok("fit", target="banana", family="gaussian-full", seed=2)
    expected = vi.diagnose(get_target("banana"), get_family("gaussian-full"), reply["theta"],
                           seed=2).to_dict()
    for key in ("khat", "ess", "khat_draws", "iw_elbo", "khat_reading", "seed"):
        assert reply[key] == expected[key], key


def test_compare_gives_the_reverse_and_the_forward_fit():
    """compare: the ELBO's optimum (as fit) and the forward-KL optimum (the moment match for a
    Gaussian), both as views with ELBO, KL(q‖p) and KL(p‖q); on bimodal the forward fit spans
    both modes and has the lower ELBO; the note says only reverse KL gives the bound."""
    out = ok("compare", target="bimodal", family="gaussian-full")
    assert (out["target"], out["family"], out["k"], out["objective"], out["alpha"]) == (
        "bimodal", "gaussian-full", 1, "forward-kl", None)
    rev, fwd = out["reverse"], out["forward"]
    for side in (rev, fwd):
        assert set(side) == set(ok("evaluate", target="bimodal", family="gaussian-full")) | {
            "elbo", "kl", "forward_kl", "divergence", "converged", "iterations"}
        assert side["converged"] and side["elbo"] == side["readouts"]["elbo"]
    target, family = get_target("bimodal"), get_family("gaussian-full")
    assert rev["theta"] == pytest.approx(vi.fit(target, family).theta, abs=1e-6)
    np.testing.assert_allclose(fwd["theta"], vi.moment_match(target, family), atol=1e-3)
    assert fwd["elbo"] < rev["elbo"] and rev["forward_kl"] > fwd["forward_kl"]
    assert fwd["divergence"] == fwd["forward_kl"] and rev["divergence"] == rev["kl"]
    assert "Only reverse KL" in out["note"]
    sd_rev = rev["natural"]["scales"][0][0]
    sd_fwd = fwd["natural"]["scales"][0][0]
    assert sd_fwd > 1.4 * sd_rev
    a = ok("compare", target="bimodal", family="gaussian-full", objective="alpha", alpha=0.5)
    assert a["alpha"] == 0.5 and "D_0.5" in a["note"]
    mix = ok("compare", target="banana", family="mixture-full", k=2)
    assert mix["forward"]["q_grid"] is not None and mix["k"] == 2


@pytest.mark.parametrize("params, words", [
    ({"target": "bimodal", "family": "gaussian-full", "objective": "alpha"}, "needs --alpha"),
    ({"target": "bimodal", "family": "gaussian-full", "objective": "reverse-kl"},
     "forward-kl or alpha"),
    ({"target": "bimodal", "family": "gaussian-full", "alpha": 0.5}, "only to"),
    ({"target": "bimodal", "family": "flow"}, "not compared yet"),
])
def test_compare_refuses_bad_objectives(params, words):
    reply = call("compare", **params)
    assert not reply["ok"] and words in reply["error"]["message"]


def test_compare_follows_a_new_custom_target():
    ok("set_custom_target", source="def log_density(x, y):\n    return -(x**2 + y**2)\n")
    one = ok("compare", target="custom", family="gaussian-isotropic")
    ok("set_custom_target", source="def log_density(x, y):\n    return -((x - 1)**2 + y**2)\n")
    two = ok("compare", target="custom", family="gaussian-isotropic")
    assert one["forward"]["natural"]["means"][0][0] == pytest.approx(0.0, abs=1e-6)
    assert two["forward"]["natural"]["means"][0][0] == pytest.approx(1.0, abs=1e-6)


def test_a_flow_views_check_reads_as_what_it_found():
    """The sentence under a flow's readouts: agreement, an unresolved cubature, a disagreement."""
    from vi_core.elbo import ElboResult
    from vi_core.flows import FlowCheck
    from vi_core.protocol import _check_reading

    cub = ElboResult(1.0, 0.5, 0.5, 1e-6, None, 100, 16)
    mc = ElboResult(1.001, 0.5, 0.5, 0.002, None, 4000, 0)
    exact = FlowCheck(cub, mc, -0.001, True, True, 0.005)
    assert _check_reading(exact, 4000) == ("Checked: the Monte Carlo ELBO on 4000 fresh draws "
                                           "from q is 1.001 ± 0.002, in agreement with the "
                                           "cubature.")
    loose = FlowCheck(ElboResult(1.0, 0.5, 0.5, 0.03, None, 100, 362), mc, -0.001, True, False,
                      0.03)
    assert "resolved only to ± 0.03" in _check_reading(loose, 4000)
    off = FlowCheck(ElboResult(1.2, 0.5, 0.5, 1e-6, None, 100, 362), mc, 0.199, False, True, 0.21)
    assert (_check_reading(off, 4000).startswith("Not exact:")
            and "(1.2) disagrees" in _check_reading(off, 4000))
    view = ok("evaluate", target="banana", family="flow-2")
    assert view["readouts"]["check"]["reading"].startswith(("Checked:", "Not exact:"))


def test_a_paused_run_shows_its_q_at_rest_and_goes_on():
    """pause_run (a Stop) and advance_run's at_rest (the end of a Step): a flow's view is
    checked on fresh draws, as a finished run's is; the run then continues where it was."""
    run_id = ok("start_run", target="banana", family="flow-2")["run_id"]
    frame = ok("advance_run", run_id=run_id, steps=3)
    assert frame["view"]["readouts"]["check"] is None  # a frame in between: not checked
    paused = ok("pause_run", run_id=run_id)
    assert paused["iteration"] == frame["iteration"] == 3
    check = paused["view"]["readouts"]["check"]
    assert check is not None and check["n"] > 0
    assert paused["view"]["readouts"]["elbo_error"] >= abs(
        paused["view"]["readouts"]["elbo"] - check["mc_elbo"])
    assert ok("advance_run", run_id=run_id, steps=1)["iteration"] == 4
    # The frame that ends a Step (at_rest) comes with its view at rest too.
    step = ok("advance_run", run_id=run_id, steps=1, at_rest=True)
    assert step["iteration"] == 5 and step["view"]["readouts"]["check"] is not None
    ok("finish_run", run_id=run_id, reason="done")
