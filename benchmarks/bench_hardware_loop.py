"""Benchmark: a closed loop on real INDI and Alpaca servers, photometry against the truth.

Runs ``experiments/indi-sim.toml`` (its own indiserver with the telescope, CCD
and focuser simulators) and ``experiments/alpaca-sim.toml`` (its own
alpaca-simulators server) on the simulated clock, and their live-mode twins
``indi-live.toml`` / ``alpaca-live.toml`` on the wall clock (x100), 25
decisions each, for each policy and reports,
from the journal and the driver's photometry log (which holds the served
truth and is never given to policies):

* the measured magnitude minus the true one: median, robust scatter
  (1.4826 x MAD), and how many targets were measured;
* the measured transparency against the one the simulation served (clouds),
  and the measured FWHM against the seeing the device simulator was set to
  (the night's seeing at the target; Alpaca's simulator cannot draw below 1");
* in live mode, the night seconds lost because the wall ran ahead of the
  night's model (setup, thinking, HTTP);
* seconds per decision split into policy (suggest), pointing (SYNC/slew),
  exposure to a decoded frame, transfer (of it: past the compressed exposure
  for INDI, the ImageArray download for Alpaca) and photometry.

Writes ``benchmarks/results/hardware_loop.json``::

    .venv/bin/python benchmarks/bench_hardware_loop.py [--policies bo,feature]

Needs ``indiserver`` (apt-get install indi-bin). For the MLflow run of the same
loop: ``steer run experiments/alpaca-sim.toml --policy bo``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments",
                    default="experiments/indi-sim.toml,experiments/alpaca-sim.toml,"
                            "experiments/indi-live.toml,experiments/alpaca-live.toml")
    ap.add_argument("--policies", default="bo,feature")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/hardware_loop.json")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    from steer.config import load_experiment
    from steer.session import make_env, play, set_threads

    set_threads(1)
    results = {}
    for experiment, policy in [(e, p) for e in args.experiments.split(",")
                               for p in args.policies.split(",")]:
        config = load_experiment(experiment)
        env = make_env(config)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            res = play(config, policy, args.seed, Path(tmp), env=env)
            records = [json.loads(x) for x in res.journal_path.read_text().splitlines()]
        wall = time.perf_counter() - t0
        log = env.unwrapped.observatory.photometry_log
        meas = [r for r in log if np.isfinite(r["value_mag"])]
        d = np.array([r["value_mag"] - r["true_mag"] for r in meas])
        served = np.array([r["served_mag"] for r in meas])
        ok = [r for r in records if r["status"] == "ok"]

        def med(values: list[float]) -> float:
            return float(np.median(values)) if values else float("nan")

        eta = np.array([[r["transparency"], r["sim_transparency"]] for r in meas]).reshape(-1, 2)
        key = f"{config.name}/{policy}"
        fw = np.array([[r["fwhm_arcsec"], r["served_fwhm_arcsec"], r["sim_fwhm_arcsec"]]
                       for r in meas]).reshape(-1, 3)
        fw = fw[np.isfinite(fw).all(axis=1)]
        obs = env.unwrapped.observatory
        results[key] = {
            "decisions": len(ok), "statuses": {s: sum(r["status"] == s for r in records)
                                               for s in {r["status"] for r in records}},
            "wall_s": wall, "measured": len(meas), "exposures": len(log),
            "dmag_median": med(list(d)),
            "dmag_robust_sigma": float(1.4826 * np.median(np.abs(d - np.median(d))))
            if len(d) else float("nan"),
            "dmag_max_abs": float(np.abs(d).max()) if len(d) else float("nan"),
            "reported_error_median": med([r["error_mag"] for r in meas]),
            # bright targets measure the photometry; faint ones the simulators' noise
            **{f"dmag_{name}": {
                "n": int(sel.sum()), "median": med(list(d[sel])),
                "robust_sigma": float(1.4826 * np.median(np.abs(d[sel] - np.median(d[sel]))))
                if sel.any() else float("nan")}
               for name, sel in (("served_le_19", served <= 19.0),
                                 ("served_gt_19", served > 19.0))},
            "transparency_measured_minus_served_median": med(list(eta[:, 0] - eta[:, 1])),
            "transparency_served_range": [float(eta[:, 1].min()), float(eta[:, 1].max())]
            if len(eta) else None,
            "fwhm_arcsec_median": med([r["fwhm_arcsec"] for r in meas]),
            "fwhm_night_arcsec_range": [float(fw[:, 2].min()), float(fw[:, 2].max())]
            if len(fw) else None,
            "fwhm_measured_over_served_median": med(list(fw[:, 0] / fw[:, 1])),
            "fwhm_measured_served_pearson_r": float(np.corrcoef(fw[:, 0], fw[:, 1])[0, 1])
            if len(fw) > 2 and fw[:, 1].std() > 0 else float("nan"),
            "clock": ({"kind": "wall", "time_factor": obs.time_factor,
                       "night_s_lost_to_the_wall": obs.lost_s,
                       "wall_s_slept_for_the_model": obs.slept_wall_s}
                      if hasattr(obs, "lost_s") else {"kind": "sim"}),
            "seconds_per_decision_median": {
                "policy": med([r["timings_s"]["suggest"] for r in ok]),
                "pointing": med([r["wall_point_s"] for r in log]),
                "exposure_to_fits": med([r["wall_expose_s"] for r in log]),
                "transfer": med([r["wall_transfer_s"] for r in log]),
                "photometry": med([r["wall_photometry_s"] for r in log]),
                "execute_total": med([r["timings_s"]["execute"] for r in ok]),
            },
        }
        r = results[key]
        sp = r["seconds_per_decision_median"]
        print(f"{key:>16}: {r['decisions']} decisions {r['statuses']}, measured "
              f"{r['measured']}/{r['exposures']}, dmag median {r['dmag_median']:+.3f} "
              f"robust sigma {r['dmag_robust_sigma']:.3f} (max {r['dmag_max_abs']:.2f}; <=19 mag: "
              f"{r['dmag_served_le_19']['median']:+.3f}/{r['dmag_served_le_19']['robust_sigma']:.3f}"
              f" n={r['dmag_served_le_19']['n']}, >19: "
              f"{r['dmag_served_gt_19']['median']:+.3f}/{r['dmag_served_gt_19']['robust_sigma']:.3f}"
              f" n={r['dmag_served_gt_19']['n']}); "
              f"s/decision: policy {sp['policy']:.3f} pointing {sp['pointing']:.3f} "
              f"exposure {sp['exposure_to_fits']:.3f} (transfer {sp['transfer']:.3f}) "
              f"photometry {sp['photometry']:.3f}; transparency measured-served "
              f"{r['transparency_measured_minus_served_median']:+.3f}, FWHM "
              f"{r['fwhm_arcsec_median']:.2f}\" (measured/served "
              f"{r['fwhm_measured_over_served_median']:.2f}, r "
              f"{r['fwhm_measured_served_pearson_r']:.2f}); wall {wall:.1f} s", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"experiments": args.experiments, "seed": args.seed,
                                          "results": results, "when_unix": time.time()},
                                         indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
