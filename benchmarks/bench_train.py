"""Benchmark: `steer train` wall time with the environments in-process and on 1 or 2 Ray workers.

Writes ``benchmarks/results/train.json``::

    .venv/bin/python benchmarks/bench_train.py [--timesteps 8192] [--envs 4]

MaskablePPO (the defaults of ``steer train``: 256 steps per environment per
rollout, 4 epochs of batches of 64) on the demo experiment, seed 0, one
evaluation night at the end. Three ways of stepping the ``--envs``
environments: SB3's ``DummyVecEnv`` in the learner's process, and
``RayVecEnv`` with 1 and with 2 workers on an embedded local Ray. For each:
the wall time of ``train()``, env steps per second, and the seconds spent
waiting for the environments (``reset``/``step_wait``, Ray round trips
included): the rest is the learner (policy forward passes, PPO updates), which
runs in the driver whatever the number of workers. The three models must be
identical (the same seeds give the same training); the script checks it.

Run it with nothing else busy: it uses both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _timed(cls: type) -> type:
    """``cls`` with the seconds spent in ``reset`` and ``step_wait`` counted."""

    class Timed(cls):  # type: ignore[misc, valid-type]
        env_s = 0.0

        def reset(self):  # noqa: ANN202
            t0 = time.perf_counter()
            try:
                return super().reset()
            finally:
                Timed.env_s += time.perf_counter() - t0

        def step_wait(self):  # noqa: ANN202
            t0 = time.perf_counter()
            try:
                return super().step_wait()
            finally:
                Timed.env_s += time.perf_counter() - t0

    return Timed


def _run(mode: str, timesteps: int, envs: int, out: Path) -> dict:
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from steer.config import load_experiment
    from steer.policies.rl_net import load_model
    from steer.policies.rl_ray import RayVecEnv
    from steer.policies.rl_train import FlatActions, train
    from steer.ray_setup import init_ray, shutdown_ray
    from steer.session import make_env

    cfg = load_experiment(REPO / "experiments" / "demo.toml")
    ray = None
    if mode == "in-process":
        cls = _timed(DummyVecEnv)

        def make_vec(n: int):  # noqa: ANN202
            return cls([lambda: FlatActions(make_env(cfg)) for _ in range(n)])
    else:
        workers = int(mode.split()[1])
        ray = init_ray(None, workers)
        cls = _timed(RayVecEnv)

        def make_vec(n: int):  # noqa: ANN202
            return cls(cfg.source_text, cfg.source_path, n, workers, ray)
    cls.env_s = 0.0
    t0 = time.perf_counter()
    try:
        res = train(lambda: make_env(cfg), timesteps=timesteps, seed=0, envs=envs,
                    eval_seeds=[cfg.seed], eval_every=10 * timesteps, out_dir=out,
                    log=lambda m, s: None, on_progress=lambda s, e: None, make_vec=make_vec)
    finally:
        if ray is not None:
            shutdown_ray(ray)
    wall = time.perf_counter() - t0
    weights = torch.cat([p.flatten() for p in load_model(res.model_dir).state_dict().values()])
    return {"mode": mode, "timesteps": res.timesteps, "wall_s": wall,
            "env_steps_per_s": res.steps_per_s, "env_wait_s": cls.env_s,
            "learner_s": wall - cls.env_s, "final_eval": res.evaluations[-1],
            "weights_sum": float(weights.double().sum())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timesteps", type=int, default=8192)
    ap.add_argument("--envs", type=int, default=4)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "train.json"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from steer.session import set_threads

    set_threads(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="steer-bench-train-") as tmp:
        for mode in ("in-process", "ray 1", "ray 2"):
            r = _run(mode, args.timesteps, args.envs, Path(tmp) / mode.replace(" ", "-"))
            rows.append(r)
            print(f"{mode:>10}: {r['timesteps']} steps in {r['wall_s']:.1f} s "
                  f"({r['env_steps_per_s']:.0f} env steps/s), waiting for the environments "
                  f"{r['env_wait_s']:.1f} s, learner {r['learner_s']:.1f} s", flush=True)
    same = len({r["weights_sum"] for r in rows}) == 1 and len(
        {json.dumps(r["final_eval"], sort_keys=True) for r in rows}) == 1
    base = rows[0]["wall_s"]
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "torch_threads": 1},
              "timesteps": args.timesteps, "envs": args.envs, "runs": rows,
              "identical_models": same,
              "speedup_vs_in_process": {r["mode"]: base / r["wall_s"] for r in rows},
              "speedup_2_vs_1_worker": rows[1]["wall_s"] / rows[2]["wall_s"]}
    print(f"identical models: {same}; 2 workers vs 1: "
          f"{result['speedup_2_vs_1_worker']:.2f}x; vs in-process: "
          f"{result['speedup_vs_in_process']['ray 2']:.2f}x")
    Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
