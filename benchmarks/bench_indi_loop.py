"""Benchmark: a closed loop on a real INDI server, photometry against the simulated truth.

Runs ``experiments/indi-sim.toml`` (25 decisions, its own indiserver with the
telescope, CCD and focuser simulators) for each policy and reports, from the
journal and the driver's photometry log (which holds the served truth and is
never given to policies):

* the measured magnitude minus the true one: median, robust scatter
  (1.4826 x MAD), and how many targets were measured;
* seconds per decision split into policy (suggest), pointing (SYNC/slew),
  exposure to decoded FITS (and of it, transfer past the compressed exposure)
  and photometry.

Writes ``benchmarks/results/indi_loop.json``::

    .venv/bin/python benchmarks/bench_indi_loop.py [--policies bo,feature]

Needs ``indiserver`` (apt-get install indi-bin). For the MLflow run of the same
loop: ``steer run experiments/indi-sim.toml --policy bo``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="experiments/indi-sim.toml")
    ap.add_argument("--policies", default="bo,feature")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/indi_loop.json")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    from steer.config import load_experiment
    from steer.session import make_env, play, set_threads

    set_threads(1)
    config = load_experiment(args.experiment)
    results = {}
    for policy in args.policies.split(","):
        env = make_env(config)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            res = play(config, policy, args.seed, Path(tmp), env=env)
            records = [json.loads(x) for x in res.journal_path.read_text().splitlines()]
        wall = time.perf_counter() - t0
        log = env.unwrapped.observatory.photometry_log
        meas = [r for r in log if np.isfinite(r["value_mag"])]
        d = np.array([r["value_mag"] - r["true_mag"] for r in meas])
        ok = [r for r in records if r["status"] == "ok"]

        def med(values: list[float]) -> float:
            return float(np.median(values)) if values else float("nan")

        results[policy] = {
            "decisions": len(ok), "statuses": {s: sum(r["status"] == s for r in records)
                                               for s in {r["status"] for r in records}},
            "wall_s": wall, "measured": len(meas), "exposures": len(log),
            "dmag_median": med(list(d)),
            "dmag_robust_sigma": float(1.4826 * np.median(np.abs(d - np.median(d))))
            if len(d) else float("nan"),
            "dmag_max_abs": float(np.abs(d).max()) if len(d) else float("nan"),
            "reported_error_median": med([r["error_mag"] for r in meas]),
            "seconds_per_decision_median": {
                "policy": med([r["timings_s"]["suggest"] for r in ok]),
                "pointing": med([r["wall_point_s"] for r in log]),
                "exposure_to_fits": med([r["wall_expose_s"] for r in log]),
                "transfer": med([r["wall_transfer_s"] for r in log]),
                "photometry": med([r["wall_photometry_s"] for r in log]),
                "execute_total": med([r["timings_s"]["execute"] for r in ok]),
            },
        }
        r = results[policy]
        sp = r["seconds_per_decision_median"]
        print(f"{policy:>8}: {r['decisions']} decisions {r['statuses']}, measured "
              f"{r['measured']}/{r['exposures']}, dmag median {r['dmag_median']:+.3f} "
              f"robust sigma {r['dmag_robust_sigma']:.3f} (max {r['dmag_max_abs']:.2f}); "
              f"s/decision: policy {sp['policy']:.3f} pointing {sp['pointing']:.3f} "
              f"exposure {sp['exposure_to_fits']:.3f} (transfer {sp['transfer']:.3f}) "
              f"photometry {sp['photometry']:.3f}; wall {wall:.1f} s", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"experiment": args.experiment, "seed": args.seed,
                                          "results": results, "when_unix": time.time()},
                                         indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
