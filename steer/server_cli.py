"""``steer <server> start|stop|status``: the local simulator servers instruments register.

Each entry of :data:`steer.instruments.SIM_SERVERS` (``indi-sim``,
``alpaca-sim``...) becomes a subcommand; the server class says what it runs.
Wire into :func:`steer.cli.build_parser` with ``add_parsers(sub)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import asdict

__all__ = ["add_parsers", "cmd_server"]


def cmd_server(args: argparse.Namespace) -> int:
    """Start, stop or report the server recorded in ``--run-dir``."""
    from steer.instruments import SIM_SERVERS

    module, attr = SIM_SERVERS[args.server][0].split(":")
    server = getattr(importlib.import_module(module), attr)(args.run_dir, port=args.port)
    label = server.label
    if args.action == "start":
        state = server.start()
        print(f"{label} pid {state.pid} on 127.0.0.1:{state.port} (run dir {state.run_dir}); "
              f"stop it with: steer {args.server} stop --run-dir {args.run_dir}")
        return 0
    if args.action == "stop":
        was = server.stop()
        print("stopped" if was else f"no {label} running in {args.run_dir}")
        return 0
    state_ = server.status()
    if state_ is None:
        print(f"no {label} running in {args.run_dir}")
        return 1
    print(json.dumps(asdict(state_), indent=1))
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add one subcommand per registered simulator server; return their parsers."""
    from steer.instruments import SIM_SERVERS

    parsers = []
    for name, (_entry, help_text) in SIM_SERVERS.items():
        default = f"runs/{name}"
        p = subparsers.add_parser(name, help=f"start/stop/status of {help_text}")
        p.add_argument("action", choices=["start", "stop", "status"])
        p.add_argument("--run-dir", default=default,
                       help=f"server folder: configuration, log, state (default {default})")
        p.add_argument("--port", type=int, default=None,
                       help="TCP port for start on 127.0.0.1 (default: a free one)")
        p.set_defaults(func=cmd_server, server=name)
        parsers.append(p)
    return parsers
