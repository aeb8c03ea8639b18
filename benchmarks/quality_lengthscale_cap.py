"""Screen: does a hard cap on the lengthscales lead ``bo-continuous`` out of Hartmann6's trap?

The trap (issue 16): on about half of the seeds ``bo-continuous`` climbs
Hartmann6's local optimum (regret 0.12-0.13), where its fitted lengthscales of
x3 and x5 grow to 5-20 (unit cube): the model decides the inputs in which the
two optima differ do not matter. This caps every lengthscale (a gpytorch
``Interval(0.025, CAP)`` constraint on the kernel BoTorch builds, with its
dimension-scaled prior kept) so that no input can be switched off, and plays
the black-box settings of ``bench_quality.py`` (noise known) on chosen seeds::

    .venv/bin/python benchmarks/quality_lengthscale_cap.py --cap 1.0
        [--seed-list 3001,3004,...] [--out benchmarks/results/quality-lengthscale-cap.json]

The default seeds are the 14 tuning seeds (3000-3031) on which the settings end
in the local basin (``quality-exploration-acqf.json``): a rescue rate first.
Results of several caps accumulate in the output file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _screen import FAILING, in_global_basin, run_screen  # noqa: E402


def _capped(make: Any, cap: float) -> Any:
    """BoTorch's kernel factory, with every lengthscale constrained to ``[0.025, cap]``."""
    import torch
    from gpytorch.constraints import Interval

    def build(*args: Any, **kwargs: Any) -> Any:
        covar = make(*args, **kwargs)
        kern = getattr(covar, "base_kernel", None) or covar
        kern.register_constraint("raw_lengthscale", Interval(2.5e-2, cap))
        with torch.no_grad():
            kern.lengthscale = torch.full_like(kern.lengthscale, min(0.5 * cap, 1.0))
        return covar

    return build


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap", type=float, required=True, help="largest lengthscale (unit cube)")
    ap.add_argument("--seed-list", default=FAILING)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"
                                         / "quality-lengthscale-cap.json"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import bench_quality as bq
    import botorch.models.utils.gpytorch_modules as modules
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    # bo-continuous imports the factory from this module when it fits: swap it there
    modules.get_covar_module_with_dim_scaled_prior = _capped(
        modules.get_covar_module_with_dim_scaled_prior, args.cap)
    seeds = bq.parse_seed_list(args.seed_list)
    rows = run_screen(f"cap {args.cap:g}", seeds, {**bq.BO_PARAMS, "noise_std": 0.0})
    out = Path(args.out)
    result = json.loads(out.read_text()) if out.exists() else {
        "function": "hartmann6", "budget": 40, "noise_std": 0.0, "settings": bq.BO_PARAMS,
        "in_global_basin": "final simple regret < 0.1", "caps": {}}
    result["caps"][f"{args.cap:g}"] = {
        "seeds": seeds, "rows": rows,
        "in_global_basin": in_global_basin(rows)}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"cap {args.cap:g}: {result['caps'][f'{args.cap:g}']['in_global_basin']} of "
          f"{len(rows)} in the global basin; wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
