"""Merge ``bench_quality.py`` results over disjoint seeds; compare optimisers with intervals.

A median over 20 seeds of a bimodal regret (a run finds the global basin or
it does not) moves a lot from one set of seeds to the next, so this script
pools runs of the same settings over more seeds and says how sure the
comparison is: for each pairing (steer vs Ax on the same information) the
medians, a bootstrap 95% interval of the difference of medians (seeds
resampled, 10,000 draws, seeded), the bootstrap probability that steer's
median is no worse, and the seeds on which each is better::

    .venv/bin/python benchmarks/combine_quality.py benchmarks/results/quality.json \
        benchmarks/results/quality-seeds20-49.json [--out benchmarks/results/quality-50.json]

Files may hold different optimisers (steer's rows in one, Ax's in another);
refuses files whose settings of the same optimiser, budgets or noise
differ, and an optimiser's seed that appears twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

# a final regret below this is in the global basin: on Hartmann6 it is below the regret of the
# best local optimum (f = -3.2032, regret 0.119); Branin's three minima are all global, so
# there the threshold only says "close to one of them"
BASIN = {"hartmann6": 0.1, "branin": 0.05}

PAIRINGS = (("bo-continuous", "ax-known-noise", "noise known (0)"),
            ("bo-continuous-inferred", "ax", "noise inferred"),
            ("bo-continuous-defaults", "ax", "steer defaults vs Ax defaults"))


def _bootstrap(a: np.ndarray, b: np.ndarray, draws: int = 10_000, seed: int = 0
               ) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    ma = np.median(a[rng.integers(0, len(a), (draws, len(a)))], axis=1)
    mb = np.median(b[rng.integers(0, len(b), (draws, len(b)))], axis=1)
    d = ma - mb
    return float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5)), float(np.mean(d <= 0))


def _paired_rate(a: np.ndarray, b: np.ndarray, draws: int = 10_000, seed: int = 0
                 ) -> tuple[float, float]:
    """Bootstrap 95% interval of the difference of two success rates, seeds resampled in pairs."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (draws, len(a)))
    d = a[idx].mean(axis=1) - b[idx].mean(axis=1)
    return float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", default="benchmarks/results/quality-50.json")
    args = ap.parse_args()
    docs = [json.loads(Path(f).read_text()) for f in args.files]
    first = docs[0]
    settings: dict[str, Any] = {}
    for f, d in zip(args.files, docs, strict=True):
        if d["noise_std"] != first["noise_std"]:
            print(f"combine_quality: {f} has another noise_std than {args.files[0]}",
                  file=sys.stderr)
            return 2
        for opt, value in d["settings"].items():  # an optimiser's settings agree across files
            if settings.setdefault(opt, value) != value:
                print(f"combine_quality: {f} has other settings of {opt}", file=sys.stderr)
                return 2
        for p, budget in d["problems"].items():
            if first["problems"].setdefault(p, budget) != budget:
                print(f"combine_quality: {f} gives {p} another budget", file=sys.stderr)
                return 2
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for f, d in zip(args.files, docs, strict=True):
        for p, by_opt in d["runs"].items():
            for o, rs in by_opt.items():
                have = {r["seed"] for r in runs.get(p, {}).get(o, [])}
                if have & {r["seed"] for r in rs}:
                    print(f"combine_quality: {f} repeats seeds of {o} on {p}", file=sys.stderr)
                    return 2
                runs.setdefault(p, {}).setdefault(o, []).extend(rs)
    seeds = sorted({s for d in docs for s in d["seeds"]})
    summary: dict[str, Any] = {}
    comparisons: dict[str, Any] = {}
    for p, by_opt in runs.items():
        summary[p] = {}
        for o, rs in by_opt.items():
            r = np.array([x["final_simple_regret"] for x in rs])
            summary[p][o] = {"median": float(np.median(r)), "q25": float(np.percentile(r, 25)),
                             "q75": float(np.percentile(r, 75)), "mean": float(r.mean()),
                             "under_0.05": int((r < 0.05).sum()), "seeds": len(r),
                             "basin_threshold": BASIN.get(p),
                             "in_global_basin": (float((r < BASIN[p]).mean())
                                                 if p in BASIN else None),
                             "mean_s_per_suggestion": float(np.mean(
                                 [x["mean_ask_s"] for x in rs]))}
        comparisons[p] = {}
        for steer, ax, label in PAIRINGS:
            if steer not in by_opt or ax not in by_opt:
                continue
            a = {x["seed"]: x["final_simple_regret"] for x in by_opt[steer]}
            b = {x["seed"]: x["final_simple_regret"] for x in by_opt[ax]}
            common = sorted(set(a) & set(b))
            va, vb = np.array([a[s] for s in common]), np.array([b[s] for s in common])
            lo, hi, p_ok = _bootstrap(va, vb)
            t = BASIN.get(p, 0.05)
            sa, sb = (va < t).astype(float), (vb < t).astype(float)
            rlo, rhi = _paired_rate(sa, sb)
            comparisons[p][f"{steer} vs {ax}"] = {
                "information": label, "seeds": len(common),
                "median_steer": float(np.median(va)), "median_ax": float(np.median(vb)),
                "median_difference": float(np.median(va) - np.median(vb)),
                "bootstrap_95_interval": [lo, hi], "p_steer_median_no_worse": p_ok,
                "seeds_steer_better": int((va < vb).sum()),
                "seeds_ax_better": int((va > vb).sum()),
                "sign_test_p": float(stats.binomtest(int((va < vb).sum()), int((va != vb).sum()))
                                     .pvalue) if (va != vb).any() else 1.0,
                "in_global_basin_steer": float(sa.mean()), "in_global_basin_ax": float(sb.mean()),
                "basin_rate_difference_95_interval": [rlo, rhi]}
    print(f"{len(seeds)} seeds ({min(seeds)}-{max(seeds)})")
    for p, comps in comparisons.items():
        for k, c in comps.items():
            print(f"{p:>9} {k:>40}: median {c['median_steer']:.4f} vs {c['median_ax']:.4f}, "
                  f"difference {c['median_difference']:+.4f} [{c['bootstrap_95_interval'][0]:+.4f}, "
                  f"{c['bootstrap_95_interval'][1]:+.4f}], P(no worse) "
                  f"{c['p_steer_median_no_worse']:.2f}, better on {c['seeds_steer_better']} vs "
                  f"{c['seeds_ax_better']} seeds (sign test p {c['sign_test_p']:.2g}); in the basin {c['in_global_basin_steer']:.2f} "
                  f"vs {c['in_global_basin_ax']:.2f} (difference "
                  f"[{c['basin_rate_difference_95_interval'][0]:+.2f}, "
                  f"{c['basin_rate_difference_95_interval'][1]:+.2f}])")
    out = {"benchmark": "quality, combined", "command": " ".join(
        ["benchmarks/combine_quality.py", *sys.argv[1:]]), "files": args.files,
        "seeds": seeds, "problems": first["problems"], "settings": settings,
        "versions": [d["versions"] for d in docs], "summary": summary,
        "comparisons": comparisons,
        "bootstrap": "10,000 resamples of the seeds, each optimiser apart (medians) or in "
                     "pairs (basin rates), numpy seed 0",
        "global_basin": {k: f"final simple regret < {v}" for k, v in BASIN.items()}}
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
