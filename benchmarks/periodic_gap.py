"""Diagnostic: which periodic stars one policy characterises and another does not.

Plays one night per seed for two policies in this process and, for the
periodic variables characterised under one but not the other, prints each
star's priority, magnitude, good archive measurements and tonight's good
measurements and visits under both; also how many of each policy's visits
went to periodic stars::

    .venv/bin/python benchmarks/periodic_gap.py [--experiment experiments/suite/catalog5000.toml]
        [--policies feature,bo] [--seeds 851,852,853,854]

It reads the hidden truth (which stars are periodic, what is characterised),
so it is a benchmark's diagnostic, never a policy's input. Nothing is written.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def night(config: Any, policy: str, seed: int) -> dict[str, Any]:
    """One night: the science masks and per-target counts, judged against the truth."""
    from steer.envs.science import science_metrics
    from steer.session import make_env, play

    env = make_env(config)
    with tempfile.TemporaryDirectory(prefix="steer-periodic-") as tmp:
        play(config, policy, seed, Path(tmp), env=env)
    u = env.unwrapped
    o = u.observatory
    idx, mjd, mag, err, tonight = u.measurements()
    masks: dict[str, np.ndarray] = {}
    science_metrics(o.truth, u.catalog, idx, mjd, mag, err, u.grid_mjd, tonight=tonight,
                    hours=(u.end_mjd - o.night_start_mjd) * 24.0, masks=masks)
    n = len(u.catalog.mag)
    good = np.isfinite(mag) & np.isfinite(err) & (err > 0)
    env.close()
    return {**masks, "good_tonight": np.bincount(idx[good & tonight], minlength=n),
            "good_archive": np.bincount(idx[good & ~tonight], minlength=n),
            "visits": np.bincount(idx[tonight], minlength=n),
            "periodic": np.asarray(o.truth.kind) == 1, "catalog": u.catalog}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default=str(REPO / "experiments" / "suite"
                                                / "catalog5000.toml"))
    ap.add_argument("--policies", default="feature,bo")
    ap.add_argument("--seeds", default="851,852,853,854")
    args = ap.parse_args()
    from steer.config import load_experiment
    from steer.session import set_threads

    set_threads(1)
    config = load_experiment(args.experiment)
    a_name, b_name = args.policies.split(",")
    for seed in (int(s) for s in args.seeds.split(",")):
        a, b = night(config, a_name, seed), night(config, b_name, seed)
        per = a["periodic"]
        for name, t in ((a_name, a), (b_name, b)):
            print(f"seed {seed} {name}: {int((t['characterised'] & per).sum())} periodic "
                  f"characterised ({int((t['new'] & per).sum())} tonight), "
                  f"{int(t['visits'][per].sum())} of {int(t['visits'].sum())} visits to "
                  "periodic stars", flush=True)
        cat = a["catalog"]
        for name, x, y in ((a_name, a, b), (b_name, b, a)):
            for i in np.flatnonzero(x["characterised"] & ~y["characterised"] & per):
                print(f"  only {name}: target {cat.target_id[i]}, priority {cat.priority[i]:g}, "
                      f"{cat.mag[i]:.1f} mag, {x['good_archive'][i]} good archive "
                      f"measurements, tonight {x['good_tonight'][i]} good "
                      f"({x['visits'][i]} visits) against {y['good_tonight'][i]} "
                      f"({y['visits'][i]} visits)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
