"""Does an optimiser's success depend on the seed range? Success per block of 8 seeds.

Reads ``bench_quality.py`` results (one or more files, disjoint seeds), groups
the seeds in blocks of 8 (``seed // 8``), and for each optimiser reports the
fraction of runs per block that reach the global basin (final simple regret
below ``--threshold``: on Hartmann6, 0.1 is below the regret of its best
local optimum, 0.119, so a run under it is in the global basin), with a
permutation test of homogeneity: if success did not depend on the block, how
often would shuffling the seeds between blocks give a chi-square statistic
as large as the observed one (10,000 permutations, numpy seed 0)? Also the
binomial probability of the most extreme block under the pooled rate::

    .venv/bin/python benchmarks/quality_blocks.py FILE [FILE ...] [--function hartmann6]
        [--threshold 0.1] [--out benchmarks/results/quality-blocks.json]

writes the JSON and a figure beside it (``.png``: success per block, one
line per optimiser).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from combine_quality import BASIN  # noqa: E402


def _chi2(success: np.ndarray, block: np.ndarray) -> float:
    """Chi-square statistic of a (blocks x {success, failure}) table."""
    blocks = np.unique(block)
    n = np.array([np.sum(block == b) for b in blocks], float)
    s = np.array([success[block == b].sum() for b in blocks], float)
    p = success.mean()
    if p in (0.0, 1.0):
        return 0.0
    expected = n * p
    return float(np.sum((s - expected) ** 2 / (expected * (1 - p))))


def homogeneity(success: np.ndarray, block: np.ndarray, draws: int = 10_000,
                seed: int = 0) -> dict[str, Any]:
    """Permutation p-value of 'success does not depend on the block', and the extreme block."""
    rng = np.random.default_rng(seed)
    observed = _chi2(success, block)
    null = np.array([_chi2(rng.permutation(success), block) for _ in range(draws)])
    p_rate = float(success.mean())
    per = {int(b): (int(success[block == b].sum()), int(np.sum(block == b)))
           for b in np.unique(block)}
    tails = {b: min(stats.binom.cdf(k, n, p_rate), stats.binom.sf(k - 1, n, p_rate))
             for b, (k, n) in per.items()}
    worst = min(tails, key=tails.get)
    return {"chi2": observed, "p_permutation": float(np.mean(null >= observed - 1e-12)),
            "pooled_rate": p_rate, "most_extreme_block_first_seed": worst * 8,
            "most_extreme_block": f"{per[worst][0]} of {per[worst][1]}",
            "most_extreme_block_binomial_tail": float(tails[worst])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--function", default="hartmann6")
    ap.add_argument("--threshold", type=float, default=None,
                    help="success below this final regret (default: combine_quality's BASIN "
                         "for the function)")
    ap.add_argument("--out", default="benchmarks/results/quality-blocks.json")
    args = ap.parse_args()
    if args.threshold is None:
        args.threshold = BASIN[args.function]
    runs: dict[str, dict[int, float]] = {}
    for f in args.files:
        doc = json.loads(Path(f).read_text())
        for opt, rs in doc["runs"].get(args.function, {}).items():
            for r in rs:
                if r["seed"] in runs.setdefault(opt, {}):
                    print(f"quality_blocks: seed {r['seed']} of {opt} twice ({f})",
                          file=sys.stderr)
                    return 2
                runs[opt][r["seed"]] = r["final_simple_regret"]
    if not runs:
        print(f"quality_blocks: no {args.function} runs in {args.files}", file=sys.stderr)
        return 2
    out: dict[str, Any] = {"benchmark": "quality per block of 8 seeds",
                           "command": " ".join(["benchmarks/quality_blocks.py", *sys.argv[1:]]),
                           "function": args.function, "threshold": args.threshold,
                           "success": f"final simple regret < {args.threshold}",
                           "optimizers": {}}
    for opt, by_seed in sorted(runs.items()):
        seeds = np.array(sorted(by_seed))
        success = np.array([by_seed[s] < args.threshold for s in seeds], float)
        block = seeds // 8
        regret = np.array([by_seed[s] for s in seeds])
        per_block = [{"first_seed": int(b) * 8, "runs": int(np.sum(block == b)),
                      "successes": int(success[block == b].sum()),
                      "median_regret": float(np.median(regret[block == b]))}
                     for b in np.unique(block)]
        out["optimizers"][opt] = {"seeds": len(seeds), "per_block": per_block,
                                  "homogeneity": homogeneity(success, block)}
        h = out["optimizers"][opt]["homogeneity"]
        print(f"{opt:>24}: {int(success.sum())}/{len(seeds)} in the global basin; per block "
              + " ".join(f"{b['successes']}/{b['runs']}" for b in per_block)
              + f"; homogeneity p = {h['p_permutation']:.3f}, most extreme block "
              f"{h['most_extreme_block']} at {h['most_extreme_block_first_seed']} "
              f"(binomial tail {h['most_extreme_block_binomial_tail']:.3f}); block medians "
              f"{min(b['median_regret'] for b in per_block):.4f} to "
              f"{max(b['median_regret'] for b in per_block):.4f}")
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    _figure(out, path.with_suffix(".png"))
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return 0


def _figure(out: dict[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6))
    ax = fig.add_subplot()
    for opt, d in out["optimizers"].items():
        x = [b["first_seed"] for b in d["per_block"]]
        y = [b["successes"] / b["runs"] for b in d["per_block"]]
        ax.plot(x, y, marker="o", label=f"{opt} (p = {d['homogeneity']['p_permutation']:.2f})")
    ax.set_xlabel("first seed of the block of 8")
    ax.set_ylabel("fraction in the global basin")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{out['function']}: {out['success']}, per block of 8 seeds")
    ax.legend(fontsize=8)
    fig.savefig(path, bbox_inches="tight", dpi=110)


if __name__ == "__main__":
    sys.exit(main())
