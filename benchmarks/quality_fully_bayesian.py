"""Screen: does a fully Bayesian GP lead ``bo-continuous`` out of Hartmann6's trap?

The trap (issue 16): on about half of the seeds ``bo-continuous`` climbs
Hartmann6's local optimum (regret 0.12-0.13), and there its fitted (MAP)
lengthscales of x3 and x5 grow to 5-20: the model decides the inputs in which
the two optima differ do not matter. A fully Bayesian GP integrates over the
hyperparameters instead (BoTorch's ``FullyBayesianSingleTaskGP``: Matern 5/2,
dimension-scaled priors, NUTS through NumPyro), so lengthscales that the data
cannot pin down keep their short values in the average. This plays the
black-box settings of ``bench_quality.py`` (qLogNEI over the sampled models,
noise known) with that model in place of the MAP fit, on chosen seeds::

    .venv/bin/pip install numpyro   # JAX, CPU; not a steer dependency
    .venv/bin/python benchmarks/quality_fully_bayesian.py
        [--seed-list 3001,3004,...] [--warmup 128 --samples 128 --thinning 16]
        [--out benchmarks/results/quality-fully-bayesian.json]

The default seeds are the 14 tuning seeds (3000-3031) on which the settings
end in the local basin (``quality-exploration-acqf.json``): a rescue rate
first, successes after only if it rescues any.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _screen import FAILING  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed-list", default=FAILING)
    ap.add_argument("--warmup", type=int, default=128)
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--thinning", type=int, default=16)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"
                                         / "quality-fully-bayesian.json"))
    ap.add_argument("--one-seed", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    try:
        import numpyro  # noqa: F401
    except ImportError:
        raise SystemExit("needs NumPyro: .venv/bin/pip install numpyro") from None
    import torch

    torch.set_num_threads(1)
    import bench_quality as bq

    from steer.policies import bo_continuous as bc

    def fit_gp(self: Any, key: str, x: Any, y: Any, noise_var: Any) -> Any:
        from botorch.fit import fit_fully_bayesian_model_nuts
        from botorch.models.fully_bayesian import FullyBayesianSingleTaskGP
        from botorch.models.transforms import Standardize

        xt = torch.tensor(x, dtype=torch.float64)
        yt = torch.tensor(y, dtype=torch.float64).unsqueeze(-1)
        yvar = (None if noise_var is None
                else torch.tensor(noise_var, dtype=torch.float64).reshape(yt.shape))
        model = FullyBayesianSingleTaskGP(xt, yt, train_Yvar=yvar,
                                          outcome_transform=Standardize(m=1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_fully_bayesian_model_nuts(model, warmup_steps=args.warmup,
                                          num_samples=args.samples, thinning=args.thinning,
                                          disable_progbar=True,
                                          seed=int(self.rng.integers(2**31)))
        model.eval()
        return model

    # the benchmark's own loop and settings, with the model swapped (explanations trimmed:
    # they read a MAP model's hyperparameters)
    bc.BOContinuousPolicy._fit_gp = fit_gp
    bc._hyperparameters = lambda m: {}
    bc.BOContinuousPolicy._posterior_at = lambda self, x: [{} for _ in range(len(x))]
    params = {**bq.BO_PARAMS, "noise_std": 0.0}
    if args.one_seed is not None:  # a child: one run, its row on stdout
        t0 = time.perf_counter()
        r = bq.run_one("bo-continuous", "hartmann6", 40, args.one_seed, 0.0, params)
        print(json.dumps({"seed": args.one_seed, "final_simple_regret": r["final_simple_regret"],
                          "global_basin": r["final_simple_regret"] < 0.1,
                          "mean_ask_s_after_init": r["mean_ask_s_after_init"],
                          "wall_s": time.perf_counter() - t0}))
        return 0
    rows: list[dict[str, Any]] = []
    for seed in bq.parse_seed_list(args.seed_list):
        # one process per seed: JAX compiles anew for every data size and, after a few
        # hundred compilations in one process, LLVM cannot allocate executable memory
        out = subprocess.run([sys.executable, __file__, "--one-seed", str(seed),
                              "--warmup", str(args.warmup), "--samples", str(args.samples),
                              "--thinning", str(args.thinning)], capture_output=True,
                             text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
        result = {"function": "hartmann6", "budget": 40, "noise_std": 0.0,
                  "settings": {**bq.BO_PARAMS, "model": "FullyBayesianSingleTaskGP (NUTS)",
                               "warmup": args.warmup, "samples": args.samples,
                               "thinning": args.thinning},
                  "in_global_basin": sum(r["global_basin"] for r in rows), "runs": len(rows),
                  "rows": rows}
        Path(args.out).write_text(json.dumps(result, indent=1))  # after every seed
    print(f"global basin {result['in_global_basin']} of {len(rows)}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
