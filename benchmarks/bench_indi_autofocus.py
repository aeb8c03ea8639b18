"""Benchmark: autofocus on a REAL INDI (or Alpaca) focuser and camera: bo-continuous vs vcurve.

Starts its own ``indiserver`` (telescope, CCD and focuser simulators), or with
``--protocol alpaca`` its own ``alpaca-simulators`` (focuser and camera), then:

1. a dense reference sweep of the focuser (every 1000 steps over every
   seed's window, every 250 steps around the minimum) measures the best
   FWHM the images can show;
2. for each seed, :class:`~steer.envs.indi_autofocus.IndiAutofocusEnv` draws
   the travel window around best focus and the starting position; each policy
   gets the same seed (same window, same start) and ``--budget`` exposures.

Reported per run: the exposures until the first image whose measured FWHM
is within 5% (and 2%) of the reference best (``budget + 1`` if never), the
last and best measured FWHM, wall seconds (focuser moves, exposures,
measurement, policy)::

    .venv/bin/python benchmarks/bench_indi_autofocus.py [--seeds 5] [--budget 15]
    .venv/bin/python benchmarks/bench_indi_autofocus.py --protocol alpaca

writes ``benchmarks/results/{indi,alpaca}_autofocus.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

POLICIES = ("bo-continuous", "vcurve")


def reference_sweep(camera: Any, lo: float, hi: float, step: float = 1000.0) -> dict[str, Any]:
    """Measure FWHM on a coarse grid over [lo, hi], then a 4x finer one around its minimum."""
    coarse = np.arange(lo, hi + 1.0, step)
    pos, fwhm = [], []
    for p in coarse:
        pos.append(float(p))
        fwhm.append(float(camera.measure(p).fwhm_arcsec))
    k = int(np.nanargmin(fwhm))
    for p in np.arange(pos[k] - 1.75 * step, pos[k] + 1.75 * step + 1.0, step / 4.0):
        if lo <= p <= hi and float(p) not in pos:
            pos.append(float(p))
            fwhm.append(float(camera.measure(p).fwhm_arcsec))
    order = np.argsort(pos)
    pos_a, fwhm_a = np.asarray(pos)[order], np.asarray(fwhm)[order]
    k = int(np.nanargmin(fwhm_a))
    return {"position_steps": pos_a.tolist(), "fwhm_arcsec": fwhm_a.tolist(),
            "best_position_steps": float(pos_a[k]), "best_fwhm_arcsec": float(fwhm_a[k])}


def run_one(env: Any, policy_name: str, seed: int, best_ref: float) -> dict[str, Any]:
    """One policy, one seed: exposures to reach within 5% / 2% of the reference best."""
    from steer.policies import make_policy

    obs, info = env.reset(seed=seed)
    start = float(info["position_steps"])
    policy = make_policy(policy_name)
    from steer.loop import start_policy
    start_policy(policy, env, seed)
    fwhm, pos, ask_s, walls = [], [], [], []
    done = False
    while not done:
        t0 = time.perf_counter()
        prop = policy.suggest(obs, info, 1)[0]
        ask_s.append(time.perf_counter() - t0)
        obs, reward, done, _, info = env.step(prop.action.as_array())
        policy.ingest(prop.action, info, reward)
        fwhm.append(float(info["fwhm_arcsec"]))
        pos.append(float(info["position_steps"]))
        walls.append(info["overheads_s"])

    def first_within(frac: float) -> int:
        k = next((i for i, f in enumerate(fwhm) if f <= (1.0 + frac) * best_ref), None)
        return k + 1 if k is not None else len(fwhm) + 1

    return {"seed": seed, "travel_steps": list(env.travel_steps), "start_position_steps": start,
            "exposures_to_5pct": first_within(0.05), "exposures_to_2pct": first_within(0.02),
            "final_fwhm_arcsec": fwhm[-1], "best_fwhm_arcsec": min(fwhm),
            "final_position_steps": pos[-1],
            "wall_s": {k: float(sum(w[k] for w in walls)) for k in walls[0]}
            | {"policy": float(sum(ask_s))},
            "positions_steps": pos, "fwhm_arcsec": fwhm}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=15, help="exposures per run")
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--protocol", choices=["indi", "alpaca"], default="indi",
                    help="indi: indiserver simulators; alpaca: alpaca-simulators")
    ap.add_argument("--out", default=None,
                    help="default benchmarks/results/{indi,alpaca}_autofocus.json")
    args = ap.parse_args()
    args.out = args.out or f"benchmarks/results/{args.protocol}_autofocus.json"

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from steer.envs.indi_autofocus import IndiAutofocusEnv
    from steer.instruments.indi.focus import IndiFocusCamera
    from steer.instruments.indi.server import IndiServer

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    if args.protocol == "indi" and shutil.which("indiserver") is None:
        print("indiserver is not installed (apt-get install -y indi-bin)", file=sys.stderr)
        return 2
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    seeds = list(range(args.seeds))
    run_dir = tempfile.mkdtemp(prefix=f"steer-bench-{args.protocol}-focus-")
    if args.protocol == "alpaca":
        from steer.instruments.alpaca.focus import ALPACA_SIM_BEST_FOCUS_STEPS, AlpacaFocusCamera
        from steer.instruments.alpaca.server import AlpacaSimServer

        server: Any = AlpacaSimServer(run_dir, camera_size_px=256, slew_rate_deg_s=360.0)
        env_kw = {"best_focus_steps": float(ALPACA_SIM_BEST_FOCUS_STEPS),
                  "window_steps": 1500.0}
    else:
        server, env_kw = IndiServer(run_dir), {}
    server.start()
    t_start = time.perf_counter()
    try:
        camera = (AlpacaFocusCamera(run_dir=run_dir) if args.protocol == "alpaca"
                  else IndiFocusCamera(run_dir=run_dir))
        camera.ensure_ready()
        env = IndiAutofocusEnv(camera=camera, max_exposures=args.budget, **env_kw)
        windows = [IndiAutofocusEnv.window_for_seed(s, env.best_focus_steps, env.window_steps,
                                                    env.focus_margin_frac)[0] for s in seeds]
        lo = min(w[0] for w in windows)
        hi = max(w[1] for w in windows)
        t0 = time.perf_counter()
        ref = reference_sweep(camera, lo, hi, step=env.window_steps / 30.0)
        ref["wall_s"] = time.perf_counter() - t0
        best = ref["best_fwhm_arcsec"]
        print(f"reference sweep: {len(ref['position_steps'])} frames over [{lo:.0f}, {hi:.0f}] "
              f"in {ref['wall_s']:.0f} s: best {best:.3f}\" at {ref['best_position_steps']:.0f}; "
              f"5% threshold {1.05 * best:.3f}\"", flush=True)
        runs: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
        for seed in seeds:
            for p in policies:
                r = run_one(env, p, seed, best)
                runs[p].append(r)
                print(f"seed {seed} {p:>13}: start {r['start_position_steps']:.0f} in "
                      f"[{r['travel_steps'][0]:.0f}, {r['travel_steps'][1]:.0f}]; within 5% "
                      f"after {r['exposures_to_5pct']:2d}, 2% after {r['exposures_to_2pct']:2d}; "
                      f"final {r['final_fwhm_arcsec']:.3f}\" at {r['final_position_steps']:.0f}",
                      flush=True)
    finally:
        server.remove()
    summary = {}
    for p in policies:
        e5 = np.array([r["exposures_to_5pct"] for r in runs[p]], float)
        e2 = np.array([r["exposures_to_2pct"] for r in runs[p]], float)
        summary[p] = {"exposures_to_5pct_median": float(np.median(e5)),
                      "exposures_to_5pct_mean": float(np.mean(e5)),
                      "exposures_to_2pct_median": float(np.median(e2)),
                      "reached_5pct": int(np.sum(e5 <= args.budget)),
                      "final_fwhm_median_arcsec": float(np.median(
                          [r["final_fwhm_arcsec"] for r in runs[p]])),
                      "wall_s_per_run_median": float(np.median(
                          [sum(r["wall_s"].values()) for r in runs[p]])),
                      "policy_s_per_run_median": float(np.median(
                          [r["wall_s"]["policy"] for r in runs[p]])),
                      "seeds": len(runs[p])}
    print()
    print(f"{'seed':>4} " + " ".join(f"{p + ' 5%/2%/final':>28}" for p in policies))
    for i, seed in enumerate(seeds):
        cells = [f"{runs[p][i]['exposures_to_5pct']:>8d} {runs[p][i]['exposures_to_2pct']:>4d} "
                 f"{runs[p][i]['final_fwhm_arcsec']:>8.3f}\"" for p in policies]
        print(f"{seed:>4} " + " ".join(f"{c:>28}" for c in cells))
    cells = [f"{summary[p]['exposures_to_5pct_median']:>8.1f} "
             f"{summary[p]['exposures_to_2pct_median']:>4.1f} "
             f"{summary[p]['final_fwhm_median_arcsec']:>8.3f}\"" for p in policies]
    print(f"{'med':>4} " + " ".join(f"{c:>28}" for c in cells))
    setup = ("indiserver + indi_simulator_telescope/ccd/focus (INDI 1.9.9), "
             "IndiAutofocusEnv defaults (30000-step window, seeded)"
             if args.protocol == "indi" else
             "alpaca-simulators (camera + focuser, V-curve 1\" * (1 + |d|/100) capped at 5\"), "
             "IndiAutofocusEnv with best focus 10000 and a 1500-step window, seeded")
    out = {"benchmark": f"{args.protocol}_autofocus", "protocol": args.protocol,
           "setup": setup,
           "budget": args.budget, "seeds": seeds, "reference": ref,
           "within": "measured FWHM <= (1 + frac) * reference best FWHM",
           "summary": summary, "runs": runs, "total_wall_s": time.perf_counter() - t_start,
           "python": sys.version.split()[0], "machine": platform.machine(),
           "when_unix": time.time()}
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2))
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
