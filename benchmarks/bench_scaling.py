"""Benchmark: how ``steer compare`` scales with Ray workers, and its serial fraction.

Writes ``benchmarks/results/scaling.json``::

    .venv/bin/python benchmarks/bench_scaling.py [--policies bo,feature] [--seeds 8]
        [--workers 1,2] [--repeat 3] [--all-step-metrics]

Runs ``steer compare experiments/demo.toml`` (16 episodes by default) on an
embedded local Ray with 1 and then 2 CPUs, each as a new process into a fresh
run folder, and reads the timing ``compare`` reports: wall time, Ray start,
the episodes' phase, the driver's serial journaling and MLflow logging, the
comparison's own logging and the episodes' summed compute. The serial
fraction is measured two ways: from the speed-up (Amdahl, ``s = 2 T2 / T1 -
1``) and from the driver's own serial seconds over the 1-worker wall time;
Amdahl's law then projects the speed-up at 8, 16 and 100 workers. With
``--repeat N`` the worker counts are run in turn N times (1, 2, 1, 2, ...: a
drift of the machine's speed falls on both) and the speed-up is the median of
the N pairs, each pair's reported beside it. ``--all-step-metrics`` passes
``compare``'s flag of that name (every per-decision metric to MLflow, as
before it logged only three): what those writes cost.

With ``--cluster`` (root and iproute2 needed) each run instead joins a cluster
started beforehand with ``ray start --head --num-cpus=W`` in a network
namespace of its own (loopback only), as a cluster's users run ``steer compare
--address``: Ray's start is then not part of the command (its join is).

Run it with nothing else busy (the machine has 2 cores: 2 workers and the
driver share them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from steer.ray_setup import loopback_cluster

REPO = Path(__file__).resolve().parents[1]
STEER = str(REPO / ".venv" / "bin" / "steer")


def _env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    return env


def _run(policies: str, seeds: int, workers: int, cluster: bool,
         extra: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="steer-scaling-") as tmp, \
            (loopback_cluster(_env(), head_cpus=workers) if cluster
             else contextlib.nullcontext({"inside": [], "address": None})) as cluster_at:
        out = Path(tmp) / "summary.json"
        inside, address = cluster_at["inside"], cluster_at["address"]
        where = ["--address", address] if address else ["--workers", str(workers)]
        t0 = time.perf_counter()
        subprocess.run([*inside, STEER, "compare", str(REPO / "experiments" / "demo.toml"),
                        "--policies", policies, "--seeds", str(seeds), *where,
                        "--runs-dir", str(Path(tmp) / "runs"), "--json", str(out), *extra],
                       check=True, env=_env(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        command_s = time.perf_counter() - t0
        timing = json.loads(out.read_text())["timing"]
    return {"workers": workers, "command_s": command_s, **timing}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", default="bo,feature")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--cluster", action="store_true",
                    help="join a `ray start` cluster of W CPUs instead of the embedded Ray")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the worker counts in turn this many times; median speed-up")
    ap.add_argument("--all-step-metrics", action="store_true",
                    help="pass compare's --all-step-metrics (every per-decision metric)")
    ap.add_argument("--out", default=None,
                    help="default benchmarks/results/scaling.json (scaling-cluster.json)")
    args = ap.parse_args()
    args.out = args.out or str(REPO / "benchmarks" / "results" /
                               ("scaling-cluster.json" if args.cluster else "scaling.json"))
    counts = [int(v) for v in args.workers.split(",")]
    extra = ["--all-step-metrics"] if args.all_step_metrics else []
    rows = []
    for rep, w in ((k, w) for k in range(args.repeat) for w in counts):
        r = {"repeat": rep, **_run(args.policies, args.seeds, w, args.cluster, extra)}
        rows.append(r)
        print(f"{w} worker(s): compare {r['wall_s']:.1f} s (command {r['command_s']:.1f} s): "
              f"Ray {'join' if args.cluster else 'start'} {r['ray_start_s']:.1f}, "
              f"episodes {r['episodes_s']:.1f} (driver logging {r['driver_logging_s']:.1f} "
              f"of it), comparison logging {r['comparison_logging_s']:.1f}; episodes "
              f"computed {r['episode_compute_s']:.1f} s",
              flush=True)
    pairs = [(next(r for r in rows if r["repeat"] == k and r["workers"] == counts[0]),
              next(r for r in rows if r["repeat"] == k and r["workers"] == counts[-1]))
             for k in range(args.repeat)]
    ratios = [a["wall_s"] / b["wall_s"] for a, b in pairs]
    order = sorted(range(len(pairs)), key=lambda k: ratios[k])
    one, two = pairs[order[len(order) // 2]]  # the median pair (the upper one of two)
    speedup = one["wall_s"] / two["wall_s"]
    serial_amdahl = 2.0 * two["wall_s"] / one["wall_s"] - 1.0
    serial_s = one["ray_start_s"] + one["driver_logging_s"] + one["comparison_logging_s"]
    serial_measured = serial_s / one["wall_s"]

    def amdahl(s: float, n: int) -> float:
        return 1.0 / (s + (1.0 - s) / n)

    out = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
           "ray": "ray start cluster, --address" if args.cluster else "embedded",
           "policies": args.policies, "episodes": args.seeds * len(args.policies.split(",")),
           "all_step_metrics": args.all_step_metrics, "repeat": args.repeat,
           "runs": rows, "speedup_2_over_1": speedup,
           "speedup_each_repeat": ratios,
           "command_speedup_each_repeat": [a["command_s"] / b["command_s"] for a, b in pairs],
           "episodes_phase_speedup_each_repeat": [a["episodes_s"] / b["episodes_s"]
                                                  for a, b in pairs],
           "serial_fraction_from_speedup": serial_amdahl,
           "serial_fraction_measured": serial_measured,
           "projected_speedup": {str(n): {"from_speedup": amdahl(max(serial_amdahl, 0.0), n),
                                          "measured": amdahl(serial_measured, n)}
                                 for n in (8, 16, 100)}}
    print(f"speed-up 2 workers / 1: {speedup:.2f}x (median; each: "
          f"{', '.join(f'{x:.2f}' for x in ratios)}); serial fraction {serial_amdahl:.3f} "
          f"(from the speed-up), {serial_measured:.3f} (the driver's own serial seconds); "
          f"projected at 100 workers: {amdahl(serial_measured, 100):.1f}x")
    Path(args.out).write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
