"""Diagnostic: where each policy's frames of a campaign's new transients fell, and which it
characterised.

For every priority transient that peaks after a campaign's first night starts,
per policy: good measurements in the archive and the campaign, those within 3
and 10 days before and after the true peak, and whether the peak was recovered
within 1 day. It reads the hidden truth, so it is a benchmark's diagnostic,
never a policy's input::

    .venv/bin/python benchmarks/transient_frames.py
        [--experiment benchmarks/tuning/campaign-south-winter-980.toml]
        [--policies feature,bo] [--seeds 980,981] [--out PATH]

writes ``benchmarks/results/transient-frames.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WINDOWS_D = {"pre10": (-10.0, -3.0), "pre3": (-3.0, 0.0), "post3": (0.0, 3.0),
             "post10": (3.0, 10.0)}


def frames(config, policy: str, seed: int, nights: int) -> dict:
    """One campaign's new transients and the frames ``policy`` took of them."""
    from steer.campaign import play_campaign
    from steer.envs.science import science_metrics
    from steer.session import make_env

    env = make_env(config)
    with tempfile.TemporaryDirectory(prefix="steer-transient-frames-") as tmp:
        play_campaign(config, policy, seed, nights, Path(tmp), env=env)
    state = env.unwrapped._campaign
    idx, mjd, mag, err, tonight = state.measurements()
    masks: dict[str, np.ndarray] = {}
    science_metrics(state.truth, state.catalog, idx, mjd, mag, err, np.concatenate(state.grids),
                    tonight=tonight, hours=float(sum(state.window_h)), masks=masks)
    truth, start = state.truth, float(np.concatenate(state.grids).min())
    end = float(np.concatenate(state.grids).max())
    good = np.isfinite(mag) & np.isfinite(err) & (err > 0)
    new = np.flatnonzero((np.asarray(state.catalog.priority, float) >= 2.0)
                         & (np.asarray(truth.kind) == 2) & (np.asarray(truth.peak_mjd) > start))
    rows = []
    for i in new:
        m = (idx == i) & good
        dt = mjd[m] - float(truth.peak_mjd[i])
        rows.append({"target_index": int(i), "characterised": bool(masks["characterised"][i]),
                     "peak_in_campaign": bool(float(truth.peak_mjd[i]) <= end),
                     "good": int(m.sum()), "good_campaign": int((m & tonight).sum()),
                     **{k: int(((dt >= lo) & (dt < hi)).sum()) for k, (lo, hi) in
                        WINDOWS_D.items()}})
    env.close()
    return {"seed": seed, "policy": policy, "transients": rows}


def summary(rows: list[dict]) -> dict:
    """Counts and mean frames, split by whether the peak fell inside the campaign."""
    out = {}
    for inside in (True, False):
        sel = [r for r in rows if r["peak_in_campaign"] == inside]
        key = "peak_in_campaign" if inside else "peak_after_campaign"
        out[key] = {"transients": len(sel),
                    "characterised": sum(r["characterised"] for r in sel),
                    **{f"mean_{k}": (float(np.mean([r[k] for r in sel])) if sel else None)
                       for k in ("good_campaign", *WINDOWS_D)}}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default=str(REPO / "benchmarks" / "tuning"
                                                / "campaign-south-winter-980.toml"))
    ap.add_argument("--policies", default="feature,bo")
    ap.add_argument("--seeds", default="980,981")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"
                                         / "transient-frames.json"))
    args = ap.parse_args()
    from steer.campaign import check_nights
    from steer.config import load_experiment
    from steer.session import set_threads

    set_threads(1)
    config = load_experiment(args.experiment)
    nights = check_nights(config, None)
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for policy in args.policies.split(","):
            run = frames(config, policy, seed, nights)
            run["summary"] = summary(run["transients"])
            runs.append(run)
            print(f"seed {seed} {policy}: {json.dumps(run['summary'])}", file=sys.stderr,
                  flush=True)
    totals = {p: summary([r for run in runs if run["policy"] == p for r in run["transients"]])
              for p in args.policies.split(",")}
    result = {"benchmark": "transient frames", "experiment": Path(args.experiment).name,
              "nights": nights, "runs": runs, "totals": totals}
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(totals, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
