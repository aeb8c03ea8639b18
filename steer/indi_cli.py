"""``steer indi-sim start|stop|status``: a local indiserver with the simulator drivers.

Wire into :func:`steer.cli.build_parser` with ``add_parser(sub)``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

__all__ = ["add_parser", "cmd_indi_sim"]

DEFAULT_RUN_DIR = "runs/indi-sim"


def cmd_indi_sim(args: argparse.Namespace) -> int:
    """Start, stop or report the server recorded in ``--run-dir``."""
    from steer.instruments.indi.server import IndiServer

    server = IndiServer(args.run_dir, port=args.port)
    if args.action == "start":
        state = server.start()
        print(f"indiserver pid {state.pid} on 127.0.0.1:{state.port} (run dir {state.run_dir}); "
              f"stop it with: steer indi-sim stop --run-dir {args.run_dir}")
        return 0
    if args.action == "stop":
        was = server.stop()
        print("stopped" if was else f"no indiserver running in {args.run_dir}")
        return 0
    state_ = server.status()
    if state_ is None:
        print(f"no indiserver running in {args.run_dir}")
        return 1
    print(json.dumps(asdict(state_), indent=1))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``indi-sim`` to the CLI's subparsers; return its parser."""
    p = subparsers.add_parser("indi-sim", help="start/stop/status of a local INDI simulator "
                              "server (telescope, CCD, focuser)")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--run-dir", default=DEFAULT_RUN_DIR,
                   help=f"server folder: HOME, socket, FIFO, log, state (default {DEFAULT_RUN_DIR})")
    p.add_argument("--port", type=int, default=None,
                   help="TCP port for start (default: a free one)")
    p.set_defaults(func=cmd_indi_sim)
    return p
