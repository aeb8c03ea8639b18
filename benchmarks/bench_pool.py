"""Benchmark: the ``bo-pool`` policy in the real closed loop at catalog scale.

Where ``bench_latency.py`` times the engine alone, this runs the policy end to
end on ``steer/CandidatePool-v0`` (Hartmann6 over a pool of ``N`` candidates,
noise 0.05, per-candidate costs, 20% infeasible) through
:func:`steer.loop.run_episode` with a real journal, for ``--budget``
decisions, so the latency includes everything a decision costs: hyperparameter
refits (BoTorch, warm-started, geometric schedule), posterior rebuilds,
rank-one updates, BoTorch's LogEI over every candidate and the top-k. Each N
runs in its own process (one torch thread) so its peak memory is its own.
``random-pool`` runs on the same pool and seed as the reference for regret.

Writes ``benchmarks/results/pool.json``::

    .venv/bin/python benchmarks/bench_pool.py [--sizes 10000,100000] [--budget 1000]
    .venv/bin/python benchmarks/bench_pool.py --sizes 1000000 --budget 400 \
        --out benchmarks/results/pool_1m.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _buckets(ms: np.ndarray, n_obs: np.ndarray, budget: int) -> dict:
    """Decision seconds p50/p95 per range of observations (flat = no slowdown as data grow)."""
    edges = sorted({0, min(100, budget), budget // 4, budget // 2, budget})
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (n_obs >= lo) & (n_obs < hi) if len(ms) == len(n_obs) else np.zeros(0, bool)
        if sel.any():
            out[f"{lo}-{hi}"] = {"p50_s": float(np.percentile(ms[sel], 50) / 1e3),
                                 "p95_s": float(np.percentile(ms[sel], 95) / 1e3),
                                 "decisions": int(sel.sum())}
    return out


def _one(n_cand: int, budget: int, seed: int) -> dict:
    from steer.envs.pool import CandidatePoolEnv
    from steer.loop import run_episode
    from steer.policies import make_policy
    from steer.records import Journal
    from steer.session import set_threads

    set_threads(1)
    kwargs = {"function": "hartmann6", "pool_size": n_cand, "noise_std": 0.05,
              "budget": budget, "cost_spread": 1.0, "infeasible_fraction": 0.2}
    out: dict = {"N": n_cand, "budget": budget, "seed": seed, "env": kwargs}
    for name in ("bo-pool", "random-pool"):
        env = CandidatePoolEnv(**kwargs)
        with tempfile.TemporaryDirectory() as tmp:
            journal = Journal(Path(tmp) / "j.jsonl")
            t0 = time.perf_counter()
            res = run_episode(env, make_policy(name), seed, [journal], name)
            wall = time.perf_counter() - t0
            journal.close()
        row = {"simple_regret": res.metrics["simple_regret"], "wall_s": wall,
               "instrument_s": res.metrics["elapsed_s"]}
        if name == "bo-pool":
            ms = np.asarray(res.decision_ms)
            ok = [r for r in res.records if r.status == "ok"]
            why = [r.proposal["explanation"] for r in ok]
            n_obs = np.array([w.get("n_observations", 0) for w in why])
            late = ms[: len(ok)][n_obs >= 0.9 * budget] if len(ok) == len(ms) else ms[-budget // 10:]
            refits = [w["fit_s"] for w in why if w.get("fit_s", 0) > 0]
            row.update({
                "decision_s_p50": float(np.percentile(ms, 50) / 1e3),
                "decision_s_p95": float(np.percentile(ms, 95) / 1e3),
                "decision_s_max": float(ms.max() / 1e3),
                "late_decision_s_p50": float(np.percentile(late, 50) / 1e3),
                "late_decision_s_p95": float(np.percentile(late, 95) / 1e3),
                "late_window": f"n_observations >= {int(0.9 * budget)}",
                "by_n_observations": _buckets(ms, n_obs, budget),
                "refits": len(refits),
                "rebuilds": int(max((w.get("rebuilds", 0) for w in why), default=0)), "refit_s_max": float(max(refits, default=0.0)),
                "refit_s_total": float(sum(refits)),
                "models": sorted({w.get("model") for w in why if w.get("model")}),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
        out[name] = row
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/pool.json")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.budget, args.seed)))
        return 0
    rows = []
    for n_cand in (int(s) for s in args.sizes.split(",")):
        proc = subprocess.run([sys.executable, __file__, "--one", str(n_cand), "--budget",
                               str(args.budget), "--seed", str(args.seed)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        b = row["bo-pool"]
        print(f"N={n_cand:>8}: decision p50 {b['decision_s_p50']:.3f} s p95 "
              f"{b['decision_s_p95']:.3f} s max {b['decision_s_max']:.2f} s | last 10%: p50 "
              f"{b['late_decision_s_p50']:.3f} p95 {b['late_decision_s_p95']:.3f} s | "
              f"{b['refits']} refits, {b['rebuilds']} rebuilds (max {b['refit_s_max']:.1f} s) {b['models']} | peak "
              f"{b['peak_rss_mb']:.0f} MB | regret bo-pool {b['simple_regret']:.4f} vs "
              f"random {row['random-pool']['simple_regret']:.4f}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"benchmark": "pool", "rows": rows,
                                          "python": sys.version.split()[0],
                                          "machine": platform.machine(),
                                          "when_unix": time.time()}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
