"""Benchmark: a live night on Alpaca with an unsafe period, then tomorrow's `steer suggest`.

Runs ``experiments/alpaca-live.toml`` (wall clock x100, its own alpaca-simulators
server). After ``--unsafe-after`` decisions the simulator's safety monitor is
set unsafe for ``--unsafe-s`` wall seconds, then safe again. Reported: the
decisions, the slews sent while unsafe (counted in the driver's command log,
allowing the 0.5 s the verdict is cached), the night time the loop waited,
the safety monitor's log; then ``steer suggest`` on the same catalog with the
night's journal as history, an hour after the last visit: how many of
tonight's targets it reports as seen, and the history rows it used::

    .venv/bin/python benchmarks/bench_live_safety.py [--unsafe-after 8] [--unsafe-s 4]

Writes ``benchmarks/results/live_safety.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default="feature")
    ap.add_argument("--unsafe-after", type=int, default=8, help="decisions before the rain")
    ap.add_argument("--unsafe-s", type=float, default=4.0, help="wall seconds unsafe")
    ap.add_argument("--out", default="benchmarks/results/live_safety.json")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="steer-bench-live-") as folder:
        return _drill(args, Path(folder))


def _drill(args: argparse.Namespace, tmp: Path) -> int:
    """The drill, with its journals and the simulators' state in ``tmp`` (removed after)."""
    from astropy.time import Time

    from steer.cli import main as steer_main
    from steer.config import parse_experiment
    from steer.envs.history import read_history
    from steer.instruments.alpaca.drills import start_unsafe_drill
    from steer.instruments.sim import get_preset
    from steer.instruments.sim.catalog_io import read_catalog
    from steer.session import make_env, play, set_threads

    set_threads(1)
    live = ROOT / "experiments" / "alpaca-live.toml"
    catalog = str(ROOT / "experiments" / "catalogs" / "live-demo.csv")
    text = live.read_text(encoding="utf-8").replace(
        "\nstart_server = true\n", f"\nstart_server = true\nrun_dir = {json.dumps(str(tmp / 'srv'))}\n")
    text = text.replace('"experiments/catalogs/live-demo.csv"', json.dumps(catalog))
    config = parse_experiment(text, str(live))
    env = make_env(config)
    journals = tmp / "journals"
    _thread, window = start_unsafe_drill(journals, tmp / "srv", args.unsafe_after,
                                         args.unsafe_s)
    t0 = time.perf_counter()
    res = play(config, args.policy, 0, journals, env=env)
    wall = time.perf_counter() - t0
    obs = env.unwrapped.observatory
    records = [json.loads(x) for x in res.journal_path.read_text().splitlines()]
    ok = [r for r in records if r["status"] == "ok"]
    slews = [t for what, t in obs.link.commands if what == "telescope slew"]
    during = [t for t in slews if window.get("unsafe", 0) + 0.5 < t < window.get("safe", 0)]
    unsafe_log = [e for e in obs.safety_log if not e["safe"]]
    safe_after = [e for e in obs.safety_log if e["safe"] and unsafe_log
                  and e["unix"] > unsafe_log[0]["unix"]]
    waited_night_s = ((safe_after[0]["mjd"] - unsafe_log[0]["mjd"]) * 86400.0
                      if unsafe_log and safe_after else float("nan"))
    # tomorrow
    history, report = read_history(journals, read_catalog(catalog))
    site = get_preset("small-robotic")
    last = max(r["measurement"]["mjd_mid"] for r in ok)
    when = Time(last + 1.0 / 24.0, format="mjd", scale="utc").isot[:19]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = steer_main(["suggest", catalog, "--lat", str(site.site_lat_deg), "--lon",
                           str(site.site_lon_deg), "--height", str(site.site_height_m), "--time",
                           when, "--n", "30", "--policy", "feature", "--format", "json",
                           "--history", str(journals)])
    rows = json.loads(buf.getvalue()) if code == 0 else []
    seen = {r["proposal"]["action"]["target_id"] for r in ok
            if r["measurement"]["value_mag"] is not None}
    reported_seen = sorted(r["target_id"] for r in rows
                           if "last seen" in r["reason"] and r["target_id"] in seen)
    out = {
        "experiment": "experiments/alpaca-live.toml", "policy": args.policy,
        "decisions": len(ok), "statuses": {s: sum(r["status"] == s for r in records)
                                           for s in {r["status"] for r in records}},
        "wall_s": wall, "unsafe_wall_s": window.get("safe", 0) - window.get("unsafe", 0),
        "slews_total": len(slews), "slews_while_unsafe": len(during),
        "safety_log": obs.safety_log, "night_s_waited_unsafe": waited_night_s,
        "night_s_lost_to_the_wall": obs.lost_s,
        "suggest": {"time": when, "exit": code, "history_rows": report.rows,
                    "history_used": report.used, "targets_seen_tonight": len(seen),
                    "of_them_listed_as_seen": len(reported_seen),
                    "top3": [(r["target_id"], r["reason"]) for r in rows[:3]]},
        "when_unix": time.time()}
    print(f"{out['decisions']} decisions {out['statuses']} in {wall:.1f} s; unsafe for "
          f"{out['unsafe_wall_s']:.1f} s of wall time = {waited_night_s:.0f} s of night: "
          f"{len(during)} slews sent meanwhile (of {len(slews)}); suggest at {when}: history "
          f"{report.used}/{report.rows} rows used, {len(reported_seen)} of the "
          f"{len(seen)} targets seen tonight listed as seen", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0 if code == 0 and not during else 1


if __name__ == "__main__":
    sys.exit(main())
