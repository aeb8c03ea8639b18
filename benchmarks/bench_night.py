"""Benchmark: wall time of one simulated night and ms per decision, per policy.

Runs each policy for one whole clear night (1,000 targets by default) through
the real closed loop (journal included) and writes JSON to
``benchmarks/results/night.json``::

    .venv/bin/python benchmarks/bench_night.py [--experiment experiments/full-night.toml]
        [--policies feature,greedy,round-robin,random,bo] [--seed 0]

Run it with nothing else busy on the machine: it measures time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="experiments/full-night.toml")
    ap.add_argument("--policies", default="feature,greedy,round-robin,random,bo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cloudiness", type=float, default=0.0,
                    help="weather of the benchmark night (default 0: clear, most decisions)")
    ap.add_argument("--out", default="benchmarks/results/night.json")
    args = ap.parse_args()

    from steer.config import load_experiment
    from steer.session import play, set_threads

    set_threads(1)
    config = load_experiment(args.experiment)
    config = dataclasses.replace(config, env_kwargs={**config.env_kwargs,
                                                     "cloudiness": args.cloudiness})
    results = {}
    for policy in args.policies.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = play(config, policy, args.seed, Path(tmp))
            wall = time.perf_counter() - t0
        ms = np.asarray(res.episode.decision_ms)
        m = res.episode.metrics
        results[policy] = {
            "play_wall_s": wall, "night_sim_s": res.episode.wall_s,
            "metrics_s": res.episode.metrics["metrics_s"], "decisions": len(ms),
            "decision_ms_p50": float(np.percentile(ms, 50)),
            "decision_ms_p95": float(np.percentile(ms, 95)),
            "science_score": m["science_score"], "visits": m["visits"],
            "open_shutter_fraction": m["open_shutter_fraction"],
        }
        print(f"{policy:>12}: night simulated in {res.episode.wall_s:6.2f} s (scoring "
              f"{res.episode.metrics['metrics_s']:.2f} s, all-in {wall:.2f} s), "
              f"{len(ms)} decisions, ms/decision "
              f"p50 {results[policy]['decision_ms_p50']:.2f} p95 "
              f"{results[policy]['decision_ms_p95']:.2f}", flush=True)
    out = {"experiment": args.experiment, "seed": args.seed, "cloudiness": args.cloudiness,
           "n_targets":
           config.env_kwargs.get("n_targets"), "python": sys.version.split()[0],
           "machine": platform.machine(), "results": results,
           "when_unix": time.time()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
