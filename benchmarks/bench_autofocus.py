"""Benchmark: exposures to reach focus on ``steer/Autofocus-v0``: bo-continuous vs vcurve.

``vcurve`` is the classic routine: one sweep of 7 positions over the travel,
a hyperbola fit, then the vertex; ``vcurve-n4`` sweeps only 4 positions (the
simulated V-curve is an exact hyperbola, so a short sweep already fits it).

For each seed the environment draws the best focus, the focuser's starting
position and the temperature path; every policy gets the same seed, hence the
same starting point and the same truth. "In focus" is the simulator's truth:
the true FWHM within 5% of the seeing floor (the best FWHM possible). For
each policy it reports the exposures (and the seconds of exposure, readout
and focuser moves) needed to take the first in-focus exposure, and the
fraction of exposures in focus after that (does it stay there?). A run that
never reaches focus counts as ``max_exposures + 1``::

    .venv/bin/python benchmarks/bench_autofocus.py [--seeds 10] [--quick]
        [--policies bo-continuous,vcurve,vcurve-n4] [--max-exposures 30]

writes ``benchmarks/results/autofocus.json`` (``autofocus-quick.json`` with
``--quick``: 2 seeds) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

POLICIES = ("bo-continuous", "vcurve", "sobol")  # and vcurve-nN: N points per sweep


def _make(name: str) -> Any:
    """``vcurve-n4`` is the vcurve policy with 4 points per sweep."""
    from steer.policies import make_policy

    if name.startswith("vcurve-n"):
        return make_policy("vcurve", n_points=int(name.removeprefix("vcurve-n")))
    return make_policy(name)


def run_one(policy_name: str, seed: int, max_exposures: int) -> dict[str, Any]:
    """One policy, one seed: when it first reached focus and how well it stayed."""
    import gymnasium

    import steer.envs  # noqa: F401  (registers the ids)

    env = gymnasium.make("steer/Autofocus-v0", max_exposures=max_exposures).unwrapped
    obs, info = env.reset(seed=seed)
    start_unit = info["position_unit"]
    policy = _make(policy_name)
    from steer.loop import start_policy
    start_policy(policy, env, seed)
    in_focus, fwhm_true, elapsed, ask_s = [], [], [], []
    done = False
    while not done:
        t0 = time.perf_counter()
        prop = policy.suggest(obs, info, 1)[0]
        ask_s.append(time.perf_counter() - t0)
        obs, reward, done, _, info = env.step(prop.action.as_array())
        policy.ingest(prop.action, info, reward)
        in_focus.append(bool(info["truth_in_focus"]))
        fwhm_true.append(float(info["truth_fwhm_arcsec"]))
        elapsed.append(float(info["elapsed_s"]))
    first = next((k for k, ok in enumerate(in_focus) if ok), None)
    return {
        "seed": seed, "start_position_unit": start_unit,
        "exposures_to_focus": (first + 1) if first is not None else max_exposures + 1,
        "reached": first is not None,
        "seconds_to_focus": elapsed[first] if first is not None else None,
        "in_focus_after_fraction": float(np.mean(in_focus[first:])) if first is not None else 0.0,
        "final_fwhm_true_arcsec": fwhm_true[-1], "fwhm_min_arcsec": env.fwhm_min_arcsec,
        "mean_ask_s": float(np.mean(ask_s)), "in_focus": in_focus,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="seeds (default 10)")
    ap.add_argument("--quick", action="store_true", help="2 seeds (a smoke run)")
    ap.add_argument("--policies", default="bo-continuous,vcurve,vcurve-n4",
                    help="from bo-continuous, vcurve (7 points), vcurve-nN (N points), sobol")
    ap.add_argument("--max-exposures", type=int, default=30)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = sorted(p for p in set(policies) - set(POLICIES)
                     if not (p.startswith("vcurve-n") and p[8:].isdigit()))
    if unknown:
        ap.error(f"unknown policies {unknown}; choose from {', '.join(POLICIES)}")
    seeds = list(range(2 if args.quick else args.seeds))
    out_path = Path(args.out or ("benchmarks/results/autofocus-quick.json" if args.quick
                                 else "benchmarks/results/autofocus.json"))
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
    for seed in seeds:
        for p in policies:
            r = run_one(p, seed, args.max_exposures)
            runs[p].append(r)
            print(f"seed {seed:2d} {p:>13}: focus after {r['exposures_to_focus']:2d} exposures "
                  f"({r['seconds_to_focus'] or float('nan'):.0f} s), in focus afterwards "
                  f"{r['in_focus_after_fraction']:.0%}", flush=True)
    summary = {}
    for p in policies:
        n_exp = np.array([r["exposures_to_focus"] for r in runs[p]], float)
        secs = [r["seconds_to_focus"] for r in runs[p] if r["reached"]]
        summary[p] = {"exposures_median": float(np.median(n_exp)),
                      "exposures_q25": float(np.percentile(n_exp, 25)),
                      "exposures_q75": float(np.percentile(n_exp, 75)),
                      "exposures_mean": float(np.mean(n_exp)),
                      "reached": int(sum(r["reached"] for r in runs[p])),
                      "seconds_to_focus_median": float(np.median(secs)) if secs else None,
                      "in_focus_after_fraction_mean": float(np.mean(
                          [r["in_focus_after_fraction"] for r in runs[p]])),
                      "mean_s_per_suggestion": float(np.mean([r["mean_ask_s"] for r in runs[p]])),
                      "seeds": len(runs[p])}
    print()
    print(f"{'policy':>13} {'median':>6} {'q25':>5} {'q75':>5} {'mean':>5} {'reached':>8} "
          f"{'s to focus':>10} {'kept':>5} {'s/sugg':>7}")
    for p in policies:
        s = summary[p]
        sec = s["seconds_to_focus_median"]
        print(f"{p:>13} {s['exposures_median']:>6.1f} {s['exposures_q25']:>5.1f} "
              f"{s['exposures_q75']:>5.1f} {s['exposures_mean']:>5.1f} "
              f"{s['reached']:>4d}/{s['seeds']:<3d} "
              f"{sec if sec is not None else float('nan'):>10.0f} "
              f"{s['in_focus_after_fraction_mean']:>5.0%} {s['mean_s_per_suggestion']:>7.3f}")
    out = {"benchmark": "autofocus", "env": "steer/Autofocus-v0 (defaults)",
           "max_exposures": args.max_exposures, "seeds": seeds,
           "in_focus": "true FWHM within 5% of the seeing floor (simulator truth)",
           "summary": summary, "runs": runs, "python": sys.version.split()[0],
           "machine": platform.machine(), "when_unix": time.time()}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2))
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
