"""Benchmark: multi-night campaigns, every policy against ``feature`` on the same skies.

Writes ``benchmarks/results/campaign.json`` and prints a Markdown table::

    .venv/bin/python benchmarks/bench_campaign.py [--experiment experiments/campaign.toml]
        [--policies feature,bo,greedy,round-robin,random] [--seeds 10] [--nights N]
        [--runs-dir DIR] [--from COMPARISON.json]

It runs ``steer compare EXPERIMENT --nights N`` (default: the file's ``[campaign]
nights``; ``experiments/campaign.toml``: 30 nights of the demo telescope,
seeds 900-, never used to tune or train anything), or reads a comparison it
already wrote (``--from``). For each metric judged against the hidden truth it
reports every policy's mean with its 95% interval, the paired difference
against ``feature`` and, for the priority targets characterised over the
campaign, the ratio of means ``policy / feature`` with a paired bootstrap 95%
interval (10,000 resamples of the seeds). Wall time per campaign and ms per
decision (p50/p95 over every decision of the campaign) come from the same runs.
Its runs and journals go to a temporary folder removed at the end; pass
``--runs-dir`` to keep them (for ``steer ui`` or ``bench_camping.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._markdown import paired_table  # noqa: E402

METRICS = ("characterised_campaign", "characterised_campaign_per_h", "frac_characterised",
           "period_recovery_rate", "frac_characterised_transient",
           "frac_characterised_constant", "new_transients_characterised",
           "transient_days_to_characterise", "lc_rmse_mag", "open_shutter_fraction_dome_open",
           "science_score", "visits", "targets_visited", "wall_s", "decision_ms_p50",
           "decision_ms_p95")


def ratio_ci95(ref: list[float], other: list[float], n_boot: int = 10_000,
               seed: int = 0) -> tuple[float, float, float]:
    """``mean(other) / mean(ref)`` and a paired bootstrap 95% interval (seeds resampled)."""
    a, b = np.asarray(ref, float), np.asarray(other, float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n_boot, len(a)))
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = b[idx].mean(axis=1) / a[idx].mean(axis=1)
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return float(b.mean() / a.mean()), float(lo), float(hi)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default=str(REPO / "experiments" / "campaign.toml"))
    ap.add_argument("--policies", default="feature,bo,greedy,round-robin,random")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--nights", type=int, default=None)
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--from", dest="source", default=None,
                    help="a steer compare --json of campaigns, instead of running one")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "campaign.json"))
    args = ap.parse_args()
    if args.source:
        cmp = json.loads(Path(args.source).read_text())
    else:
        tmp = Path(tempfile.mkdtemp(prefix="steer-bench-campaign-"))
        out = tmp / "compare.json"
        cmd = [str(REPO / ".venv" / "bin" / "steer"), "compare", args.experiment, "--policies",
               args.policies, "--seeds", str(args.seeds), "--runs-dir",
               args.runs_dir or str(tmp / "runs"), "--json", str(out)]
        if args.nights:
            cmd += ["--nights", str(args.nights)]
        print("+", " ".join(cmd), flush=True)
        try:
            subprocess.run(cmd, check=True,
                           env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
            cmp = json.loads(out.read_text())
        finally:  # the runs stay only where --runs-dir put them
            shutil.rmtree(tmp, ignore_errors=True)
    pols, ref = cmp["policies"], cmp["reference"]
    result = {"experiment": cmp.get("experiment"), "nights": cmp["nights"], "seeds": cmp["seeds"],
              "reference": ref, "metrics": {}, "paired": {}, "ratio_characterised": {},
              "timing": cmp.get("timing")}
    for p in pols:
        result["metrics"][p] = {k: cmp["metrics"][p][k] for k in METRICS if k in cmp["metrics"][p]}
        if p != ref:
            result["paired"][p] = {k: cmp["paired"][p][k] for k in METRICS if k in cmp["paired"][p]}
            r, lo, hi = ratio_ci95(cmp["metrics"][ref]["characterised_campaign"]["values"],
                                   cmp["metrics"][p]["characterised_campaign"]["values"])
            result["ratio_characterised"][p] = {"ratio": r, "low": lo, "high": hi}
    Path(args.out).write_text(json.dumps(result, indent=1, allow_nan=True), encoding="utf-8")
    print(f"{cmp['nights']}-night campaigns, seeds {cmp['seeds'][0]}-{cmp['seeds'][-1]}; "
          f"paired difference is policy - {ref}\n")

    def diff(p: str, k: str) -> tuple[float, float, float]:
        d = cmp["paired"][p][k]  # the comparison's is ref - p
        return -d["mean"], -d["high"], -d["low"]

    print(paired_table(pols, ref, METRICS,
                       lambda p, k: (cmp["metrics"][p].get(k) or {}).get("mean"), diff))
    print()
    for p, r in result["ratio_characterised"].items():
        print(f"characterised over the campaign, {p} / {ref}: {r['ratio']:.2f} "
              f"[{r['low']:.2f}, {r['high']:.2f}]")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
