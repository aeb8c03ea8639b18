"""Benchmark: the improved ``bo`` (v3) against the previous one (v2) and ``feature``.

Runs each variant on the same seeded nights of an experiment through the real
closed loop (journal included) and reports the science metrics with paired
differences and their 95% intervals (Student t over seeds)::

    .venv/bin/python benchmarks/bench_bo_versions.py [--experiment experiments/demo.toml]
        [--seeds 10] [--first-seed 0] [--out benchmarks/results/bo_versions.json]

The variants are ``bo`` with its defaults (v3: Bayesian model averaging over
light-curve time scales), ``bo`` with ``lengthscales_d = []`` (v2: one fixed
time scale, exactly the previous decisions) and ``feature`` (the tuned
Rubin-style scheduler). The v3 defaults were chosen on seeds 20-24, not on the
seeds this benchmark reports by default.
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

VARIANTS: dict[str, tuple[str, dict]] = {
    "bo-v3": ("bo", {}),
    "bo-v2": ("bo", {"lengthscales_d": []}),
    "feature": ("feature", {}),
}
METRICS = ("science_score", "lc_rmse_mag", "frac_characterised", "visits")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="experiments/demo.toml")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/bo_versions.json")
    args = ap.parse_args()

    from steer.config import load_experiment
    from steer.session import play, set_threads
    from steer.stats import mean_ci95, paired_diff_ci95

    set_threads(1)
    base = load_experiment(args.experiment)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    per_seed: dict[str, dict[str, list[float]]] = {}
    timing: dict[str, list[float]] = {}
    for name, (policy, params) in VARIANTS.items():
        config = dataclasses.replace(
            base, policy_kwargs={**base.policy_kwargs,
                                 policy: {**base.policy_params(policy), **params}})
        per_seed[name] = {m: [] for m in METRICS}
        timing[name] = []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                res = play(config, policy, seed, Path(tmp))
            m = res.episode.metrics
            for k in METRICS:
                per_seed[name][k].append(float(m[k]))
            timing[name].append(float(m["decision_ms_p50"]))
            print(f"{name:>8} seed {seed}: science {m['science_score']:.3f}, lc_rmse "
                  f"{m['lc_rmse_mag']:.4f}, characterised {m['frac_characterised']:.3f}, "
                  f"{res.episode.wall_s:.1f} s", flush=True)
    summary = {name: {k: dict(zip(("mean", "ci_low", "ci_high"), mean_ci95(v), strict=True))
                      for k, v in d.items()} for name, d in per_seed.items()}
    paired = {}
    for other in ("bo-v2", "feature"):
        paired[f"bo-v3 - {other}"] = {
            k: dict(zip(("mean", "ci_low", "ci_high"),
                        paired_diff_ci95(per_seed["bo-v3"][k], per_seed[other][k]), strict=True))
            for k in METRICS}
    for pair, d in paired.items():
        print(f"{pair}: " + ", ".join(f"{k} {v['mean']:+.3f} [{v['ci_low']:+.3f}, "
                                      f"{v['ci_high']:+.3f}]" for k, v in d.items()))
    out = {"benchmark": "bo_versions", "experiment": args.experiment, "seeds": seeds,
           "variants": {k: {"policy": p, "params": q} for k, (p, q) in VARIANTS.items()},
           "per_seed": per_seed, "summary": summary, "paired_95ci": paired,
           "decision_ms_p50_mean": {k: sum(v) / len(v) for k, v in timing.items()},
           "python": sys.version.split()[0], "machine": platform.machine(),
           "when_unix": time.time()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
