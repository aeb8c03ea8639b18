"""Benchmark: optimisation quality on ``steer/BlackBox-v0``: steer vs Ax vs Optuna vs Sobol.

Branin (20 evaluations) and Hartmann6 (40 evaluations), noise-free by default
(``--noise-std`` adds Gaussian noise; regret is always by the true value),
``--seeds`` seeds each (20 by default). For each optimiser it reports the
median and quartiles of the final simple regret (``min_i f(x_i) - f*`` over
the points evaluated) and the mean seconds per suggestion (the ``ask`` call:
model fit included). All optimisers run in one process, one thread, seeds
interleaved so that machine load affects them alike:

* ``bo-continuous``: steer's policy (Sobol design of ``2 d + 1`` points);
* ``ax``: Ax's ``ax.api.Client`` with its default generation strategy
  (``configure_generation_strategy()``: Sobol, then BoTorch's modular BO),
  with the initialisation budget set to the same ``2 d + 1`` points (Ax puts
  the centre of the box among them) and seeded;
* ``optuna``: Optuna's ``TPESampler(seed=...)`` with its defaults (10 random
  start-up trials);
* ``sobol``: steer's ``sobol`` policy (the same design as ``bo-continuous``).

Ax and Optuna are benchmark-only extras (``pip install -e .[bench]``)::

    .venv/bin/python benchmarks/bench_quality.py [--seeds 20] [--quick]
        [--optimizers bo-continuous,ax,optuna,sobol] [--noise-std 0]

writes ``benchmarks/results/quality.json`` (``quality-quick.json`` with
``--quick``: 2 seeds, shorter budgets) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

PROBLEMS = {"branin": 20, "hartmann6": 40}
QUICK_PROBLEMS = {"branin": 10, "hartmann6": 16}
OPTIMIZERS = ("bo-continuous", "ax", "optuna", "sobol")


class SteerRunner:
    """Ask/tell over a steer policy."""

    def __init__(self, name: str, env: Any, seed: int) -> None:
        from steer.policies import make_policy

        self.policy = make_policy(name)
        self.policy.reset(env, seed)
        self.model_based = name == "bo-continuous"

    def ask(self) -> np.ndarray:
        self.last = self.policy.suggest(None, {}, 1)[0]
        return self.last.action.as_array()

    def tell(self, x: np.ndarray, value: float, info: dict[str, Any]) -> None:
        self.policy.ingest(self.last.action, info, -value)


class AxRunner:
    """Ask/tell over ``ax.api.Client`` (default generation strategy, seeded)."""

    def __init__(self, dim: int, seed: int) -> None:
        from ax.api.client import Client
        from ax.api.configs import RangeParameterConfig

        self.names = [f"x{i}" for i in range(dim)]
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=[
            RangeParameterConfig(name=n, parameter_type="float", bounds=(0.0, 1.0))
            for n in self.names])
        self.client.configure_optimization(objective="-f")
        self.client.configure_generation_strategy(initialization_budget=2 * dim + 1,
                                                  initialization_random_seed=seed)

    def ask(self) -> np.ndarray:
        trials = self.client.get_next_trials(max_trials=1)
        (self.index, params), = trials.items()
        return np.array([params[n] for n in self.names], float)

    def tell(self, x: np.ndarray, value: float, info: dict[str, Any]) -> None:
        self.client.complete_trial(trial_index=self.index, raw_data={"f": float(value)})


class OptunaRunner:
    """Ask/tell over an Optuna study with a seeded TPE sampler (defaults otherwise)."""

    def __init__(self, dim: int, seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.dim = dim
        self.study = optuna.create_study(direction="minimize",
                                         sampler=optuna.samplers.TPESampler(seed=seed))

    def ask(self) -> np.ndarray:
        self.trial = self.study.ask()
        return np.array([self.trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(self.dim)])

    def tell(self, x: np.ndarray, value: float, info: dict[str, Any]) -> None:
        self.study.tell(self.trial, float(value))


def run_one(optimizer: str, function: str, budget: int, seed: int,
            noise_std: float) -> dict[str, Any]:
    """One optimiser, one problem, one seed: final regret and time per suggestion."""
    import gymnasium

    import steer.envs  # noqa: F401  (registers the ids)

    env = gymnasium.make("steer/BlackBox-v0", function=function, budget=budget,
                         noise_std=noise_std).unwrapped
    obs, info = env.reset(seed=seed)
    if optimizer == "ax":
        runner: Any = AxRunner(env.dim, seed)
    elif optimizer == "optuna":
        runner = OptunaRunner(env.dim, seed)
    else:
        runner = SteerRunner(optimizer, env, seed)
    ask_s, tell_s, regret = [], [], []
    t_start = time.perf_counter()
    done = False
    while not done:
        t0 = time.perf_counter()
        x = runner.ask()
        ask_s.append(time.perf_counter() - t0)
        obs, _, done, _, info = env.step(np.clip(x, 0.0, 1.0))
        t1 = time.perf_counter()
        runner.tell(x, info["value"], info)
        tell_s.append(time.perf_counter() - t1)
        regret.append(info["simple_regret"])
    init = 2 * env.dim + 1
    return {"final_simple_regret": regret[-1], "final_incumbent_regret": info["incumbent_regret"],
            "regret_trace": regret, "ask_s": ask_s, "tell_s": tell_s,
            "mean_ask_s": float(np.mean(ask_s)),
            "mean_ask_s_after_init": float(np.mean(ask_s[init:])) if budget > init else None,
            "wall_s": time.perf_counter() - t_start}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    r = np.array([x["final_simple_regret"] for x in runs])
    after = [x["mean_ask_s_after_init"] for x in runs if x["mean_ask_s_after_init"] is not None]
    return {"median": float(np.median(r)), "q25": float(np.percentile(r, 25)),
            "q75": float(np.percentile(r, 75)), "mean": float(np.mean(r)),
            "mean_s_per_suggestion": float(np.mean([x["mean_ask_s"] for x in runs])),
            "mean_s_per_suggestion_after_init": float(np.mean(after)) if after else None,
            "seeds": len(runs)}


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds per problem (default 20)")
    ap.add_argument("--quick", action="store_true",
                    help="2 seeds, Branin 10 and Hartmann6 16 evaluations (a smoke run)")
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    ap.add_argument("--noise-std", type=float, default=0.0,
                    help="measurement noise std in the function's units (default 0)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    for name in ("ax", "botorch", "gpytorch", "optuna", "pyro"):
        logging.getLogger(name).setLevel(logging.ERROR)

    problems = QUICK_PROBLEMS if args.quick else PROBLEMS
    seeds = list(range(2 if args.quick else args.seeds))
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    unknown = sorted(set(optimizers) - set(OPTIMIZERS))
    if unknown:
        ap.error(f"unknown optimizers {unknown}; choose from {', '.join(OPTIMIZERS)}")
    out_path = Path(args.out or ("benchmarks/results/quality-quick.json" if args.quick
                                 else "benchmarks/results/quality.json"))
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        p: {o: [] for o in optimizers} for p in problems}
    t0 = time.perf_counter()
    for function, budget in problems.items():
        for seed in seeds:
            for opt in optimizers:  # interleaved: load drift hits every optimiser alike
                res = run_one(opt, function, budget, seed, args.noise_std)
                runs[function][opt].append({"seed": seed, **res})
                print(f"{function:>9} seed {seed:2d} {opt:>13}: regret "
                      f"{res['final_simple_regret']:.4g}, {res['mean_ask_s']:.3f} s/suggestion",
                      flush=True)
    summary = {p: {o: summarise(runs[p][o]) for o in optimizers} for p in problems}
    print()
    print(f"{'problem':>9} {'evals':>5} {'optimizer':>13} {'median':>10} {'q25':>10} "
          f"{'q75':>10} {'s/sugg':>8} {'s/sugg BO':>9}")
    for p, budget in problems.items():
        for o in optimizers:
            s = summary[p][o]
            after = s["mean_s_per_suggestion_after_init"]
            print(f"{p:>9} {budget:>5} {o:>13} {s['median']:>10.4g} {s['q25']:>10.4g} "
                  f"{s['q75']:>10.4g} {s['mean_s_per_suggestion']:>8.3f} "
                  f"{after if after is not None else float('nan'):>9.3f}")
    out = {"benchmark": "quality", "problems": problems, "seeds": seeds,
           "noise_std": args.noise_std, "regret": "simple regret min_i f(x_i) - f* (true values)",
           "s_per_suggestion": "mean seconds of the ask call (fit + acquisition), one thread",
           "settings": {"bo-continuous": "steer defaults, Sobol init 2d+1",
                        "ax": "Client default generation strategy, initialization_budget=2d+1 "
                              "(centre included), initialization_random_seed=seed",
                        "optuna": "TPESampler(seed=seed), defaults (n_startup_trials=10)",
                        "sobol": "steer sobol policy (same design as bo-continuous)"},
           "summary": summary, "runs": runs, "total_wall_s": time.perf_counter() - t0,
           "versions": {k: _version(k) for k in ("torch", "botorch", "gpytorch", "ax-platform",
                                                 "optuna", "numpy")},
           "python": sys.version.split()[0], "machine": platform.machine(),
           "when_unix": time.time()}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2))
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
