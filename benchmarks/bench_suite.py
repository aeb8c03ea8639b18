"""Benchmark: the scenario suite's scorecard, learning policies against the classical ones.

Writes ``benchmarks/results/suite.json`` and prints a Markdown table::

    .venv/bin/python benchmarks/bench_suite.py [--policies bo,greedy,round-robin,random]
        [--model runs:/<id>/model] [--tuned best-feature.toml] [--seeds 10]
        [--scenarios a,b] [--runs-dir runs] [--work DIR] [--update suite.json]

Every scenario of ``experiments/suite/`` (presets, sites, seasons, Moon phases,
cloud, catalog sizes; each on seeds of its own: 100-, 200-, ... 800-) is run
by ``steer compare`` for ``feature`` and ``--policies``; ``rl`` is added when
``--model`` gives a model (``steer train experiments/demo.toml`` trains on
nights seeded from 1,000,000 on), and ``tuned-feature`` when ``--tuned`` gives
the ``[policy.feature]`` snippet ``steer tune`` wrote (tuned on the demo's
seeds 0-7): ``feature`` once more with those settings on the same nights. No
reported seed was used for tuning or training. For each metric judged against
the hidden truth (and the science score, the reward) it reports every policy's
mean and the paired difference against ``feature`` with its 95% interval, and
a verdict: better, tied or worse. ``--work DIR`` keeps every comparison's JSON
there and reuses those already made (a policy already compared on a scenario
is not run again).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from steer.stats import mean_ci95, paired_diff_ci95  # noqa: E402

SUITE = REPO / "experiments" / "suite"
# metric -> +1 when larger is better, -1 when smaller is better
METRICS = {"frac_characterised": 1, "characterised_tonight": 1, "lc_rmse_mag": -1,
           "frac_characterised_periodic": 1, "open_shutter_fraction_dome_open": 1,
           "science_score": 1}


def _compare(experiment: Path, policies: list[str], seeds: int, runs_dir: str, out: Path,
             model: str | None) -> dict:
    cmd = [str(REPO / ".venv" / "bin" / "steer"), "compare", str(experiment), "--policies",
           ",".join(policies), "--seeds", str(seeds), "--runs-dir", runs_dir, "--json", str(out)]
    if model and "rl" in policies:
        cmd += ["--model", model]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
                   stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def _scenario(name: str, policies: list[str], args: argparse.Namespace,
              work: Path) -> tuple[list[int], dict[str, dict], dict[str, dict]]:
    """Every policy's metrics on the scenario's nights, from the comparisons in ``work``
    (run for the policies none of them has)."""
    exp = SUITE / f"{name}.toml"
    have: dict[str, dict] = {}
    seeds = None
    run_ids: dict[str, list[str]] = {}
    for path in sorted(work.glob(f"{name}*.json")):
        cmp = json.loads(path.read_text())
        if len(cmp["seeds"]) != args.seeds:
            continue
        seeds = cmp["seeds"]
        for pol, metrics in cmp["metrics"].items():
            have.setdefault(pol, metrics)
            run_ids.setdefault(pol, cmp["run_ids"][pol])
    missing = [p for p in policies if p not in have]
    if missing:
        cmp = _compare(exp, missing, args.seeds, args.runs_dir,
                       work / f"{name}-{'-'.join(missing)}.json", args.model)
        assert seeds is None or cmp["seeds"] == seeds, "the same nights, paired"
        seeds = cmp["seeds"]
        have.update(cmp["metrics"])
        run_ids.update(cmp["run_ids"])
    values = {p: have[p] for p in policies}
    camping = {p: _camping(args.runs_dir, run_ids[p]) for p in policies}
    if args.tuned:
        out = work / "tuned" / f"{name}.json"
        out.parent.mkdir(exist_ok=True)
        if not out.is_file():
            text = exp.read_text().replace('name = "suite-', 'name = "tuned-suite-', 1)
            tuned_exp = out.with_suffix(".toml")
            tuned_exp.write_text(text + "\n" + Path(args.tuned).read_text())
            _compare(tuned_exp, ["feature"], args.seeds, args.runs_dir, out, None)
        tuned = json.loads(out.read_text())
        assert tuned["seeds"] == seeds, "the same nights, paired"
        values["tuned-feature"] = tuned["metrics"]["feature"]
        camping["tuned-feature"] = _camping(args.runs_dir, tuned["run_ids"]["feature"])
    return seeds, values, camping


def _camping(runs_dir: str, run_ids: list[str]) -> dict[str, float]:
    """From the journals: the longest run of consecutive visits to one target, and the
    fraction of visits whose reward was below 0.001 (nothing learned), over the nights."""
    from benchmarks._visits import longest_repeat
    from steer.records import read_journal

    longest, wasted, visits = [], 0, 0
    for rid in run_ids:
        ids = []
        for r in read_journal(Path(runs_dir) / "journals" / f"{rid}.jsonl"):
            if r.status != "ok":
                continue
            ids.append((r.proposal.get("action") or {}).get("target_id"))
            wasted += int(r.reward < 1e-3)
        longest.append(longest_repeat(ids))
        visits += len(ids)
    return {"longest_repeat_median": float(sorted(longest)[len(longest) // 2]),
            "longest_repeat_max": float(max(longest)),
            "zero_reward_visit_frac": wasted / max(visits, 1)}


def _verdict(diff: tuple[float, float, float], sign: int) -> str:
    _, lo, hi = diff  # other - feature
    if sign * lo > 0 and sign * hi > 0:
        return "better"
    if sign * lo < 0 and sign * hi < 0:
        return "worse"
    return "tied"


def _merge(old: dict, new: dict, replaced: list[str]) -> dict:
    """``old`` scorecard with ``replaced`` policies' entries taken from ``new``.

    Sound only on the same nights with ``feature`` unchanged (every paired
    difference is against it): both are checked, else SystemExit.
    """
    new = json.loads(json.dumps(new))  # tuples as JSON lists, like ``old``
    for name, scen in new["scenarios"].items():
        was = old["scenarios"].get(name)
        if was is None or was["seeds"] != scen["seeds"]:
            raise SystemExit(f"--update: scenario {name} is not on the same seeds in both")
        for metric, per in scen["metrics"].items():
            if was["metrics"][metric]["feature"] != per["feature"]:
                raise SystemExit(f"--update: feature's {metric} on {name} changed "
                                 f"({was['metrics'][metric]['feature']} -> {per['feature']}); "
                                 "rerun the whole suite")
            for pol in replaced:
                was["metrics"][metric][pol] = per[pol]
        for pol in replaced:
            was["camping"][pol] = scen["camping"][pol]
    old.setdefault("updated", []).append(
        {"policies": replaced, "scenarios": sorted(new["scenarios"])})
    return old


def _print(result: dict, pols: list[str]) -> None:
    rows = []
    for name, scen in result["scenarios"].items():
        for metric in scen["metrics"]:
            per = scen["metrics"][metric]
            cells = []
            for pol in pols:
                m = per[pol]["mean_ci95"][0]
                if pol == "feature":
                    cells.append(f"{m:.3g}")
                else:
                    d, lo, hi = per[pol]["diff_vs_feature_ci95"]
                    cells.append(f"{m:.3g} ({d:+.3g} [{lo:+.3g}, {hi:+.3g}], "
                                 f"{per[pol]['verdict']})")
            rows.append(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    print("| scenario | metric | " + " | ".join(pols) + " |")
    print("|---|---|" + "---|" * len(pols))
    print("\n".join(rows))
    judged = [m for m in METRICS if m != "science_score"]
    print(f"\nverdicts against feature ({', '.join(judged)}; B better, T tied, W worse):\n")
    others = [p for p in pols if p != "feature"]
    print("| scenario | " + " | ".join(others) + " |")
    print("|---|" + "---|" * len(others))
    for name, scen in result["scenarios"].items():
        cells = ["".join(scen["metrics"][m][p]["verdict"][0].upper() for m in judged
                         if m in scen["metrics"]) for p in others]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\ncamping, from the journals: longest run of consecutive visits to one target "
          "(median / max over the nights), fraction of visits with reward < 0.001:\n")
    print("| scenario | " + " | ".join(pols) + " |")
    print("|---|" + "---|" * len(pols))
    for name, scen in result["scenarios"].items():
        c = scen["camping"]
        print(f"| {name} | " + " | ".join(
            f"{c[p]['longest_repeat_median']:.0f} / {c[p]['longest_repeat_max']:.0f}, "
            f"{c[p]['zero_reward_visit_frac']:.2f}" for p in pols) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", default="bo,greedy,round-robin,random",
                    help="compared with feature (default bo,greedy,round-robin,random)")
    ap.add_argument("--model", help="the rl model, runs:/<id>/model (adds rl)")
    ap.add_argument("--tuned", help="the [policy.feature] snippet steer tune wrote")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--scenarios", default=None, help="default: every experiments/suite file")
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--work", default=None, help="keep (and reuse) the comparisons here")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "suite.json"))
    ap.add_argument("--update", metavar="SUITE_JSON",
                    help="rerun only feature and --policies and replace their entries in this "
                         "scorecard (the other policies' are kept: same nights, feature checked "
                         "unchanged); written to --out")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="steer-suite-") as folder:
        return _suite(args, Path(args.work or folder))


def _suite(args: argparse.Namespace, work: Path) -> int:
    """Every scenario's comparisons (kept in ``work``), the scorecard written."""
    work.mkdir(parents=True, exist_ok=True)
    policies = ["feature", *[p for p in args.policies.split(",") if p and p != "feature"]]
    if args.model and "rl" not in policies:
        policies.append("rl")
    names = (args.scenarios.split(",") if args.scenarios
             else sorted(p.stem for p in SUITE.glob("*.toml")))
    result: dict = {"model": args.model, "seeds": args.seeds, "scenarios": {}}
    if args.tuned:
        result["tuned"] = Path(args.tuned).read_text()
    pols = [*policies, *(["tuned-feature"] if args.tuned else [])]
    for name in names:
        seeds, values, camping = _scenario(name, policies, args, work)
        scen: dict = {"seeds": seeds, "metrics": {}, "camping": camping}
        for metric, sign in METRICS.items():
            if metric not in values["feature"]:
                continue
            ref = values["feature"][metric]["values"]
            per: dict = {}
            for pol, vals in values.items():
                v = vals[metric]["values"]
                entry = {"mean_ci95": mean_ci95(v)}
                if pol != "feature":
                    d = paired_diff_ci95(v, ref)  # other - feature
                    entry.update(diff_vs_feature_ci95=d, verdict=_verdict(d, sign))
                per[pol] = entry
            scen["metrics"][metric] = per
        result["scenarios"][name] = scen
    if args.update:
        result = _merge(json.loads(Path(args.update).read_text()), result,
                        [p for p in pols if p != "feature"])
        pols = list(next(iter(result["scenarios"].values()))["camping"])
    _print(result, pols)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
