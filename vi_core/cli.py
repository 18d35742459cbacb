"""Command line: ``python -m vi_core {targets,families,fit,sample} ...``.

    python -m vi_core targets [--json]
    python -m vi_core families [--json]
    python -m vi_core fit (--target ID | --target-file PATH) --family ID [--optimizer ID]
                          [--objective reverse-kl|forward-kl|alpha [--alpha A]]
                          [--seed S] [--json]
    python -m vi_core sample (--target ID | --target-file PATH) --family ID
                             --theta-json '[...]' [--n N] [--seed S] [--json]

``fit --json`` prints one JSON object: ``FitResult.to_dict()`` (for ``flow``/``flow-N`` from
``vi_core.flows.fit_flow``, whose ``message`` reports its Monte Carlo check) and the diagnostics
of the fitted q (``vi_core.diagnostics.Diagnostics.to_dict()``: khat, ess, khat_draws, iw_elbo
{value, se, k, n}, khat_reading, seed; seeded by ``--seed``, the fit itself being deterministic);
without ``--json`` a table and the reading of k̂. ``sample --json`` prints ``{"points": [[x, y],
...], "log_q": [...]}``: n draws from q at ``theta`` (what ``fit --json`` returns as ``theta``) and
log q at each. ``--objective forward-kl`` minimises KL(p‖q) instead of maximising the ELBO
(``alpha`` with ``--alpha A``: the Rényi D_A(p‖q); ``vi_core.objectives.fit_objective``); the
JSON then also has ``objective``, ``alpha``, ``divergence`` (the minimised value),
``forward_kl`` = KL(p‖q) and a plain ``note`` that only reverse KL gives the bound; ``elbo``
and ``kl`` are still the ELBO and KL(q‖p) of the result. Reverse KL's JSON gains ``objective``:
"reverse-kl" only. Bad input exits with status 2 and a one-line message on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from vi_core.custom_target import target_from_source
from vi_core.diagnostics import KHAT_CAVEAT, check_seed, diagnose
from vi_core.errors import VIError
from vi_core.families import MAX_COMPONENTS, MAX_FLOW_LAYERS, family_ids, get_family
from vi_core.fit import fit
from vi_core.flow_family import FlowFamily
from vi_core.flows import fit_flow
from vi_core.objectives import OBJECTIVES, check_objective, fit_objective
from vi_core.optimize import OPTIMIZERS
from vi_core.targets import get_target, target_ids

EXIT_USAGE = 2
#: The most points ``sample`` draws in one call (about 5 MB of JSON).
MAX_SAMPLE_POINTS = 100_000


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors on one line (its default prints usage first)."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{self.prog}: {message}")


def _fail(message: str) -> NoReturn:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _print_json(obj: Any) -> None:
    print(json.dumps(_json_safe(obj), allow_nan=False))


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _cmd_targets(args: argparse.Namespace) -> None:
    entries: list[dict[str, Any]] = []
    for tid in target_ids():
        t = get_target(tid)
        entries.append({"id": t.id, "name": t.name, "description": t.description,
                        "extent": [float(v) for v in t.extent], "log_z": float(t.log_z),
                        "log_z_error": float(t.log_z_error), "log_z_method": t.log_z_method})
    if args.json:
        _print_json(entries)
        return
    print(_table([[e["id"], e["name"], f"{e['log_z']:.6f}", f"{e['log_z_error']:.1e}",
                   e["log_z_method"], "[" + ", ".join(f"{v:g}" for v in e["extent"]) + "]"]
                  for e in entries],
                 ["id", "name", "log Z", "error", "method", "extent"]))


def _cmd_families(args: argparse.Namespace) -> None:
    entries: list[dict[str, Any]] = []
    for fid in family_ids():
        f = get_family(fid)
        entries.append({"id": f.id, "name": f.name, "description": f.description,
                        "n_components": f.n_components, "n_params": f.n_params})
    if args.json:
        _print_json(entries)
        return
    print(_table([[e["id"], e["name"], str(e["n_components"]), str(e["n_params"])]
                  for e in entries], ["id", "name", "K", "params"]))
    print(f"\nmixture-full takes K = 1..{MAX_COMPONENTS} as mixture-full-K "
          f"(default K = {get_family('mixture-full').n_components}).")
    flow = get_family("flow")
    assert isinstance(flow, FlowFamily)
    print(f"flow takes N = 1..{MAX_FLOW_LAYERS} planar layers as flow-N "
          f"(default N = {flow.n_layers}).")


def _load_target(args: argparse.Namespace) -> Any:
    if args.target_file is None:
        return get_target(args.target)
    try:
        with open(args.target_file, encoding="utf-8") as fh:
            source = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read target file {args.target_file!r}: {exc}")
    try:
        return target_from_source(source)
    except VIError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code may raise anything; report it in one line
        _fail(f"broken target file {args.target_file!r}: {type(exc).__name__}: {exc}")


def _cmd_fit(args: argparse.Namespace) -> None:
    if args.optimizer not in OPTIMIZERS:
        _fail(f"unknown optimizer {args.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    family = get_family(args.family)
    target = _load_target(args)
    seed = check_seed(args.seed)
    alpha = check_objective(args.objective, args.alpha)
    extra: dict[str, Any] = {"objective": args.objective}
    if args.objective != "reverse-kl":
        if isinstance(family, FlowFamily):
            _fail(f"--objective {args.objective} is not available for flows ({family.id}); "
                  "choose a Gaussian or mixture family, or --objective reverse-kl")
        other = fit_objective(target, family, args.objective, args.optimizer, alpha=alpha)
        result = other.fit
        extra = {k: v for k, v in other.to_dict().items() if k not in result.to_dict()}
    elif isinstance(family, FlowFamily):  # its own ELBO, and a Monte Carlo check (seeded)
        result = fit_flow(target, family, args.optimizer, seed=seed)
    else:
        result = fit(target, family, args.optimizer)
    diag = diagnose(target, family, result.theta, seed=seed)
    out = {**result.to_dict(), **diag.to_dict(), **extra}
    if args.json:
        _print_json(out)
        return
    rows = [[k, _fmt(out[k])] for k in (
        "target", "family", "optimizer", "objective", "elbo", "expected_log_density", "entropy",
        "log_z", "kl", "elbo_error", "log_z_error", "iterations", "n_evals", "seconds",
        "converged", "grad_norm", "message")]
    if args.objective != "reverse-kl":
        rows[4:4] = [[k, _fmt(out[k])] for k in ("alpha", "divergence", "forward_kl")
                     if out[k] is not None]
    iw = diag.iw
    rows += [["khat", _fmt(diag.khat)],
             ["ess", f"{diag.ess:.1f} of {diag.n} draws (seed {seed})"],
             ["iw_elbo", f"{_fmt(iw.value)} ± {iw.se:.2g} (K = {iw.k}, {iw.n} groups)"],
             ["log_z - iw_elbo", _fmt(result.log_z - iw.value)]]
    print(_table(rows, ["quantity", "value"]))
    if "note" in out:
        print(f"\nnote: {out['note']}")
    print(f"\nreading: {diag.reading}")
    print(f"limit: {KHAT_CAVEAT}")
    p = out["params"]
    print()
    print(_table([[str(i), f"{w:.6f}", f"({m[0]:.6f}, {m[1]:.6f})", f"({s[0]:.6f}, {s[1]:.6f})",
                   f"{r:+.6f}"]
                  for i, (w, m, s, r) in enumerate(zip(p["weights"], p["means"], p["scales"],
                                                       p["correlations"], strict=True))],
                 ["k", "weight", "mean", "scales", "rho"]))


def _parse_theta(text: str, family: Any) -> list[float]:
    """``--theta-json``: a JSON list of the family's n_params finite numbers."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"--theta-json is not valid JSON: {exc}")
    if not isinstance(raw, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
        _fail(f"--theta-json must be a JSON list of numbers (the 'theta' of fit --json), "
              f"got {text.strip()[:60]!r}")
    if len(raw) != family.n_params:
        _fail(f"--theta-json: {family.id} takes {family.n_params} numbers, got {len(raw)}")
    if not all(math.isfinite(v) for v in raw):
        _fail("--theta-json: numbers must be finite (no NaN or Infinity)")
    return [float(v) for v in raw]


def _cmd_sample(args: argparse.Namespace) -> None:
    if not 1 <= args.n <= MAX_SAMPLE_POINTS:
        _fail(f"--n must be between 1 and {MAX_SAMPLE_POINTS}, got {args.n}")
    seed = check_seed(args.seed)
    family = get_family(args.family)
    theta = _parse_theta(args.theta_json, family)
    _load_target(args)  # an unknown or broken target is an error, as in `fit`
    with np.errstate(all="ignore"):  # absurd scales overflow: said below, in one line
        points = family.sample(theta, args.n, np.random.default_rng(seed))
        log_q = family.log_density(theta, points[:, 0], points[:, 1])
    if not (np.all(np.isfinite(points)) and np.all(np.isfinite(log_q))):
        _fail(f"theta gives {family.id} non-finite draws or log q (are the scales absurd?)")
    if args.json:
        _print_json({"points": points.tolist(), "log_q": log_q.tolist()})
        return
    print(_table([[f"{x:.6f}", f"{y:.6f}", f"{lq:.6f}"]
                  for (x, y), lq in zip(points.tolist(), log_q.tolist(), strict=True)],
                 ["x", "y", "log_q"]))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e-3 and v != 0 else f"{v:.6f}"
    return str(v)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m vi_core``."""
    parser = _Parser(prog="python -m vi_core",
                     description="Variational inference in 2D: targets, families, fits.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("targets", help="list the built-in targets")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=_cmd_targets)
    p = sub.add_parser("families", help="list the approximating families")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=_cmd_families)
    p = sub.add_parser("fit", help="fit a family to a target (maximise the ELBO)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--target", help="built-in target id (see `targets`)")
    src.add_argument("--target-file", help="Python file defining log_density(x, y)")
    p.add_argument("--family", required=True, help="family id (see `families`)")
    p.add_argument("--optimizer", default="lbfgs",
                   help="gradient-ascent, adam or lbfgs (default)")
    p.add_argument("--objective", default="reverse-kl", choices=OBJECTIVES,
                   help="what to minimise: reverse-kl = KL(q||p), maximising the ELBO "
                        "(default, the only one that gives the bound); forward-kl = KL(p||q); "
                        "alpha = the Renyi divergence D_A(p||q) (needs --alpha)")
    p.add_argument("--alpha", type=float, default=None, metavar="A",
                   help="the Renyi order A for --objective alpha (0.05..20, not 1)")
    # Every optimizer is deterministic: the seed is only for the diagnostics' draws from q.
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the draws from the fitted q for k-hat, ESS and the IW-ELBO "
                        "(default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_fit)
    p = sub.add_parser("sample", help="draw points from q at given parameters")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--target", help="built-in target id (see `targets`)")
    src.add_argument("--target-file", help="Python file defining log_density(x, y)")
    p.add_argument("--family", required=True, help="family id (see `families`)")
    p.add_argument("--theta-json", required=True, metavar="JSON",
                   help="q's unconstrained parameters as a JSON list: the 'theta' of fit --json")
    p.add_argument("--n", type=int, default=1000,
                   help=f"number of points, 1..{MAX_SAMPLE_POINTS} (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true",
                   help='print {"points": [[x, y], ...], "log_q": [...]}')
    p.set_defaults(func=_cmd_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, or 2 on bad input)."""
    args = build_parser().parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # k̂, ±: never a UnicodeEncodeError on a narrow console
        sys.stdout.reconfigure(errors="replace")
    try:
        args.func(args)
    except VIError as exc:
        _fail(str(exc))
    except BrokenPipeError:  # e.g. `| head`: not an error worth a traceback
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
