"""Diagnostic: which priority targets each policy newly characterises on a night, and how.

For a scenario and its seeds, plays each policy's night in this process and
records, per policy and seed: the priority targets characterised tonight
that the history alone had not (by kind, and by how many good measurements
the history and the night gave each), the visits and how many of them went
to priority targets (and how many measurements those targets had before
tonight), the exposures chosen, and the priority constant stars
left uncharacterised by their total good measurements (3 are needed). It
reads the hidden truth: a benchmark's diagnostic, never a policy's input::

    .venv/bin/python benchmarks/suite_newchar.py experiments/suite/catalog10x.toml
        --seeds 400,401,402,403 [--policies feature,bo] [--out PATH]

writes ``benchmarks/results/newchar-<scenario>.json`` and prints a line per
policy and seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def night(config: Any, policy: str, seed: int) -> dict[str, Any]:
    """Play one night and describe what it characterised."""
    from steer.envs.science import science_metrics
    from steer.session import make_env, play

    env = make_env(config)
    try:
        with tempfile.TemporaryDirectory(prefix="steer-newchar-") as tmp:
            play(config, policy, seed, Path(tmp), env=env, keep_env=True)
        u = env.unwrapped
        o = u.observatory
        idx, mjd, mag, err, tonight = u.measurements()
        masks: dict[str, np.ndarray] = {}
        science_metrics(o.truth, u.catalog, idx, mjd, mag, err, u.grid_mjd, tonight=tonight,
                        masks=masks)
        n = len(u.catalog.mag)
        good = np.isfinite(mag) & np.isfinite(err) & (err > 0)
        before = np.bincount(idx[good & ~tonight], minlength=n)
        now = np.bincount(idx[good & tonight], minlength=n)
        kind = np.asarray(o.truth.kind)
        prio = np.asarray(u.catalog.priority) >= 2.0
        new = masks["new"]
        visited = idx[tonight]
        by_obs: dict[str, int] = {}
        for i in np.flatnonzero(new):
            key = (f"{('constant', 'periodic', 'transient')[kind[i]]}: {min(before[i], 5)} "
                   f"before + {min(now[i], 5)} tonight")
            by_obs[key] = by_obs.get(key, 0) + 1
        short = prio & (kind == 0) & ~masks["characterised"]
        to_prio = visited[prio[visited]]  # tonight's visits to priority targets
        e = np.asarray(u.log["exptime_s"], float)
        return {
            "new": int(new.sum()),
            "new_by_kind": {k: int((new & (kind == j)).sum())
                            for j, k in enumerate(("constant", "periodic", "transient"))},
            "new_by_measurements": by_obs,
            "visits": int(len(visited)),
            "visits_to_priority_targets": int(prio[visited].sum()),
            "priority_visits_by_measurements_before": {
                f"{k}{'+' if k == 3 else ''}": int((np.minimum(before[to_prio], 3) == k).sum())
                for k in range(4)},
            "priority_visits_with_2_before_by_kind": {
                k: int((kind[to_prio[before[to_prio] == 2]] == j).sum())
                for j, k in enumerate(("constant", "periodic", "transient"))},
            "exptime_s_counts": {f"{v:g}": int((e == v).sum()) for v in np.unique(e)},
            "priority_constants_left_by_measurements": {
                str(k): int((short & (before + now == k)).sum()) for k in range(4)},
        }
    finally:
        env.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment")
    ap.add_argument("--seeds", required=True, help="comma-separated seeds")
    ap.add_argument("--policies", default="feature,bo")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from steer.config import load_experiment
    from steer.session import set_threads

    set_threads(1)
    config = load_experiment(args.experiment)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for p in args.policies.split(","):
            r = {"seed": seed, "policy": p, **night(config, p, seed)}
            rows.append(r)
            print(f"seed {seed} {p:8s} new {r['new']:3d} {r['new_by_kind']}; visits "
                  f"{r['visits']} ({r['visits_to_priority_targets']} to priority targets, by "
                  f"measurements before {r['priority_visits_by_measurements_before']}; with 2 "
                  f"before, by kind {r['priority_visits_with_2_before_by_kind']}); "
                  f"exposures {r['exptime_s_counts']}; priority constants left with 2 "
                  f"measurements: {r['priority_constants_left_by_measurements']['2']}",
                  file=sys.stderr, flush=True)
    name = Path(args.experiment).stem
    out = Path(args.out or REPO / "benchmarks" / "results" / f"newchar-{name}.json")
    out.write_text(json.dumps({"benchmark": "new targets characterised, per target",
                               "experiment": args.experiment, "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
