"""Benchmark: what two cores give two episodes, with no Ray and no driver at all.

Writes ``benchmarks/results/cores.json``::

    .venv/bin/python benchmarks/bench_cores.py [--experiment experiments/demo.toml]
        [--policies bo,feature] [--seeds 2] [--repeat 3]

The ceiling of ``steer compare``'s speed-up on this machine. Each of one or two
processes (spawned, one torch thread each, as Ray's workers) plays the same
episodes that ``compare``'s workers play (``steer.runner._episode``: the
episode, its MLflow payload and its report, with no MLflow store), after one
warm-up episode that pays the imports. Alone, then two at once (the same
episodes each), alternating ``--repeat`` times. The slowdown is the median
seconds per episode when two run together over the seconds alone; two workers
can then run at most ``2 / slowdown`` times as fast as one, before any Ray,
driver or MLflow cost. A pure-Python loop (no memory traffic) is timed the same
way, to tell a machine whose two cores slow each other down in any work from
one whose episodes contend for memory and caches.

Run it with nothing else busy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i % 7
    return time.perf_counter() - t0


def _episodes(experiment: str, jobs: list[tuple[str, int]], start: mp.Event,
              out: mp.Queue) -> None:
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MLFLOW_DISABLE_TELEMETRY="true")
    from steer.runner import _episode

    path = Path(experiment)
    text = path.read_text()
    _episode(text, str(path), jobs[0][0], 10_000 + jobs[0][1], "warmup", None)  # imports, caches
    out.put("ready")
    start.wait()
    times = []
    for policy, seed in jobs:
        t0 = time.perf_counter()
        _episode(text, str(path), policy, seed, f"{policy}-{seed}", None)
        times.append(time.perf_counter() - t0)
    spin = [_spin(20_000_000) for _ in range(2)]
    out.put({"episode_s": times, "spin_s": spin})


def _round(n_procs: int, experiment: str, jobs: list[tuple[str, int]]) -> list[dict]:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_episodes, args=(experiment, jobs, start, out))
             for _ in range(n_procs)]
    for p in procs:
        p.start()
    for _ in procs:  # every process has warmed up and waits at the event
        if out.get(timeout=600) != "ready":
            raise SystemExit("a process did not warm up")
    time.sleep(1.0)
    start.set()
    results = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default=str(REPO / "experiments" / "demo.toml"))
    parser.add_argument("--policies", default="bo,feature")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "cores.json"))
    args = parser.parse_args(argv)
    jobs = [(p, s) for s in range(args.seeds) for p in args.policies.split(",")]
    rounds = []
    for r in range(args.repeat):
        for n in (1, 2):
            t0 = time.perf_counter()
            res = _round(n, args.experiment, jobs)
            rounds.append({"repeat": r, "processes": n, "results": res,
                           "round_s": time.perf_counter() - t0})
            ep = [t for x in res for t in x["episode_s"]]
            print(f"repeat {r}, {n} process(es): {statistics.median(ep):.2f} s per episode "
                  f"(median of {len(ep)}), spin {statistics.median([t for x in res for t in x['spin_s']]):.2f} s",
                  file=sys.stderr)

    def per_episode(n: int) -> dict[str, float]:
        sums = {}
        for k, (p, s) in enumerate(jobs):
            vals = [x["episode_s"][k] for rd in rounds if rd["processes"] == n for x in rd["results"]]
            sums[f"{p}-{s}"] = statistics.median(vals)
        return sums

    alone, together = per_episode(1), per_episode(2)
    slow = {k: together[k] / alone[k] for k in alone}
    spin1 = statistics.median([t for rd in rounds if rd["processes"] == 1 for x in rd["results"]
                               for t in x["spin_s"]])
    spin2 = statistics.median([t for rd in rounds if rd["processes"] == 2 for x in rd["results"]
                               for t in x["spin_s"]])
    episode_slowdown = sum(together.values()) / sum(alone.values())
    summary = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "experiment": os.path.relpath(args.experiment, REPO), "jobs": jobs,
        "repeat": args.repeat,
        "episode_s_alone": alone, "episode_s_two_at_once": together,
        "slowdown_per_episode": slow,
        "episode_slowdown": episode_slowdown,
        "episode_speedup_ceiling_2": 2.0 / episode_slowdown,
        "spin_s_alone": spin1, "spin_s_two_at_once": spin2,
        "spin_slowdown": spin2 / spin1, "spin_speedup_ceiling_2": 2.0 * spin1 / spin2,
        "rounds": rounds,
    }
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rounds"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
