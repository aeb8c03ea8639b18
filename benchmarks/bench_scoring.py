"""Benchmark: end-of-night science scoring at catalog scale, and a whole short night around it.

For each catalog size: a synthetic night (small-robotic, 2026-03-20, seed 0,
30 nights of synthetic history) is reset, then

* ``science_s``: :func:`steer.envs.science.science_metrics` on its history
  alone (the scoring every night ends with), best of ``--repeats``;
* ``night``: ``play()`` of a ``feature`` night with ``max_decisions = 20``:
  its ``wall_s`` (which includes the scoring), the scoring's own
  ``metrics_s``, the environment construction and reset.

Writes ``benchmarks/results/scoring.json``. Run it with nothing else busy::

    .venv/bin/python benchmarks/bench_scoring.py [--sizes 20000,200000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NIGHT = """
[experiment]
name = "scoring-{n}"
env = "steer/TargetSelection-v0"
policy = "feature"
seed = 0

[env]
preset = "small-robotic"
night_date = "2026-03-20"
n_targets = {n}
exptimes_s = [30.0, 60.0, 120.0]
max_night_hours = 4.0
cloudiness = 0.3

[loop]
max_decisions = 20
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20000,200000")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scoring.json"))
    args = ap.parse_args()
    from steer.config import parse_experiment
    from steer.envs.science import science_metrics
    from steer.session import make_env, play, set_threads

    set_threads(1)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        config = parse_experiment(NIGHT.format(n=n), f"<scoring {n}>")
        t0 = time.perf_counter()
        env = make_env(config)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        env.reset(seed=0)
        reset_s = time.perf_counter() - t0
        base = env.unwrapped
        obs, hist = base.observatory, base.observatory.history
        times, metrics = [], {}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            metrics = science_metrics(obs.truth, base.catalog, hist["target_index"],
                                      hist["mjd"], hist["mag"], hist["error_mag"],
                                      base.grid_mjd)
            times.append(time.perf_counter() - t0)
        env.close()
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            result = play(config, "feature", 0, Path(tmp))
            night_total_s = time.perf_counter() - t0
        m = result.episode.metrics
        row = {"n_targets": n, "history_rows": int(len(hist["mjd"])),
               "science_s": round(min(times), 2), "science_s_all": [round(t, 2) for t in times],
               "env_build_s": round(build_s, 2), "env_reset_s": round(reset_s, 2),
               "night_wall_s": round(m["wall_s"], 2), "night_metrics_s": round(m["metrics_s"], 2),
               "night_total_s": round(night_total_s, 2), "decisions": int(m["decisions"]),
               "frac_characterised": round(metrics["frac_characterised"], 4),
               "lc_rmse_mag": round(metrics["lc_rmse_mag"], 4)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = {"machine": platform.processor() or platform.machine(), "python": sys.version.split()[0],
           "target_s_at_200k": 30.0, "rows": rows}
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return 0 if all(r["science_s"] < 30.0 for r in rows if r["n_targets"] <= 200_000) else 1


if __name__ == "__main__":
    sys.exit(main())
