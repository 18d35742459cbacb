"""Benchmark: per target x family, the cost of one ELBO + gradient at the default q, and the
default fit (L-BFGS from ``initial_params``): iterations, seconds, final KL.

    .venv/bin/python bench/bench.py [--targets a,b] [--families x,y] [--markdown]

Not a test; numbers depend on the machine. The fit time includes ``initial_params`` (the
candidate screening), i.e. exactly what ``fit`` and the page's Reset + Optimize cost.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from vi_core.elbo import elbo
from vi_core.families import family_ids, get_family, is_flow_id
from vi_core.fit import fit
from vi_core.starts import initial_params
from vi_core.targets import get_target, target_ids


def _eval_time(target, family, theta, repeat: int = 30) -> tuple[float, int]:
    times = []
    r = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = elbo(target, family, theta)
        times.append(time.perf_counter() - t0)
    assert r is not None
    return float(np.median(times)), r.order


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default=",".join(target_ids()))
    # Flows are fitted by vi_core.flows.fit_flow (the CLI's fit), not vi_core.fit: not here.
    ap.add_argument("--families", default=",".join(f for f in family_ids() if not is_flow_id(f)))
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    header = ["target", "family", "ELBO+grad ms", "GH order", "fit iters", "fit evals",
              "fit s", "KL", "ELBO error"]
    rows = []
    for tid in args.targets.split(","):
        target = get_target(tid)
        for fid in args.families.split(","):
            family = get_family(fid)
            res = fit(target, family)
            ms, order = _eval_time(target, family, initial_params(target, family))
            rows.append([tid, fid, f"{1e3 * ms:.2f}", str(order), str(res.iterations),
                         str(res.n_evals), f"{res.seconds:.3f}", f"{res.kl:.6f}",
                         f"{res.elbo_error:.1e}"])
            if not args.markdown:
                print("  ".join(rows[-1]), flush=True)
    if args.markdown:
        print(f"Python {platform.python_version()}, numpy {np.__version__}, "
              f"{platform.machine()}\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
