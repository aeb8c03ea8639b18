"""Benchmark: ``bo`` (target selection) at catalog scale: latency per decision and peak memory.

For each catalog size it plays the first ``--decisions`` decisions of the
demo night (``experiments/suite/catalog5000.toml`` with ``n_targets`` set;
30 nights of synthetic history, so most targets start with a few
observations) through the real loop, journal included, in a fresh process
(one torch thread) so that the peak resident memory is its own. It reports
the time ``bo`` takes per decision (p50, p95, the p95 over the last tenth
of the decisions: does it grow as observations accumulate?, and the slowest:
a refit of the time scales, every ``refit_every`` decisions), the peak
resident memory, the memory of the GP bank's cached factors and the sizes
they are padded to per target (against the median target's observation count
and the model's ``cap``). Writes
``benchmarks/results/bo_scale.json``::

    .venv/bin/python benchmarks/bench_bo_scale.py [--targets 1000,5000,10000]
        [--decisions 60] [--seed 800]

Run it with nothing else busy: it measures time.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "experiments" / "suite" / "catalog5000.toml"


def _one(n_targets: int, decisions: int, seed: int) -> dict:
    """Play ``decisions`` decisions of ``bo`` on ``n_targets`` targets (in this process)."""
    import dataclasses
    import tempfile

    import numpy as np

    sys.path.insert(0, str(REPO))
    from steer.config import load_experiment
    from steer.session import build_policy, play, set_threads

    set_threads(1)
    config = load_experiment(EXPERIMENT)
    config = dataclasses.replace(config, max_decisions=decisions,
                                 env_kwargs={**config.env_kwargs, "n_targets": n_targets})
    policy = build_policy(config, "bo")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = play(config, "bo", seed, Path(tmp), policy=policy)
    wall = time.perf_counter() - t0
    ms = np.asarray(res.episode.decision_ms)
    bank = policy.bank
    counts = [min(len(o), bank.max_obs) for o in bank.obs]
    sizes = bank._factors.size_of.tolist()
    tail = ms[-max(1, len(ms) // 10):]
    return {"targets": n_targets, "decisions": len(ms), "wall_s": wall,
            "decision_ms_p50": float(np.percentile(ms, 50)),
            "decision_ms_p95": float(np.percentile(ms, 95)),
            "decision_ms_p95_last_tenth": float(np.percentile(tail, 95)),
            "decision_ms_first": float(ms[0]), "decision_ms_max": float(ms.max()),
            "refit_every": policy.refit_every,
            "components": bank.n_l, "cap": int(bank._cap),
            "median_observations": float(np.median(counts)), "max_observations": max(counts),
            "padded_size_median": float(np.median(sizes)), "padded_size_max": max(sizes),
            "bank_cached_mb": bank.cached_bytes() / 2**20,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="1000,5000,10000")
    ap.add_argument("--decisions", type=int, default=60)
    ap.add_argument("--seed", type=int, default=800)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bo_scale.json"))
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:  # a child: one catalog size, JSON on stdout
        print(json.dumps(_one(args.one, args.decisions, args.seed)))
        return 0
    rows = []
    for n in (int(v) for v in args.targets.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--decisions",
                              str(args.decisions), "--seed", str(args.seed)],
                             check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{n:>6} targets: {r['decisions']} decisions, p50 {r['decision_ms_p50']:.0f} ms, "
              f"p95 {r['decision_ms_p95']:.0f} ms (last tenth {r['decision_ms_p95_last_tenth']:.0f}"
              f" ms), max {r['decision_ms_max']:.0f} ms (a refit); cached factors "
              f"{r['bank_cached_mb']:.0f} MB (median target {r['median_observations']:.0f} "
              f"observations, padded to {r['padded_size_median']:.0f}; the model's cap "
              f"{r['cap']}); peak RSS {r['peak_rss_mb']:.0f} MB",
              flush=True)
    Path(args.out).write_text(json.dumps({
        "experiment": str(EXPERIMENT.relative_to(REPO)), "seed": args.seed,
        "python": platform.python_version(), "machine": platform.machine(), "runs": rows},
        indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
