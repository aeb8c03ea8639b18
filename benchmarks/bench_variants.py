"""Benchmark: policy variants (a policy with other settings) night by night, paired.

Plays every variant on the same seeded nights of one experiment, in this
process, and reports each truth-judged metric's mean and the paired
difference against the first variant with its 95% interval::

    .venv/bin/python benchmarks/bench_variants.py experiments/suite/catalog10x.toml
        --first-seed 450 --seeds 10
        --variant feature=feature --variant bo=bo
        --variant bo-amp3='bo:{"amplitude_bins": 3}' [--out PATH]

A variant is ``NAME=POLICY`` or ``NAME=POLICY:JSON`` (settings on top of the
experiment's ``[policy.POLICY]``). Writes ``benchmarks/results/variants-<name>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
METRICS = ("characterised_tonight", "frac_characterised", "lc_rmse_mag",
           "frac_characterised_periodic", "open_shutter_fraction", "science_score", "visits")
#: read from the decision records: how the night was spent
HABITS = ("distinct_targets", "longest_repeat", "filter_changes", "median_exptime_s")


def _habits(records: list[Any]) -> dict[str, float]:
    """Distinct targets, the longest run of consecutive visits to one target, the
    filter changes and the median exposure of a night's executed visits."""
    import numpy as np

    from benchmarks._visits import longest_repeat

    done = [r for r in records if r.status == "ok"]
    acts = [(r.proposal.get("action") or {}) for r in done]
    ids = [a.get("target_id") for a in acts]
    bands = [((r.measurement or {}).get("conditions") or {}).get("band") for r in done]
    exps = [a.get("exptime_s") for a in acts if a.get("exptime_s") is not None]
    return {"distinct_targets": float(len(set(ids))), "longest_repeat": float(longest_repeat(ids)),
            "filter_changes": float(sum(b != a for a, b in zip(bands, bands[1:], strict=False))),
            "median_exptime_s": float(np.median(exps)) if exps else float("nan")}


def _variant(text: str) -> tuple[str, str, dict[str, Any]]:
    name, _, spec = text.partition("=")
    policy, _, params = spec.partition(":")
    if not name or not policy:
        raise SystemExit(f"--variant {text!r}: use NAME=POLICY or NAME=POLICY:JSON")
    return name, policy, json.loads(params) if params else {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment")
    ap.add_argument("--first-seed", type=int, required=True)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from steer.config import load_experiment
    from steer.session import play, set_threads
    from steer.stats import mean_ci95, paired_diff_ci95

    set_threads(1)
    base = load_experiment(args.experiment)
    variants = [_variant(v) for v in args.variant]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    values: dict[str, dict[str, list[float]]] = {n: {m: [] for m in (*METRICS, *HABITS, "wall_s")}
                                                 for n, _, _ in variants}
    for seed in seeds:
        for name, policy, params in variants:
            kwargs = {**base.policy_kwargs, policy: {**base.policy_params(policy), **params}}
            config = dataclasses.replace(base, policy_kwargs=kwargs)
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="steer-variants-") as tmp:
                episode = play(config, policy, seed, Path(tmp)).episode
            metrics = {**episode.metrics, **_habits(list(episode.records))}
            values[name]["wall_s"].append(time.perf_counter() - t0)
            for m in (*METRICS, *HABITS):
                values[name][m].append(float(metrics.get(m, float("nan"))))
            print(f"seed {seed} {name:10s} new {metrics.get('characterised_tonight', 0):4.0f} "
                  f"frac {metrics.get('frac_characterised', 0):.3f} rmse "
                  f"{metrics.get('lc_rmse_mag', 0):.4f} shutter "
                  f"{metrics.get('open_shutter_fraction', 0):.3f} "
                  f"{values[name]['wall_s'][-1]:.0f} s", file=sys.stderr, flush=True)
    ref = variants[0][0]
    summary: dict[str, Any] = {}
    for name, policy, params in variants:
        row: dict[str, Any] = {"policy": policy, "params": params}
        for m in (*METRICS, *HABITS, "wall_s"):
            mean, low, high = mean_ci95(values[name][m])
            row[m] = {"mean": mean, "low": low, "high": high, "values": values[name][m]}
            if name != ref:
                d = paired_diff_ci95(values[name][m], values[ref][m])
                row[m]["diff_vs_" + ref] = list(d)
        summary[name] = row
        print(f"{name:10s} " + "  ".join(
            f"{m} {row[m]['mean']:.4g}" + (f" ({row[m]['diff_vs_' + ref][0]:+.3g} "
                                          f"[{row[m]['diff_vs_' + ref][1]:+.3g}, "
                                          f"{row[m]['diff_vs_' + ref][2]:+.3g}])"
                                          if name != ref else "")
            for m in ("characterised_tonight", "frac_characterised", "lc_rmse_mag",
                      "frac_characterised_periodic", "open_shutter_fraction", *HABITS,
                      "wall_s")))
    out = Path(args.out or REPO / "benchmarks" / "results"
               / f"variants-{Path(args.experiment).stem}.json")
    out.write_text(json.dumps({"benchmark": "policy variants, paired nights",
                               "experiment": args.experiment, "seeds": seeds,
                               "reference": ref, "variants": summary}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
