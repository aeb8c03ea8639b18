"""Why a Hartmann6 run ends in the global basin or not: where its initial design's best point is.

For each seed of ``bench_quality.py`` results, rebuilds the optimiser's
initial design (the same ``2 d + 1`` points the run started from: steer's
seeded scrambled Sobol design, or Ax's centre-and-Sobol initialisation with
the run's seed), finds the design point with the best true value, and asks
whether it is nearer the global minimiser of Hartmann6 or its best local one
(f = -3.2032, regret 0.119). It then reports, per optimiser, how often the run
reached the global basin (final simple regret below ``--threshold``) in each
case::

    .venv/bin/python benchmarks/quality_design.py FILE [FILE ...] [--threshold 0.1]
        [--out benchmarks/results/quality-design.json]

Needs Ax for Ax's rows (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_quality import AxRunner  # noqa: E402
from combine_quality import BASIN  # noqa: E402

# the minimiser of Hartmann6's best local optimum (Hartmann 1973), in the unit box; the
# global one is BoTorch's own (Hartmann._optimizers)
LOCAL = np.array([0.40465, 0.88244, 0.84610, 0.57399, 0.13893, 0.03850])


def initial_design(optimizer: str, seed: int, env: Any) -> np.ndarray:
    """The `(2 d + 1) x d` points the optimiser's run of this seed started from."""
    n = 2 * env.dim + 1
    if optimizer.startswith("ax"):
        ax = AxRunner(env.dim, seed)
        points = []
        for _ in range(n):
            x = ax.ask()
            points.append(x)
            ax.tell(x, 0.0, {})
        return np.array(points)
    from steer.loop import start_policy
    from steer.policies import make_policy

    sobol = make_policy("sobol")  # bo-continuous starts from the same seeded design
    start_policy(sobol, env, seed)
    return np.array([sobol.suggest(None, {}, 1)[0].action.as_array() for _ in range(n)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--threshold", type=float, default=BASIN["hartmann6"])
    ap.add_argument("--out", default="benchmarks/results/quality-design.json")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("ax").setLevel(logging.ERROR)
    import gymnasium
    from botorch.test_functions import Hartmann

    import steer.envs  # noqa: F401  (registers the ids)

    global_min = np.asarray(Hartmann(dim=6)._optimizers[0])
    env = gymnasium.make("steer/BlackBox-v0", function="hartmann6", budget=40).unwrapped
    rows: dict[str, list[dict[str, Any]]] = {}
    designs: dict[tuple[str, int], np.ndarray] = {}  # Ax's two rows share one design per seed
    for f in args.files:
        for opt, runs in json.loads(Path(f).read_text())["runs"].get("hartmann6", {}).items():
            family = "ax" if opt.startswith("ax") else "steer"
            for r in runs:
                env.reset(seed=r["seed"])
                key = (family, r["seed"])
                if key not in designs:
                    designs[key] = initial_design(opt, r["seed"], env)
                design = designs[key]
                values = env.regret_of(design)  # Hartmann6 bounds are the unit box
                best = design[int(np.argmin(values))]
                rows.setdefault(opt, []).append({
                    "seed": r["seed"], "regret": r["final_simple_regret"],
                    "global_basin": r["final_simple_regret"] < args.threshold,
                    "best_design_value": float(values.min()),
                    "best_design_to_global": float(np.linalg.norm(best - global_min)),
                    "best_design_to_local": float(np.linalg.norm(best - LOCAL))})
    out: dict[str, Any] = {"benchmark": "Hartmann6: initial design against outcome",
                           "command": " ".join(["benchmarks/quality_design.py", *sys.argv[1:]]),
                           "threshold": args.threshold, "optimizers": {}}
    for opt, rs in sorted(rows.items()):
        near = np.array([r["best_design_to_global"] < r["best_design_to_local"] for r in rs])
        ok = np.array([r["global_basin"] for r in rs])
        summary = {"seeds": len(rs), "design_best_nearer_global": int(near.sum()),
                   "success_when_nearer_global": float(ok[near].mean()) if near.any() else None,
                   "success_when_nearer_local": float(ok[~near].mean()) if (~near).any() else None,
                   "success": float(ok.mean())}
        out["optimizers"][opt] = {"summary": summary, "runs": rs}
        print(f"{opt:>24}: {ok.sum()}/{len(rs)} in the global basin; the design's best point is "
              f"nearer the global minimiser on {near.sum()} seeds: {ok[near].sum()}/{near.sum()} "
              f"succeed, against {ok[~near].sum()}/{(~near).sum()} otherwise")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
