"""Command line: ``python -m vi_core {targets,families,fit} ...``.

    python -m vi_core targets [--json]
    python -m vi_core families [--json]
    python -m vi_core fit (--target ID | --target-file PATH) --family ID [--optimizer ID]
                          [--json]

``fit --json`` prints one JSON object (``FitResult.to_dict()``); without ``--json`` a table.
Bad input exits with status 2 and a one-line message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from vi_core.custom_target import target_from_source
from vi_core.errors import VIError
from vi_core.families import MAX_COMPONENTS, family_ids, get_family
from vi_core.fit import fit
from vi_core.optimize import OPTIMIZERS
from vi_core.targets import get_target, target_ids

EXIT_USAGE = 2


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
    result = fit(target, family, args.optimizer)
    out = result.to_dict()
    if args.json:
        _print_json(out)
        return
    rows = [[k, _fmt(out[k])] for k in (
        "target", "family", "optimizer", "elbo", "expected_log_density", "entropy", "log_z",
        "kl", "elbo_error", "log_z_error", "iterations", "n_evals", "seconds", "converged",
        "grad_norm", "message")]
    print(_table(rows, ["quantity", "value"]))
    p = out["params"]
    print()
    print(_table([[str(i), f"{w:.6f}", f"({m[0]:.6f}, {m[1]:.6f})", f"({s[0]:.6f}, {s[1]:.6f})",
                   f"{r:+.6f}"]
                  for i, (w, m, s, r) in enumerate(zip(p["weights"], p["means"], p["scales"],
                                                       p["correlations"], strict=True))],
                 ["k", "weight", "mean", "scales", "rho"]))


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
    # Accepted so that command lines written for vi_core 0.1 still run; every optimizer is
    # deterministic, so there is nothing to seed and the value is ignored.
    p.add_argument("--seed", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_fit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, or 2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except VIError as exc:
        _fail(str(exc))
    except BrokenPipeError:  # e.g. `| head`: not an error worth a traceback
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
