"""Fault drill: the night's private indiserver killed (SIGKILL) or frozen (SIGSTOP) mid-night.

For each signal: ``experiments/indi-sim.toml`` (``feature``, 12 decisions,
call timeout ``--timeout-s``) runs in this process with a private server in a
known folder; once the journal holds ``--after`` decisions the server's
process group is signalled. Reports, per signal: when the fault was detected
(the driver gave up on the server and began its restart) and how long after
the hit, how long the restart took (back-off included), the decisions
journaled, retried and lost, and the exit status ``steer run`` gives such a
night (0 when nothing was lost, 3 otherwise).

Writes ``benchmarks/results/indi_faults.json``::

    .venv/bin/python benchmarks/bench_indi_faults.py [--after 4] [--timeout-s 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def drill(sig: signal.Signals, after: int, timeout_s: float, tmp: Path) -> dict:
    from steer.config import parse_experiment
    from steer.instruments.indi.server import IndiServer
    from steer.session import make_env, play

    srv_dir, journal = tmp / f"srv-{sig.name}", tmp / f"journal-{sig.name}"
    text = (ROOT / "experiments" / "indi-sim.toml").read_text(encoding="utf-8")
    text = text.replace("max_decisions = 25", "max_decisions = 12")
    text = text.replace("\nstart_server = true\n",
                        f"\nstart_server = true\nrun_dir = {json.dumps(str(srv_dir))}\n")
    text = text.replace("timeout_s = 10.0", f"timeout_s = {timeout_s}")
    config = parse_experiment(text, "indi-sim.toml")
    env = make_env(config)
    hit: dict[str, float] = {}

    def saboteur() -> None:
        deadline = time.time() + 300
        while time.time() < deadline:
            files = list(journal.glob("*.jsonl"))
            state = IndiServer(srv_dir).status()
            if files and state and len(files[0].read_text().splitlines()) >= after:
                os.killpg(state.pid, sig)  # the server and its drivers
                hit["unix"] = time.time()
                return
            time.sleep(0.02)

    th = threading.Thread(target=saboteur, daemon=True)
    th.start()
    t0 = time.time()
    result = play(config, "feature", 0, journal_dir=journal, env=env)
    wall_s = time.time() - t0
    th.join(5)
    records = result.episode.records
    restarts = env.unwrapped.observatory.restart_log
    failed = sorted({r.step for r in records if r.status == "failed"})
    first_retry = next((r for r in records if r.status in ("retried", "failed")), None)
    return {
        "signal": sig.name, "hit_after_decisions": after,
        "detected_after_s": round(restarts[0]["detected_unix"] - hit["unix"], 2)
        if restarts and hit else None,
        "first_failed_attempt_after_s": round(first_retry.wall_time_unix - hit["unix"], 2)
        if first_retry is not None and hit else None,
        "restart_s": [round(r["wall_s"], 2) for r in restarts],
        "decisions_ok": sum(r.status == "ok" for r in records),
        "attempts_retried": sum(r.status == "retried" for r in records),
        "decisions_lost": len(failed),
        "exit_status": 3 if failed else 0,
        "server_folder_left": srv_dir.joinpath("server.json").exists(),
        "night_wall_s": round(wall_s, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--after", type=int, default=4, help="decisions before the hit")
    ap.add_argument("--timeout-s", type=float, default=3.0, help="the driver's call timeout")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "indi_faults.json"))
    args = ap.parse_args()
    from steer.session import set_threads

    set_threads(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="steer-faults-") as tmp:
        for sig in (signal.SIGKILL, signal.SIGSTOP):
            rows.append(drill(sig, args.after, args.timeout_s, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    Path(args.out).write_text(json.dumps({"timeout_s": args.timeout_s, "drills": rows},
                                         indent=2))
    print(f"wrote {args.out}")
    return 0 if all(r["decisions_lost"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
