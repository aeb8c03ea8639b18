"""Check: ``bo``'s bounded evaluation of the period term leaves its decisions unchanged.

Plays each night twice in this process, once as ``bo`` runs (the period's
information computed only for the targets whose bound can reach the best
proposals, :func:`steer.policies.period_value.best_information`) and once with
every target valued, and compares every decision and its score (to 12 decimals)::

    .venv/bin/python benchmarks/period_bound_check.py [--experiment
        experiments/suite/north-winter-dark.toml] [--first-seed 600] [--seeds 10]

Prints one line per night; exits 1 if any night differs. Nothing is written.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default=str(REPO / "experiments" / "suite"
                                                / "north-winter-dark.toml"))
    ap.add_argument("--first-seed", type=int, default=600)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    import steer.policies.bo as bo
    from steer.config import load_experiment
    from steer.session import play, set_threads

    set_threads(1)
    config = load_experiment(args.experiment)
    bounded = bo.best_information

    def every_target(post: Any, base: Any, *rest: Any) -> Any:
        *head, _keep, choose = rest
        return bounded(post, base, *head, base.size, choose)

    differ = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        runs = []
        for value in (bounded, every_target):
            bo.best_information = value
            with tempfile.TemporaryDirectory(prefix="steer-bound-") as tmp:
                records = play(config, "bo", seed, Path(tmp)).episode.records
            # scores to 12 decimals: a grid fitted in another batch may differ in the last bit
            runs.append([(r.decision_key, round(r.proposal["score"], 12)) for r in records])
        bo.best_information = bounded
        first = next((i for i, (a, b) in enumerate(zip(*runs, strict=False)) if a != b), None)
        same = runs[0] == runs[1]
        differ += not same
        print(f"seed {seed}: {len(runs[0])} decisions, "
              + ("identical" if same else f"differ from decision {first}"), flush=True)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
