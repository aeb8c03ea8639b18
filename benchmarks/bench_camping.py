"""Benchmark: does a policy camp on a few targets? Read from the decision journals.

Writes ``benchmarks/results/camping-<experiment>.json`` and prints a Markdown table::

    .venv/bin/python benchmarks/bench_camping.py [--experiment experiments/rubin-like.toml]
        [--policies feature,bo,greedy,round-robin,random] [--seeds 10] [--first-seed 0]
        [--from COMPARISON.json --runs-dir DIR]

``steer compare`` runs every policy on the same seeded nights (or ``--from``
reads one it wrote, whose journals are in ``--runs-dir``). Per policy, over the
nights: distinct targets visited, the most visits to one target in a night,
the longest run of consecutive visits to one target, the fraction of visits
that came back saturated (no magnitude) and that earned no reward, the science
score (the reward), the characterised fraction and the new priority targets
characterised (judged against the hidden truth); the paired difference against
``feature`` with its 95% interval.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._markdown import paired_table  # noqa: E402
from benchmarks._visits import longest_repeat  # noqa: E402
from steer.records import read_journal  # noqa: E402
from steer.stats import mean_ci95, paired_diff_ci95  # noqa: E402

METRICS = ("targets_visited", "most_visits_one_target", "longest_repeat", "saturated_frac",
           "zero_reward_frac", "science_score", "frac_characterised", "characterised_tonight")


def night_stats(journal: Path) -> dict[str, float]:
    """What one night's journal says about camping."""
    ids, saturated, zero = [], 0, 0
    for r in read_journal(journal):
        if r.status != "ok" or not r.measurement:
            continue
        ids.append((r.proposal.get("action") or {}).get("target_id"))
        saturated += int(bool(r.measurement.get("saturated")))
        zero += int(r.reward < 1e-3)
    n = max(len(ids), 1)
    return {"most_visits_one_target": float(max(Counter(ids).values(), default=0)),
            "longest_repeat": float(longest_repeat(ids)), "saturated_frac": saturated / n,
            "zero_reward_frac": zero / n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default=str(REPO / "experiments" / "rubin-like.toml"))
    ap.add_argument("--policies", default="feature,bo,greedy,round-robin,random")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--from", dest="source", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    name = Path(args.experiment).stem
    out_path = Path(args.out or REPO / "benchmarks" / "results" / f"camping-{name}.json")
    with tempfile.TemporaryDirectory(prefix="steer-bench-camping-") as folder:
        return _camping(args, out_path, Path(folder))


def _camping(args: argparse.Namespace, out_path: Path, tmp: Path) -> int:
    """Run (or read) the comparison, its runs in ``tmp`` unless ``--runs-dir``; write."""
    name = Path(args.experiment).stem
    if args.source:
        cmp, runs_dir = json.loads(Path(args.source).read_text()), Path(args.runs_dir)
    else:
        runs_dir = Path(args.runs_dir or tmp / "runs")
        cmd = [str(REPO / ".venv" / "bin" / "steer"), "compare", args.experiment, "--policies",
               args.policies, "--seeds", str(args.seeds), "--runs-dir", str(runs_dir),
               "--json", str(tmp / "compare.json")]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
                       stdout=subprocess.DEVNULL)
        cmp = json.loads((tmp / "compare.json").read_text())
    pols, ref = cmp["policies"], cmp["reference"]
    values: dict[str, dict[str, list[float]]] = {}
    for p in pols:
        per = [night_stats(runs_dir / "journals" / f"{rid}.jsonl") for rid in cmp["run_ids"][p]]
        values[p] = {k: [s[k] for s in per] for k in per[0]}
        for k in ("targets_visited", "science_score", "frac_characterised",
                  "characterised_tonight"):
            values[p][k] = cmp["metrics"][p][k]["values"]
    result = {"experiment": cmp.get("experiment"), "seeds": cmp["seeds"], "reference": ref,
              "metrics": {}, "paired": {}}
    for p in pols:
        result["metrics"][p] = {k: dict(zip(("mean", "low", "high"), mean_ci95(values[p][k]),
                                            strict=True)) | {"values": values[p][k]}
                                for k in METRICS}
        if p != ref:
            result["paired"][p] = {k: dict(zip(("mean", "low", "high"), paired_diff_ci95(
                values[p][k], values[ref][k]), strict=True)) for k in METRICS}
    out_path.write_text(json.dumps(result, indent=1, allow_nan=True), encoding="utf-8")
    print(f"{name}: seeds {cmp['seeds'][0]}-{cmp['seeds'][-1]}; mean over the nights "
          f"(paired difference policy - {ref} [95% interval])\n")
    print(paired_table(pols, ref, METRICS, lambda p, k: result["metrics"][p][k]["mean"],
                       lambda p, k: tuple(result["paired"][p][k][x]
                                          for x in ("mean", "low", "high"))))
    print(f"\nwrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
