"""Benchmark: batches of ``q`` candidates at catalog scale (several instruments at once).

``bo-pool`` on ``steer/CandidatePool-v0`` (Hartmann6 over ``N`` candidates,
noise 0.05, per-candidate costs, 20% infeasible, as ``experiments/pool.toml``)
with the same measurement budget spent four ways:

* ``sequential``: one candidate per round (``q = 1``): the most informed, and
  the slowest in rounds;
* ``believer``: ``q`` per round from :meth:`BOPoolPolicy.suggest_batch`
  (each pick conditioned on the earlier ones by the kriging believer);
* ``top-q``: ``q`` per round, the ``q`` best candidates by acquisition with
  no pending points (what one gets without batch support);
* ``random``: ``random-pool``, ``q`` per round.

A round's candidates are measured one after the other (``env.step``); their
results reach the policy only after the round. For each strategy and seed
it reports the true simple regret after every measurement (its median per
strategy at checkpoints, and paired differences after half the budget and at
the end), the rounds used and the seconds per batch decision::

    .venv/bin/python benchmarks/bench_pool_batch.py [--seeds 10] [--q 4] [--size 100000]
        [--budget 60] [--quick]

writes ``benchmarks/results/pool_batch.json`` (``pool_batch-quick.json``
with ``--quick``: 2 seeds, 10,000 candidates) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

STRATEGIES = ("sequential", "believer", "top-q", "random")


def run_one(strategy: str, seed: int, q: int, size: int, budget: int) -> dict[str, Any]:
    """One strategy, one seed: spend the budget in rounds of ``q`` (1 for sequential)."""
    from steer.envs.pool import CandidatePoolEnv
    from steer.policies import make_policy

    env = CandidatePoolEnv("hartmann6", pool_size=size, noise_std=0.05, budget=budget,
                           cost_per_eval_s=30.0, cost_spread=1.0, infeasible_fraction=0.2)
    obs, info = env.reset(seed=seed)
    policy = make_policy("random-pool" if strategy == "random" else "bo-pool")
    from steer.loop import start_policy
    start_policy(policy, env, seed)
    per_round = 1 if strategy == "sequential" else q
    rounds, decide_s, regret = 0, [], []
    done = False
    while not done:
        t0 = time.perf_counter()
        if strategy == "believer":
            props = policy.suggest_batch(obs, info, per_round)
        else:
            props = policy.suggest(obs, info, per_round)
        decide_s.append(time.perf_counter() - t0)
        rounds += 1
        results = []
        for p in props:
            if done:
                policy.ingest(p.action, None, float("nan"))  # never measured
                continue
            obs, reward, done, _, info = env.step(p.action.index)
            results.append((p.action, dict(info), reward))
            regret.append(float(info["simple_regret"]))
        for action, inf, reward in results:  # the round's results arrive together
            policy.ingest(action, inf, reward)
    return {"seed": seed, "final_simple_regret": regret[-1], "rounds": rounds,
            "measurements": len(regret), "regret_trace": regret,
            "decide_s_mean": float(np.mean(decide_s)),
            "decide_s_p95": float(np.percentile(decide_s, 95))}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    r = np.array([x["final_simple_regret"] for x in runs])
    return {"median": float(np.median(r)), "q25": float(np.percentile(r, 25)),
            "q75": float(np.percentile(r, 75)), "mean": float(r.mean()),
            "rounds": float(np.mean([x["rounds"] for x in runs])),
            "decide_s_mean": float(np.mean([x["decide_s_mean"] for x in runs])),
            "decide_s_p95": float(np.max([x["decide_s_p95"] for x in runs]))}


def _paired(a: list[dict[str, Any]], b: list[dict[str, Any]], at: int) -> dict[str, float]:
    """Mean paired difference of regret after ``at`` measurements (a - b), Student-t 95%."""
    from steer.stats import paired_diff_ci95

    ra = np.array([x["regret_trace"][at - 1] for x in a])
    rb = np.array([y["regret_trace"][at - 1] for y in b])
    mean, lo, hi = paired_diff_ci95(ra, rb)
    return {"mean": mean, "lo": lo, "hi": hi, "a_better": int((ra < rb).sum()),
            "seeds": len(ra)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--q", type=int, default=4)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--budget", type=int, default=60)
    ap.add_argument("--quick", action="store_true", help="2 seeds, 10,000 candidates")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.quick:
        args.seeds, args.size = 2, 10_000
    out_path = Path(args.out or ("benchmarks/results/pool_batch-quick.json" if args.quick
                                 else "benchmarks/results/pool_batch.json"))
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in STRATEGIES}
    t_all = time.perf_counter()
    for seed in range(args.seeds):
        for s in STRATEGIES:  # interleaved: machine load affects every strategy alike
            res = run_one(s, seed, args.q, args.size, args.budget)
            runs[s].append(res)
            print(f"seed {seed:2d} {s:>10}: regret {res['final_simple_regret']:.4f} in "
                  f"{res['rounds']} rounds, {res['decide_s_mean']:.3f} s per decision", flush=True)
    summary = {s: _summary(runs[s]) for s in STRATEGIES}
    checkpoints = list(range(args.q, args.budget + 1, args.q))
    for s in STRATEGIES:
        traces = np.array([r["regret_trace"] for r in runs[s]])
        summary[s]["median_regret_after"] = {str(k): float(np.median(traces[:, k - 1]))
                                             for k in checkpoints}
    half = checkpoints[len(checkpoints) // 2 - 1]
    paired = {f"believer - {s} after {at}": _paired(runs["believer"], runs[s], at)
              for at in (half, args.budget) for s in ("sequential", "top-q", "random")}
    print(f"\n{'strategy':>10} {'median':>8} {'q25':>8} {'q75':>8} {'rounds':>6} {'s/decision':>10}")
    for s in STRATEGIES:
        m = summary[s]
        print(f"{s:>10} {m['median']:8.4f} {m['q25']:8.4f} {m['q75']:8.4f} {m['rounds']:6.0f} "
              f"{m['decide_s_mean']:10.3f}")
    shown = checkpoints[1::max(1, len(checkpoints) // 8)]
    print("\nmedian regret after n measurements")
    print(f"{'n':>10} " + " ".join(f"{k:>6d}" for k in shown))
    for s in STRATEGIES:
        m = summary[s]["median_regret_after"]
        print(f"{s:>10} " + " ".join(f"{m[str(k)]:6.3f}" for k in shown))
    for k, v in paired.items():
        print(f"{k}: {v['mean']:+.4f} [{v['lo']:+.4f}, {v['hi']:+.4f}], believer better in "
              f"{v['a_better']}/{v['seeds']}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({
        "benchmark": "pool_batch", "command": " ".join(["benchmarks/bench_pool_batch.py",
                                                        *sys.argv[1:]]),
        "q": args.q, "size": args.size, "budget": args.budget, "seeds": args.seeds,
        "env": "CandidatePool-v0 hartmann6, noise 0.05, cost 30 s +-50%, 20% infeasible",
        "summary": summary, "paired_final_regret": paired, "runs": runs,
        "total_wall_s": time.perf_counter() - t_all, "python": sys.version.split()[0],
        "machine": platform.machine(), "when_unix": time.time()}, indent=2))
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
