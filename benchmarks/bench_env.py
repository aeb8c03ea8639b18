"""Benchmark: environment throughput for training, and the rl network's cost per decision.

Writes ``benchmarks/results/env.json``::

    .venv/bin/python benchmarks/bench_env.py [--targets 150] [--episodes 40]

* ``env``: ``steer/TargetSelection-v0`` (the demo experiment's settings, with
  ``--targets`` targets) stepped with uniformly random feasible actions on one
  thread: env steps per second including resets, and without them (only
  ``reset()`` and ``step()`` are timed, not the random agent).
* ``net``: the rl policy's deep-set network (untrained weights: the cost does
  not depend on them), one forward pass per decision at 150, 1,000 and 10,000
  targets, milliseconds.

One process, one torch thread. Run it with nothing else busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _env_rate(targets: int, episodes: int) -> dict[str, float]:
    from steer.config import load_experiment
    from steer.session import make_env

    cfg = load_experiment(REPO / "experiments" / "demo.toml")
    cfg = replace(cfg, env_kwargs={**cfg.env_kwargs, "n_targets": targets})
    env = make_env(cfg)
    rng = np.random.default_rng(0)
    steps, step_s, reset_s = 0, 0.0, 0.0
    clock = time.perf_counter
    for ep in range(episodes):  # only reset() and step() are timed, not the random agent
        t0 = clock()
        _, info = env.reset(seed=10_000 + ep)
        reset_s += clock() - t0
        done = False
        while not done:
            m = np.flatnonzero(info["action_mask"])
            a = (int(m[rng.integers(len(m))]) if len(m) else 0, int(rng.integers(3)))
            t0 = clock()
            _, _, term, trunc, info = env.step(a)
            step_s += clock() - t0
            steps += 1
            done = term or trunc
    env.close()
    return {"targets": targets, "episodes": episodes, "steps": steps,
            "steps_per_s": steps / (step_s + reset_s), "steps_per_s_without_resets":
            steps / step_s, "reset_ms": 1000 * reset_s / episodes}


def _net_ms(sizes: list[int]) -> list[dict[str, float]]:
    import torch

    from steer.envs.night_features import GLOBAL_FEATURES, TARGET_FEATURES
    from steer.policies.rl_net import NetConfig, SetScorer

    net = SetScorer(NetConfig(TARGET_FEATURES, GLOBAL_FEATURES, (30.0, 60.0, 120.0))).eval()
    out = []
    for n in sizes:
        t = torch.rand(1, n, len(TARGET_FEATURES))
        g = torch.rand(1, len(GLOBAL_FEATURES))
        with torch.no_grad():
            net(t, g)
            runs = []
            for _ in range(20):
                t0 = time.perf_counter()
                net(t, g)
                runs.append(time.perf_counter() - t0)
        out.append({"targets": n, "forward_ms_median": 1000 * float(np.median(runs))})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=150)
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "env.json"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    env = _env_rate(args.targets, args.episodes)
    print(f"env: {env['steps_per_s']:.0f} steps/s with resets, "
          f"{env['steps_per_s_without_resets']:.0f} without ({env['targets']} targets, "
          f"reset {env['reset_ms']:.0f} ms)", flush=True)
    net = _net_ms([150, 1000, 10000])
    for r in net:
        print(f"rl network forward, {r['targets']} targets: {r['forward_ms_median']:.2f} ms")
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "torch_threads": 1}, "env": env, "net": net}
    Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
