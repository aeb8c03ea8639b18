"""Kill drill: ``kill -9`` a night at random points, resume it, compare with an uninterrupted one.

For each kill point: start ``steer run EXPERIMENT --policy P --seed S`` in a
fresh run folder, wait until the journal holds ``k`` decisions, ``kill -9``
the process, then ``steer run EXPERIMENT --resume RUN_ID``. Reports, per
point: decisions journaled before the kill, after the resume, lost (a step
of the uninterrupted night missing), duplicated (a (step, attempt) twice)
and whether every decision is identical to the uninterrupted night's; the
MLflow status seen after the kill (``steer runs`` marks the dead run) and
after the resume.

Writes ``benchmarks/results/resume_drill.json``.

    .venv/bin/python benchmarks/bench_resume_drill.py [--experiment experiments/demo.toml]
        [--policy bo] [--seed 5] [--points 5] [--rng 2026]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STEER = [sys.executable, "-m", "steer.cli"]


def _keys(journal: Path) -> list[tuple]:
    out = []
    for line in journal.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out.append((r["step"], r["attempt"], r["status"],
                        json.dumps(r["proposal"]["action"], sort_keys=True)))
    return out


def _status(runs: Path, run_id: str) -> str:
    out = subprocess.run([*STEER, "runs", "--runs-dir", str(runs), "--limit", "100"],
                         capture_output=True, text=True, check=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith(run_id)), "")
    return line.split()[4] if line else "missing"


def run_once(exp: Path, policy: str, seed: int, runs: Path) -> tuple[str, Path]:
    out = subprocess.run([*STEER, "run", str(exp), "--policy", policy, "--seed", str(seed),
                          "--runs-dir", str(runs)], capture_output=True, text=True, check=True)
    run_id = re.search(r"MLflow run id: (\w+)", out.stdout).group(1)
    return run_id, runs / "journals" / f"{run_id}.jsonl"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default=str(ROOT / "experiments" / "demo.toml"))
    ap.add_argument("--policy", default="bo")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--points", type=int, default=5)
    ap.add_argument("--rng", type=int, default=2026, help="seed of the kill points")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "resume_drill.json"))
    args = ap.parse_args()
    exp = Path(args.experiment).resolve()
    with tempfile.TemporaryDirectory(prefix="steer-drill-") as tmp:
        tmp = Path(tmp)
        _, ref_journal = run_once(exp, args.policy, args.seed, tmp / "reference")
        ref = _keys(ref_journal)
        points = sorted(np.random.default_rng(args.rng).choice(
            np.arange(5, len(ref) - 5), size=args.points, replace=False).tolist())
        rows = []
        for k in points:
            runs = tmp / f"kill-{k}"
            proc = subprocess.Popen([*STEER, "run", str(exp), "--policy", args.policy,
                                     "--seed", str(args.seed), "--runs-dir", str(runs)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            first = proc.stdout.readline()  # "run <id> started; journal: <path>"
            run_id = re.search(r"run (\w+) started", first).group(1)
            journal = runs / "journals" / f"{run_id}.jsonl"
            t0 = time.time()
            while time.time() - t0 < 600:
                if journal.exists() and sum(1 for _ in journal.open()) >= k:
                    break
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            before = len(_keys(journal))
            status_dead = _status(runs, run_id)
            t1 = time.time()
            res = subprocess.run([*STEER, "run", str(exp), "--resume", run_id,
                                  "--runs-dir", str(runs)], capture_output=True, text=True)
            resume_s = time.time() - t1
            keys = _keys(journal)
            pairs = [(s, a) for s, a, _, _ in keys]
            rows.append({
                "kill_after": k, "journaled_before_kill": before,
                "journaled_after_resume": len(keys), "reference_decisions": len(ref),
                "lost": len({r[0] for r in ref} - {r[0] for r in keys}),
                "duplicated": len(pairs) - len(set(pairs)),
                "identical": keys == ref, "resume_exit": res.returncode,
                "status_after_kill": status_dead, "status_after_resume": _status(runs, run_id),
                "resume_wall_s": round(resume_s, 2)})
            print(json.dumps(rows[-1]), flush=True)
    result = {"experiment": str(exp.relative_to(ROOT)) if exp.is_relative_to(ROOT) else str(exp),
              "policy": args.policy, "seed": args.seed, "rng": args.rng, "points": rows}
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0 if all(r["identical"] and r["resume_exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
