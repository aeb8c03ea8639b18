"""``steer inject``: a target of opportunity for a running target-selection night.

The core's inbox (:mod:`steer.too`) carries any environment's new targets;
this command knows the catalog environment's: an id, ICRS coordinates, a
priority, a magnitude and its band. Values are checked here (one line, exit
2, nothing written) and again by the environment when it takes the target.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from steer.errors import ConfigError
from steer.too import inject

__all__ = ["add_parser", "cmd_inject"]


def _check_target(target: dict[str, Any]) -> None:
    from steer.instruments.sim.presets import BANDS  # here: the CLI's start-up stays light

    checks = (("ra_deg", "--ra", lambda v: 0.0 <= v <= 360.0, "in [0, 360]"),
              ("dec_deg", "--dec", lambda v: -90.0 <= v <= 90.0, "in [-90, 90]"),
              ("priority", "--priority", lambda v: v > 0.0, "> 0"),
              ("mag", "--mag", lambda v: -5.0 < v < 35.0, "a magnitude, e.g. 17.5"))
    for key, flag, ok, rule in checks:
        value = float(target[key])
        if not (math.isfinite(value) and ok(value)):
            raise ConfigError(f"{flag} {target[key]!r} is out of range", f"use a value {rule}")
    if target["band"] not in BANDS:
        raise ConfigError(f"--band {target['band']!r} is not a band", f"use one of {' '.join(BANDS)}")
    if not str(target["target_id"]).strip():
        raise ConfigError("--target-id is empty", "name the target, e.g. --target-id AT2026abc")


def cmd_inject(args: argparse.Namespace) -> int:
    """``steer inject``: queue a target of opportunity for a running night."""
    target = {"target_id": args.target_id, "ra_deg": args.ra, "dec_deg": args.dec,
              "priority": args.priority, "mag": args.mag, "band": args.band}
    _check_target(target)
    entry = inject(Path(args.runs_dir), args.run, target)
    print(f"target of opportunity {args.target_id} queued for run {args.run} "
          f"(arrived {time.strftime('%H:%M:%S', time.gmtime(entry['arrival_unix']))} UTC); "
          f"the night takes it at its next decision")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``steer inject`` on the CLI's subcommands."""
    p = sub.add_parser("inject", help="add a target of opportunity to a running night")
    p.add_argument("--run", required=True, help="the run id steer run printed")
    p.add_argument("--target-id", required=True, help="the target's name, e.g. AT2026abc")
    p.add_argument("--ra", type=float, required=True, help="ICRS right ascension, degrees")
    p.add_argument("--dec", type=float, required=True, help="ICRS declination, degrees")
    p.add_argument("--priority", type=float, default=5.0,
                   help="science weight (default 5: the top of the synthetic catalogs' 1/2/5)")
    p.add_argument("--mag", type=float, default=17.0, help="expected magnitude (default 17)")
    p.add_argument("--band", default="r", help="band of --mag (default r)")
    p.add_argument("--runs-dir", default="runs", help="the night's run folder")
    p.set_defaults(func=cmd_inject)
