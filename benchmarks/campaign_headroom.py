"""Diagnostic: how many more priority targets could a campaign characterise, and why not.

Plays whole campaigns in this process for the given policies and seeds and,
for every priority target the archive alone had not characterised, records
what the campaign did with it (good measurements, visible hours in the
campaign's windows) and whether it ended characterised. Then, per seed:
each policy's count, the union over the policies (a lower bound on what a
scheduler could reach), and why the rest failed (never above the altitude
limit in any window, never measured, too few measurements for its kind, or
enough measurements and an estimate still off the truth)::

    .venv/bin/python benchmarks/campaign_headroom.py [--experiment experiments/campaign.toml]
        [--policies feature,bo] [--seeds 900,901,902] [--out PATH]

writes ``benchmarks/results/campaign-headroom.json``. It reads the hidden
truth, so it is a benchmark's diagnostic, never a policy's input.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KINDS = {0: "constant", 1: "periodic", 2: "transient"}
MIN_GOOD = {0: 3, 1: 8, 2: 5}  # measurements each kind needs before it can be judged


def _targets(env, state) -> dict[str, np.ndarray]:
    """Per catalog target: characterised (and newly), good measurements, visible hours."""
    from steer.envs.science import science_metrics

    idx, mjd, mag, err, tonight = state.measurements()
    masks: dict[str, np.ndarray] = {}
    science_metrics(state.truth, state.catalog, idx, mjd, mag, err, np.concatenate(state.grids),
                    tonight=tonight, hours=float(sum(state.window_h)), masks=masks)
    n = len(state.catalog.mag)
    good = np.isfinite(mag) & np.isfinite(err) & (err > 0)
    cfg = env.config
    from steer.instruments.sim.geometry import altaz_deg

    cat = state.catalog
    visible_h = np.zeros(n)
    for k, grid in enumerate(state.grids):
        lst = env._almanac_of(k).lst_deg(grid)
        alt, _ = altaz_deg(np.asarray(cat.ra_deg)[:, None], np.asarray(cat.dec_deg)[:, None],
                           lst[None, :], cfg.site_lat_deg)
        visible_h += (alt >= cfg.alt_min_deg).mean(axis=1) * state.window_h[k]
    return {"characterised": masks["characterised"], "new": masks["new"],
            "good_campaign": np.bincount(idx[good & tonight], minlength=n),
            "good_archive": np.bincount(idx[good & ~tonight], minlength=n),
            "visits_campaign": np.bincount(idx[tonight], minlength=n),
            "visible_h": visible_h}


def _reason(kind: int, t: dict[str, np.ndarray], i: int, peak_mjd: float, start: float,
            end: float) -> str:
    """Why priority target ``i`` ended uncharacterised."""
    if t["visible_h"][i] <= 0:
        return "never above the altitude limit in a window"
    if kind == 2 and not (start - 20.0 <= peak_mjd <= end + 5.0):
        return "transient peaks far outside the campaign"
    total = t["good_campaign"][i] + t["good_archive"][i]
    if t["visits_campaign"][i] == 0:
        return "visible, never visited"
    if t["good_campaign"][i] == 0:
        return "visited, no good measurement"
    if total < MIN_GOOD[kind]:
        return "too few good measurements"
    return "enough measurements, estimate off the truth"


def play(config, policy: str, seed: int, nights: int) -> tuple[dict, dict, float]:
    from steer.campaign import play_campaign
    from steer.session import make_env

    env = make_env(config)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="steer-headroom-") as tmp:
        result = play_campaign(config, policy, seed, nights, Path(tmp), env=env)
    state = env.unwrapped._campaign
    return _targets(env.unwrapped, state), result.metrics, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default=str(REPO / "experiments" / "campaign.toml"))
    ap.add_argument("--policies", default="feature,bo")
    ap.add_argument("--seeds", default="900,901,902")
    ap.add_argument("--nights", type=int, default=None)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"
                                         / "campaign-headroom.json"))
    args = ap.parse_args()
    from steer.campaign import check_nights
    from steer.config import load_experiment
    from steer.session import set_threads

    set_threads(1)
    config = load_experiment(args.experiment)
    nights = check_nights(config, args.nights)
    policies = args.policies.split(",")
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        per: dict[str, dict] = {}
        for p in policies:
            t, metrics, wall = play(config, p, seed, nights)
            per[p] = t
            print(f"seed {seed} {p}: {int(t['new'].sum())} characterised "
                  f"(campaign metric {metrics['characterised_campaign']:.0f}), {wall:.0f} s",
                  file=sys.stderr, flush=True)
        from steer.session import make_env

        env = make_env(config)
        env.reset(seed=seed, options={"night": 0, "nights": nights})
        state = env.unwrapped._campaign
        truth, cat = state.truth, state.catalog
        ref = per[policies[0]]
        prio = np.asarray(cat.priority, float) >= 2.0
        before = prio & ref["characterised"] & ~ref["new"]  # the archive alone did it
        candidates = np.flatnonzero(prio & ~before)
        union = np.zeros(len(prio), bool)
        for p in policies:
            union |= per[p]["new"]
        grids_start = float(env.unwrapped.observatory.night_start_mjd)
        end = grids_start + nights
        reasons: dict[str, dict[str, int]] = {}
        for i in candidates:
            if union[i]:
                continue
            kind = int(truth.kind[i])
            r = _reason(kind, per[policies[0]], i, float(truth.peak_mjd[i]), grids_start, end)
            reasons.setdefault(KINDS[kind], {}).setdefault(r, 0)
            reasons[KINDS[kind]][r] += 1
        env.close()
        row = {"seed": seed, "priority_targets": int(prio.sum()),
               "characterised_by_archive": int(before.sum()),
               "candidates": int(len(candidates)),
               "characterised": {p: int(per[p]["new"].sum()) for p in policies},
               "union": int(union.sum()),
               "only": {p: int((per[p]["new"] & ~np.any(
                   [per[q]["new"] for q in policies if q != p], axis=0)).sum())
                   for p in policies} if len(policies) > 1 else {},
               "uncharacterised_by_any": reasons,
               "by_kind": {KINDS[k]: {"candidates": int((np.asarray(truth.kind)[candidates] == k
                                                          ).sum()),
                                      **{p: int((per[p]["new"] & (np.asarray(truth.kind) == k)
                                                 ).sum()) for p in policies}}
                           for k in KINDS}}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    out = {"benchmark": "campaign headroom", "experiment": Path(args.experiment).name,
           "nights": nights, "policies": policies, "rows": rows,
           "note": "union: characterised by at least one policy (a lower bound on what a "
                   "scheduler can reach); reasons are for the priority targets no policy "
                   "characterised, judged on the first policy's campaign"}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
