"""The command line contract: ``python -m vi_core targets|families|fit``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vi_core.families import family_ids
from vi_core.targets import target_ids

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vi_core", *args], capture_output=True, check=False,
                          text=True, cwd=ROOT, timeout=120)


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


def test_fit_table_and_options() -> None:
    p = run("fit", "--target", "funnel", "--family", "mixture-full-2", "--optimizer", "adam",
            "--seed", "3")
    assert p.returncode == 0, p.stderr
    assert "kl" in p.stdout and "weight" in p.stdout


@pytest.mark.parametrize("args, words", [
    (["fit", "--target", "nope", "--family", "gaussian-full"], "nope"),
    (["fit", "--target", "banana", "--family", "nope"], "nope"),
    (["fit", "--target", "banana", "--family", "gaussian-full", "--optimizer", "nope"], "nope"),
    (["fit", "--target-file", "/nonexistent/t.py", "--family", "gaussian-full"], "target file"),
    (["fit", "--family", "gaussian-full"], "target"),
    (["fit", "--target", "banana", "--target-file", "x.py", "--family", "gaussian-full"],
     "not allowed"),
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
