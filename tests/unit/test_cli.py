"""The command line contract: ``python -m vi_core targets|families|fit|sample``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vi_core as vi
from tests.reference import library_fit
from vi_core.families import family_ids
from vi_core.targets import target_ids

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vi_core", *args], capture_output=True,
                          check=False, text=True, cwd=ROOT, timeout=120)


def test_targets_json() -> None:
    p = run("targets", "--json")
    assert p.returncode == 0, p.stderr
    entries = json.loads(p.stdout)
    assert [e["id"] for e in entries] == target_ids()
    for e in entries:
        assert set(e) >= {"id", "name", "description", "extent", "log_z", "log_z_error",
                          "log_z_method"}
        assert len(e["extent"]) == 4


def test_families_json_and_table() -> None:
    p = run("families", "--json")
    assert p.returncode == 0, p.stderr
    entries = json.loads(p.stdout)
    assert [e["id"] for e in entries] == family_ids()
    assert all(set(e) >= {"id", "name", "description", "n_components", "n_params"}
               for e in entries)
    table = run("families")
    assert table.returncode == 0 and "mixture-full" in table.stdout
    assert run("targets").returncode == 0


def test_fit_json() -> None:
    p = run("fit", "--target", "banana", "--family", "gaussian-full", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for key in ("target", "family", "optimizer", "elbo", "expected_log_density", "entropy",
                "log_z", "kl", "iterations", "seconds", "converged", "params"):
        assert key in out
    assert out["target"] == "banana" and out["optimizer"] == "lbfgs" and out["converged"]
    assert out["kl"] == pytest.approx(out["log_z"] - out["elbo"])
    assert set(out["params"]) == {"weights", "means", "scales", "correlations"}
    # The CLI's fit is the library's (the page's Optimize is compared with the library's).
    assert out["kl"] == pytest.approx(library_fit("banana", "gaussian-full").kl, abs=1e-12)


def test_fit_table_and_options() -> None:
    p = run("fit", "--target", "funnel", "--family", "mixture-full-2", "--optimizer", "adam",
            "--seed", "3")
    assert p.returncode == 0, p.stderr
    assert "kl" in p.stdout and "weight" in p.stdout


def test_fit_json_carries_the_diagnostics_seeded() -> None:
    """k̂, ESS and the IW-ELBO of the fitted q; every FitResult field still there, unchanged;
    the same --seed gives the same numbers, another seed other draws."""
    args = ("fit", "--target", "banana", "--family", "gaussian-full", "--json")
    a, b, c = (json.loads(run(*args, *extra).stdout) for extra in
               ((), ("--seed", "0"), ("--seed", "7")))
    ref = vi.fit("banana", "gaussian-full").to_dict()
    for key, value in ref.items():
        if key != "seconds":
            assert a[key] == value, key
    assert set(a) == set(ref) | {"khat", "ess", "khat_draws", "iw_elbo", "khat_reading", "seed",
                                 "objective"}
    assert a["objective"] == "reverse-kl"
    assert set(a["iw_elbo"]) == {"value", "se", "k", "n"}
    d = vi.diagnose(vi.get_target("banana"), vi.get_family("gaussian-full"), ref["theta"], seed=0)
    assert a["khat"] == d.khat and a["ess"] == d.ess and a["iw_elbo"]["value"] == d.iw.value
    assert (a["iw_elbo"]["k"], a["iw_elbo"]["n"], a["khat_draws"]) == (
        vi.DEFAULT_IW_K, vi.DEFAULT_IW_N, vi.DEFAULT_DRAWS)
    assert {k: v for k, v in a.items() if k != "seconds"} == {
        k: v for k, v in b.items() if k != "seconds"}
    assert c["seed"] == 7 and c["khat"] != a["khat"] and c["theta"] == a["theta"]
    iw = a["iw_elbo"]
    assert a["elbo"] - 3 * iw["se"] <= iw["value"] <= a["log_z"] + 3 * iw["se"]
    assert 0 < a["ess"] <= a["khat_draws"] and -1 < a["khat"] < 1.5


def test_fit_forward_kl_json_names_the_objective_and_the_bound() -> None:
    """--objective forward-kl: q is the moment match; every field of a reverse fit is there
    (elbo and kl those of this q), plus objective, forward_kl, divergence, alpha and a note
    that only reverse KL gives the bound."""
    p = run("fit", "--target", "bimodal", "--family", "gaussian-full", "--objective",
            "forward-kl", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    rev = json.loads(run("fit", "--target", "bimodal", "--family", "gaussian-full",
                         "--json").stdout)
    assert set(out) == set(rev) | {"alpha", "divergence", "forward_kl", "note"}
    assert out["objective"] == "forward-kl" and out["alpha"] is None
    assert out["forward_kl"] == out["divergence"] > 0
    assert "Only reverse KL" in out["note"] and "ELBO ≤ log Z" in out["note"]
    assert out["elbo"] < rev["elbo"] and out["kl"] == pytest.approx(out["log_z"] - out["elbo"])
    theta = vi.moment_match(vi.get_target("bimodal"), vi.get_family("gaussian-full"))
    np.testing.assert_allclose(out["theta"], theta, atol=1e-3)
    a = json.loads(run("fit", "--target", "bimodal", "--family", "gaussian-full", "--objective",
                       "alpha", "--alpha", "0.5", "--json").stdout)
    assert a["objective"] == "alpha" and a["alpha"] == 0.5 and "D_0.5(p‖q)" in a["note"]
    assert a["forward_kl"] > out["forward_kl"] and a["divergence"] != a["forward_kl"]
    table = run("fit", "--target", "bimodal", "--family", "gaussian-full", "--objective",
                "forward-kl")
    assert table.returncode == 0 and "note: Only reverse KL" in table.stdout
    assert "forward_kl" in table.stdout


def test_fit_table_reads_khat() -> None:
    p = run("fit", "--target", "funnel", "--family", "gaussian-diagonal")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    reading = [line for line in lines if line.startswith("reading: ")]
    assert len(reading) == 1 and "k̂ = " in reading[0]
    assert any("far-apart modes" in line and "k̂ ≈ 0" in line for line in lines)
    assert any(line.startswith("iw_elbo ") for line in lines)


def _sample(*extra: str, family: str = "gaussian-full",
            theta: str = "[0.5, -1, -0.3, 0.4, 0.8]") -> dict:
    p = run("sample", "--target", "banana", "--family", family, "--theta-json", theta, *extra)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_sample_json_is_q_with_its_log_density() -> None:
    theta = [0.5, -1.0, -0.3, 0.4, 0.8]
    out = _sample("--n", "20000", "--seed", "3", "--json")
    assert set(out) == {"points", "log_q"}
    pts, log_q = np.array(out["points"]), np.array(out["log_q"])
    assert pts.shape == (20000, 2) and log_q.shape == (20000,)
    family = vi.get_family("gaussian-full")
    np.testing.assert_allclose(log_q, family.log_density(theta, pts[:, 0], pts[:, 1]),
                               rtol=1e-13, atol=1e-13)
    _, means, covs = family.components(theta)
    cov = covs[0]
    se = np.sqrt(np.diag(cov) / len(pts))
    assert np.all(np.abs(pts.mean(axis=0) - means[0]) < 4 * se)
    # Sample covariance entries: standard error sqrt((S_ii S_jj + S_ij^2) / n).
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / len(pts))
    assert np.all(np.abs(np.cov(pts.T) - cov) < 4 * se_cov)


def test_sample_of_a_mixture_has_the_mixtures_moments() -> None:
    family = vi.get_family("mixture-full-2")
    theta = [0.7, -1.0, 0.0, -0.5, -0.2, 0.3, 1.0, 0.5, -0.7, -0.4, -1.0]
    out = _sample("--n", "40000", "--json", family="mixture-full-2", theta=json.dumps(theta))
    pts = np.array(out["points"])
    w, m, c = family.components(theta)
    mean = w @ m
    cov = np.einsum("k,kij->ij", w, c + np.einsum("ki,kj->kij", m, m)) - np.outer(mean, mean)
    assert np.all(np.abs(pts.mean(axis=0) - mean) < 4 * np.sqrt(np.diag(cov) / len(pts)))
    np.testing.assert_allclose(np.cov(pts.T), cov, atol=0.05)
    np.testing.assert_allclose(out["log_q"], family.log_density(theta, pts[:, 0], pts[:, 1]),
                               rtol=1e-13, atol=1e-13)


def test_sample_is_seeded() -> None:
    a = _sample("--n", "50", "--seed", "11", "--json")
    assert a == _sample("--n", "50", "--seed", "11", "--json")
    assert a != _sample("--n", "50", "--seed", "12", "--json")
    assert len(_sample("--json")["points"]) == 1000  # --n and --seed have defaults
    table = run("sample", "--target", "banana", "--family", "gaussian-full", "--theta-json",
                "[0, 0, 0, 0, 0]", "--n", "5")
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 2 + 5


def test_fit_then_sample_round_trip(tmp_path: Path) -> None:
    """The theta that fit --json prints goes into sample as is, for a custom target file too."""
    path = tmp_path / "blob.py"
    path.write_text("def log_density(x, y):\n    return -0.5 * ((x - 1) ** 2 + (y / 2) ** 2)\n")
    for src in (("--target", "bimodal"), ("--target-file", str(path))):
        fitted = json.loads(run("fit", *src, "--family", "mixture-full-2", "--json").stdout)
        p = run("sample", *src, "--family", "mixture-full-2", "--theta-json",
                json.dumps(fitted["theta"]), "--n", "4000", "--seed", "1", "--json")
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        family = vi.get_family("mixture-full-2")
        pts = np.array(out["points"])
        np.testing.assert_allclose(
            out["log_q"], family.log_density(fitted["theta"], pts[:, 0], pts[:, 1]), rtol=1e-13)
        w, m, _ = family.components(fitted["theta"])
        assert np.allclose(pts.mean(axis=0), w @ m, atol=0.15)
    # the custom target: N((1, 0), diag(1, 4)), which a mixture fits exactly
    assert np.allclose(pts.mean(axis=0), [1.0, 0.0], atol=0.1)
    assert np.allclose(np.cov(pts.T), [[1.0, 0.0], [0.0, 4.0]], atol=0.3)


_SAMPLE = ["sample", "--target", "banana", "--family", "gaussian-full"]


@pytest.mark.parametrize("args, words", [
    ([*_SAMPLE, "--theta-json", "[0, 1"], "not valid JSON"),
    ([*_SAMPLE, "--theta-json", "[0, 0, 0, 0]"], "takes 5 numbers, got 4"),
    ([*_SAMPLE, "--theta-json", '{"theta": 1}'], "JSON list of numbers"),
    ([*_SAMPLE, "--theta-json", '[0, 0, 0, 0, "a"]'], "JSON list of numbers"),
    ([*_SAMPLE, "--theta-json", "[0, 0, 0, 0, NaN]"], "finite"),
    ([*_SAMPLE, "--theta-json", "[0, 0, 900, 0, 0]"], "non-finite"),
    ([*_SAMPLE, "--theta-json", "[0, 0, 0, 0, 0]", "--n", "0"], "between 1 and 100000"),
    ([*_SAMPLE, "--theta-json", "[0, 0, 0, 0, 0]", "--n", "-5"], "between 1 and 100000"),
    ([*_SAMPLE, "--theta-json", "[0, 0, 0, 0, 0]", "--n", "100001"], "between 1 and 100000"),
    ([*_SAMPLE, "--theta-json", "[0, 0, 0, 0, 0]", "--n", "many"], "invalid int"),
    ([*_SAMPLE, "--theta-json", "[0, 0, 0, 0, 0]", "--seed", "-1"], "seed"),
    ([*_SAMPLE], "--theta-json"),
    (["sample", "--target", "nope", "--family", "gaussian-full", "--theta-json", "[0,0,0,0,0]"],
     "nope"),
    (["sample", "--target", "banana", "--family", "nope", "--theta-json", "[0]"], "nope"),
    (["sample", "--target-file", "/nonexistent/t.py", "--family", "gaussian-full",
      "--theta-json", "[0, 0, 0, 0, 0]"], "target file"),
    (["sample", "--family", "gaussian-full", "--theta-json", "[0, 0, 0, 0, 0]"], "target"),
    (["fit", "--target", "banana", "--family", "gaussian-full", "--seed", "-3"], "seed"),
    (["fit", "--target", "nope", "--family", "gaussian-full"], "nope"),
    (["fit", "--target", "banana", "--family", "nope"], "nope"),
    (["fit", "--target", "banana", "--family", "gaussian-full", "--optimizer", "nope"], "nope"),
    (["fit", "--target-file", "/nonexistent/t.py", "--family", "gaussian-full"], "target file"),
    (["fit", "--family", "gaussian-full"], "target"),
    (["fit", "--target", "banana", "--target-file", "x.py", "--family", "gaussian-full"],
     "not allowed"),
    (["fit", "--target", "banana", "--family", "gaussian-full", "--objective", "nope"],
     "invalid choice"),
    (["fit", "--target", "banana", "--family", "gaussian-full", "--objective", "alpha"],
     "needs --alpha"),
    (["fit", "--target", "banana", "--family", "gaussian-full", "--objective", "alpha",
      "--alpha", "1"], "forward-kl"),
    (["fit", "--target", "banana", "--family", "gaussian-full", "--objective", "alpha",
      "--alpha", "nan"], "alpha"),
    (["fit", "--target", "banana", "--family", "gaussian-full", "--alpha", "0.5"],
     "only to --objective alpha"),
    (["fit", "--target", "banana", "--family", "flow-2", "--objective", "forward-kl"],
     "not available for flows"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], words: str) -> None:
    p = run(*args)
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr and words in lines[0]


def test_broken_target_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("def log_density(x, y):\n    return (\n")
    p = run("fit", "--target-file", str(bad), "--family", "gaussian-full")
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
